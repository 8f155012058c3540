package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

var checkCmd = &command{
	name:    "check",
	args:    "",
	summary: "verify every file of the store, read-only",
	doc: `Check reads every file of the store (the MANIFEST, the snapshot and each
live WAL segment) and verifies layouts, versions, lengths, key order and
checksums, without changing anything. It prints what it checked, then one
line per problem with the file, the byte offset and the kind of problem:

  torn tail       the last WAL record was cut short, as a crash leaves it;
                  not damage: the next writable open cuts it off by itself
                  ("minikv repair" does it now)
  mid-log damage  bad bytes followed by valid records; Open refuses the
                  store, "minikv repair" keeps the records before the damage
  rebuildable     a missing or damaged MANIFEST (or a damaged snapshot that
                  a rebuilt MANIFEST leaves out without a loss); Open
                  refuses the store, "minikv repair" rebuilds the MANIFEST
                  from the files that pass their checks
  unrepairable    a bad snapshot the MANIFEST names, a missing WAL segment,
                  or a MANIFEST that cannot be rebuilt without losing
                  writes; restore from a backup

When the MANIFEST cannot be read, check still reports what is on disk: the
newest snapshot that passes its checks and the WAL segments after it, which
is what a rebuilt MANIFEST would name.

Check exits 0 when the store opens as it is (a torn tail included) and 4
when it found damage.

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
	fmt.Fprintf(c.stdout, "checked %s: %s\n", dir, report.summary())
	if report.Rebuild != "" {
		fmt.Fprintf(c.stdout, "a rebuilt MANIFEST would name: %s\n", report.Rebuild)
	}
	if report.Lost != "" {
		fmt.Fprintf(c.stdout, "a rebuilt MANIFEST would lose writes: %s\n", report.Lost)
	}
	if len(report.Stale) > 0 {
		fmt.Fprintf(c.stdout, "stale files, which the next writable open deletes: %s\n", strings.Join(report.Stale, " "))
	}
	printProblems(c, report.Problems)
	if n := len(report.damaged()); n > 0 {
		return &damageError{n}
	}
	if len(report.Problems) > 0 {
		_, err = fmt.Fprintln(c.stdout, "ok: only a torn tail, which the next writable open cuts off")
		return err
	}
	_, err = fmt.Fprintln(c.stdout, "ok")
	return err
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
