package minikv_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minikv/minikv"
)

// rebuildStore makes a closed store in a new directory with a snapshot
// (from a compaction) and WAL records after it, and returns the directory
// and the keys it holds.
func rebuildStore(t *testing.T) (string, map[string]string) {
	t.Helper()
	opts := minikv.Options{Dir: t.TempDir(), DisableAutoCompaction: true, SegmentSize: 4096}
	db, _ := openTestDB(t, opts)
	want := map[string]string{}
	set := func(i int) {
		k, v := fmt.Sprintf("k%03d", i), fmt.Sprintf("value %d", i)
		if err := db.Set(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	for i := range 100 {
		set(i)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	for i := 100; i < 300; i++ {
		set(i)
	}
	if err := db.Delete("k000"); err != nil {
		t.Fatal(err)
	}
	delete(want, "k000")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return opts.Dir, want
}

// rebuildCheckKeys opens dir and checks that it holds exactly want.
func rebuildCheckKeys(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open after the rebuild: %v", err)
	}
	defer db.Close()
	if n, _ := db.Count(); n != len(want) {
		t.Fatalf("%d keys after the rebuild; want %d", n, len(want))
	}
	for k, v := range want {
		if got, err := db.Get(k); err != nil || string(got) != v {
			t.Fatalf("Get(%s) = %q, %v; want %q", k, got, err, v)
		}
	}
}

// TestRebuildManifest_DamagedOrMissing: a garbage, empty or missing
// MANIFEST makes Open refuse the store; Verify says a rebuild fixes it and
// what it would name; RebuildManifest writes it and every key is back.
func TestRebuildManifest_DamagedOrMissing(t *testing.T) {
	for _, damage := range []string{"garbage", "empty", "missing"} {
		t.Run(damage, func(t *testing.T) {
			dir, want := rebuildStore(t)
			name := filepath.Join(dir, "MANIFEST")
			var err error
			switch damage {
			case "garbage":
				err = os.WriteFile(name, []byte("\x00\xffnot a manifest\n"), 0o600)
			case "empty":
				err = os.WriteFile(name, nil, 0o600)
			case "missing":
				err = os.Remove(name)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := minikv.Open(minikv.Options{Dir: dir}); !errors.Is(err, minikv.ErrCorrupt) {
				t.Fatalf("Open with a %s MANIFEST: %v; want ErrCorrupt", damage, err)
			}
			rep, err := minikv.Verify(dir)
			if !errors.Is(err, minikv.ErrCorrupt) || rep.Rebuild == nil || rep.Problems[0].Fix != minikv.FixRebuild {
				t.Fatalf("Verify: %v, report %+v; want a MANIFEST problem fixed by a rebuild", err, rep)
			}
			if rep.Snapshot == "" || rep.SnapshotEntries != 100 || rep.Records < 200 {
				t.Fatalf("Verify with no MANIFEST reports %+v; want the snapshot of 100 entries and the records after it", rep)
			}
			plan, err := minikv.RebuildManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Snapshot != rep.Snapshot || plan.Lost != "" || len(plan.Skipped) != 0 || len(plan.Segments) == 0 {
				t.Fatalf("plan %+v; Verify said %s", plan, rep.Rebuild)
			}
			if rep, err := minikv.Verify(dir); err != nil || !rep.OK() || rep.Rebuild != nil {
				t.Fatalf("Verify after the rebuild: %v, %+v", err, rep)
			}
			rebuildCheckKeys(t, dir, want)
		})
	}
}

// TestRebuildManifest_SkipsDamagedSnapshot: a newer snapshot that fails
// its checks is left out, and the older one with the segments after it
// gives every key.
func TestRebuildManifest_SkipsDamagedSnapshot(t *testing.T) {
	dir, want := rebuildStore(t)
	bad := fmt.Sprintf("%016x.snap", 1<<20)
	if err := os.WriteFile(filepath.Join(dir, bad), []byte("MINIKVSN but not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, _ := minikv.Verify(dir)
	if rep == nil || len(rep.Problems) != 2 || rep.Problems[1].File != bad || rep.Problems[1].Fix != minikv.FixRebuild {
		t.Fatalf("Verify: %+v; want the MANIFEST and %s, both fixed by a rebuild", rep, bad)
	}
	plan, err := minikv.RebuildManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Skipped) != 1 || plan.Skipped[0].File != bad || plan.Snapshot == bad {
		t.Fatalf("plan %+v; want %s skipped", plan, bad)
	}
	rebuildCheckKeys(t, dir, want)
	if _, err := os.Stat(filepath.Join(dir, bad)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the skipped snapshot is still there after a writable Open: %v", err)
	}
}

// TestRebuildManifest_RefusesALoss: without the snapshot, the segments a
// compaction removed are gone; RebuildManifest says so and writes nothing.
func TestRebuildManifest_RefusesALoss(t *testing.T) {
	dir, _ := rebuildStore(t)
	names, _ := filepath.Glob(filepath.Join(dir, "*.snap"))
	for _, n := range names {
		if err := os.Remove(n); err != nil {
			t.Fatal(err)
		}
	}
	garbage := []byte("garbage")
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, _ := minikv.Verify(dir)
	if rep == nil || rep.Rebuild == nil || rep.Rebuild.Lost == "" || rep.Problems[0].Fix != minikv.FixRestore {
		t.Fatalf("Verify: %+v; want a rebuild that would lose writes", rep)
	}
	plan, err := minikv.RebuildManifest(dir)
	if !errors.Is(err, minikv.ErrCorrupt) || plan == nil || !strings.Contains(err.Error(), "are gone") {
		t.Fatalf("RebuildManifest: %v; want ErrCorrupt saying what is gone", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "MANIFEST")); !slices.Equal(b, garbage) {
		t.Fatalf("a refused rebuild changed the MANIFEST to %q", b)
	}
}

// TestRebuildManifest_Locked: the store must be closed.
func TestRebuildManifest_Locked(t *testing.T) {
	_, dir := openTestDB(t, minikv.Options{})
	if _, err := minikv.RebuildManifest(dir); !errors.Is(err, minikv.ErrLocked) {
		t.Fatalf("RebuildManifest of an open store: %v; want ErrLocked", err)
	}
}
