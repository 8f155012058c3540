package minikv

// Tests of the mapped WAL path on the in-memory file system: preallocation
// of the last segment, sealing at rotation and Close, records that do not
// fit, the fallback to Write, size accounting and read-only opens. The
// crash and fault loops of crash_internal_test.go run on the same path.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/minikv/minikv/internal/vfs"
	"github.com/minikv/minikv/internal/vfstest"
)

// mapTestOptions are the options of these tests: small segments, no
// background work, SyncNever unless changed.
func mapTestOptions(fsys vfs.FS, segLimit int64) Options {
	opts := crashOptions(fsys, NewFakeClock(), SyncNever)
	opts.SegmentSize = segLimit
	return opts
}

// segmentFiles returns the current content of every WAL segment of fsys,
// in order.
func segmentFiles(t *testing.T, m *vfstest.MemFS) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range m.ListNow(crashDir) {
		if _, ok := parseSeq(name, walExt); ok {
			out = append(out, m.ReadFileNow(filepath.Join(crashDir, name)))
		}
	}
	return out
}

// scanBytes scans one segment's bytes without applying anything.
func scanBytes(t *testing.T, data []byte) segmentScan {
	t.Helper()
	s, err := scanSegment(data, func(walRecord) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSet(t *testing.T, db *DB, key string, value []byte) {
	t.Helper()
	if err := db.Set(key, value); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func wantValue(t *testing.T, db *DB, key string, want []byte) {
	t.Helper()
	got, err := db.Get(key)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes, %v; want %d bytes", key, len(got), err, len(want))
	}
}

// checkWALFiles checks the segments of m against the WAL's figures while
// the database is open: every sealed segment ends at its last record, the
// last one holds the current segment's written bytes followed by zeros
// up to segLimit when it is mapped, and the WAL size is the sum of the
// records, not of the file sizes.
func checkWALFiles(t *testing.T, m *vfstest.MemFS, db *DB, segLimit int64) {
	t.Helper()
	segs := segmentFiles(t, m)
	var records int64
	for i, data := range segs {
		s := scanBytes(t, data)
		records += s.validEnd
		last := i == len(segs)-1
		switch {
		case s.damaged:
			t.Fatalf("segment %d of %d is damaged at %d", i+1, len(segs), s.validEnd)
		case !last && s.validEnd != s.size:
			t.Fatalf("sealed segment %d ends in %d zero bytes", i+1, s.size-s.validEnd)
		case last && db.wal.m != nil && s.size != segLimit:
			t.Fatalf("mapped last segment is %d bytes, want the %d preallocated", s.size, segLimit)
		case last && db.wal.m == nil && s.validEnd != s.size:
			t.Fatalf("unmapped last segment ends in %d zero bytes", s.size-s.validEnd)
		case last && s.validEnd != db.wal.segSize:
			t.Fatalf("last segment holds %d bytes of records, the WAL counts %d", s.validEnd, db.wal.segSize)
		}
	}
	if got := WALBytes(db); got != records {
		t.Fatalf("WAL size %d, the segments hold %d bytes of records", got, records)
	}
	if got := db.Stats().WALSize; got != records {
		t.Fatalf("Stats().WALSize %d, the segments hold %d bytes of records", got, records)
	}
}

// The last segment is preallocated and written through its mapping; Close
// seals it to its records, durably in every mode (with SyncAlways every
// record is already synced, the cut is not), and releases the mapping.
func TestWALMap_PreallocatesAndSeals(t *testing.T) {
	for _, mode := range crashModes {
		t.Run(mode.String(), func(t *testing.T) { testWALMapPreallocatesAndSeals(t, mode) })
	}
}

func testWALMapPreallocatesAndSeals(t *testing.T, mode SyncMode) {
	const segLimit = 4096
	m := vfstest.NewMemFS(crashDir)
	m.SetTracing(true)
	opts := mapTestOptions(m, segLimit)
	opts.SyncMode = mode
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if db.wal.m == nil {
		t.Fatal("the new segment is not mapped")
	}
	for i := range 10 {
		mustSet(t, db, fmt.Sprintf("k%d", i), []byte("value"))
	}
	checkWALFiles(t, m, db, segLimit)
	var writes, stores int
	for _, op := range m.Trace() {
		if strings.HasSuffix(op, walExt) {
			writes += strings.Count(op, " write ")
			stores += strings.Count(op, " mapwrite ")
		}
	}
	if writes != 0 || stores != 10 {
		t.Fatalf("%d writes and %d stores into the mapping for 10 records, want 0 and 10", writes, stores)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if h := m.OpenHandles(); len(h) > 0 {
		t.Fatalf("left open: %v", h)
	}
	segs := segmentFiles(t, m)
	if s := scanBytes(t, segs[0]); s.records != 10 || s.validEnd != s.size {
		t.Fatalf("after Close: %d records in %d bytes, file of %d", s.records, s.validEnd, s.size)
	}
	// A power cut after Close keeps it all, sealed.
	img := m.Crash(0, nil)
	if s := scanBytes(t, segmentFiles(t, img)[0]); s.records != 10 || s.validEnd != s.size {
		t.Fatalf("after a power cut after Close: %d records in %d bytes, file of %d", s.records, s.validEnd, s.size)
	}
	db, err = Open(mapTestOptions(img, segLimit))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if st := db.Stats(); st.TornBytes != 0 || st.RecoveredRecords != 10 {
		t.Fatalf("reopen after Close and a power cut: TornBytes %d, RecoveredRecords %d", st.TornBytes, st.RecoveredRecords)
	}
}

// A process kill leaves the last segment preallocated, with zeros after
// its records. A reopen serves every record, cuts the zeros (TornBytes
// counts them), and appends after the last record, not at the file's end;
// the same holds after a second kill.
func TestWALMap_ReopenAfterKill(t *testing.T) {
	const segLimit = 8192
	m := vfstest.NewMemFS(crashDir)
	db, err := Open(mapTestOptions(m, segLimit))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		mustSet(t, db, fmt.Sprintf("a%d", i), []byte("first run"))
	}
	written := WALBytes(db)
	img := m.Clone() // the process is killed: its unsynced writes stay
	db.Close()

	for run := range 2 {
		segs := segmentFiles(t, img)
		last := segs[len(segs)-1]
		if int64(len(last)) != segLimit {
			t.Fatalf("run %d: killed run left a last segment of %d bytes, want the %d preallocated", run, len(last), segLimit)
		}
		db, err := Open(mapTestOptions(img, segLimit))
		if err != nil {
			t.Fatalf("run %d: reopen after a kill: %v", run, err)
		}
		st := db.Stats()
		if st.TornBytes != segLimit-written || st.WALSize != written {
			t.Fatalf("run %d: TornBytes %d, WALSize %d; want %d and %d", run, st.TornBytes, st.WALSize, segLimit-written, written)
		}
		for i := range 20 {
			wantValue(t, db, fmt.Sprintf("a%d", i), []byte("first run"))
		}
		for i := range run * 5 {
			wantValue(t, db, fmt.Sprintf("b%d-%d", run-1, i), []byte("later run"))
		}
		for i := range 5 {
			mustSet(t, db, fmt.Sprintf("b%d-%d", run, i), []byte("later run"))
		}
		checkWALFiles(t, img, db, segLimit)
		written = WALBytes(db)
		next := img.Clone()
		db.Close()
		img = next
	}
	db, err = Open(mapTestOptions(img, segLimit))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Stats().RecoveredRecords; got != 30 {
		t.Fatalf("recovered %d records, want 30", got)
	}
}

// Rotation seals each segment at its last record while the next one is
// mapped, and a record that does not fit in what is left of the mapping
// starts the next segment instead of crossing the end of the mapping.
func TestWALMap_Rotation(t *testing.T) {
	const segLimit = 1024
	m := vfstest.NewMemFS(crashDir)
	db, err := Open(mapTestOptions(m, segLimit))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	val := bytes.Repeat([]byte("x"), 90)
	for i := range 60 {
		mustSet(t, db, fmt.Sprintf("key-%02d", i), val)
		checkWALFiles(t, m, db, segLimit)
	}
	segs := segmentFiles(t, m)
	if len(segs) < 6 {
		t.Fatalf("%d segments for 60 records of about 110 bytes in 1 KiB segments", len(segs))
	}
	recLen := int64(len(appendSetRecord(nil, db.now(), 0, "key-00", val, 0)))
	for i, data := range segs[:len(segs)-1] {
		if n := int64(len(data)); n > segLimit || n+recLen <= segLimit {
			t.Fatalf("sealed segment %d is %d bytes: a record of %d did not fit in %d", i+1, n, recLen, segLimit)
		}
	}
}

// A 600-byte record after another leaves too little room: it goes to the
// next segment, and the first is sealed after one record.
func TestWALMap_RecordLargerThanRoomLeft(t *testing.T) {
	const segLimit = 1024
	m := vfstest.NewMemFS(crashDir)
	db, err := Open(mapTestOptions(m, segLimit))
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("b"), 600)
	mustSet(t, db, "one", big)
	mustSet(t, db, "two", big)
	checkWALFiles(t, m, db, segLimit)
	segs := segmentFiles(t, m)
	if len(segs) != 2 || scanBytes(t, segs[0]).records != 1 || scanBytes(t, segs[1]).records != 1 {
		t.Fatalf("want two segments of one record each, got %d", len(segs))
	}
	img := m.Clone()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(mapTestOptions(img, segLimit))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantValue(t, db, "one", big)
	wantValue(t, db, "two", big)
}

// A record larger than a whole segment (a value, or a batch, over
// SegmentSize) is written with Write into a new segment that is not
// preallocated; the next record starts a new, mapped segment. Kills and
// power cuts in between recover everything synced.
func TestWALMap_RecordLargerThanSegment(t *testing.T) {
	const segLimit = 1024
	m := vfstest.NewMemFS(crashDir)
	opts := mapTestOptions(m, segLimit)
	opts.SyncMode = SyncAlways
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	huge := bytes.Repeat([]byte("h"), 5000)
	mustSet(t, db, "small", []byte("s"))
	mustSet(t, db, "huge", huge)
	if db.wal.m != nil {
		t.Fatal("the segment holding a record larger than a segment is mapped")
	}
	checkWALFiles(t, m, db, segLimit)
	b := db.NewBatch()
	for i := range 40 {
		b.Set(fmt.Sprintf("batch-%d", i), huge[:100])
	}
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	checkWALFiles(t, m, db, segLimit)
	mustSet(t, db, "after", []byte("a"))
	if db.wal.m == nil {
		t.Fatal("the segment after an oversized record is not mapped")
	}
	checkWALFiles(t, m, db, segLimit)
	segs := segmentFiles(t, m)
	if len(segs) != 4 {
		t.Fatalf("%d segments, want 4: small, huge, batch, after", len(segs))
	}
	for _, img := range []*vfstest.MemFS{m.Clone(), m.Crash(0, nil)} {
		db2, err := Open(mapTestOptions(img, segLimit))
		if err != nil {
			t.Fatal(err)
		}
		wantValue(t, db2, "huge", huge)
		wantValue(t, db2, "batch-39", huge[:100])
		wantValue(t, db2, "after", []byte("a"))
		db2.Close()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// noMapFS hides the mapping methods of the files of a MemFS, like a
// platform without them.
type noMapFS struct{ *vfstest.MemFS }

type noMapFile struct{ vfs.File }

func (f noMapFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	h, err := f.MemFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noMapFile{h}, nil
}

// partialAllocFS is a MemFS whose preallocation extends a file halfway
// and then fails with ENOSPC, as fallocate may on a full disk.
type partialAllocFS struct{ *vfstest.MemFS }

// partialAllocFile is a file of a MemFS, which implements vfs.Mapper.
type partialAllocFile struct{ vfs.File }

func (f partialAllocFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	h, err := f.MemFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return partialAllocFile{h}, nil
}

func (f partialAllocFile) Allocate(size int64) error {
	if err := f.File.(vfs.Mapper).Allocate(size / 2); err != nil {
		return err
	}
	return syscall.ENOSPC
}

func (f partialAllocFile) Map(size int64) (vfs.Mapping, error) {
	return f.File.(vfs.Mapper).Map(size)
}

// Without mapping (no such methods, or preallocation or mapping failing)
// the WAL writes with Write and the files never end in zeros; after a
// partial preallocation the file is cut back before the first write.
func TestWALMap_Fallback(t *testing.T) {
	const segLimit = 1024
	cases := []struct {
		name string
		fs   func(m *vfstest.MemFS) vfs.FS
	}{
		{"no mapper", func(m *vfstest.MemFS) vfs.FS { return noMapFS{m} }},
		{"allocate fails", func(m *vfstest.MemFS) vfs.FS {
			f := vfstest.NewFaultFS(m, 0, true)
			f.OnlyKind("allocate")
			return f
		}},
		{"map fails", func(m *vfstest.MemFS) vfs.FS {
			f := vfstest.NewFaultFS(m, 0, true)
			f.OnlyKind("map")
			return f
		}},
		{"map fails once", func(m *vfstest.MemFS) vfs.FS {
			f := vfstest.NewFaultFS(m, 0, false)
			f.OnlyKind("map")
			return f
		}},
		{"partial allocation", func(m *vfstest.MemFS) vfs.FS { return partialAllocFS{m} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := vfstest.NewMemFS(crashDir)
			db, err := Open(mapTestOptions(tc.fs(m), segLimit))
			if err != nil {
				t.Fatal(err)
			}
			val := bytes.Repeat([]byte("v"), 100)
			for i := range 30 {
				mustSet(t, db, fmt.Sprintf("k%02d", i), val)
				checkWALFiles(t, m, db, segLimit)
			}
			img := m.Clone()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if h := m.OpenHandles(); len(h) > 0 {
				t.Fatalf("left open: %v", h)
			}
			db, err = Open(mapTestOptions(img, segLimit))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i := range 30 {
				wantValue(t, db, fmt.Sprintf("k%02d", i), val)
			}
		})
	}
}

// When the cut after a failed preallocation fails too, the segment cannot
// be written safely: creating it fails, and the store refuses writes.
func TestWALMap_FallbackCutFails(t *testing.T) {
	m := vfstest.NewMemFS(crashDir)
	f := vfstest.NewFaultFS(partialAllocFS{m}, 0, true)
	f.OnlyKind("truncate")
	db, err := Open(mapTestOptions(f, 1024))
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded though the segment could not be cut back")
	}
	if !errors.Is(err, vfstest.ErrInjected) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Open: %v, want the failed cut and the failed preallocation", err)
	}
	if h := m.OpenHandles(); len(h) > 0 {
		t.Fatalf("left open: %v", h)
	}
}

// A store into the mapping that fails (here: the machine has lost power)
// stops the WAL like a failed Write: the write and every later one return
// the error, and the store refuses writes until reopened.
func TestWALMap_FailedStoreRefusesWrites(t *testing.T) {
	m := vfstest.NewMemFS(crashDir)
	db, err := Open(mapTestOptions(m, 4096))
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, db, "before", []byte("v"))
	m.ArmCrash(m.Ops(), 0, nil)
	if err := db.Set("lost", []byte("v")); !errors.Is(err, vfstest.ErrCrashed) {
		t.Fatalf("Set during the crash: %v, want vfstest.ErrCrashed", err)
	}
	if err := db.Set("later", []byte("v")); !errors.Is(err, vfstest.ErrCrashed) {
		t.Fatalf("Set after the failure: %v, want the stored failure", err)
	}
	if _, err := db.Get("before"); err != nil {
		t.Fatalf("reads must go on: %v", err)
	}
	db.Close()
	if h := m.OpenHandles(); len(h) > 0 {
		t.Fatalf("left open: %v", h)
	}
}

