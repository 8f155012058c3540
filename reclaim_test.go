package minikv_test

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// reclaimKeys is how many keys the reclaim tests write: 100K, or 1M in
// soak mode (MINIKV_SOAK=1).
func reclaimKeys() int {
	if os.Getenv("MINIKV_SOAK") == "1" {
		return 1_000_000
	}
	return 100_000
}

// heapInUse returns the Go heap in use after two collections.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// TestTTL_ExpiryReclaimsMemory writes many keys with 1 KiB values and a
// 3 s TTL in batches of 100, and one key without, and reads nothing. Once
// they expire, two ticks of the cleaner must bring MemoryUsage and the Go
// heap back to within 25% of what they were before the writes.
func TestTTL_ExpiryReclaimsMemory(t *testing.T) {
	n := reclaimKeys()
	opts, clock := modelOptions(t)
	db, _ := openTestDB(t, opts)
	if err := db.Set("keep", []byte("forever")); err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 1024)
	write := func(n int) {
		for i := 0; i < n; i += 100 {
			b := db.NewBatch()
			for j := i; j < i+100 && j < n; j++ {
				b.SetWithTTL(fmt.Sprintf("k%08d", j), value, 3*time.Second)
			}
			if err := b.Write(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The baseline is the store after a first small wave has come and
	// gone, so that what any use allocates once (buffers, pools) is in it.
	write(1000)
	clock.Advance(4 * time.Second)
	minikv.CleanTick(db)
	baseUsage, baseHeap := db.Stats().MemoryUsage, heapInUse()
	write(n)
	peakUsage, peakHeap := db.Stats().MemoryUsage, heapInUse()
	clock.Advance(4 * time.Second)
	start := time.Now()
	minikv.CleanTick(db)
	minikv.CleanTick(db)
	took := time.Since(start)
	usage, heap := db.Stats().MemoryUsage, heapInUse()
	t.Logf("%d keys: MemoryUsage %d KiB -> %d KiB -> %d KiB, heap %d KiB -> %d KiB -> %d KiB; cleaning took %v",
		n, baseUsage>>10, peakUsage>>10, usage>>10, baseHeap>>10, peakHeap>>10, heap>>10, took)
	if c, err := db.Count(); err != nil || c != 1 {
		t.Fatalf("Count = %d, %v; want 1", c, err)
	}
	if usage > baseUsage+baseUsage/4 {
		t.Errorf("MemoryUsage %d after the expiry; want within 25%% of %d", usage, baseUsage)
	}
	if heap > baseHeap+baseHeap/4 {
		t.Errorf("Go heap %d after the expiry; want within 25%% of %d", heap, baseHeap)
	}
}

// TestDelete_ReclaimsMemory deletes nine keys in ten, scattered over the
// arena: two ticks of the cleaner must bring MemoryUsage and the Go heap
// to within 25% of what a store holding only the rest takes, without a
// compaction.
func TestDelete_ReclaimsMemory(t *testing.T) {
	n := reclaimKeys()
	value := make([]byte, 1024)
	fill := func(db *minikv.DB, keep func(int) bool) {
		for i := 0; i < n; i += 100 {
			b := db.NewBatch()
			for j := i; j < i+100 && j < n; j++ {
				if keep(j) {
					b.Set(fmt.Sprintf("k%08d", j), value)
				}
			}
			if err := b.Write(); err != nil {
				t.Fatal(err)
			}
		}
	}
	kept := func(i int) bool { return i%10 == 0 }
	heap0 := heapInUse() // what the process held before these stores

	// What the remaining keys take in a store that never held the others.
	opts, _ := modelOptions(t)
	opts.DisableAutoCompaction = true
	ref, _ := openTestDB(t, opts)
	fill(ref, kept)
	wantUsage := ref.Stats().MemoryUsage

	opts, _ = modelOptions(t)
	opts.DisableAutoCompaction = true
	db, _ := openTestDB(t, opts)
	fill(db, func(int) bool { return true })
	peakUsage, peakHeap := db.Stats().MemoryUsage, heapInUse()-heap0
	for i := 0; i < n; i += 100 {
		b := db.NewBatch()
		for j := i; j < i+100 && j < n; j++ {
			if !kept(j) {
				b.Delete(fmt.Sprintf("k%08d", j))
			}
		}
		if err := b.Write(); err != nil {
			t.Fatal(err)
		}
	}
	minikv.CleanTick(db)
	minikv.CleanTick(db)
	usage, heap := db.Stats().MemoryUsage, heapInUse()-heap0
	t.Logf("%d keys, %d kept: MemoryUsage %d KiB -> %d KiB (a store of only those: %d KiB); heap of both stores %d KiB -> %d KiB",
		n, n/10, peakUsage>>10, usage>>10, wantUsage>>10, peakHeap>>10, heap>>10)
	if usage > wantUsage+wantUsage/4 {
		t.Errorf("MemoryUsage %d after deleting 90%%; want within 25%% of %d", usage, wantUsage)
	}
	// The heap holds both stores: it must come down to what their
	// MemoryUsage says, within 25% (and a MiB of the runtime's own).
	if both := usage + wantUsage; heap > both+both/4+1<<20 {
		t.Errorf("the stores hold %d bytes of Go heap after deleting 90%%; want within 25%% of their MemoryUsage, %d", heap, both)
	}
	if c, _ := db.Count(); c != n/10 {
		t.Fatalf("Count %d; want %d", c, n/10)
	}
}

// TestClean_LeavesWasteToCompaction overwrites every other key of a store
// between two ticks of the cleaner, which leaves every arena chunk half
// dead, in a WAL growth of more than an eighth of MaxWALSize but short of
// a compaction: the tick must leave the dead records to the compaction
// that such writes bring, and the next tick, after no writes, must give
// their memory back. With automatic compaction off no compaction is
// coming, and the first tick gives it back at once.
func TestClean_LeavesWasteToCompaction(t *testing.T) {
	const keys, valueLen = 8000, 250 // about 2.2 MB of WAL a pass over all
	for _, auto := range []bool{true, false} {
		t.Run(fmt.Sprintf("autoCompaction=%v", auto), func(t *testing.T) {
			opts, _ := modelOptions(t)
			opts.MaxWALSize = 4 << 20
			opts.DisableAutoCompaction = !auto
			db, _ := openTestDB(t, opts)
			value := make([]byte, valueLen)
			pass := func(round byte, step int) {
				for i := 0; i < keys; i += step {
					value[0] = round
					if err := db.Set(fmt.Sprintf("k%05d", i), value); err != nil {
						t.Fatal(err)
					}
				}
			}
			pass(0, 1)
			minikv.CleanTick(db) // nothing dead yet; counts the pass as growth
			pass(1, 2)
			before := db.Stats()
			minikv.CleanTick(db)
			first := db.Stats()
			minikv.CleanTick(db)
			second := db.Stats()
			t.Logf("MemoryUsage %d KiB, then %d KiB after a tick, %d KiB after the next; compactions %d",
				before.MemoryUsage>>10, first.MemoryUsage>>10, second.MemoryUsage>>10, second.Compactions)
			if second.Compactions != 0 {
				t.Fatalf("%d compactions: the writes were to stay under MaxWALSize", second.Compactions)
			}
			// Given back: at least half the overwritten values' bytes.
			dead := int64(keys / 2 * valueLen)
			reclaimed := func(s minikv.Stats) bool { return s.MemoryUsage <= before.MemoryUsage-dead/2 }
			if auto && reclaimed(first) {
				t.Errorf("the tick right after the writes gave memory back (%d -> %d bytes); it was to leave it to the compaction", before.MemoryUsage, first.MemoryUsage)
			}
			if !auto && !reclaimed(first) {
				t.Errorf("without automatic compaction the first tick kept %d of %d bytes; want %d given back", first.MemoryUsage, before.MemoryUsage, dead/2)
			}
			if !reclaimed(second) {
				t.Errorf("a tick after the writes stopped kept %d of %d bytes; want %d given back", second.MemoryUsage, before.MemoryUsage, dead/2)
			}
			for i := range keys {
				if v, err := db.Get(fmt.Sprintf("k%05d", i)); err != nil || len(v) != valueLen || v[0] != byte(1-i%2) {
					t.Fatalf("k%05d after the ticks: %d bytes starting %v, %v", i, len(v), v[:min(1, len(v))], err)
				}
			}
		})
	}
}
