package minikv

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/minikv/minikv/internal/vfstest"
)

// recoveryWrites opens a store on a new MemFS with segments of 64 KiB in
// mode, sets n keys ("k00" ...) and returns the MemFS and the end offset of
// each key's record in the segment. The store is left open when close is
// false (the caller then takes images of the MemFS as a killed writer's),
// and closed otherwise.
func recoveryWrites(t *testing.T, mode SyncMode, n int, close bool) (*vfstest.MemFS, []int64) {
	t.Helper()
	mfs := vfstest.NewMemFS(crashDir)
	clk := NewFakeClock()
	db, err := Open(crashOptionsSeg(mfs, clk, mode, 1<<16))
	if err != nil {
		t.Fatal(err)
	}
	var ends []int64
	for i := range n {
		if err := db.Set(fmt.Sprintf("k%02d", i), []byte(fmt.Sprintf("value %02d, padded to span blocks ....................", i))); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, db.wal.segSize)
	}
	if close {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Cleanup(func() { db.Close() })
	}
	return mfs, ends
}

// recoveryOpen opens the image img with SyncAlways and returns the keys it
// holds, or the error of Open.
func recoveryOpen(t *testing.T, img *vfstest.MemFS) (map[string]crashVal, Stats, error) {
	t.Helper()
	db, err := Open(crashOptionsSeg(img, NewFakeClock(), SyncAlways, 1<<16))
	if err != nil {
		return nil, Stats{}, err
	}
	defer db.Close()
	got, err := crashDump(db)
	return got, db.Stats(), err
}

// TestRecovery_HoleInUnsyncedTail zeroes one 512-byte block in the middle
// of a segment that was never synced (SyncNever), as a power cut can leave
// it when a later block reached the disk first: Open must cut there as a
// torn tail and report the records it cut, not refuse with ErrCorrupt.
func TestRecovery_HoleInUnsyncedTail(t *testing.T) {
	mfs, ends := recoveryWrites(t, SyncNever, 40, false)
	seg := filepath.Join(crashDir, segmentName(1))
	data := mfs.ReadFileNow(seg)
	for _, hole := range []int64{0, 512, 1024, ends[len(ends)-1] / 512 * 512} {
		img := mfs.Clone()
		b := data[:ends[len(ends)-1]]
		b = append([]byte(nil), b...)
		clear(b[hole:min(hole+512, int64(len(b)))])
		img.WriteFileNow(seg, b)
		got, st, err := recoveryOpen(t, img)
		if err != nil {
			t.Fatalf("hole at %d: Open: %v, want a torn tail", hole, err)
		}
		whole := 0 // records wholly before the hole
		for whole < len(ends) && ends[whole] <= hole {
			whole++
		}
		if len(got) != whole {
			t.Fatalf("hole at %d: recovered %d keys, want the %d before the hole", hole, len(got), whole)
		}
		if hole+512 < ends[len(ends)-1] && st.TornRecords == 0 {
			t.Errorf("hole at %d: TornRecords = 0, want the records after the hole counted", hole)
		}
		if st.TornBytes != int64(len(b))-startOf(ends, whole) {
			t.Errorf("hole at %d: TornBytes = %d, want %d", hole, st.TornBytes, int64(len(b))-startOf(ends, whole))
		}
	}
}

// startOf returns the offset at which record i starts.
func startOf(ends []int64, i int) int64 {
	if i == 0 {
		return 0
	}
	return ends[i-1]
}

// TestRecovery_HoleInSyncedData zeroes a block of records that had been
// synced (SyncAlways: each write's fsync came before the next write), with
// the records after it intact: that is damage no crash explains, and Open
// must refuse with ErrCorrupt.
func TestRecovery_HoleInSyncedData(t *testing.T) {
	mfs, ends := recoveryWrites(t, SyncAlways, 40, false)
	seg := filepath.Join(crashDir, segmentName(1))
	data := append([]byte(nil), mfs.ReadFileNow(seg)[:ends[len(ends)-1]]...)
	clear(data[512:1024])
	img := mfs.Clone()
	img.WriteFileNow(seg, data)
	if _, _, err := recoveryOpen(t, img); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with a hole in synced data: %v, want ErrCorrupt", err)
	}
}

