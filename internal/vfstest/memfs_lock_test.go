package vfstest

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/minikv/minikv/internal/vfs"
)

// TestMemFS_Locks: locks act as flock's: one exclusive or many shared; a
// conflict wraps vfs.ErrLocked; an exclusive lock creates its file (an
// unsynced entry), a shared one needs it; Close releases once, even after
// a crash; a crash image holds no lock.
func TestMemFS_Locks(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "LOCK")
	if _, err := m.Lock(name, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("shared lock of a missing file = %v, want ErrNotExist", err)
	}
	ex, err := m.Lock(name, true)
	if err != nil {
		t.Fatal(err)
	}
	if m.ListNow(testDir) == nil || m.Crash(0, nil).ListNow(testDir) != nil {
		t.Fatal("the exclusive lock's file is missing, or durable without SyncDir")
	}
	if !m.Locked(name) || m.Clone().Locked(name) {
		t.Fatal("Locked is false while held, or the image holds the lock")
	}
	for _, exclusive := range []bool{true, false} {
		if _, err := m.Lock(name, exclusive); !errors.Is(err, vfs.ErrLocked) {
			t.Fatalf("lock (exclusive %v) beside an exclusive one = %v, want ErrLocked", exclusive, err)
		}
	}
	ex.Close()
	ex.Close() // a second Close releases nothing more
	if m.Locked(name) {
		t.Fatal("Locked after Close")
	}
	sh1, err := m.Lock(name, false)
	if err != nil {
		t.Fatal(err)
	}
	sh2, err := m.Lock(name, false)
	if err != nil {
		t.Fatalf("a second shared lock: %v", err)
	}
	if _, err := m.Lock(name, true); !errors.Is(err, vfs.ErrLocked) {
		t.Fatalf("exclusive lock beside shared ones = %v, want ErrLocked", err)
	}
	sh1.Close()
	sh1.Close() // a second Close must not release sh2's share
	if !m.Locked(name) {
		t.Fatal("one shared lock left, but Locked is false")
	}
	m.ArmCrash(m.Ops(), 0, nil)
	if _, err := m.Lock(name, false); !errors.Is(err, ErrCrashed) {
		t.Fatalf("Lock after the crash = %v, want ErrCrashed", err)
	}
	if err := sh2.Close(); err != nil || m.Locked(name) {
		t.Fatalf("release after the crash: %v, locked %v", err, m.Locked(name))
	}
}
