package minikv

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikv/minikv/internal/vfstest"
)

// Regression tests for the defects the crash and fault loops found.

// A handle whose directory sync failed leaves entries that are visible but
// not durable. Open used to append to such a segment without syncing the
// directory, so a power cut lost writes it had acknowledged.
func TestRegress_OpenSyncsDirectory(t *testing.T) {
	mfs := vfstest.NewMemFS(crashDir)
	ffs := vfstest.NewFaultFS(mfs, 1, false)
	ffs.OnlyKind("syncdir") // the second one: after creating segment 1
	clk := NewFakeClock()
	if _, err := Open(crashOptions(ffs, clk, SyncAlways)); !errors.Is(err, vfstest.ErrInjected) {
		t.Fatalf("Open with a failing directory sync: %v, want the injected error", err)
	}
	db, err := Open(crashOptions(mfs, clk, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Set("k", []byte("v")), db.Close()); err != nil {
		t.Fatal(err)
	}
	db, err = Open(crashOptions(mfs.Crash(0, nil), clk, SyncAlways))
	if err != nil {
		t.Fatalf("open after power cut: %v", err)
	}
	defer db.Close()
	if v, err := db.Get("k"); err != nil || string(v) != "v" {
		t.Fatalf("acknowledged write after power cut: %q, %v", v, err)
	}
}

// When closing the sealed segment failed during rotation, the WAL used to
// keep pointing at the closed file and closed the new one, so Close
// reported "file already closed" instead of the cause.
func TestRegress_RotateCloseFailure(t *testing.T) {
	mfs := vfstest.NewMemFS(crashDir)
	ffs := vfstest.NewFaultFS(mfs, 1, false)
	ffs.OnlyKind("close") // the first is MANIFEST.tmp's, the second segment 1's
	clk := NewFakeClock()
	db, err := Open(crashOptions(ffs, clk, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	var acked []string
	for i := 0; i < 10; i++ {
		k := string(rune('a' + i))
		err = db.Set(k, []byte(strings.Repeat("v", 100)))
		if err != nil {
			break
		}
		acked = append(acked, k)
	}
	if !errors.Is(err, vfstest.ErrInjected) {
		t.Fatalf("Set during a rotation whose close fails: %v, want the injected error", err)
	}
	if err := db.Close(); err != nil && !errors.Is(err, vfstest.ErrInjected) {
		t.Fatalf("Close: %v, want nil or the injected error", err)
	}
	if err := crashCheckReleased(mfs); err != nil {
		t.Fatal(err)
	}
	db, err = Open(crashOptions(mfs, clk, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range acked {
		if _, err := db.Get(k); err != nil {
			t.Errorf("acknowledged %q: %v", k, err)
		}
	}
}

// A value may hold the bytes of a whole WAL record (a log shipped as a
// value, or a hostile one). When a power cut tore the record that carried
// such a value, recovery found the embedded record "after" the damage,
// took the torn tail for mid-log damage and refused to open with
// ErrCorrupt.
func TestRegress_TornRecordWithEmbeddedRecord(t *testing.T) {
	mfs := vfstest.NewMemFS(crashDir)
	clk := NewFakeClock()
	db, err := Open(crashOptions(mfs, clk, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	inner := appendSetRecord(nil, 1, -1, "inner", []byte("payload"), 0)
	value := append(append([]byte("head"), inner...), "tail-of-the-value"...)
	err = errors.Join(db.Set("before", []byte("v")), db.Set("carrier", value), db.Close())
	if err != nil {
		t.Fatal(err)
	}
	seg := crashDir + "/" + segmentName(1)
	data := cutCloseMark(mfs.ReadFileNow(seg))
	// Tear the carrier record just after the embedded record.
	end := bytes.Index(data, inner) + len(inner)
	for _, cut := range []int{end, end + 1, len(data) - 1} {
		img := mfs.Clone()
		img.WriteFileNow(seg, data[:cut])
		db, err := Open(crashOptions(img, clk, SyncAlways))
		if err != nil {
			t.Fatalf("cut at %d: Open: %v, want a torn-tail recovery", cut, err)
		}
		got, err := crashDump(db)
		db.Close()
		if err != nil || len(got) != 1 || got["before"].value != "v" {
			t.Fatalf("cut at %d: recovered %v, %v, want only the first write", cut, got, err)
		}
	}
	// Damage to the length field alone, with the records after it intact,
	// is still mid-log damage.
	img := mfs.Clone()
	bad := bytes.Clone(data)
	carrier := walRecords(data)[0]
	bad[carrier+4] ^= 0x40
	img.WriteFileNow(seg, append(bad, appendSetRecord(nil, 2, -1, "later", []byte("x"), 0)...))
	if _, err := Open(crashOptions(img, clk, SyncAlways)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged length field followed by a valid record: %v, want ErrCorrupt", err)
	}
}

// Telling a torn tail from mid-log damage searched every offset of the
// damaged bytes for a valid record, and every offset may declare a length
// that fits: crafted bytes (a value is client data) made the search
// quadratic, and recovery of a 256 KiB damaged tail took seconds, of a
// 16 MiB one hours. The search now has a budget.
func TestRegress_DamageSearchIsBounded(t *testing.T) {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = []byte{0xff, 0xff, 0x0f}[i%3] // a length of ~256 KiB at most offsets
	}
	data := append(appendSetRecord(nil, 1, -1, "k", []byte("v"), 0), b...)
	start := time.Now()
	s, err := scanSegment(data, func(r walRecord) bool { return true })
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("scanning 1 MiB of crafted damage took %v", took)
	}
	if err != nil || !s.damaged || s.records != 1 {
		t.Fatalf("scan: %+v, %v", s, err)
	}
}

// Recovery checked the segments after a damaged one for valid records but
// ignored errors reading them: a read error there made mid-log damage
// look like a torn tail, and Open cut the damaged segment and deleted the
// later ones, records and all.
func TestRegress_LaterSegmentReadError(t *testing.T) {
	f := newCorruptFixture(t, 12, 64, false)
	seg1 := filepath.Join(crashDir, segmentName(1))
	data := f.fs.ReadFileNow(seg1)
	data[len(data)-1] ^= 0x55 // the last record: only later segments tell it from a tail
	f.fs.WriteFileNow(seg1, data)
	ffs := vfstest.NewFaultFS(f.fs, 2, true)
	ffs.OnlyKind("read") // MANIFEST, segment 1, then every later segment
	if _, err := Open(crashOptions(ffs, f.clk, SyncAlways)); !errors.Is(err, vfstest.ErrInjected) && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with mid-log damage and a failing read of a later segment: %v, want an error", err)
	}
	if got := f.fs.ReadFileNow(filepath.Join(crashDir, segmentName(2))); got == nil {
		t.Fatal("a later segment was deleted")
	}
	if _, err := Open(crashOptions(f.fs, f.clk, SyncAlways)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("clean reopen: %v, want ErrCorrupt", err)
	}
}

// parseManifest accepted any wal-start up to 2^64-1. From there the WAL's
// next segment number wrapped to 0, below wal-start, and the next Open
// deleted that segment as obsolete with the acknowledged writes in it.
func TestRegress_ManifestWALStartOverflow(t *testing.T) {
	for _, start := range []uint64{math.MaxUint64, math.MaxUint64 - 1} {
		mfs := vfstest.NewMemFS(crashDir)
		mfs.WriteFileNow(filepath.Join(crashDir, manifestName), manifest{walStart: start}.encode())
		clk := NewFakeClock()
		opts := crashOptions(mfs, clk, SyncAlways)
		db, err := Open(opts)
		if errors.Is(err, ErrCorrupt) {
			continue // refusing such a MANIFEST is right
		}
		if err != nil {
			t.Fatal(err)
		}
		var acked []string
		for i := range 8 {
			k := fmt.Sprintf("k%d", i)
			if db.Set(k, bytes.Repeat([]byte("v"), 100)) == nil {
				acked = append(acked, k)
			}
		}
		db.Close()
		db, err = Open(opts)
		if err != nil {
			t.Fatalf("wal-start %d: reopen: %v", start, err)
		}
		for _, k := range acked {
			if _, err := db.Get(k); err != nil {
				t.Errorf("wal-start %d: acknowledged %s: %v", start, k, err)
			}
		}
		db.Close()
	}
}

// Close used to return nil after an fsync had failed: the WAL skipped its
// final sync and reported nothing, so a caller that only checks Close (as
// with SyncPeriodic, where a background sync failure is only logged) never
// learned that acknowledged writes might not be durable.
func TestRegress_CloseReportsEarlierWALFailure(t *testing.T) {
	mfs := vfstest.NewMemFS(crashDir)
	ffs := vfstest.NewFaultFS(mfs, -1, false)
	ffs.OnlyKind("sync")
	db, err := Open(crashOptions(ffs, NewFakeClock(), SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := ffs.Count()
	ffs.FailAt(n) // the next fsync fails
	if err := db.Set("k", []byte("v")); !errors.Is(err, vfstest.ErrInjected) {
		t.Fatalf("Set with a failing fsync: %v, want the injected error", err)
	}
	if err := db.Close(); !errors.Is(err, vfstest.ErrInjected) {
		t.Fatalf("Close after a failed fsync: %v, want the injected error", err)
	}
}
