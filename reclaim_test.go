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
