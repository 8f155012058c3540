package main

import (
	"os"
	"path/filepath"
	"slices"
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

// TestRestore_FailureLeavesNothing: a failed restore removes the
// directories it created and the files it wrote, keeps a directory that
// was there, and says what went wrong once, without repeating itself.
func TestRestore_FailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	stream := filepath.Join(parent, "garbage")
	if err := os.WriteFile(stream, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, exitFailure, "restore", "-dir", filepath.Join(parent, "a", "b"), stream)
	if want := "minikv restore: corrupt database file backup stream: file too short\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	if names := dirNames(t, parent); !slices.Equal(names, []string{"garbage"}) {
		t.Errorf("a failed restore left %v", names)
	}
	empty := filepath.Join(parent, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	mustRun(t, exitFailure, "restore", "-dir", empty, stream)
	if names := dirNames(t, empty); len(names) != 0 {
		t.Errorf("a failed restore left %v in a directory that was there", names)
	}
	if _, err := os.Stat(empty); err != nil {
		t.Errorf("a failed restore removed a directory that was there: %v", err)
	}
}

// TestRestore_NonEmptyDirectory: restore never writes among other files.
func TestRestore_NonEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "notes.txt")
	r := runCLI(t, "", "restore", "-dir", dir, "-")
	if want := "minikv restore: " + dir + " is not empty (found notes.txt); restore creates a store only in a missing or empty directory\n"; r.code != exitFailure || r.stderr != want {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
