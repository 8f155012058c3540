//go:build linux

package minikv

// The mapped WAL on the operating system's file system: fallocate, mmap and
// the cut at Close for real, and a copy of the directory taken while the
// writer runs standing for what a process kill leaves (the page cache,
// which a copy reads, is what survives a kill).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minikv/minikv/internal/vfs"
)

// copyDir copies the files of src into a new directory and returns it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	names, err := filepath.Glob(filepath.Join(src, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(name)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// lastSegment returns the path and size of the last segment in dir.
func lastSegment(t *testing.T, dir string) (string, int64) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*"+walExt))
	if len(names) == 0 {
		t.Fatal("no segment")
	}
	fi, err := os.Stat(names[len(names)-1])
	if err != nil {
		t.Fatal(err)
	}
	return names[len(names)-1], fi.Size()
}

func TestWALMap_OS(t *testing.T) {
	const segLimit = 64 << 10
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, SyncMode: SyncNever, SegmentSize: segLimit})
	if err != nil {
		t.Fatal(err)
	}
	if db.wal.m == nil {
		t.Fatal("the segment is not mapped: this file system lacks fallocate or mmap")
	}
	val := bytes.Repeat([]byte("v"), 100)
	for i := range 100 {
		mustSet(t, db, fmt.Sprintf("k%03d", i), val)
	}
	written := WALBytes(db)
	if _, size := lastSegment(t, dir); size != segLimit {
		t.Fatalf("open segment is %d bytes, want the %d preallocated", size, segLimit)
	}
	killed := copyDir(t, dir)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, size := lastSegment(t, dir); size != written+CloseMarkSize(written) {
		t.Fatalf("closed segment is %d bytes, want its %d bytes of records and the close mark", size, written)
	}

	// Read-only open of the killed writer's files: all there, nothing changed.
	seg, _ := lastSegment(t, killed)
	before, _ := os.ReadFile(seg)
	ro, err := Open(Options{Dir: killed, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, ro, "k099", val)
	if st := ro.Stats(); st.WALSize != written || st.TornBytes != 0 {
		t.Fatalf("read-only: WALSize %d, TornBytes %d", st.WALSize, st.TornBytes)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(before, after) {
		t.Fatal("read-only open changed the segment")
	}

	// Writable reopen: the zero tail is cut and counted, writes go on
	// after the last record.
	db, err = Open(Options{Dir: killed, SyncMode: SyncNever, SegmentSize: segLimit})
	if err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.TornBytes != segLimit-written || st.RecoveredRecords != 100 {
		t.Fatalf("TornBytes %d, RecoveredRecords %d; want %d and 100", st.TornBytes, st.RecoveredRecords, segLimit-written)
	}
	mustSet(t, db, "after", val)
	written = WALBytes(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, size := lastSegment(t, killed); size != written+CloseMarkSize(written) {
		t.Fatalf("segment is %d bytes after Close, want %d and the close mark", size, written)
	}
	db, err = Open(Options{Dir: killed, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantValue(t, db, "k000", val)
	wantValue(t, db, "after", val)
	if got := db.Stats().RecoveredRecords; got != 101 {
		t.Fatalf("RecoveredRecords %d, want 101", got)
	}
}

// A batch larger than a whole segment goes through Write into its own
// segment, then writes go back to a mapped one; a kill in between loses
// nothing.
func TestWALMap_OSBatchLargerThanSegment(t *testing.T) {
	const segLimit = 64 << 10
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, SyncMode: SyncNever, SegmentSize: segLimit})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustSet(t, db, "first", []byte("1"))
	b := db.NewBatch()
	val := bytes.Repeat([]byte("b"), 1000)
	for i := range 300 {
		b.Set(fmt.Sprintf("batch-%03d", i), val)
	}
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	if db.wal.m != nil {
		t.Fatal("the oversized batch's segment is mapped")
	}
	mustSet(t, db, "last", []byte("2"))
	if db.wal.m == nil {
		t.Fatal("the segment after the batch is not mapped")
	}
	killed := copyDir(t, dir)
	db2, err := Open(Options{Dir: killed, SegmentSize: segLimit})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	wantValue(t, db2, "first", []byte("1"))
	wantValue(t, db2, "batch-299", val)
	wantValue(t, db2, "last", []byte("2"))
}

// The operating system's mapping refuses to reach past the end of the
// file (SIGBUS territory) and to map a file opened without read access.
func TestOSFile_MapBounds(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	f, err := osFS{}.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mf := f.(vfs.Mapper)
	if err := mf.Allocate(8192); err != nil {
		t.Fatal(err)
	}
	if _, err := mf.Map(8193); err == nil {
		t.Fatal("mapped past the end of the file")
	}
	m, err := mf.Map(8192)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CopyAt([]byte("hello"), 8187); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a store past the mapping did not panic")
			}
		}()
		m.CopyAt([]byte("xy"), 8191)
	}()
	if err := errors.Join(m.Unmap(), m.Unmap()); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := f.ReadAt(got, 8187); err != nil && !errors.Is(err, io.EOF) || string(got) != "hello" {
		t.Fatalf("read back %q, %v", got, err)
	}
	wo, err := osFS{}.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wo.Close()
	if _, err := wo.(vfs.Mapper).Map(4096); err == nil {
		t.Fatal("mapped a write-only file")
	}
}

