package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRestoreRejectsDamage(t *testing.T) {
	dir := newStore(t, "k", "v")
	stream := []byte(mustRun(t, 0, "backup", "-dir", dir, "-stream", "-").stdout)
	stream[len(stream)-6] ^= 1
	dest := filepath.Join(t.TempDir(), "restored")
	r := runCLI(t, string(stream), "restore", "-dir", dest, "-")
	if r.code != exitFailure || !strings.Contains(r.stderr, "corrupt") {
		t.Errorf("restore of a damaged stream: exit %d, %q", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dest); len(entries) != 0 {
		t.Errorf("a failed restore left %v", entries)
	}
	mustRun(t, exitFailure, "restore", "-dir", dest, filepath.Join(dest, "missing-file"))
	mustRun(t, exitFailure, "restore", "-dir", dir, "-") // a live store is not empty
}
