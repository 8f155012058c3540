package minikv_test

// The fuzzers of a store's files through the public API: a WAL segment
// and a snapshot of arbitrary bytes must open as ErrCorrupt or as a
// working store. The decoders' fuzzers are in fuzz_internal_test.go, and
// FuzzStoreDir (a directory of hostile files, Linux) in fuzz_linux_test.go.
//
//	go test -run '^$' -fuzz '^FuzzWALSegmentFile$' -fuzztime 1m .

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/minikv/minikv"
)

// fuzzSeeds returns the golden file with ext, and damaged and cut
// copies of it, as seeds for a fuzz target.
func fuzzSeeds(f *testing.F, ext string) {
	names, err := listWithExt(goldenDir, ext)
	if err != nil || len(names) != 1 {
		f.Fatalf("golden %s file: %v %v", ext, names, err)
	}
	data, err := os.ReadFile(filepath.Join(goldenDir, names[0]))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	for _, n := range []int{1, 7, 13, len(data) / 2, len(data) - 1} {
		f.Add(data[:n])
		flipped := bytes.Clone(data)
		flipped[n] ^= 0x40
		f.Add(flipped)
	}
}

// FuzzWALSegmentFile opens a database whose only WAL segment holds
// arbitrary bytes. Open must either fail with ErrCorrupt or succeed, and
// then a new write must survive a restart beside what was recovered.
func FuzzWALSegmentFile(f *testing.F) {
	fuzzSeeds(f, ".wal")
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "db")
		opts := minikv.Options{Dir: dir, SyncMode: minikv.SyncNever, TTLCleanInterval: -1}
		db, err := minikv.Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		wals, _ := listWithExt(dir, ".wal")
		if len(wals) != 1 {
			t.Fatalf("a new database has WAL segments %v", wals)
		}
		if err := os.WriteFile(filepath.Join(dir, wals[0]), data, 0o600); err != nil {
			t.Fatal(err)
		}
		fuzzReopen(t, opts)
	})
}

// FuzzSnapshotFile opens the golden database with its snapshot replaced
// by arbitrary bytes: ErrCorrupt or a working database, never a panic.
func FuzzSnapshotFile(f *testing.F) {
	fuzzSeeds(f, ".snap")
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "db")
		if err := copyDir(goldenDir, dir); err != nil {
			t.Fatal(err)
		}
		snaps, _ := listWithExt(dir, ".snap")
		if err := os.WriteFile(filepath.Join(dir, snaps[0]), data, 0o600); err != nil {
			t.Fatal(err)
		}
		fuzzReopen(t, minikv.Options{Dir: dir, SyncMode: minikv.SyncNever, TTLCleanInterval: -1})
	})
}

// fuzzReopen opens a database made of untrusted files. An error must
// be ErrCorrupt; an open database must be consistent, take a write and
// show it, with everything else unchanged, after a restart.
func fuzzReopen(t *testing.T, opts minikv.Options) {
	db, err := minikv.Open(opts)
	if err != nil {
		if !errors.Is(err, minikv.ErrCorrupt) {
			t.Fatalf("Open error %v is not ErrCorrupt", err)
		}
		return
	}
	defer db.Close()
	got, err := dbContents(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set("fuzz:after", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := minikv.Open(opts)
	if err != nil {
		t.Fatalf("reopen after a write: %v", err)
	}
	defer db2.Close()
	got["fuzz:after"] = "x"
	if msg := checkContents(db2, got); msg != "" {
		t.Fatalf("after a write and a restart: %s", msg)
	}
}
