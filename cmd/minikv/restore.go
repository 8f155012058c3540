package main

import (
	"fmt"
	"io"
	"os"

	"github.com/minikv/minikv"
)

// restoreCmd is "minikv restore".
var restoreCmd = &command{
	name:    "restore",
	args:    "FILE",
	summary: "create a store from a backup stream",
	doc: `Restore reads a snapshot stream written by "minikv backup -stream" or by
(*minikv.DB).Backup from FILE ("-" for standard input) and creates a store
from it in the -dir directory, which must be missing or empty. The stream is
checked in full (every entry and its checksum) before the store is created.
A restore that fails, from a damaged stream or otherwise, leaves nothing
behind: no store, and no directory it created.

A copy made by "minikv backup" without -stream needs no restore: it is a
store already.`,
	run: runRestore,
}

// runRestore creates a store from a backup stream.
func runRestore(c *cmdCtx, args []string) error {
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	dir, err := c.storeDir()
	if err != nil {
		return err
	}
	if _, err := c.willFill(dir, true, "; restore creates a store only in a missing or empty directory"); err != nil {
		return err
	}
	var r io.Reader = c.stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	if err := minikv.Restore(r, dir); err != nil {
		return err
	}
	c.keep()
	db, err := c.openRead()
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Count()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "restored %d keys into %s\n", n, dir)
	return err
}
