package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

func TestSet(t *testing.T) {
	dir := newStore(t)
	mustRun(t, 0, "set", "-dir", dir, "k", "v1")
	mustRun(t, 0, "set", "k2", "v2", "--dir", dir, "-ttl", "1h")
	mustRun(t, 0, "set", "-dir", dir, "--", "-dash", "-value")
	if r := runCLI(t, "from\x00stdin", "set", "-dir", dir, "piped", "-"); r.code != 0 || r.stdout != "" {
		t.Fatalf("set from stdin: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	db := openStore(t, dir)
	for k, want := range map[string]string{"k": "v1", "k2": "v2", "-dash": "-value", "piped": "from\x00stdin"} {
		if v, err := db.Get(k); err != nil || string(v) != want {
			t.Errorf("Get(%q) = %q, %v; want %q", k, v, err, want)
		}
	}
	if ttl, err := db.TTL("k2"); err != nil || ttl < 59*time.Minute {
		t.Errorf("TTL(k2) = %v, %v", ttl, err)
	}
}

func TestSet_CreatesTheStore(t *testing.T) {
	dir := t.TempDir() + "/new"
	mustRun(t, 0, "set", "-dir", dir, "k", "v")
	if r := mustRun(t, 0, "get", "-dir", dir, "k"); r.stdout != "v\n" {
		t.Errorf("get = %q", r.stdout)
	}
}

// TestSet_ValueTooLarge: the message gives the size and the limit, or for
// standard input, which is not read past the limit, the limit.
func TestSet_ValueTooLarge(t *testing.T) {
	dir := newStore(t)
	big := strings.Repeat("x", minikv.MaxValueSize+1)
	r := runCLI(t, big, "set", "-dir", dir, "big", "-")
	if want := "minikv set: value too large: standard input holds more than the limit of 16777216 bytes\n"; r.code != exitUsage || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("from stdin: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, "", "set", "-dir", dir, "big", big)
	if want := "minikv set: value too large: 16777217 bytes, over the limit of 16777216\n"; r.code != exitUsage || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("as an argument: exit %d, stderr %.200q", r.code, r.stderr)
	}
}

// TestSet_InvalidTTL: the message gives the TTL, and the error stays a
// usage error.
func TestSet_InvalidTTL(t *testing.T) {
	r := mustRun(t, exitUsage, "set", "-dir", newStore(t), "k", "v", "-ttl", "-5s")
	if want := "minikv set: invalid ttl: -5s, -ttl must be positive, or 0 for no expiry\n"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr %q", r.stderr)
	}
}

// TestSet_NonEmptyDirectory: set refuses to create a store among other
// files, saying what it found and how to override, unless -init is given.
func TestSet_NonEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.txt", "b.txt", "c.txt", "notes.txt", "z.txt"} {
		writeFile(t, dir, name)
	}
	r := mustRun(t, exitFailure, "set", "-dir", dir, "k", "v")
	if want := "minikv set: " + dir + " is not empty (found a.txt, b.txt, c.txt and 2 more) and holds no database; give -init to create a store in it anyway\n"; r.stderr != want {
		t.Errorf("stderr %q\nwant %q", r.stderr, want)
	}
	if names := dirNames(t, dir); len(names) != 5 {
		t.Errorf("a refused set changed the directory: %v", names)
	}
	mustRun(t, 0, "set", "-dir", dir, "-init", "k", "v")
	mustRun(t, 0, "set", "-dir", dir, "k2", "v2") // a store now: no -init needed
	if r := mustRun(t, 0, "get", "-dir", dir, "k"); r.stdout != "v\n" {
		t.Errorf("get = %q", r.stdout)
	}
}

// TestSet_FailureLeavesNoStore: a set that creates a store and then fails
// removes what it created, and only that.
func TestSet_FailureLeavesNoStore(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "a", "b")
		mustRun(t, exitUsage, "set", "-dir", dir, "", "v")
		if names := dirNames(t, parent); len(names) != 0 {
			t.Errorf("a failed set left %v", names)
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		dir := t.TempDir()
		mustRun(t, exitUsage, "set", "-dir", dir, strings.Repeat("k", minikv.MaxKeySize+1), "v")
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("a failed set left %v", names)
		}
	})
	t.Run("with -init", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "notes.txt")
		mustRun(t, exitUsage, "set", "-dir", dir, "-init", "", "v")
		if names := dirNames(t, dir); !slices.Equal(names, []string{"notes.txt"}) {
			t.Errorf("a failed set left %v", names)
		}
	})
	t.Run("existing store", func(t *testing.T) {
		dir := newStore(t, "k", "v")
		mustRun(t, exitUsage, "set", "-dir", dir, "", "v")
		if r := mustRun(t, 0, "get", "-dir", dir, "k"); r.stdout != "v\n" {
			t.Errorf("get after a failed set = %q", r.stdout)
		}
	})
}

// writeFile creates the file name in dir.
func writeFile(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dirNames returns the names in dir, sorted; none for a missing dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
