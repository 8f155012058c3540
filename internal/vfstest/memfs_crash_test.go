package vfstest

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The MemFS is the crash model every power-loss test trusts; these tests
// check the model itself.

// TestMemFS_CrashKeepsSyncedOnly: a power cut that keeps no unsynced change
// leaves every file as of its last Sync and every directory as of its last
// SyncDir, and nothing else.
func TestMemFS_CrashKeepsSyncedOnly(t *testing.T) {
	m := NewMemFS(testDir)
	a, b := filepath.Join(testDir, "a"), filepath.Join(testDir, "b")
	memfsWrite(t, m, a, 0, []byte("synced"))
	memfsSync(t, m, a)
	if err := m.SyncDir(testDir); err != nil {
		t.Fatal(err)
	}
	memfsWrite(t, m, a, 6, []byte(" and more"))
	memfsWrite(t, m, b, 0, []byte("never synced, nor its entry"))
	img := m.Crash(0, nil)
	if got := img.ReadFileNow(a); string(got) != "synced" {
		t.Errorf("a after the cut = %q, want the synced %q", got, "synced")
	}
	if got := img.ReadFileNow(b); got != nil {
		t.Errorf("b, never in a synced directory, survived: %q", got)
	}
	if got := m.Clone().ReadFileNow(a); string(got) != "synced and more" {
		t.Errorf("a after a process kill = %q, want everything written", got)
	}
}

// TestMemFS_RenameDurableAfterSyncDir: a rename survives a power cut once
// its directory is synced, and may or may not before.
func TestMemFS_RenameDurableAfterSyncDir(t *testing.T) {
	m := NewMemFS(testDir)
	tmp, final := filepath.Join(testDir, "x.tmp"), filepath.Join(testDir, "x")
	memfsWrite(t, m, tmp, 0, []byte("content"))
	memfsSync(t, m, tmp)
	if err := m.SyncDir(testDir); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
	if img := m.Crash(0, rand.New(rand.NewPCG(1, 2))); img.ReadFileNow(final) != nil || img.ReadFileNow(tmp) == nil {
		t.Error("an unsynced rename survived a cut that keeps nothing unsynced")
	}
	if img := m.Crash(1, rand.New(rand.NewPCG(1, 2))); img.ReadFileNow(final) == nil {
		t.Error("a cut that keeps every change lost the rename")
	}
	if err := m.SyncDir(testDir); err != nil {
		t.Fatal(err)
	}
	img := m.Crash(0, rand.New(rand.NewPCG(1, 2)))
	if string(img.ReadFileNow(final)) != "content" || img.ReadFileNow(tmp) != nil {
		t.Error("a rename whose directory was synced did not survive")
	}
}

// TestMemFS_BlockSubsets writes a preallocated, synced file in many small
// unsynced writes and cuts the power many times: some images must keep a
// later block while losing an earlier one (a hole followed by data, at 512
// bytes, 1 KiB or a page), every kept byte must be what was written or
// what was there before, and some images must keep a prefix only.
func TestMemFS_BlockSubsets(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "seg")
	const size = 16 << 10
	memfsWrite(t, m, name, 0, make([]byte, size)) // preallocated zeros
	memfsSync(t, m, name)
	if err := m.SyncDir(testDir); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	for off := 0; off < size; off += 100 {
		chunk := bytes.Repeat([]byte{byte(1 + off/100%250)}, min(100, size-off))
		memfsWrite(t, m, name, int64(off), chunk)
		copy(want[off:], chunk)
	}
	holes, prefixes := 0, 0
	for i := range 200 {
		img := m.Crash(0.5, rand.New(rand.NewPCG(uint64(i), 7)))
		got := img.ReadFileNow(name)
		if len(got) < size {
			t.Fatalf("image %d: %d bytes, want the preallocated %d", i, len(got), size)
		}
		got = got[:size]
		seenZero, hole := false, false
		for off := 0; off < size; off++ {
			switch got[off] {
			case 0:
				seenZero = true
			case want[off]:
				if seenZero {
					hole = true
				}
			default:
				t.Fatalf("image %d: byte %d is %d, neither written (%d) nor old (0)", i, off, got[off], want[off])
			}
		}
		if hole {
			holes++
		} else {
			prefixes++
		}
	}
	if holes == 0 || prefixes == 0 {
		t.Errorf("200 cuts gave %d images with a hole and %d without; want both", holes, prefixes)
	}
	t.Logf("%d images with a hole before kept data, %d prefixes", holes, prefixes)
}

// TestMemFS_FailedSyncLosesPages: after a Sync that fails with EIO, reads
// still see the writes it lost, a later Sync does not make them durable,
// and a power cut loses them; a new write to the same bytes is durable
// again after its Sync.
func TestMemFS_FailedSyncLosesPages(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	memfsWrite(t, m, name, 0, []byte("old!"))
	memfsSync(t, m, name)
	if err := m.SyncDir(testDir); err != nil {
		t.Fatal(err)
	}
	memfsWrite(t, m, name, 0, []byte("lost"))
	m.FailSyncs(name, 1)
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("the armed Sync = %v, want EIO", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("the next Sync = %v, want success (the pages count as clean)", err)
	}
	f.Close()
	if got := m.ReadFileNow(name); string(got) != "lost" {
		t.Errorf("reads after the failed sync = %q, want the page cache's %q", got, "lost")
	}
	if got := m.Crash(0, nil).ReadFileNow(name); string(got) != "old!" {
		t.Errorf("after a power cut = %q, want the disk's %q", got, "old!")
	}
	memfsWrite(t, m, name, 2, []byte("ST"))
	memfsSync(t, m, name)
	if got := m.Crash(0, nil).ReadFileNow(name); string(got) != "olST" {
		t.Errorf("after a rewrite, its sync and a power cut = %q, want %q", got, "olST")
	}
}
