package minikv

import (
	"errors"
	"strings"
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

// When closing the sealed segment failed during rotation, the WAL used to
// keep pointing at the closed file and closed the new one, so Close
// reported "file already closed" instead of the cause.
func TestRegressRotateCloseFailure(t *testing.T) {
	mfs := newCrashFS(crashDir)
	ffs := newFaultFS(mfs, 1, false)
	ffs.kind = "close" // the first is MANIFEST.tmp's, the second segment 1's
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
	if !errors.Is(err, errInjected) {
		t.Fatalf("Set during a rotation whose close fails: %v, want the injected error", err)
	}
	if err := db.Close(); err != nil && !errors.Is(err, errInjected) {
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
