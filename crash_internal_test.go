package minikv

// Crash-safety loops: simulated power loss and injected I/O faults, run on
// the in-memory file system of internal/vfstest (MemFS, and FaultFS over
// it). The real SIGKILL loop is in crash_kill_test.go, the corruption
// tables in corrupt_internal_test.go and the fuzz targets in
// fuzz_internal_test.go and fuzz_test.go.
//
// The CI run uses fixed seeds and tries every crash and fault point. Under
// go test -short, the quick check, the loops try every 7th point (see
// crashPoints) and crash_kill_test.go kills a fifth as often. The soak mode
// runs the same loops with random seeds and a hundred times the iterations
// (and 1000+ real kills):
//
//	MINIKV_SOAK=1 go test -count=1 -timeout=0 -run 'Crash|Fault|Kill|Corrupt' .
//
// A failure prints the seed, the sync mode, the crash point k and the share
// of unsynced data kept; MINIKV_CRASH_SEED=<seed> replays a soak seed.

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minikv/minikv/internal/vfstest"
)

// crashSeeds returns the workload seeds to run: one fixed seed in CI, a
// hundred random ones in soak mode, or the one MINIKV_CRASH_SEED names.
func crashSeeds(t *testing.T) []uint64 {
	if s := os.Getenv("MINIKV_CRASH_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MINIKV_CRASH_SEED: %v", err)
		}
		return []uint64{seed}
	}
	if !crashSoak() {
		return []uint64{1}
	}
	seeds := make([]uint64, 100)
	for i := range seeds {
		seeds[i] = rand.Uint64()
	}
	return seeds
}

// crashModes are the sync modes every loop runs.
var crashModes = []SyncMode{SyncAlways, SyncPeriodic, SyncNever}

// crashRatios are the shares of unsynced changes a crash image keeps.
var crashRatios = []float64{0, 0.1, 0.5}

// crashWorkloadSize is the number of random steps of a workload.
const crashWorkloadSize = 40

// crashCounter totals what the loops ran, for the log.
type crashCounter struct {
	points, injected, runs atomic.Int64

	mu    sync.Mutex     // guards kinds
	kinds map[string]int // injected errors per kind of operation
}

func (c *crashCounter) addKinds(kinds map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kinds == nil {
		c.kinds = map[string]int{}
	}
	for k, n := range kinds {
		c.kinds[k] += n
	}
}

// TestCrash_PowerLoss cuts the power before every file operation k of a
// workload (every 7th under -short, see crashPoints), in each sync mode,
// keeping 0%, 10% and 50% of the unsynced changes, and checks the
// recovered database: with SyncAlways every acknowledged step is there; in
// every mode the state is a prefix of the history that includes every step
// before the last successful Compact or Close, no batch is partly visible,
// Verify finds nothing, a new write survives the next power cut and
// reopening gives the same state.
func TestCrash_PowerLoss(t *testing.T) {
	var c crashCounter
	for _, seed := range crashSeeds(t) {
		for _, mode := range crashModes {
			for _, seg := range crashSegments {
				t.Run(fmt.Sprintf("seed=%d/%s/segment=%d", seed, mode, seg), func(t *testing.T) {
					t.Parallel()
					crashLoop(t, seed, mode, seg, &c)
				})
			}
		}
	}
	t.Cleanup(func() { t.Logf("power loss: %d crash points (k x ratio)", c.points.Load()) })
}

// crashSegments are the segment sizes of TestCrash_PowerLoss: tiny ones,
// so that the workload rotates through many segments, and ones that hold
// the whole workload, so that a crash can leave holes of unsynced blocks
// (512 bytes at least) followed by records that reached the disk first.
var crashSegments = []int64{256, 8192}

