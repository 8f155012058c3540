package main

import "fmt"

// incrCmd is "minikv incr".
var incrCmd = &command{
	name:    "incr",
	args:    "KEY",
	summary: "add to the integer stored under a key",
	doc: `Incr adds 1, or the amount given with -by (which may be negative), to the
base-10 integer stored under KEY, stores the result and prints it. A missing
key counts as 0. A value that is not an integer, or a result that would
overflow an int64, is a usage error (exit 2) that names the key and value
and changes nothing.

Incr creates the store when the directory holds none, as "minikv set" does
(-init for a directory that holds other files). It needs the store to
itself: it fails while another process has it open.`,
	run: runIncr,
}

// runIncr adds to the integer under a key and prints the result.
func runIncr(c *cmdCtx, args []string) error {
	by := c.fs.Int64("by", 1, "the `amount` to add")
	c.initFlag()
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	db, err := c.openCreate()
	if err != nil {
		return err
	}
	n, err := db.IncrBy(pos[0], *by)
	if err = closeDB(db, err); err != nil {
		return err
	}
	c.keep()
	_, err = fmt.Fprintln(c.stdout, n)
	return err
}