// A failed unmap at rotation stops the WAL cleanly: the write returns the
// error, the store refuses writes, and a reopen recovers every
// acknowledged write from the segment left with its zero tail.
func TestWALMap_UnmapFailure(t *testing.T) {
	m := vfstest.NewMemFS(crashDir)
	f := vfstest.NewFaultFS(m, 0, false)
	f.OnlyKind("unmap")
	db, err := Open(mapTestOptions(f, 512))
	if err != nil {
		t.Fatal(err)
	}
	var acked []string
	for i := range 20 {
		k := fmt.Sprintf("k%02d", i)
		if err = db.Set(k, bytes.Repeat([]byte("v"), 100)); err != nil {
			break
		}
		acked = append(acked, k)
	}
	if !errors.Is(err, vfstest.ErrInjected) || len(acked) == 0 {
		t.Fatalf("after %d writes: %v, want the injected unmap error", len(acked), err)
	}
	if err := db.Set("x", []byte("v")); !errors.Is(err, vfstest.ErrInjected) {
		t.Fatalf("write after the failure: %v", err)
	}
	if err := db.Close(); err != nil && !errors.Is(err, vfstest.ErrInjected) {
		t.Fatal(err)
	}
	if h := m.OpenHandles(); len(h) > 0 {
		t.Fatalf("left open: %v", h)
	}
	db, err = Open(mapTestOptions(m, 512))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range acked {
		if _, err := db.Get(k); err != nil {
			t.Fatalf("acknowledged %s: %v", k, err)
		}
	}
}

