package vfstest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestMemFS_UnsyncedCreateLostOnCrash: a file whose data was synced but
// whose directory entry was not is lost by a power cut; after SyncDir it
// survives.
func TestMemFS_UnsyncedCreateLostOnCrash(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	memfsWrite(t, m, name, 0, []byte("data"))
	memfsSync(t, m, name)
	if got := m.Crash(0, nil).ListNow(testDir); len(got) != 0 {
		t.Fatalf("a file synced but never in a synced directory survived: %v", got)
	}
	if got := m.Clone().ReadFileNow(name); string(got) != "data" {
		t.Fatalf("a process kill lost the file: %q", got)
	}
	mustSyncDir(t, m, testDir)
	if got := m.Crash(0, nil).ReadFileNow(name); string(got) != "data" {
		t.Fatalf("after SyncDir, the cut left %q, want %q", got, "data")
	}
}

// TestMemFS_RemoveDurableAfterSyncDir: a removal is undone by a power cut
// until its directory is synced.
func TestMemFS_RemoveDurableAfterSyncDir(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	memfsDurable(t, m, name, []byte("data"))
	if err := m.Remove(name); err != nil {
		t.Fatal(err)
	}
	if m.ReadFileNow(name) != nil || len(m.ListNow(testDir)) != 0 {
		t.Fatal("the removed file is still listed")
	}
	if got := m.Crash(0, nil).ReadFileNow(name); string(got) != "data" {
		t.Fatalf("an unsynced removal survived the cut: %q", got)
	}
	if got := m.Crash(1, nil).ListNow(testDir); len(got) != 0 {
		t.Fatalf("a cut keeping every change undid the removal: %v", got)
	}
	mustSyncDir(t, m, testDir)
	if got := m.Crash(0, nil).ListNow(testDir); len(got) != 0 {
		t.Fatalf("a removal whose directory was synced was undone: %v", got)
	}
}

// TestMemFS_RenameOverExisting: a rename that replaces a file leaves, on a
// cut before SyncDir, both old names with their old contents, and after it
// the new content under the final name only.
func TestMemFS_RenameOverExisting(t *testing.T) {
	m := NewMemFS(testDir)
	tmp, final := filepath.Join(testDir, "x.tmp"), filepath.Join(testDir, "x")
	memfsWrite(t, m, final, 0, []byte("old"))
	memfsSync(t, m, final)
	memfsDurable(t, m, tmp, []byte("new"))
	if err := m.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
	if got := m.ListNow(testDir); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("after the rename: %v", got)
	}
	img := m.Crash(0, nil)
	if string(img.ReadFileNow(final)) != "old" || string(img.ReadFileNow(tmp)) != "new" {
		t.Fatalf("cut before SyncDir: x %q, x.tmp %q; want old and new", img.ReadFileNow(final), img.ReadFileNow(tmp))
	}
	mustSyncDir(t, m, testDir)
	img = m.Crash(0, nil)
	if string(img.ReadFileNow(final)) != "new" || img.ReadFileNow(tmp) != nil {
		t.Fatalf("cut after SyncDir: x %q, x.tmp %q; want new and none", img.ReadFileNow(final), img.ReadFileNow(tmp))
	}
}

// TestMemFS_RenameOntoItself: renaming a file to its own name changes
// nothing, now or after a crash that keeps the rename.
func TestMemFS_RenameOntoItself(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	memfsWrite(t, m, name, 0, []byte("data"))
	if err := m.Rename(name, name); err != nil {
		t.Fatal(err)
	}
	for what, img := range map[string]*MemFS{"now": m, "Clone": m.Clone(), "Crash(1, nil)": m.Crash(1, nil)} {
		if got := img.ReadFileNow(name); string(got) != "data" {
			t.Errorf("%s: f = %q, want %q", what, got, "data")
		}
	}
}

