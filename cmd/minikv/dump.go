package main

import "bufio"

// dumpCmd is "minikv dump".
var dumpCmd = &command{
	name:    "dump",
	args:    "",
	summary: "print every key with its value size and expiry",
	doc: `Dump prints one line per live key, in key order: the key (quoted as
"minikv scan" quotes it), the length of its value in bytes, and its expiry
in RFC 3339 (UTC) or "-" when it has none. It prints no values, so its
output stays small and safe to share.

Dump opens the store read-only.`,
	run: runDump,
}

// runDump prints every live key with its value size and expiry.
func runDump(c *cmdCtx, args []string) error {
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	db, err := c.openRead()
	if err != nil {
		return err
	}
	defer db.Close()
	w := bufio.NewWriter(c.stdout)
	if err := db.DumpKeys(w); err != nil {
		return err
	}
	return w.Flush()
}