// The WAL size counts written bytes, never preallocated ones: a segment
// larger than MaxWALSize, preallocated at once, does not start a
// compaction, and Stats agrees before and after a kill.
func TestWALMap_SizeCountsWrittenBytes(t *testing.T) {
	const segLimit = 64 << 10
	m := vfstest.NewMemFS(crashDir)
	opts := mapTestOptions(m, segLimit)
	opts.MaxWALSize = 8 << 10
	opts.DisableAutoCompaction = false
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for i := range 10 {
		k := fmt.Sprintf("k%d", i)
		mustSet(t, db, k, []byte("v"))
		want += int64(len(appendSetRecord(nil, 0, 0, k, []byte("v"), 0)))
	}
	if st := db.Stats(); st.WALSize != want || st.Compactions != 0 {
		t.Fatalf("WALSize %d, Compactions %d; want %d and 0", st.WALSize, st.Compactions, want)
	}
	checkWALFiles(t, m, db, segLimit)
	img := m.Clone()
	db.Close()
	for _, ro := range []bool{true, false} {
		opts := mapTestOptions(img, segLimit)
		opts.ReadOnly = ro
		db, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		if st := db.Stats(); st.WALSize != want {
			t.Fatalf("read-only %v: WALSize %d after the kill, want %d", ro, st.WALSize, want)
		}
		db.Close()
	}
}

