package main

import (
	"fmt"
	"strings"
)

// compactCmd is "minikv compact".
var compactCmd = &command{
	name:    "compact",
	args:    "",
	summary: "fold the WAL into a new snapshot",
	doc: `Compact writes a snapshot of the live keys, switches the MANIFEST to it and
deletes the WAL segments and the snapshot it replaces, then prints the WAL
and snapshot sizes before and after. A service compacts by itself when its
WAL passes Options.MaxWALSize; this command is for a store at rest.

Compact never creates a store: it fails when the directory holds none. It
needs the store to itself: it fails while another process has it open.`,
	run: runCompact,
}

// runCompact compacts the store and prints the sizes before and after.
func runCompact(c *cmdCtx, args []string) error {
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	db, err := c.openWrite()
	if err != nil {
		return err
	}
	before, err := diskUsage(c.dir)
	// The open WAL segment may be preallocated: count its records, not
	// its file size. After Close every segment ends at its last record.
	before.wal = db.Stats().WALSize
	if err == nil {
		err = db.Compact()
	}
	keys := db.Stats().KeyCount
	if err = closeDB(db, err); err != nil {
		return err
	}
	after, err := diskUsage(c.dir)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "compacted %s: %d keys; WAL %s -> %s, snapshot %s -> %s\n", c.dir, keys,
		humanBytes(before.wal), humanBytes(after.wal), humanBytes(before.snap), humanBytes(after.snap))
	return err
}

// usage is the bytes a directory's WAL segments and snapshots take.
type usage struct{ wal, snap int64 }

// diskUsage returns the bytes of the WAL segments and snapshots in dir.
func diskUsage(dir string) (usage, error) {
	files, err := listFiles(dir)
	var u usage
	for _, f := range files {
		switch {
		case strings.HasSuffix(f.Name, ".wal"):
			u.wal += f.Size
		case strings.HasSuffix(f.Name, ".snap"):
			u.snap += f.Size
		}
	}
	return u, err
}
