package main

import (
	"bufio"
	"fmt"
)

// keysCmd is "minikv keys".
var keysCmd = &command{
	name:    "keys",
	args:    "[PATTERN]",
	summary: "print the keys that match a glob pattern",
	doc: `Keys prints, one per line and sorted, the live keys that match PATTERN, a
Redis glob: * matches any bytes ("/" included), ? one byte, [abc] and [a-z]
a byte of a set, [^a] a byte not in it, and \ escapes the next character.
Without PATTERN it prints every key. Quote the pattern for the shell:
minikv keys 'user:*'. Keys are quoted as "minikv scan" quotes them.

Keys opens the store read-only.`,
	run: runKeys,
}

// runKeys prints the keys that match a pattern.
func runKeys(c *cmdCtx, args []string) error {
	pos, err := c.parse(args, 0, 1)
	if err != nil {
		return err
	}
	pattern := "*"
	if len(pos) == 1 {
		pattern = pos[0]
	}
	db, err := c.openRead()
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := db.Keys(pattern)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c.stdout)
	for _, k := range keys {
		fmt.Fprintln(w, quoteKey(k))
	}
	return w.Flush()
}
