package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

var helpCmd = &command{
	name:    "help",
	args:    "[COMMAND]",
	summary: "show this overview, or the full help of one command",
	doc: `Help prints the overview of minikv, or with COMMAND the full help of that
command, the same as "minikv COMMAND -h".`,
	run: runHelp,
}

func runHelp(c *cmdCtx, args []string) error {
	pos, err := c.parse(args, 0, 1)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		printOverview(c.stdout)
		return nil
	}
	cmd := lookup(pos[0])
	if cmd == nil {
		return usagef("unknown command %q", pos[0])
	}
	return cmd.run(newCtx(c.env, cmd), []string{"-h"})
}

const overviewHead = `minikv inspects, edits, checks, backs up and benchmarks MiniKV databases.

Usage:

  minikv COMMAND -dir DIR [flags] [arguments]

Commands:
`

const overviewTail = `
Every command takes -dir DIR (or --dir), the database directory; without it,
$MINIKV_DIR is used. Flags may come before or after the arguments; "--" ends
the flags, for keys and values that start with a dash.

Commands that only read (get, ttl, scan, keys, count, dump, stats, check,
backup) open the store read-only: they never change a file, and they can
run beside other readers but not beside a process that has the store open
for writing, which gets a clear "in use" error instead. Commands that write
(set, del, incr, compact, repair, restore) need the store to themselves.

Output is safe for any bytes: keys and values that are not printable text
are printed as Go string literals ("a\x00b"); "get -raw" writes a value's
exact bytes. "set KEY -" reads the value from standard input.

Exit codes:

  0  success
  1  the key is missing or expired
  2  usage error: bad flags or arguments, or an invalid key, value, TTL or pattern
  3  failure: store in use, damaged or unreadable, I/O error
  4  check found damage

Run "minikv help COMMAND" or "minikv COMMAND -h" for the details of a command.
`

func printOverview(w io.Writer) {
	fmt.Fprint(w, overviewHead)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		synopsis := c.name
		if c.args != "" {
			synopsis += " " + c.args
		}
		fmt.Fprintf(tw, "  %s\t%s\n", synopsis, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, overviewTail)
}