// crashLoop runs TestCrash_PowerLoss for one seed, mode and segment size.
//
// The MemFS keeps, of each file's unsynced writes, either a prefix or any
// subset of the blocks they changed (see the crash model in package
// vfstest). The second
// leaves holes in the WAL's unsynced tail, followed by valid records:
// recovery must take them for a torn tail, since the records after them
// show (by their durable points) that the hole was never synced.
func crashLoop(t *testing.T, seed uint64, mode SyncMode, seg int64, c *crashCounter) {
	steps := crashWorkload(seed, crashWorkloadSize, NewFakeClock())
	dry := vfstest.NewMemFS(crashDir)
	clk := NewFakeClock()
	if r := runCrashWorkload(crashOptionsSeg(dry, clk, mode, seg), clk, steps); len(r.errs) > 0 {
		t.Fatalf("workload without a crash failed: %v", r.errs)
	}
	total := dry.Ops()
	for _, k := range crashPoints(total, int(mode)) {
		for ri, ratio := range crashRatios {
			rng := rand.New(rand.NewPCG(seed, uint64(k*len(crashRatios)+ri)))
			mfs := vfstest.NewMemFS(crashDir)
			mfs.ArmCrash(k, ratio, rng)
			clk := NewFakeClock()
			r := runCrashWorkload(crashOptionsSeg(mfs, clk, mode, seg), clk, steps)
			img := mfs.CrashImage()
			if img == nil {
				img = mfs.Crash(ratio, rng)
			}
			c.points.Add(1)
			if err := crashCheckReleased(mfs); err != nil {
				t.Fatalf("seed %d, %s, crash at op %d of %d, keep %.0f%%: %v", seed, mode, k, total, ratio*100, err)
			}
			lo := r.durable
			if mode == SyncAlways {
				lo = len(r.applied)
			}
			if err := checkRecovery(t, img, clk, r, lo); err != nil {
				t.Fatalf("seed %d, %s, crash at op %d of %d (%s), keep %.0f%%: %v",
					seed, mode, k, total, crashOpName(seed, mode, k), ratio*100, err)
			}
		}
	}
}

// crashOpName returns the description of file operation k of the
// workload, for failure messages.
func crashOpName(seed uint64, mode SyncMode, k int) string {
	steps := crashWorkload(seed, crashWorkloadSize, NewFakeClock())
	m := vfstest.NewMemFS(crashDir)
	m.SetTracing(true)
	clk := NewFakeClock()
	runCrashWorkload(crashOptions(m, clk, mode), clk, steps)
	if k < len(m.Trace()) {
		return m.Trace()[k]
	}
	return "after the last operation"
}

// TestCrash_FaultInjection fails file operation i of the workload, for
// every i (every 7th under -short) until the workload runs without
// reaching it: once failing that operation only, once failing it and
// every later one. Each time, every error must reach a caller (only the
// removal of obsolete files may fail silently), nothing panics, Close
// leaves no file open and no lock held, and a reopen without faults
// recovers every acknowledged step.
func TestCrash_FaultInjection(t *testing.T) {
	var c crashCounter
	for _, seed := range crashSeeds(t) {
		for _, mode := range crashModes {
			for _, every := range []bool{false, true} {
				t.Run(fmt.Sprintf("seed=%d/%s/every=%v", seed, mode, every), func(t *testing.T) {
					t.Parallel()
					faultLoop(t, seed, mode, every, &c)
				})
			}
		}
	}
	t.Cleanup(func() {
		t.Logf("fault injection: %d runs, %d errors injected %v", c.runs.Load(), c.injected.Load(), c.kinds)
	})
}

// faultLoop runs TestCrash_FaultInjection for one seed, mode and every,
// failing each file operation in turn; under -short every crashStride()th
// (from an offset that differs between the subtests) and the last one.
func faultLoop(t *testing.T, seed uint64, mode SyncMode, every bool, c *crashCounter) {
	steps := crashWorkload(seed, crashWorkloadSize, NewFakeClock())
	stride := crashStride()
	off := 2 * int(mode)
	if every {
		off++
	}
	tried := -1 // the last operation failed
	for i := off % stride; ; i += stride {
		mfs := vfstest.NewMemFS(crashDir)
		ffs := vfstest.NewFaultFS(mfs, i, every)
		clk := NewFakeClock()
		r := runCrashWorkload(crashOptions(ffs, clk, mode), clk, steps)
		ops, injected := ffs.Count()
		if injected == 0 {
			if ops-1 > tried {
				i = ops - 1 - stride // skipped by the stride: fail the last one too
				continue
			}
			return
		}
		tried = i
		c.runs.Add(1)
		c.injected.Add(int64(injected))
		kinds := ffs.InjectedKinds()
		c.addKinds(kinds)
		fail := func(err error) {
			t.Helper()
			t.Fatalf("seed %d, %s, fault at op %d (every=%v, kinds %v): %v", seed, mode, i, every, kinds, err)
		}
		if err := crashCheckReleased(mfs); err != nil {
			fail(err)
		}
		for _, err := range r.errs {
			if !errors.Is(err, vfstest.ErrInjected) {
				fail(fmt.Errorf("error not caused by the fault: %w", err))
			}
		}
		// Failed removals of obsolete files are only logged, and a
		// failed preallocation or mapping makes the WAL fall back to
		// Write: neither reaches a caller.
		silent := kinds["remove"] + kinds["close"] + kinds["allocate"] + kinds["map"]
		if len(r.errs) == 0 && silent != injected {
			fail(errors.New("an injected fault was swallowed"))
		}
		if err := checkRecovery(t, mfs, clk, r, len(r.applied)); err != nil {
			fail(err)
		}
	}
}

