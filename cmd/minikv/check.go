package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

var checkCmd = &command{
	name:    "check",
	args:    "",
	summary: "verify every file of the store, read-only",
	doc: `Check reads every file of the store (the MANIFEST, the snapshot and each
WAL segment) and verifies magic numbers, versions, lengths and checksums,
without changing anything. It prints "ok" when every file passes, and
otherwise one line per problem with the file, the byte offset and the kind
of damage, then exits 4:

  torn tail       the end of the last WAL record was never written, as a
                  crash leaves it; Open cuts it by itself ("minikv repair"
                  does it now)
  mid-log damage  bad bytes followed by valid records; Open refuses the
                  store, "minikv repair" keeps the records before the damage
  unrepairable    a bad snapshot or MANIFEST, or a missing WAL segment;
                  restore from a backup

Check holds the store's shared lock while it runs, so it refuses a store
that a process has open for writing.`,
	run: runCheck,
}

func runCheck(c *cmdCtx, args []string) error {
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	dir, err := c.storeDir()
	if err != nil {
		return err
	}
	if storeVerifier == nil {
		return errNoVerifier
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no database at %s: the directory does not exist", dir)
	}
	lock, err := lockStore(dir, false)
	if err != nil {
		return err
	}
	report, err := storeVerifier(dir)
	err = errors.Join(err, lock.Close())
	if err != nil {
		return err
	}
	if len(report.Problems) == 0 {
		_, err = fmt.Fprintf(c.stdout, "ok: %d files checked in %s\n", len(report.Files), dir)
		return err
	}
	printProblems(c, report.Problems)
	return &damageError{len(report.Problems)}
}

func printProblems(c *cmdCtx, problems []problem) {
	for _, p := range problems {
		where := "whole file"
		if p.Offset >= 0 {
			where = fmt.Sprintf("offset %d", p.Offset)
		}
		fmt.Fprintf(c.stdout, "%s: %s at %s: %s\n", p.File, p.Kind, where, p.Reason)
	}
}
