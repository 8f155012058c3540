package main

import (
	"bufio"
	"fmt"
	"math"

	"github.com/minikv/minikv"
)

// scanCmd is "minikv scan".
var scanCmd = &command{
	name:    "scan",
	args:    "",
	summary: "print keys and values in key order",
	doc: `Scan prints one "KEY VALUE" line per live key, in ascending byte order of
keys: every key, the keys that start with -prefix, or the keys k with
-start <= k < -end (an empty -end means no upper bound). -limit stops after
that many keys (0, the default: no limit; a negative -limit is an error). Keys with spaces, double quotes or unprintable bytes are
printed as Go string literals, and values as "minikv get" prints them, so
the first space of a line always ends the key. -keys prints the keys alone.

Scan opens the store read-only and sees it as it was when the scan began.`,
	run: runScan,
}

// runScan prints keys and values in key order.
func runScan(c *cmdCtx, args []string) error {
	prefix := c.fs.String("prefix", "", "only keys that start with this `prefix`")
	start := c.fs.String("start", "", "only keys >= this `key`")
	end := c.fs.String("end", "", "only keys < this `key` (empty: no upper bound)")
	limit := c.count("limit", 0, 0, math.MaxInt, "print at most this many keys (0: all)")
	keysOnly := c.fs.Bool("keys", false, "print the keys without their values")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *prefix != "" && (*start != "" || *end != "") {
		return usagef("-prefix cannot be combined with -start or -end")
	}
	db, err := c.openRead()
	if err != nil {
		return err
	}
	defer db.Close()
	var it minikv.Iterator
	if *prefix != "" {
		it, err = db.Scan(*prefix, *limit)
	} else {
		it, err = db.ScanRange(*start, *end, *limit)
	}
	if err != nil {
		return err
	}
	defer it.Close()
	w := bufio.NewWriter(c.stdout)
	for it.Next() {
		if *keysOnly {
			fmt.Fprintln(w, quoteKey(it.Key()))
		} else {
			fmt.Fprintln(w, quoteKey(it.Key()), quoteValue(it.Value()))
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return w.Flush()
}