// TestCrash_FaultInjectionRecovery fails each file operation of a recovery
// in turn (once, and every one from there), on directories that crashes
// left with torn tails, temp files and obsolete segments: Open either
// fails with the injected error or recovers; a write after it either
// fails with it or succeeds; nothing is left open or locked; and a clean
// reopen finds the recovered state plus any acknowledged write.
func TestCrash_FaultInjectionRecovery(t *testing.T) {
	var c crashCounter
	for _, seed := range crashSeeds(t) {
		steps := crashWorkload(seed, crashWorkloadSize, NewFakeClock())
		dry := vfstest.NewMemFS(crashDir)
		clk := NewFakeClock()
		runCrashWorkload(crashOptions(dry, clk, SyncNever), clk, steps)
		total := dry.Ops()
		for _, k := range []int{total / 4, total / 2, 3 * total / 4} {
			mfs := vfstest.NewMemFS(crashDir)
			mfs.ArmCrash(k, 0.5, rand.New(rand.NewPCG(seed, uint64(k))))
			clk := NewFakeClock()
			runCrashWorkload(crashOptions(mfs, clk, SyncNever), clk, steps)
			img := mfs.CrashImage()
			db, err := Open(crashOptions(img.Clone(), clk, SyncAlways))
			if err != nil {
				t.Fatalf("seed %d, crash at %d: %v", seed, k, err)
			}
			want, err := crashDump(db)
			if err = errors.Join(err, db.Close()); err != nil {
				t.Fatal(err)
			}
			for _, every := range []bool{false, true} {
				for i := 0; ; i++ {
					fsys := img.Clone()
					ffs := vfstest.NewFaultFS(fsys, i, every)
					acked := faultRecover(t, ffs, clk)
					_, injected := ffs.Count()
					if injected == 0 {
						break
					}
					c.runs.Add(1)
					c.injected.Add(int64(injected))
					c.addKinds(ffs.InjectedKinds())
					if err := crashCheckReleased(fsys); err != nil {
						t.Fatalf("seed %d, crash at %d, fault at %d (every=%v): %v", seed, k, i, every, err)
					}
					db, err := Open(crashOptions(fsys, clk, SyncAlways))
					if err != nil {
						t.Fatalf("seed %d, crash at %d, fault at %d (every=%v): clean reopen: %v", seed, k, i, every, err)
					}
					got, err := crashDump(db)
					db.Close()
					w := maps.Clone(want)
					if acked {
						w["zz-after"] = crashVal{value: "after"}
					}
					delete(got, "zz-after") // an unacknowledged write may be there
					delete(w, "zz-after")
					if err != nil || !maps.Equal(got, w) {
						t.Fatalf("seed %d, crash at %d, fault at %d (every=%v): recovered %v, %v; want %v", seed, k, i, every, got, err, w)
					}
					if acked {
						db, _ := Open(crashOptions(fsys, clk, SyncAlways))
						_, err := db.Get("zz-after")
						db.Close()
						if err != nil {
							t.Fatalf("seed %d, crash at %d, fault at %d: acknowledged write lost: %v", seed, k, i, err)
						}
					}
				}
			}
		}
	}
	t.Logf("fault injection in recovery: %d runs, %d errors injected %v", c.runs.Load(), c.injected.Load(), c.kinds)
}

