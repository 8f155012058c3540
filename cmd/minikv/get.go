package main

import "fmt"

// getCmd is "minikv get".
var getCmd = &command{
	name:    "get",
	args:    "KEY",
	summary: "print the value of a key",
	doc: `Get prints the value stored under KEY, followed by a newline. A value that
is not printable UTF-8, or that starts with a double quote, is printed as a
Go string literal ("a\x00b") so that the output stays one unambiguous line;
-raw writes the value's exact bytes instead, without a newline, for binary
values and pipes.

Get opens the store read-only, and exits 1 when KEY is missing or expired.`,
	run: runGet,
}

// runGet prints the value of a key.
func runGet(c *cmdCtx, args []string) error {
	raw := c.fs.Bool("raw", false, "write the value's exact bytes, unquoted and without a newline")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	db, err := c.openRead()
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Get(pos[0])
	if err != nil {
		return notFound(pos[0], err)
	}
	if *raw {
		_, err = c.stdout.Write(v)
	} else {
		_, err = fmt.Fprintln(c.stdout, quoteValue(v))
	}
	return err
}
