package main

import (
	"regexp"
	"testing"
)

func TestCompact(t *testing.T) {
	dir := newStore(t, "a", "1", "b", "2", "a", "3")
	r := mustRun(t, 0, "compact", "-dir", dir)
	if !regexp.MustCompile(`^compacted .*: 2 keys; WAL \d+ B -> 0 B, snapshot 0 B -> \d+ B\n$`).MatchString(r.stdout) {
		t.Errorf("compact printed %q", r.stdout)
	}
	usage, err := diskUsage(dir)
	if err != nil || usage.wal != 0 || usage.snap == 0 {
		t.Errorf("after compact: %+v, %v", usage, err)
	}
	if r := mustRun(t, 0, "get", "-dir", dir, "a"); r.stdout != "3\n" {
		t.Errorf("get after compact = %q", r.stdout)
	}
}

// TestCompact_NoStore: compact never creates a store.
func TestCompact_NoStore(t *testing.T) {
	dir := t.TempDir()
	r := mustRun(t, exitFailure, "compact", "-dir", dir)
	if want := "minikv compact: no database in " + dir + ": it has no MANIFEST file\n"; r.stderr != want {
		t.Errorf("stderr %q", r.stderr)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("compact created %v", names)
	}
}
