package main

import "fmt"

// countCmd is "minikv count".
var countCmd = &command{
	name:    "count",
	args:    "",
	summary: "print the number of live keys",
	doc: `Count prints the number of keys that are present and not expired.

Count opens the store read-only.`,
	run: runCount,
}

// runCount prints the number of live keys.
func runCount(c *cmdCtx, args []string) error {
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	db, err := c.openRead()
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Count()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.stdout, n)
	return err
}
