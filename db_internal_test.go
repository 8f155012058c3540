package minikv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/minikv/minikv/internal/vfstest"
)

// TestDB_Sync: with SyncNever, the writes before Sync survive a power cut
// that keeps none of the unsynced data; without Sync the same cut loses
// them, so the test sees what Sync does.
func TestDB_Sync(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%v", sync), func(t *testing.T) {
			mfs := vfstest.NewMemFS(crashDir)
			db, err := Open(crashOptionsSeg(mfs, NewFakeClock(), SyncNever, 1<<16))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i := range 50 {
				if err := db.Set(fmt.Sprintf("k%02d", i), []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			if sync {
				if err := db.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			got, _, err := recoveryOpen(t, mfs.Crash(0, rand.New(rand.NewPCG(1, 2))))
			if err != nil {
				t.Fatal(err)
			}
			if sync && len(got) != 50 {
				t.Fatalf("after Sync and a power cut: %d keys; want 50", len(got))
			}
			if !sync && len(got) == 50 {
				t.Fatalf("without Sync a power cut that keeps no unsynced data kept all 50 keys; the test cannot tell")
			}
		})
	}
}

// TestDB_SyncStates: Sync on a read-only handle does nothing, after Close
// it returns ErrClosed.
func TestDB_SyncStates(t *testing.T) {
	mfs := vfstest.NewMemFS(crashDir)
	db, err := Open(crashOptionsSeg(mfs, NewFakeClock(), SyncNever, 1<<16))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v; want ErrClosed", err)
	}
	opts := crashOptionsSeg(mfs, NewFakeClock(), SyncNever, 1<<16)
	opts.ReadOnly = true
	ro, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Sync(); err != nil {
		t.Fatalf("Sync on a read-only handle: %v", err)
	}
}

// TestOpError_OnePrefix: an operation wrapped around an error of the
// package, or around one of the system, reads with one "minikv: " prefix,
// and errors.Is still finds what is inside.
func TestOpError_OnePrefix(t *testing.T) {
	inner := &corruptError{file: "x.snap", offset: -1, reason: "bad magic"}
	err := wrapOp("restore", wrapOp("read snapshot x.snap", inner))
	if got, want := err.Error(), "minikv: restore: read snapshot x.snap: corrupt database file x.snap: bad magic"; got != want {
		t.Fatalf("message %q; want %q", got, want)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatal("errors.Is(err, ErrCorrupt) is false")
	}
	if wrapOp("x", nil) != nil {
		t.Fatal("wrapOp of nil is not nil")
	}
}
