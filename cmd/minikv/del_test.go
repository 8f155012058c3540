package main

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/minikv/minikv"
)

func TestDel(t *testing.T) {
	dir := newStore(t, "a", "1", "b", "2", "c", "3")
	mustRun(t, 0, "del", "-dir", dir, "a")
	mustRun(t, 0, "del", "-dir", dir, "b", "c", "missing")
	mustRun(t, 0, "del", "-dir", dir, "never-there")
	n, err := openStore(t, dir).Count()
	if err != nil || n != 0 {
		t.Errorf("Count after del = %d, %v", n, err)
	}
}

func TestDelNeedsAKey(t *testing.T) {
	dir := newStore(t, "a", "1")
	mustRun(t, exitUsage, "del", "-dir", dir)
	if _, err := openStore(t, dir).Get("a"); errors.Is(err, minikv.ErrNotFound) {
		t.Error("del without keys deleted something")
	}
}

// TestDel_NoStore: del never creates a store.
func TestDel_NoStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	r := mustRun(t, exitFailure, "del", "-dir", dir, "k")
	if want := "minikv del: no database at " + dir + ": the directory does not exist\n"; r.stderr != want {
		t.Errorf("stderr %q", r.stderr)
	}
	empty := t.TempDir()
	mustRun(t, exitFailure, "del", "-dir", empty, "k")
	if names := dirNames(t, empty); len(names) != 0 {
		t.Errorf("del created %v", names)
	}
}
