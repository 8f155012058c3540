package minikv

import (
	"fmt"
	"sync"
	"testing"
)

// TestWriterHandOff_FollowsTheGap drives writerHandOff with a fake clock
// through contended releases of writeMu, each followed by the next
// acquisition after a given gap: writers that come straight back (200 ns)
// never make it yield; writers that leave writeMu free for 10 µs make it
// yield on every release but the probes, within a few probes; and when
// the gaps shorten again it stops yielding.
func TestWriterHandOff_FollowsTheGap(t *testing.T) {
	var h writerHandOff
	var clock int64 = 1_000_000
	now := func() int64 { return clock }
	// run makes n contended releases with the given gap and returns, of
	// the last half of them, how many yielded and how many probed.
	run := func(n int, gap int64) (yields, probes int) {
		for i := range n {
			y := h.yield(now)
			probe := h.probeAt != 0
			if y && probe {
				t.Fatalf("release %d yielded although it probes", i)
			}
			clock += gap
			h.acquired(now)
			clock += 500 // the hold
			if i >= n/2 {
				if y {
					yields++
				}
				if probe {
					probes++
				}
			}
		}
		return yields, probes
	}
	const n = 64 * gapProbeEvery
	if yields, _ := run(n, 200); yields != 0 {
		t.Fatalf("writers coming straight back: %d of %d releases yielded", yields, n/2)
	}
	if yields, probes := run(n, 10_000); yields+probes != n/2 || probes != n/2/gapProbeEvery {
		t.Fatalf("writers leaving writeMu free: %d yields and %d probes in %d releases, want every release but the probes to yield",
			yields, probes, n/2)
	}
	if yields, _ := run(n, 200); yields != 0 {
		t.Fatalf("after the gaps shortened again: %d of %d releases yielded", yields, n/2)
	}
	if h.gapAvg <= 0 || h.gapAvg > yieldGap {
		t.Fatalf("average gap %d ns after short gaps", h.gapAvg)
	}
}

// TestWriterHandOff_WaitersCounted checks that the count of goroutines
// waiting for writeMu comes back to zero once writers that contend for it,
// and do some work between writes, are done, and that every write is in.
func TestWriterHandOff_WaitersCounted(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), SyncMode: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const goroutines, writes = 32, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			x := uint64(g)
			for i := range writes {
				for range 200 { // work between writes
					x = x*6364136223846793005 + 1442695040888963407
				}
				if err := db.Set(fmt.Sprintf("g%02d-%03d", g, i), []byte{byte(x)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := db.muWaiters.Load(); n != 0 {
		t.Fatalf("%d goroutines counted as waiting for writeMu after all writers returned", n)
	}
	if n := db.Stats().KeyCount; n != goroutines*writes {
		t.Fatalf("%d keys, want %d", n, goroutines*writes)
	}
}
