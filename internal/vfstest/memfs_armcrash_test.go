package vfstest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/minikv/minikv/internal/vfs"
)

// TestMemFS_ArmCrashReleasesHandles: after an armed crash every operation
// fails with ErrCrashed and is not counted, but Close and Unmap still
// release their handle and mapping (returning ErrCrashed), so that leak
// checks stay meaningful; the image is taken at the crash, not later.
func TestMemFS_ArmCrashReleasesHandles(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	m.WriteFileNow(name, make([]byte, 16))
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := f.(vfs.Mapper).Map(16)
	if err != nil {
		t.Fatal(err)
	}
	if m.CrashImage() != nil {
		t.Fatal("an image before any crash")
	}
	k := m.Ops() + 1
	m.ArmCrash(k, 0, nil)
	if _, err := f.Write([]byte("kept")); err != nil { // operation k-1
		t.Fatal(err)
	}
	if err := mp.CopyAt([]byte("x"), 0); !errors.Is(err, ErrCrashed) { // operation k
		t.Fatalf("the armed operation = %v, want ErrCrashed", err)
	}
	img := m.CrashImage()
	if img == nil || m.Ops() != k {
		t.Fatalf("image %v, %d operations; want an image and %d", img != nil, m.Ops(), k)
	}
	if _, err := f.Write([]byte("y")); !errors.Is(err, ErrCrashed) {
		t.Fatalf("Write after the crash = %v", err)
	}
	if err := f.Close(); !errors.Is(err, ErrCrashed) {
		t.Fatalf("Close after the crash = %v, want ErrCrashed", err)
	}
	if err := mp.Unmap(); !errors.Is(err, ErrCrashed) {
		t.Fatalf("Unmap after the crash = %v, want ErrCrashed", err)
	}
	if h := m.OpenHandles(); len(h) != 0 {
		t.Fatalf("left open after the crash: %v", h)
	}
	if m.Ops() != k || m.CrashImage() != img {
		t.Fatal("operations after the crash were counted or took a new image")
	}
	if got := m.ReadFileNow(name); string(got[:4]) != "kept" {
		t.Fatalf("now: %q", got)
	}
	if got := img.ReadFileNow(name); string(got) != string(make([]byte, 16)) {
		t.Fatalf("the image (keeping nothing unsynced) = %q, want the 16 durable zeros", got)
	}
}

// TestMemFS_Trace: with tracing on, each operation is recorded with its
// number, kind and base name; with it off, none is.
func TestMemFS_Trace(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	m.SyncDir(testDir) // 0, not traced
	m.SetTracing(true)
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600) // 1
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x")) // 2
	f.Sync()             // 3
	f.Close()            // 4
	m.SetTracing(false)
	m.SyncDir(testDir) // 5, not traced
	want := []string{"1 open f", "2 write f", "3 sync f", "4 close f"}
	if got := m.Trace(); !slices.Equal(got, want) {
		t.Fatalf("Trace = %q, want %q", got, want)
	}
	if m.Ops() != 6 {
		t.Fatalf("Ops = %d, want 6", m.Ops())
	}
}

// TestMemFS_ConcurrentUse writes, syncs and lists from several goroutines
// at once (run it with -race): every write is there after.
func TestMemFS_ConcurrentUse(t *testing.T) {
	m := NewMemFS(testDir)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			name := filepath.Join(testDir, string(rune('a'+g)))
			f, err := m.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				t.Error(err)
				return
			}
			for range 100 {
				f.Write([]byte{byte('a' + g)})
				f.Sync()
				m.ListNow(testDir)
				m.SyncDir(testDir)
			}
			f.Close()
		})
	}
	wg.Wait()
	img := m.Crash(0, nil)
	for g := range 4 {
		name := filepath.Join(testDir, string(rune('a'+g)))
		if got := img.ReadFileNow(name); len(got) != 100 {
			t.Errorf("%s holds %d bytes after a cut, want the 100 synced", name, len(got))
		}
	}
}

// TestMemFS_CrashTearsLastWrite: a cut with an rng that keeps every change
// still tears the last unsynced write at times, and a file changed since
// its Sync may get a tail of zeros or garbage, at most 64 bytes: the
// content is always a prefix of what was written, then at most 64 bytes.
func TestMemFS_CrashTearsLastWrite(t *testing.T) {
	rng, _ := testRand(t)
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	memfsDurable(t, m, name, nil)
	data := make([]byte, 1000)
	for i := range data {
		data[i] = 'w'
	}
	memfsWrite(t, m, name, 0, data)
	torn, whole, tails := 0, 0, 0
	for range 400 {
		got := m.Crash(1, rng).ReadFileNow(name)
		j := 0
		for j < len(got) && j < len(data) && got[j] == 'w' {
			j++
		}
		if len(got)-j > 64 {
			t.Fatalf("%d bytes after the %d written ones", len(got)-j, j)
		}
		if j < len(data) {
			torn++
		} else {
			whole++
		}
		if len(got) > len(data) {
			tails++
		}
	}
	if torn == 0 || whole == 0 || tails == 0 {
		t.Errorf("400 cuts: %d torn, %d whole, %d with a tail; want some of each", torn, whole, tails)
	}
}
