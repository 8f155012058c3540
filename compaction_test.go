package minikv_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/minikv/minikv"
)

// manifestFile is what a MANIFEST names.
type manifestFile struct {
	snapshot string // "" for none
	walStart uint64
}

// readManifest parses the MANIFEST of dir: the "snapshot" and
// "wal-start" lines of the text format.
func readManifest(t testing.TB, dir string) manifestFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifestFile
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "snapshot":
			if f[1] != "-" {
				m.snapshot = f[1]
			}
		case "wal-start":
			m.walStart, err = strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatalf("MANIFEST wal-start %q: %v", f[1], err)
			}
		}
	}
	if m.walStart == 0 {
		t.Fatalf("MANIFEST without wal-start:\n%s", data)
	}
	return m
}

// filesWithExt returns the names in dir with the given extension, sorted.
func filesWithExt(t testing.TB, dir, ext string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ext) {
			out = append(out, e.Name())
		}
	}
	return out
}

// seqOf returns the number in a segment or snapshot name (16 hex digits).
func seqOf(t testing.TB, name string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(name[:16], 16, 64)
	if err != nil {
		t.Fatalf("file name %q: %v", name, err)
	}
	return n
}

// writeRandom applies n random writes under prefix p to db and model.
func writeRandom(db *minikv.DB, rng *rand.Rand, p string, n int, model kvModel) error {
	for range n {
		k := fmt.Sprintf("%s%03d", p, rng.IntN(200))
		switch rng.IntN(8) {
		case 0:
			delete(model, k)
			if err := db.Delete(k); err != nil {
				return err
			}
		default:
			v := bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, rng.IntN(300))
			model[k] = modelEntry{value: string(v)}
			if err := db.Set(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitFor polls cond every millisecond for up to 30 seconds.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// Feature: minikv-embedded-database, Property 14: Compaction triggers on WAL size
func TestProp14_CompactionTriggers(t *testing.T) {
	checkProp(t, "writing past MaxWALSize compacts in the background: Compactions grows and the WAL shrinks", prop.ForAll(
		func(maxKB int, seed uint64) string {
			opts, clock := modelOptions(t)
			opts.MaxWALSize = int64(maxKB) << 10
			db, err := minikv.Open(opts)
			if err != nil {
				return err.Error()
			}
			defer func() { db.Close() }()
			rng := rand.New(rand.NewPCG(seed, 14))
			model := kvModel{}
			for minikv.WALBytes(db) < opts.MaxWALSize && db.Stats().Compactions == 0 {
				if err := writeRandom(db, rng, "k", 10, model); err != nil {
					return err.Error()
				}
			}
			if !waitFor(func() bool {
				st := db.Stats()
				return st.Compactions > 0 && st.WALSize < opts.MaxWALSize
			}) {
				st := db.Stats()
				return fmt.Sprintf("no background compaction: MaxWALSize %d, WALSize %d, Compactions %d", opts.MaxWALSize, st.WALSize, st.Compactions)
			}
			// Another background compaction may still run; Close waits
			// for it.
			if err := db.Close(); err != nil {
				return err.Error()
			}
			if n := len(filesWithExt(t, opts.Dir, ".snap")); n != 1 {
				return fmt.Sprintf("%d snapshot files after compaction", n)
			}
			if db, err = minikv.Open(opts); err != nil {
				return err.Error()
			}
			return errString(checkAll(db, model, clock.Now()))
		},
		gen.IntRange(1, 16), gen.UInt64()))
}

func errString(err error) string {
	if err != nil {
		return err.Error()
	}
	return ""
}

// TestCompact_AutoDisabled checks the other side of Property 14: with
// DisableAutoCompaction the WAL grows past MaxWALSize and stays there.
func TestCompact_AutoDisabled(t *testing.T) {
	opts, _ := modelOptions(t)
	opts.MaxWALSize = 4 << 10
	opts.DisableAutoCompaction = true
	db, _ := openTestDB(t, opts)
	if err := writeRandom(db, rand.New(rand.NewPCG(1, 2)), "k", 400, kvModel{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if st := db.Stats(); st.Compactions != 0 || st.WALSize < 3*opts.MaxWALSize {
		t.Fatalf("with auto compaction disabled: Compactions %d, WALSize %d", st.Compactions, st.WALSize)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.Compactions != 1 || st.WALSize >= opts.MaxWALSize {
		t.Fatalf("after Compact: Compactions %d, WALSize %d", st.Compactions, st.WALSize)
	}
}

// snapshotWALSeq reads the WAL sequence number recorded in a snapshot's
// header (after the 8-byte magic, the 4-byte version and the 8-byte time).
func snapshotWALSeq(t testing.TB, path string) uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 28 || string(data[:8]) != "MINIKVSN" {
		t.Fatalf("%s is not a snapshot", path)
	}
	return binary.LittleEndian.Uint64(data[20:28])
}

// copyFiles copies the named files of src into a new directory.
func copyFiles(t testing.TB, src string, names []string) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// Feature: minikv-embedded-database, Property 19: Compaction updates MANIFEST
func TestProp19_CompactionManifest(t *testing.T) {
	opts, clock := modelOptions(t)
	// Each iteration copies the files the MANIFEST names, the open segment
	// among them, which is preallocated to SegmentSize: keep it small.
	opts.SegmentSize = 64 << 10
	db, _ := openTestDB(t, opts)
	model := kvModel{}
	checkProp(t, "after Compact the MANIFEST names a new snapshot and WAL start that together hold everything", prop.ForAll(
		func(seed uint64, n int) string {
			rng := rand.New(rand.NewPCG(seed, 19))
			if err := writeRandom(db, rng, "k", n, model); err != nil {
				return err.Error()
			}
			before := readManifest(t, opts.Dir)
			if err := db.Compact(); err != nil {
				return "Compact: " + err.Error()
			}
			after := readManifest(t, opts.Dir)
			if after.snapshot == "" || after.snapshot == before.snapshot || after.walStart <= before.walStart {
				return fmt.Sprintf("MANIFEST %+v after Compact; before %+v", after, before)
			}
			if seq := snapshotWALSeq(t, filepath.Join(opts.Dir, after.snapshot)); seq != after.walStart {
				return fmt.Sprintf("snapshot %s starts at WAL %d, MANIFEST says %d", after.snapshot, seq, after.walStart)
			}
			// The files the MANIFEST names, alone, give back everything.
			names := []string{"MANIFEST", after.snapshot}
			for _, w := range filesWithExt(t, opts.Dir, ".wal") {
				if seqOf(t, w) >= after.walStart {
					names = append(names, w)
				}
			}
			o := opts
			o.Dir = copyFiles(t, opts.Dir, names)
			o.ReadOnly = true
			cp, err := minikv.Open(o)
			if err != nil {
				return fmt.Sprintf("open the files the MANIFEST names: %v", err)
			}
			defer cp.Close()
			return errString(checkAll(cp, model, clock.Now()))
		},
		gen.UInt64(), gen.IntRange(0, 60)))
}

// Feature: minikv-embedded-database, Property 20: Compaction deletes old WAL
func TestProp20_CompactionDeletesOldWAL(t *testing.T) {
	opts, clock := modelOptions(t)
	opts.SegmentSize = 4 << 10 // several segments
	opts.DisableAutoCompaction = true
	db, _ := openTestDB(t, opts)
	model := kvModel{}
	checkProp(t, "after Compact no WAL segment or snapshot before the new ones remains", prop.ForAll(
		func(seed uint64, n int) string {
			rng := rand.New(rand.NewPCG(seed, 20))
			if err := writeRandom(db, rng, "k", n, model); err != nil {
				return err.Error()
			}
			oldWAL := filesWithExt(t, opts.Dir, ".wal")
			oldSnap := filesWithExt(t, opts.Dir, ".snap")
			if err := db.Compact(); err != nil {
				return "Compact: " + err.Error()
			}
			man := readManifest(t, opts.Dir)
			wals := filesWithExt(t, opts.Dir, ".wal")
			for _, w := range wals {
				if seqOf(t, w) < man.walStart {
					return fmt.Sprintf("segment %s before wal-start %d remains", w, man.walStart)
				}
				if slices.Contains(oldWAL, w) {
					return fmt.Sprintf("segment %s, sealed by the compaction, remains", w)
				}
			}
			if snaps := filesWithExt(t, opts.Dir, ".snap"); len(snaps) != 1 || snaps[0] != man.snapshot || slices.Contains(oldSnap, snaps[0]) {
				return fmt.Sprintf("snapshots %q after Compact; MANIFEST names %q, before there were %q", snaps, man.snapshot, oldSnap)
			}
			if tmps := filesWithExt(t, opts.Dir, ".tmp"); len(tmps) != 0 {
				return fmt.Sprintf("temporary files left: %q", tmps)
			}
			if st := db.Stats(); st.SnapshotCount != 1 || st.WALSize != minikv.WALBytes(db) {
				return fmt.Sprintf("Stats after Compact: %+v", st)
			}
			return errString(checkAll(db, model, clock.Now()))
		},
		gen.UInt64(), gen.IntRange(0, 50)))
}

// Feature: minikv-embedded-database, Property 21: Compaction allows concurrent operations
func TestProp21_CompactionConcurrent(t *testing.T) {
	db, clock, opts := openModelDB(t)
	var ns namespace
	runs := 0
	checkProp(t, "reads, writes, batches and scans run and stay correct while Compact runs", prop.ForAll(
		func(workers int, seed uint64) string {
			p := ns.next()
			models := make([]kvModel, workers)
			var wg sync.WaitGroup
			var stop atomic.Bool
			errs := make(chan error, workers+1)
			for w := range workers {
				models[w] = kvModel{}
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(seed, uint64(w)))
					errs <- compactionWorker(db, rng, fmt.Sprintf("%sw%d/", p, w), models[w], &stop)
				})
			}
			if err := db.Compact(); err != nil {
				errs <- err
			}
			stop.Store(true)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					return err.Error()
				}
			}
			if runs++; runs%10 == 0 {
				db = reopen(t, db, opts)
			}
			b := db.NewBatch()
			for w := range workers {
				if msg := checkPrefix(db, fmt.Sprintf("%sw%d/", p, w), models[w], clock.Now()); msg != "" {
					return msg
				}
				for k := range models[w] {
					b.Delete(k) // keep the store, and so each compaction, small
				}
			}
			return errString(b.Write())
		},
		gen.IntRange(1, 4), gen.UInt64()))
}