// faultRecover opens the database on ffs, writes one key and closes it,
// checking that every error is the injected one. It returns whether the
// write was acknowledged.
func faultRecover(t *testing.T, ffs *vfstest.FaultFS, clk *FakeClock) bool {
	t.Helper()
	db, err := Open(crashOptions(ffs, clk, SyncAlways))
	if err != nil {
		if !errors.Is(err, vfstest.ErrInjected) {
			t.Fatalf("Open: %v, want the injected error", err)
		}
		return false
	}
	if _, err := crashDump(db); err != nil {
		t.Fatalf("dump: %v", err)
	}
	err = db.Set("zz-after", []byte("after"))
	if err != nil && !errors.Is(err, vfstest.ErrInjected) {
		t.Fatalf("Set: %v, want the injected error", err)
	}
	if cerr := db.Close(); cerr != nil && !errors.Is(cerr, vfstest.ErrInjected) {
		t.Fatalf("Close: %v, want nil or the injected error", cerr)
	}
	return err == nil
}

// TestCrash_ManifestRebuild cuts the power before every file operation k
// of a workload (every 7th under -short), then damages the image's MANIFEST (garbage, empty or
// gone, in turn) and rebuilds it from the files (rebuildManifest): the
// store must then hold what TestCrash_PowerLoss requires of a plain
// recovery, every acknowledged write with SyncAlways included.
func TestCrash_ManifestRebuild(t *testing.T) {
	var c crashCounter
	for _, seed := range crashSeeds(t) {
		for _, mode := range []SyncMode{SyncAlways, SyncNever} {
			t.Run(fmt.Sprintf("seed=%d/%s", seed, mode), func(t *testing.T) {
				t.Parallel()
				rebuildLoop(t, seed, mode, &c)
			})
		}
	}
	t.Cleanup(func() { t.Logf("MANIFEST rebuild: %d crash points", c.points.Load()) })
}

func rebuildLoop(t *testing.T, seed uint64, mode SyncMode, c *crashCounter) {
	steps := crashWorkload(seed, crashWorkloadSize, NewFakeClock())
	dry := vfstest.NewMemFS(crashDir)
	clk := NewFakeClock()
	if r := runCrashWorkload(crashOptions(dry, clk, mode), clk, steps); len(r.errs) > 0 {
		t.Fatalf("workload without a crash failed: %v", r.errs)
	}
	total := dry.Ops()
	for _, k := range crashPoints(total, int(mode)) {
		for ri, ratio := range []float64{0, 0.5} {
			rng := rand.New(rand.NewPCG(seed, uint64(2*k+ri)))
			mfs := vfstest.NewMemFS(crashDir)
			mfs.ArmCrash(k, ratio, rng)
			clk := NewFakeClock()
			r := runCrashWorkload(crashOptions(mfs, clk, mode), clk, steps)
			img := mfs.CrashImage()
			if img == nil {
				img = mfs.Crash(ratio, rng)
			}
			c.points.Add(1)
			name := crashDir + "/" + manifestName
			damage := [...]string{"garbage", "empty", "gone"}[(2*k+ri)%3]
			switch damage {
			case "garbage":
				img.WriteFileNow(name, []byte("minikv-manifest 2\nsnapshot \x00\ncrc 0\n"))
			case "empty":
				img.WriteFileNow(name, nil)
			case "gone":
				_ = img.Remove(name)
			}
			fail := func(err error) {
				t.Fatalf("seed %d, %s, crash at op %d of %d (%s), keep %.0f%%, MANIFEST %s: %v",
					seed, mode, k, total, crashOpName(seed, mode, k), ratio*100, damage, err)
			}
			plan, err := rebuildManifest(img, crashDir)
			if err != nil {
				fail(fmt.Errorf("rebuild: %w (plan %+v)", err, plan))
			}
			lo := r.durable
			if mode == SyncAlways {
				lo = len(r.applied)
			}
			if err := checkRecovery(t, img, clk, r, lo); err != nil {
				fail(fmt.Errorf("after the rebuild (%s): %w", plan, err))
			}
		}
	}
}
