package minikv_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikv/minikv"
)

// TestVerify checks a sound database, a torn tail, a damaged snapshot and
// a directory that does not exist, on the real file system.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	db, err := minikv.Open(minikv.Options{Dir: dir, SegmentSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := db.Set(k, []byte(strings.Repeat(k, 50))); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Set("e", []byte("after")), db.Close()); err != nil {
		t.Fatal(err)
	}
	rep, err := minikv.Verify(dir)
	if err != nil || !rep.OK() || rep.TornTail != nil {
		t.Fatalf("sound database: %v, %+v", err, rep)
	}
	if rep.Snapshot == "" || rep.SnapshotEntries != 4 || rep.Records != 1 || rep.Segments != 1 {
		t.Fatalf("report %+v: want a snapshot of 4 entries and 1 record in 1 segment", rep)
	}

	seg := filepath.Join(dir, rep.Snapshot[:16]+".wal")
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{1, 2, 3, 4, 5})
	f.Close()
	rep, err = minikv.Verify(dir)
	if err != nil || !rep.OK() || rep.TornTail == nil || rep.TornTail.Offset <= 0 {
		t.Fatalf("torn tail: %v, %+v", err, rep)
	}

	snap := filepath.Join(dir, rep.Snapshot)
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	data[30] ^= 1
	if err := os.WriteFile(snap, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err = minikv.Verify(dir)
	if !errors.Is(err, minikv.ErrCorrupt) || rep.OK() || rep.Problems[0].File != rep.Snapshot {
		t.Fatalf("damaged snapshot: %v, %+v", err, rep)
	}
	if s := rep.Problems[0].String(); !strings.HasPrefix(s, rep.Snapshot) {
		t.Fatalf("problem string %q", s)
	}

	if _, err := minikv.Verify(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing directory: %v, want fs.ErrNotExist", err)
	}
}
