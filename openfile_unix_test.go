//go:build unix

package minikv_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// TestOpenFile_HostileStoreFiles puts, in place of each kind of store file,
// a symbolic link to a file outside the store, a dangling symbolic link, a
// FIFO and a directory, and opens the store writable and read-only. Each
// open must return within a second with ErrCorrupt naming the file (or,
// for a MANIFEST.tmp, which the store replaces, succeed), and change
// nothing outside the store: the outside file keeps its bytes and nothing
// is created beside it.
func TestOpenFile_HostileStoreFiles(t *testing.T) {
	kinds := []struct {
		name     string
		file     string // the store file replaced
		snapshot bool   // the store is compacted first, so that it has a snapshot
		tmp      bool   // a temp file, which Open may remove and replace
	}{
		{"MANIFEST", "MANIFEST", false, false},
		{"MANIFEST.tmp", "MANIFEST.tmp", false, true},
		{"LOCK", "LOCK", false, false},
		{"WAL segment", "0000000000000001.wal", false, false},
		{"snapshot", "0000000000000002.snap", true, false},
	}
	hostile := []struct {
		name  string
		plant func(t *testing.T, path, outside string)
	}{
		{"symlink to a file outside", func(t *testing.T, path, outside string) { mustT(t, os.Symlink(outside, path)) }},
		{"dangling symlink", func(t *testing.T, path, outside string) {
			mustT(t, os.Symlink(filepath.Join(filepath.Dir(outside), "created-by-the-store"), path))
		}},
		{"FIFO", func(t *testing.T, path, _ string) { mustT(t, syscall.Mkfifo(path, 0o600)) }},
		{"directory", func(t *testing.T, path, _ string) { mustT(t, os.Mkdir(path, 0o700)) }},
	}
	for _, k := range kinds {
		for _, h := range hostile {
			t.Run(k.name+"/"+h.name, func(t *testing.T) {
				dir, outsideDir := t.TempDir(), t.TempDir()
				outside := filepath.Join(outsideDir, "victim")
				mustT(t, os.WriteFile(outside, []byte("not the store's"), 0o600))
				hostileStore(t, dir, k.snapshot)
				path := filepath.Join(dir, k.file)
				if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
				h.plant(t, path, outside)
				for _, ro := range []bool{false, true} {
					err := openWithin(t, minikv.Options{Dir: dir, ReadOnly: ro}, time.Second)
					switch {
					case k.tmp && err == nil:
					case !errors.Is(err, minikv.ErrCorrupt):
						t.Errorf("read-only %v: Open = %v, want ErrCorrupt", ro, err)
					}
				}
				if b, err := os.ReadFile(outside); err != nil || string(b) != "not the store's" {
					t.Errorf("the file outside the store now holds %q (%v)", b, err)
				}
				if names, _ := os.ReadDir(outsideDir); len(names) != 1 {
					t.Errorf("the directory outside the store holds %v, want only the victim", names)
				}
			})
		}
	}
}

// hostileStore writes a store with a few keys into dir, compacted when
// snapshot is set, and closes it.
func hostileStore(t *testing.T, dir string, snapshot bool) {
	t.Helper()
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustT(t, db.Set("a", []byte("1")))
	if snapshot {
		mustT(t, db.Compact())
		mustT(t, db.Set("b", []byte("2")))
	}
	mustT(t, db.Close())
	names, _ := os.ReadDir(dir)
	var got []string
	for _, n := range names {
		got = append(got, n.Name())
	}
	if snapshot && !slices.Contains(got, "0000000000000002.snap") {
		t.Fatalf("the compacted store holds %v, want snapshot 2", got)
	}
}

// openWithin opens a store and closes it, and fails the test when Open
// takes longer than limit. It returns Open's error.
func openWithin(t *testing.T, opts minikv.Options, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		db, err := minikv.Open(opts)
		if err == nil {
			err = db.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("Open(%+v) still running after %v", opts, limit)
		return nil
	}
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenFile_SparseSnapshotClaims replaces a store's snapshot by a sparse
// file of 1 TiB with a valid header and a footer that claims as many
// entries as the size allows, a few kilobytes on disk. Open must refuse it
// with ErrCorrupt within a second, having allocated a few megabytes at
// most: the index is presized by the bytes on disk, not by the claim.
func TestOpenFile_SparseSnapshotClaims(t *testing.T) {
	dir := t.TempDir()
	hostileStore(t, dir, true)
	snap := filepath.Join(dir, "0000000000000002.snap")
	head, err := os.ReadFile(snap)
	if err != nil || len(head) < 28 {
		t.Fatalf("read the snapshot: %v", err)
	}
	const size = 1 << 40
	f, err := os.OpenFile(snap, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var foot [12]byte
	binary.LittleEndian.PutUint64(foot[:], (size-28-12)/3)
	_, err = f.Write(head[:28])
	if err == nil {
		_, err = f.WriteAt(foot[:], size-12)
	}
	mustT(t, errors.Join(err, f.Close()))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err = openWithin(t, minikv.Options{Dir: dir, ReadOnly: true}, time.Second)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, minikv.ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("Open allocated %d MiB for a snapshot of a few KiB on disk", alloc>>20)
	}
	t.Logf("refused in %v: %v", time.Since(start), err)
}

// TestOpenFile_HardLinkedSegment makes the WAL segment a hard link of a
// file outside the store (same device): a writable Open would append to
// both, so it is refused, and the outside file keeps its bytes; a
// read-only Open, which writes nothing, reads it.
func TestOpenFile_HardLinkedSegment(t *testing.T) {
	dir, outsideDir := t.TempDir(), t.TempDir()
	hostileStore(t, dir, false)
	seg := filepath.Join(dir, "0000000000000001.wal")
	outside := filepath.Join(outsideDir, "victim")
	if err := os.Link(seg, outside); err != nil {
		t.Skipf("no hard link between the test directories: %v", err)
	}
	before, err := os.ReadFile(outside)
	mustT(t, err)
	if err := openWithin(t, minikv.Options{Dir: dir}, time.Second); !errors.Is(err, minikv.ErrCorrupt) {
		t.Errorf("writable Open of a hard-linked segment = %v, want ErrCorrupt", err)
	}
	if err := openWithin(t, minikv.Options{Dir: dir, ReadOnly: true}, time.Second); err != nil {
		t.Errorf("read-only Open of a hard-linked segment = %v, want success", err)
	}
	if after, _ := os.ReadFile(outside); !bytes.Equal(before, after) {
		t.Error("the hard-linked file outside the store changed")
	}
}