// A read-only open of a store whose last segment is preallocated (a killed
// writer's) serves every record, reports no torn bytes, and changes no
// byte and no file.
func TestWALMap_ReadOnlyOpenPreallocated(t *testing.T) {
	const segLimit = 4096
	m := vfstest.NewMemFS(crashDir)
	db, err := Open(mapTestOptions(m, segLimit))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		mustSet(t, db, fmt.Sprintf("k%d", i), []byte("v"))
	}
	img := m.Clone()
	db.Close()
	before := map[string][]byte{}
	for _, name := range img.ListNow(crashDir) {
		before[name] = img.ReadFileNow(filepath.Join(crashDir, name))
	}
	opts := mapTestOptions(img, segLimit)
	opts.ReadOnly = true
	ro, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		wantValue(t, ro, fmt.Sprintf("k%d", i), []byte("v"))
	}
	if err := ro.Set("x", nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Set on a read-only handle: %v", err)
	}
	if st := ro.Stats(); st.TornBytes != 0 {
		t.Fatalf("TornBytes %d on a read-only open", st.TornBytes)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := verifyFS(img, crashDir); err != nil || len(rep.Problems) > 0 || rep.TornTail != nil {
		t.Fatalf("Verify of a preallocated last segment: %v, %+v", err, rep)
	}
	after := img.ListNow(crashDir)
	if len(after) != len(before) {
		t.Fatalf("files %v after a read-only open, were %d", after, len(before))
	}
	for _, name := range after {
		if !bytes.Equal(img.ReadFileNow(filepath.Join(crashDir, name)), before[name]) {
			t.Fatalf("read-only open changed %s", name)
		}
	}
	if segs := segmentFiles(t, img); int64(len(segs[len(segs)-1])) != segLimit {
		t.Fatal("read-only open cut the preallocated segment")
	}
}
