package minikv

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/minikv/minikv/internal/vfstest"
)

// TestCrash_PowerLossConcurrent cuts the power at a random file operation
// while four goroutines write with SyncAlways (one of them in batches) on
// a WAL small enough that background compactions and rotations run all
// the time. Group commit, rotation and compaction then race with the
// crash, which a process kill cannot test: the kill keeps unsynced data.
// Every acknowledged write must survive, each goroutine's writes as a
// prefix, batches whole. It runs 150 power cuts, 50 under -short.
func TestCrash_PowerLossConcurrent(t *testing.T) {
	runs := 150
	if crashSoak() {
		runs *= 100
	} else if testing.Short() {
		runs = 50
	}
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 2))
	for i := range runs {
		k := rng.IntN(1500)
		keep := crashRatios[rng.IntN(len(crashRatios))]
		if err := crashConcurrentRun(k, keep, rand.New(rand.NewPCG(seed, uint64(i)))); err != nil {
			t.Fatalf("seed %d, run %d, crash at op %d, keep %.0f%%: %v", seed, i, k, keep*100, err)
		}
	}
	t.Logf("%d concurrent power cuts (seed %d)", runs, seed)
}

const concSlots = 8

func concKey(g int, n int64) string { return fmt.Sprintf("g%d-%d", g, n%concSlots) }

func crashConcurrentRun(k int, keep float64, rng *rand.Rand) error {
	mfs := vfstest.NewMemFS(crashDir)
	mfs.ArmCrash(k, keep, rng)
	clk := NewFakeClock()
	opts := crashOptions(mfs, clk, SyncAlways)
	opts.MaxWALSize, opts.SegmentSize = 2048, 512
	opts.DisableAutoCompaction = false
	db, err := Open(opts)
	if err != nil {
		return checkConcurrent(mfs, clk, [4]int64{-1, -1, -1, -1})
	}
	var acked [4]int64
	var wg sync.WaitGroup
	for g := range 4 {
		acked[g] = -1
		wg.Go(func() {
			for n := int64(0); n < 400; n++ {
				v := []byte(strconv.FormatInt(n, 10))
				var err error
				if g == 3 {
					b := db.NewBatch()
					b.Set("b-x", v)
					b.Set("b-y", v)
					b.Set(concKey(g, n), v)
					err = b.Write()
				} else {
					err = db.Set(concKey(g, n), v)
				}
				if err != nil {
					return
				}
				acked[g] = n
			}
		})
	}
	wg.Wait()
	db.Close()
	if err := crashCheckReleased(mfs); err != nil {
		return err
	}
	return checkConcurrent(mfs, clk, acked)
}

func checkConcurrent(mfs *vfstest.MemFS, clk *FakeClock, acked [4]int64) error {
	img := mfs.CrashImage()
	if img == nil {
		img = mfs.Clone()
	}
	if _, err := verifyFS(img, crashDir); err != nil {
		return fmt.Errorf("verify before recovery: %w", err)
	}
	db, err := Open(crashOptions(img, clk, SyncAlways))
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	got, err := crashDump(db)
	if err != nil {
		return err
	}
	num := func(k string) (int64, bool) {
		v, ok := got[k]
		if !ok {
			return -1, false
		}
		n, err := strconv.ParseInt(v.value, 10, 64)
		return n, err == nil
	}
	bx, _ := num("b-x")
	if by, _ := num("b-y"); bx != by {
		return fmt.Errorf("batch torn: b-x=%d b-y=%d", bx, by)
	}
	for g := range 4 {
		top := int64(-1)
		for s := range concSlots {
			if n, ok := num(concKey(g, int64(s))); ok {
				top = max(top, n)
			}
		}
		if top < acked[g] {
			return fmt.Errorf("goroutine %d: acknowledged write %d lost (newest survivor %d)", g, acked[g], top)
		}
		for s := range int64(concSlots) {
			want := top - (top-s)%concSlots // the last n <= top in slot s
			if top < s {
				want = -1
			}
			if n, _ := num(concKey(g, s)); n != want {
				return fmt.Errorf("goroutine %d slot %d: %d, want %d: not a prefix", g, s, n, want)
			}
		}
		if g == 3 && bx != top {
			return fmt.Errorf("b-x=%d, newest batch %d", bx, top)
		}
	}
	return nil
}