// TestMemFS_RenameErrors: a rename across directories fails with EXDEV,
// and one of a missing file or in a missing directory with ErrNotExist.
func TestMemFS_RenameErrors(t *testing.T) {
	m := NewMemFS(testDir)
	if err := m.MkdirAll(filepath.Join(testDir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(testDir, "f")
	memfsWrite(t, m, name, 0, []byte("x"))
	if err := m.Rename(name, filepath.Join(testDir, "sub", "f")); !errors.Is(err, syscall.EXDEV) {
		t.Errorf("rename across directories = %v, want EXDEV", err)
	}
	if err := m.Rename(filepath.Join(testDir, "nope"), name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rename of a missing file = %v, want ErrNotExist", err)
	}
	if err := m.Rename("/nodir/a", "/nodir/b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rename in a missing directory = %v, want ErrNotExist", err)
	}
	if got := m.ReadFileNow(name); string(got) != "x" {
		t.Errorf("failed renames changed f: %q", got)
	}
}

// TestMemFS_Directories: MkdirAll makes a directory that is durable at
// once and not listed in its parent; ReadDir lists files sorted; every
// operation on a missing directory fails with ErrNotExist.
func TestMemFS_Directories(t *testing.T) {
	m := NewMemFS(testDir)
	sub := filepath.Join(testDir, "sub")
	for range 2 { // the second call finds it made
		if err := m.MkdirAll(sub, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"c", "a", "b"} {
		memfsWrite(t, m, filepath.Join(testDir, n), 0, nil)
	}
	names, err := m.ReadDir(testDir)
	if err != nil || !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Fatalf("ReadDir = %v, %v; want [a b c] (files only, sorted)", names, err)
	}
	if names, err := m.Crash(0, nil).ReadDir(sub); err != nil || len(names) != 0 {
		t.Fatalf("after a cut, the new directory: %v, %v; want it empty", names, err)
	}
	missing := "/nodir"
	checks := map[string]error{
		"ReadDir": func() error { _, err := m.ReadDir(missing); return err }(),
		"SyncDir": m.SyncDir(missing),
		"Remove":  m.Remove(filepath.Join(missing, "f")),
		"Open": func() error {
			_, err := m.OpenFile(filepath.Join(missing, "f"), os.O_RDWR|os.O_CREATE, 0o600)
			return err
		}(),
		"Lock": func() error { _, err := m.Lock(filepath.Join(missing, "LOCK"), true); return err }(),
	}
	for what, err := range checks {
		var pe *fs.PathError
		if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) {
			t.Errorf("%s in a missing directory = %v, want an *fs.PathError wrapping ErrNotExist", what, err)
		}
	}
	if err := m.Remove(filepath.Join(testDir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove of a missing file = %v, want ErrNotExist", err)
	}
	if m.ListNow(missing) != nil || m.ReadFileNow(filepath.Join(missing, "f")) != nil {
		t.Error("ListNow or ReadFileNow found something in a missing directory")
	}
}

// TestMemFS_WriteFileNow: WriteFileNow makes a durable file, entry and
// content, in a directory it makes when missing, without counting an
// operation; it replaces a file that handles keep open.
func TestMemFS_WriteFileNow(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join("/other", "f")
	m.WriteFileNow(name, []byte("now"))
	if m.Ops() != 0 {
		t.Fatalf("WriteFileNow counted %d operations", m.Ops())
	}
	if got := m.Crash(0, nil).ReadFileNow(name); string(got) != "now" {
		t.Fatalf("after a cut: %q, want %q", got, "now")
	}
	f, err := m.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m.WriteFileNow(name, []byte("replaced"))
	buf := make([]byte, 16)
	n, _ := f.ReadAt(buf, 0)
	if string(buf[:n]) != "now" {
		t.Fatalf("the open handle reads %q, want the file it opened", buf[:n])
	}
	if got := m.ReadFileNow(name); string(got) != "replaced" {
		t.Fatalf("ReadFileNow = %q, want the new file", got)
	}
}

// TestMemFS_CrashImageIsIndependent: an image shares nothing with the file
// system it was taken of.
func TestMemFS_CrashImageIsIndependent(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	memfsWrite(t, m, name, 0, []byte("one"))
	img := m.Clone()
	memfsWrite(t, img, name, 0, []byte("two"))
	memfsWrite(t, m, filepath.Join(testDir, "g"), 0, []byte("x"))
	if got := m.ReadFileNow(name); string(got) != "one" {
		t.Errorf("a write to the image reached the original: %q", got)
	}
	if got := img.ListNow(testDir); !slices.Equal(got, []string{"f"}) {
		t.Errorf("a file made in the original reached the image: %v", got)
	}
}