// TestRecovery_BitFlipsInDurableData flips one bit at every offset of a
// WAL whose every record was acknowledged durable, durable points and the
// close mark included. Each Open must fail with ErrCorrupt or hold every
// acknowledged write: damage there is never taken for a torn tail that
// silently drops acknowledged records. Only a flip in the close mark
// itself may be cut, since it holds no write.
func TestRecovery_BitFlipsInDurableData(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncNever} {
		t.Run(mode.String(), func(t *testing.T) {
			// With SyncNever, Close syncs and marks everything durable.
			mfs, ends := recoveryWrites(t, mode, 12, true)
			seg := filepath.Join(crashDir, segmentName(1))
			data := mfs.ReadFileNow(seg)
			if int64(len(data)) <= ends[len(ends)-1] {
				t.Fatalf("the closed segment (%d bytes) has no close mark after %d", len(data), ends[len(ends)-1])
			}
			refused := 0
			for off := range data {
				b := append([]byte(nil), data...)
				b[off] ^= 1 << (off % 8)
				img := mfs.Clone()
				img.WriteFileNow(seg, b)
				got, _, err := recoveryOpen(t, img)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("flip at %d: Open: %v, want ErrCorrupt or success", off, err)
					}
					refused++
					continue
				}
				if len(got) != len(ends) {
					t.Fatalf("flip at %d: Open succeeded with %d of the %d acknowledged keys", off, len(got), len(ends))
				}
			}
			t.Logf("%d of %d flips refused with ErrCorrupt; the rest kept every key", refused, len(data))
		})
	}
}

// TestRecovery_ReopenAfterFailedSync makes an fsync of the WAL fail as
// Linux's do (the unsynced pages are marked clean and never written, but
// reads still see them), reopens the store in the same boot, writes more
// with SyncAlways, and cuts the power. The reopen must have made what it
// replayed durable anew: after the power cut the store opens without
// ErrCorrupt and holds every write acknowledged after the reopen.
func TestRecovery_ReopenAfterFailedSync(t *testing.T) {
	mfs := vfstest.NewMemFS(crashDir)
	clk := NewFakeClock()
	opts := crashOptionsSeg(mfs, clk, SyncNever, 1<<16)
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := db.Set(fmt.Sprintf("before%02d", i), []byte("written, never synced")); err != nil {
			t.Fatal(err)
		}
	}
	seg := filepath.Join(crashDir, segmentName(1))
	mfs.FailSyncs(seg, 1)
	if err := db.Close(); err == nil {
		t.Fatal("Close succeeded although its fsync failed")
	}
	if mfs.ReadFileNow(filepath.Join(crashDir, syncFailedName)) == nil {
		t.Fatal("the failed fsync left no sync-failed mark")
	}
	// The same boot: the page cache still holds the lost writes.
	opts.SyncMode = SyncAlways
	db, err = Open(opts)
	if err != nil {
		t.Fatalf("reopen after the failed fsync: %v", err)
	}
	if n, _ := db.Count(); n != 20 {
		t.Fatalf("reopen sees %d keys, want the 20 the page cache holds", n)
	}
	for i := range 5 {
		if err := db.Set(fmt.Sprintf("after%02d", i), []byte("acknowledged durable")); err != nil {
			t.Fatal(err)
		}
	}
	if mfs.ReadFileNow(filepath.Join(crashDir, syncFailedName)) != nil {
		t.Error("the sync-failed mark is still there after the reopen made the state durable")
	}
	img := mfs.Crash(0, nil) // the power cut: only what is durable
	db.Close()
	got, _, err := recoveryOpen(t, img)
	if err != nil {
		t.Fatalf("Open after the power cut: %v", err)
	}
	for i := range 5 {
		if _, ok := got[fmt.Sprintf("after%02d", i)]; !ok {
			t.Fatalf("acknowledged after%02d lost in the power cut; recovered %d keys", i, len(got))
		}
	}
	if len(got) != 25 {
		t.Errorf("recovered %d keys, want the 20 replayed and made durable at reopen and the 5 after", len(got))
	}
}
