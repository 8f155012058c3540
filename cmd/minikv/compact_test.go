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