// TestWALMap_OSDropsWrittenPages writes several MiB through one mapped
// segment, so that CopyAt drops the mapping of the pages behind it, and
// checks that the pages stay mapped no more than dropEvery behind the write
// position and that every record is in the file: in a copy taken while the
// writer is open (what a kill leaves) and after a reopen.
func TestWALMap_OSDropsWrittenPages(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, SyncMode: SyncNever, SegmentSize: 16 << 20, DisableAutoCompaction: true}
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("v"), 200)
	const n = 20000 // about 4.5 MiB of records
	for i := range n {
		if err := db.Set(fmt.Sprintf("key%06d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	m, ok := db.wal.m.(*osMapping)
	if !ok {
		t.Fatalf("the segment is not mapped (%T)", db.wal.m)
	}
	if written := int(db.wal.segSize); m.dropped == 0 || written-m.dropped > dropEvery+pageSize {
		t.Fatalf("after %d bytes written the mapping of %d was dropped", written, m.dropped)
	}
	check := func(db *DB, what string) {
		t.Helper()
		for i := range n {
			k := fmt.Sprintf("key%06d", i)
			if v, err := db.Get(k); err != nil || !bytes.Equal(v, value) {
				t.Fatalf("%s: Get(%s) = %d bytes, %v", what, k, len(v), err)
			}
		}
	}
	cp, err := Open(Options{Dir: copyDir(t, dir), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	check(cp, "copy taken while open")
	if err := errors.Join(cp.Close(), db.Close()); err != nil {
		t.Fatal(err)
	}
	db, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(db, "after reopen")
}

// TestWALMap_OSLargeRecordsPwrite interleaves batches of writeThrough bytes
// or more, which CopyAt writes with pwrite, with single Sets, which it
// copies into the mapping, in one mapped segment, past dropEvery so that
// the mapping's drop-behind runs too. Every record must sit where the WAL
// put it: in a copy of the directory taken while the writer is open (a
// kill) and after Close. A pwrite at a wrong offset leaves a damaged
// record followed by valid ones, which the opens refuse.
func TestWALMap_OSLargeRecordsPwrite(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if !pwriteFS[uint32(st.Type)] {
		t.Skipf("file system %#x of %s is not one on which the WAL uses pwrite", st.Type, dir)
	}
	opts := Options{Dir: dir, SyncMode: SyncNever, SegmentSize: 4 << 20, DisableAutoCompaction: true}
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := db.wal.m.(*osMapping)
	if !ok || m.wf == nil {
		t.Fatalf("the segment is not mapped with a pwrite descriptor (%T)", db.wal.m)
	}
	wf := m.wf
	val := bytes.Repeat([]byte("w"), 100)
	const rounds, perBatch = 40, 300 // batch records of about 36 KiB, 1.4 MiB in all
	for r := range rounds {
		b := db.NewBatch()
		for i := range perBatch {
			b.Set(fmt.Sprintf("b%02d-%04d", r, i), val)
		}
		if b.Size() < writeThrough {
			t.Fatalf("batch of %d bytes is below writeThrough", b.Size())
		}
		if err := b.Write(); err != nil {
			t.Fatal(err)
		}
		mustSet(t, db, fmt.Sprintf("s%02d", r), val)
	}
	check := func(db *DB, what string) {
		t.Helper()
		for r := range rounds {
			wantValue(t, db, fmt.Sprintf("s%02d", r), val)
			for i := range perBatch {
				wantValue(t, db, fmt.Sprintf("b%02d-%04d", r, i), val)
			}
		}
		if got, want := db.Stats().RecoveredRecords, int64(2*rounds); got != want {
			t.Fatalf("%s: RecoveredRecords %d, want %d", what, got, want)
		}
	}
	if m.pwrites != rounds || m.dropped == 0 {
		t.Fatalf("%d records written with pwrite, want %d; mapping dropped up to %d", m.pwrites, rounds, m.dropped)
	}
	killed := copyDir(t, dir)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := wf.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("the pwrite descriptor was not closed with the mapping: Close = %v", err)
	}
	for _, d := range []string{killed, dir} {
		ro, err := Open(Options{Dir: d, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		check(ro, d)
		if err := ro.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
