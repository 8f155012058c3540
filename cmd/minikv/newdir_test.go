package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/minikv/minikv"
)

// TestNewDir_Undo: undo removes what appeared in the directory and the
// directories that were missing, and nothing that was there before.
func TestNewDir_Undo(t *testing.T) {
	parent := t.TempDir()
	writeFile(t, parent, "keep")
	d, err := recordNewDir(filepath.Join(parent, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := minikv.Open(minikv.Options{Dir: filepath.Join(parent, "a", "b")})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.undo(); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, parent); !slices.Equal(names, []string{"keep"}) {
		t.Errorf("after undo the parent holds %v", names)
	}

	dir := t.TempDir()
	writeFile(t, dir, "notes.txt")
	d, err = recordNewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	openStore(t, dir) // another process opened the store in between
	if err := d.undo(); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !slices.Contains(names, "MANIFEST") {
		t.Errorf("undo removed the files of a store in use: %v", names)
	}
}

// TestNewDir_UndoAfterLockedOpen: after an open refused because another
// process is creating the store, undo removes none of its files.
func TestNewDir_UndoAfterLockedOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	d, err := recordNewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	openStore(t, dir)
	_, err = minikv.Open(minikv.Options{Dir: dir})
	d.opened(err)
	if err := d.undo(); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !slices.Contains(names, "MANIFEST") {
		t.Errorf("undo after ErrLocked removed the store's files: %v", names)
	}
}
