package minikv

import (
	"errors"
	"testing"
)

// Regression tests for the defects the crash and fault loops found.

// A handle whose directory sync failed leaves entries that are visible but
// not durable. Open used to append to such a segment without syncing the
// directory, so a power cut lost writes it had acknowledged.
func TestRegressOpenSyncsDirectory(t *testing.T) {
	mfs := newCrashFS(crashDir)
	ffs := newFaultFS(mfs, 1, false)
	ffs.kind = "syncdir" // the second one: after creating segment 1
	clk := NewFakeClock()
	if _, err := Open(crashOptions(ffs, clk, SyncAlways)); !errors.Is(err, errInjected) {
		t.Fatalf("Open with a failing directory sync: %v, want the injected error", err)
	}
	db, err := Open(crashOptions(mfs, clk, SyncAlways))
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Set("k", []byte("v")), db.Close()); err != nil {
		t.Fatal(err)
	}
	db, err = Open(crashOptions(mfs.crash(0, nil), clk, SyncAlways))
	if err != nil {
		t.Fatalf("open after power cut: %v", err)
	}
	defer db.Close()
	if v, err := db.Get("k"); err != nil || string(v) != "v" {
		t.Fatalf("acknowledged write after power cut: %q, %v", v, err)
	}
}
