package main

import (
	"fmt"
	"time"
)

// ttlCmd is "minikv ttl".
var ttlCmd = &command{
	name:    "ttl",
	args:    "KEY",
	summary: "print the time a key has left to live",
	doc: `TTL prints the time KEY has left before it expires, rounded to the
millisecond ("1h59m59.998s"), or "none" when the key has no expiry.

TTL opens the store read-only, and exits 1 when KEY is missing or expired.`,
	run: runTTL,
}

// runTTL prints the time a key has left to live.
func runTTL(c *cmdCtx, args []string) error {
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	db, err := c.openRead()
	if err != nil {
		return err
	}
	defer db.Close()
	ttl, err := db.TTL(pos[0])
	if err != nil {
		return notFound(pos[0], err)
	}
	if ttl < 0 {
		_, err = fmt.Fprintln(c.stdout, "none")
		return err
	}
	_, err = fmt.Fprintln(c.stdout, ttl.Round(time.Millisecond))
	return err
}