// compactionWorker writes and reads its own keys until stop, checking
// each read against its model; it does at least 20 operations.
func compactionWorker(db *minikv.DB, rng *rand.Rand, p string, model kvModel, stop *atomic.Bool) error {
	for i := 0; i < 20 || !stop.Load(); i++ {
		k := fmt.Sprintf("%s%02d", p, rng.IntN(30))
		switch rng.IntN(6) {
		case 0:
			delete(model, k)
			if err := db.Delete(k); err != nil {
				return err
			}
		case 1:
			b := db.NewBatch()
			for j := range 5 {
				kj := fmt.Sprintf("%s%02d", p, (rng.IntN(30)+j)%30)
				b.Set(kj, []byte(kj))
				model[kj] = modelEntry{value: kj}
			}
			if err := b.Write(); err != nil {
				return err
			}
		case 2:
			it, err := db.Scan(p, 0)
			if err != nil {
				return err
			}
			got, err := drain(it)
			if want := model.want(model.liveKeys(0, nil)); err != nil || !sameKVs(got, want) {
				return fmt.Errorf("scan during compaction: %q, %v; want %q", got, err, want)
			}
		case 3:
			v, err := db.Get(k)
			e, ok := model[k]
			if ok != (err == nil) || (ok && string(v) != e.value) {
				return fmt.Errorf("Get(%q) during compaction = %q, %v; want %q, %v", k, v, err, e.value, ok)
			}
		default:
			v := strconv.Itoa(rng.IntN(1 << 20))
			model[k] = modelEntry{value: v}
			if err := db.Set(k, []byte(v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestCompact_Latency compacts a store with many keys while
// goroutines Get and Set, and logs the largest latency each saw. It asserts
// only correctness: the machine is shared, so timings are reported, not
// checked. MINIKV_SOAK=1 uses a million keys.
func TestCompact_Latency(t *testing.T) {
	n := 100_000
	if os.Getenv("MINIKV_SOAK") != "" {
		n = 1_000_000
	}
	opts, _ := modelOptions(t)
	opts.DisableAutoCompaction = true
	db, _ := openTestDB(t, opts)
	val := bytes.Repeat([]byte("v"), 64)
	for i := 0; i < n; i += 1000 {
		b := db.NewBatch()
		for j := i; j < i+1000; j++ {
			b.Set(fmt.Sprintf("key%08d", j), val)
		}
		if err := b.Write(); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var maxGet, maxSet atomic.Int64
	var gets, sets atomic.Int64
	errs := make(chan error, 3)
	record := func(m *atomic.Int64, d time.Duration) {
		for {
			cur := m.Load()
			if int64(d) <= cur || m.CompareAndSwap(cur, int64(d)) {
				return
			}
		}
	}
	for g := range 2 {
		wg.Go(func() {
			rng := mrand.New(mrand.NewSource(int64(g)))
			for !stop.Load() {
				k := fmt.Sprintf("key%08d", rng.Intn(n))
				start := time.Now()
				v, err := db.Get(k)
				record(&maxGet, time.Since(start))
				gets.Add(1)
				if err != nil || len(v) != len(val) {
					errs <- fmt.Errorf("Get(%s) during compaction = %d bytes, %v", k, len(v), err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			k := fmt.Sprintf("new%08d", i)
			start := time.Now()
			err := db.Set(k, []byte(k))
			record(&maxSet, time.Since(start))
			sets.Add(1)
			if err != nil {
				errs <- err
				return
			}
		}
	})
	start := time.Now()
	err := db.Compact()
	took := time.Since(start)
	stop.Store(true)
	wg.Wait()
	close(errs)
	if err != nil {
		t.Fatal(err)
	}
	for err := range errs {
		t.Fatal(err)
	}
	st := db.Stats()
	t.Logf("compaction of %d keys took %v; during it %d Gets (max %v) and %d Sets (max %v); Set p99 %v",
		n, took, gets.Load(), time.Duration(maxGet.Load()), sets.Load(), time.Duration(maxSet.Load()), st.SetP99)
	if c, err := db.Count(); err != nil || c != n+int(sets.Load()) {
		t.Fatalf("Count = %d, %v; want %d", c, err, n+int(sets.Load()))
	}
	db = reopen(t, db, opts)
	if c, err := db.Count(); err != nil || c != n+int(sets.Load()) {
		t.Fatalf("Count after reopen = %d, %v; want %d", c, err, n+int(sets.Load()))
	}
}

// TestCompact_CrashStates builds the directory states that a crash at
// each step of a compaction can leave, from copies taken before and after
// one, and checks that each opens with all the data and ends clean.
func TestCompact_CrashStates(t *testing.T) {
	opts, clock := modelOptions(t)
	opts.SegmentSize = 1 << 10
	opts.DisableAutoCompaction = true
	db, err := minikv.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	model := kvModel{}
	rng := rand.New(rand.NewPCG(7, 7))
	if err := writeRandom(db, rng, "a/", 300, model); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(); err != nil { // so that an old snapshot exists too
		t.Fatal(err)
	}
	if err := writeRandom(db, rng, "b/", 300, model); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWithTTL("ttl", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	model["ttl"] = modelEntry{"v", clock.Now() + int64(time.Hour)}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	pre := copyFiles(t, opts.Dir, allFiles(t, opts.Dir))
	db, err = minikv.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	post := opts.Dir
	newSnap := readManifest(t, post).snapshot
	oldSnap := readManifest(t, pre).snapshot
	snapData, err := os.ReadFile(filepath.Join(post, newSnap))
	if err != nil {
		t.Fatal(err)
	}
	states := []struct {
		name  string
		base  string
		extra map[string][]byte
	}{
		{"snapshot being written", pre, map[string][]byte{newSnap + ".tmp": snapData[:len(snapData)/2]}},
		{"snapshot written, MANIFEST not switched", pre, map[string][]byte{newSnap: snapData}},
		{"MANIFEST being replaced", pre, map[string][]byte{newSnap: snapData, "MANIFEST.tmp": []byte("minikv-manifest 1\nsnap")}},
		{"MANIFEST switched, old files not yet deleted", post, readFiles(t, pre, append(filesWithExt(t, pre, ".wal"), oldSnap))},
	}
	for _, st := range states {
		t.Run(st.name, func(t *testing.T) {
			dir := copyFiles(t, st.base, allFiles(t, st.base))
			for name, data := range st.extra {
				if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
					continue // the state already holds a newer copy
				}
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			o := opts
			o.Dir = dir
			db, err := minikv.Open(o)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer db.Close()
			if err := checkAll(db, model, clock.Now()); err != nil {
				t.Fatal(err)
			}
			man := readManifest(t, dir)
			for _, w := range filesWithExt(t, dir, ".wal") {
				if seqOf(t, w) < man.walStart {
					t.Errorf("obsolete segment %s kept after open", w)
				}
			}
			if snaps := filesWithExt(t, dir, ".snap"); len(snaps) > 1 {
				t.Errorf("obsolete snapshots kept after open: %q", snaps)
			}
			if tmps := filesWithExt(t, dir, ".tmp"); len(tmps) != 0 {
				t.Errorf("temporary files kept after open: %q", tmps)
			}
			// It keeps working: a write, a compaction and a reopen.
			if err := db.Set("after", []byte("crash")); err != nil {
				t.Fatal(err)
			}
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db2, err := minikv.Open(o)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			m := kvModel{"after": {value: "crash"}}
			for k, e := range model {
				m[k] = e
			}
			if err := checkAll(db2, m, clock.Now()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// allFiles lists the regular files of dir other than LOCK.
func allFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && e.Name() != "LOCK" {
			names = append(names, e.Name())
		}
	}
	return names
}

// readFiles reads the named files of dir.
func readFiles(t testing.TB, dir string, names []string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range names {
		if name == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = data
	}
	return out
}

// TestCompact_WhileClosing races Close against Compact: either may win,
// but nothing panics or leaks, and the data is intact afterwards.
func TestCompact_WhileClosing(t *testing.T) {
	opts, clock := modelOptions(t)
	model := kvModel{}
	for round := range 10 {
		db, err := minikv.Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeRandom(db, rand.New(rand.NewPCG(uint64(round), 3)), "k", 200, model); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- db.Compact() }()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil && !errors.Is(err, minikv.ErrClosed) {
			t.Fatalf("Compact racing Close: %v", err)
		}
	}
	db, _ := openTestDB(t, opts)
	if err := checkAll(db, model, clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestCompact_Concurrent runs several Compact calls at once with writers:
// they run one at a time, each counts, and nothing is lost.
func TestCompact_Concurrent(t *testing.T) {
	opts, clock := modelOptions(t)
	opts.DisableAutoCompaction = true
	db, _ := openTestDB(t, opts)
	var wg sync.WaitGroup
	models := make([]kvModel, 3)
	errs := make(chan error, 6)
	for w := range models {
		models[w] = kvModel{}
		wg.Go(func() {
			errs <- writeRandom(db, rand.New(rand.NewPCG(uint64(w), 9)), fmt.Sprintf("w%d/", w), 300, models[w])
		})
		wg.Go(func() { errs <- db.Compact() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := db.Stats().Compactions; n != 3 {
		t.Fatalf("Compactions = %d after 3 Compact calls", n)
	}
	all := kvModel{}
	for _, m := range models {
		for k, e := range m {
			all[k] = e
		}
	}
	db = reopen(t, db, opts)
	if err := checkAll(db, all, clock.Now()); err != nil {
		t.Fatal(err)
	}
	ro := opts
	ro.ReadOnly = true
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rdb, _ := openTestDB(t, ro)
	if err := rdb.Compact(); !errors.Is(err, minikv.ErrReadOnly) {
		t.Fatalf("Compact on a read-only DB = %v; want ErrReadOnly", err)
	}
}

// TestClose_SnapshotThreshold checks when Close writes a snapshot: with a
// WAL of a quarter of MaxWALSize or more, the next Open replays nothing;
// below it, or with automatic compaction off, Close leaves the WAL to be
// replayed. Either way every value is back.
func TestClose_SnapshotThreshold(t *testing.T) {
	for _, tc := range []struct {
		name         string
		keys         int
		noCompaction bool
		wantSnapshot bool
	}{
		{"small WAL", 20, false, false},
		{"quarter of MaxWALSize", 400, false, true},
		{"automatic compaction off", 400, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := minikv.Options{Dir: t.TempDir(), SyncMode: minikv.SyncNever, MaxWALSize: 128 << 10, DisableAutoCompaction: tc.noCompaction}
			db, err := minikv.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			value := make([]byte, 100) // 400 keys: about 46 KiB of WAL
			for i := range tc.keys {
				if err := db.Set(fmt.Sprintf("key%04d", i), value); err != nil {
					t.Fatal(err)
				}
			}
			if st := db.Stats(); st.Compactions != 0 {
				t.Fatalf("%d automatic compactions before Close; the WAL should stay below MaxWALSize", st.Compactions)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = minikv.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			st := db.Stats()
			if got := st.RecoveredRecords == 0 && st.RecoveredKeys == int64(tc.keys); got != tc.wantSnapshot {
				t.Fatalf("reopen replayed %d records and loaded %d keys from a snapshot; snapshot at Close = %v, want %v",
					st.RecoveredRecords, st.RecoveredKeys, got, tc.wantSnapshot)
			}
			if n, err := db.Count(); err != nil || n != tc.keys {
				t.Fatalf("Count = %d, %v; want %d", n, err, tc.keys)
			}
		})
	}
}

// TestCompact_RelocateBesideReaders overwrites three keys in four, three
// times, while readers check every value they get, and then compacts. The
// overwrites leave the first chunks a quarter live, so only relocation
// (the background cleaner's, or the compaction's defragmentation) can give
// their memory back; its steps find the live records without the index
// lock and move them under it. Under the race detector this checks that
// the finding only reads; the memory at the end checks that records moved.
func TestCompact_RelocateBesideReaders(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{DisableAutoCompaction: true})
	const keys = 8000
	value := func(k, gen int) []byte { return fmt.Appendf(nil, "%06d/%d/%0150d", k, gen, k) }
	for k := range keys {
		if err := db.Set(fmt.Sprintf("k%06d", k), value(k, 0)); err != nil {
			t.Fatal(err)
		}
	}
	loaded := db.Stats().MemoryUsage
	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			for i := r; !stop.Load(); i += 7 {
				// Yield between reads: with more goroutines that never
				// block than Ps, a write coming back from its fsync
				// waits a whole time slice for a P (a few hundred
				// writes a second).
				runtime.Gosched()
				k := i % keys
				v, err := db.Get(fmt.Sprintf("k%06d", k))
				gen := 0
				if len(v) > 7 {
					gen = int(v[7] - '0')
				}
				if err != nil || gen < 0 || gen > 3 || !bytes.Equal(v, value(k, gen)) {
					t.Errorf("Get(k%06d) = %.20q, %v", k, v, err)
					return
				}
			}
		})
	}
	for gen := 1; gen <= 3; gen++ {
		for k := range keys {
			if k%4 != 0 {
				if err := db.Set(fmt.Sprintf("k%06d", k), value(k, gen)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	err := db.Compact()
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	// Without relocation the first chunks (a quarter live) would stay
	// beside the last generation's: about 1.75 times the loaded store.
	if mem := db.Stats().MemoryUsage; mem > loaded*3/2 {
		t.Errorf("memory %d bytes at the end, %d after the load: the sparse chunks were not given back", mem, loaded)
	}
	for k := range keys {
		want := value(k, 0)
		if k%4 != 0 {
			want = value(k, 3)
		}
		if v, err := db.Get(fmt.Sprintf("k%06d", k)); err != nil || !bytes.Equal(v, want) {
			t.Fatalf("Get(k%06d) = %.20q, %v after Compact", k, v, err)
		}
	}
}
