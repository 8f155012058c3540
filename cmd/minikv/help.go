package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// helpCmd is "minikv help".
var helpCmd = &command{
	name:    "help",
	args:    "[COMMAND]",
	summary: "show this overview, or the full help of one command",
	doc: `Help prints the overview of minikv, or with COMMAND the full help of that
command, the same as "minikv COMMAND -h".`,
	noStore: true,
	run:     runHelp,
}

// runHelp prints the overview, or the help of one command.
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

// overviewHead is the overview of "minikv help" up to the list of commands.
const overviewHead = `minikv inspects, edits, checks, backs up and benchmarks MiniKV databases.

Usage:

  minikv COMMAND -dir DIR [flags] [arguments]

Commands:
`

// overviewTail is the overview of "minikv help" after the list of
// commands, with the table of exit codes (the constants exitOK...).
const overviewTail = `
Every command but help and version takes -dir DIR (or --dir), the database
directory; without it, $MINIKV_DIR is used. Flags may come before or after the arguments; "--" ends
the flags, for keys and values that start with a dash.

Commands that only read (get, ttl, scan, keys, count, dump, stats, check,
backup) open the store read-only: they never change a file, and they can
run beside other readers but not beside a process that has the store open
for writing, which gets a clear "in use" error instead. Commands that write
(set, del, incr, compact, repair, restore) need the store to themselves.

Output is safe for any bytes: keys and values that are not printable text
are printed as Go string literals ("a\x00b"); "get -raw" writes a value's
exact bytes. "set KEY -" reads the value from standard input.

Commands that create a store (set, incr, restore, backup into a directory)
refuse a directory that holds other files (set and incr accept it with
-init), and a command that fails leaves nothing it created behind.

Exit codes:

  0  success
  1  not found: get or ttl of a key that is missing or expired
  2  usage error, nothing was done:
       an unknown command or flag, a flag value that does not parse or is
       out of range (a negative -limit), missing or extra arguments, no -dir
       and no $MINIKV_DIR; an empty key, a key or value over its size limit,
       an invalid TTL (-ttl below 0), a malformed pattern; incr of a value
       that is not an integer, or whose result would overflow
  3  failure: no database at -dir (the directory is missing or has no
       MANIFEST), -dir is not a directory, the store is in use by another
       process, a store file is damaged (corrupt), a directory to create a
       store in is not empty, check or repair unavailable or refused, an
       I/O error
  4  check found damage

Run "minikv help COMMAND" or "minikv COMMAND -h" for the details of a command.
`

// printOverview writes the overview of "minikv help": the commands, the
// rules they share and the exit codes.
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
