package minikv

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/minikv/minikv/internal/index"
)

// defragOptions makes automatic compactions frequent.
func defragOptions(t *testing.T) Options {
	return Options{Dir: t.TempDir(), SyncMode: SyncNever, MaxWALSize: 256 << 10, SegmentSize: 64 << 10, TTLCleanInterval: -1}
}

func defragPending(db *DB) bool {
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	return db.defragPending
}

// orderedFraction returns the fraction of keys whose record follows the
// previous key's record in the arena, as reorder counts it. Written in
// random order, almost none do; after a walk most do, though not all: a
// key written between two others of an ordered run is moved with its
// successor, and the run breaks twice (see internal/index/reorder.go), so
// when writes interleave with earlier walks, as the automatic compactions
// of these tests make them, 60-100% do.
func orderedFraction(db *DB) float64 {
	db.mu.RLock()
	v := db.idx.freeze()
	db.mu.RUnlock()
	c := index.NewCursor(v.chunks)
	adjacent, total := 0, 0
	prevEnd := uint64(0)
	for ok := c.Seek(v.tree, ""); ok; ok = c.Next() {
		e, _ := index.DecodeEntry(index.ChunkRecord(v.chunks, c.Ref()))
		if index.Follows(prevEnd, c.Ref()) {
			adjacent++
		}
		total++
		prevEnd = c.Ref() + uint64(e.Size)
	}
	return float64(adjacent) / float64(max(total, 1))
}

// TestDefragment_DeferredUntilWritesPause writes keys in random order until an
// automatic compaction has run, checks that its defragmentation waits while
// writes go on, and that it runs, putting the arena in key order, once they
// pause.
func TestDefragment_DeferredUntilWritesPause(t *testing.T) {
	db, err := Open(defragOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := make([]byte, 100)
	r := rand.New(rand.NewPCG(1, 2))
	set := func() {
		t.Helper()
		if err := db.Set(fmt.Sprintf("k%06d", r.IntN(1_000_000)), value); err != nil {
			t.Fatal(err)
		}
	}
	for n := 0; db.Stats().Compactions == 0 || !defragPending(db); n++ {
		if n > 100_000 {
			t.Fatal("no automatic compaction left a deferred defragmentation")
		}
		set()
		// Once a compaction is due, let it finish before writing on: on a
		// busy machine the writes made while it runs could fill the WAL
		// again, and the compaction due at once after it would run the
		// pending defragmentation, as it should, before the checks below.
		for start := time.Now(); db.walSize() >= db.opts.MaxWALSize; time.Sleep(time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatal("the automatic compaction did not run")
			}
		}
	}
	// Keep writing, too little for another compaction, for longer than
	// defragIdle: the walk must wait.
	for range 100 {
		set()
		time.Sleep(defragIdle / 50)
		if !defragPending(db) {
			t.Fatal("deferred defragmentation ran while writes went on")
		}
	}
	for start := time.Now(); defragPending(db); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("deferred defragmentation did not run after writes paused")
		}
	}
	if f := orderedFraction(db); f < 0.5 {
		t.Fatalf("after the deferred defragmentation %.0f%% of records follow their predecessor", f*100)
	}
}

// TestDefragment_NotDeferredWhenMostlyDead overwrites keys at random until an
// automatic compaction runs with most of the arena dead (every chunk still
// holding a few live records, so none was dropped): that compaction
// defragments at once rather than waiting for writes to pause.
func TestDefragment_NotDeferredWhenMostlyDead(t *testing.T) {
	opts := defragOptions(t)
	opts.MaxWALSize = 1 << 20
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := make([]byte, 100)
	for i := range 2000 {
		if err := db.Set(fmt.Sprintf("k%06d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for db.Stats().Compactions == 0 {
		if err := db.Set(fmt.Sprintf("k%06d", r.IntN(2000)), value); err != nil {
			t.Fatal(err)
		}
	}
	if defragPending(db) {
		t.Fatal("defragmentation deferred although most of the arena was dead")
	}
	db.mu.RLock()
	dead, total := db.idx.Arena.Dead(), db.idx.Arena.Total()
	db.mu.RUnlock()
	if dead*4 > total {
		t.Fatalf("%d of %d arena bytes dead after the compaction", dead, total)
	}
}

// TestDefragment_PendingEmptiesSparseChunks runs two automatic
// compactions by hand around overwrites of three keys in five, written in
// random order: the first leaves the key-order walk pending; the second,
// with the arena's chunks then sparse but less than half of it dead, must
// empty the sparse chunks and leave the walk pending, so that steady
// writes do not pay for a walk that the next writes would undo.
func TestDefragment_PendingEmptiesSparseChunks(t *testing.T) {
	opts := defragOptions(t)
	opts.DisableAutoCompaction = true
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 5000
	r := rand.New(rand.NewPCG(7, 8))
	write := func(round byte, keep func(int) bool) {
		t.Helper()
		value := make([]byte, 100)
		value[0] = round
		for _, k := range r.Perm(n) {
			if keep(k) {
				if err := db.Set(fmt.Sprintf("k%06d", k), value); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	overwritten := func(k int) bool { return k%5 < 3 }
	autoCompact := func() {
		t.Helper()
		db.compactMu.Lock()
		defer db.compactMu.Unlock()
		if err := db.compactLocked(t.Context(), true); err != nil {
			t.Fatal(err)
		}
	}
	write(0, func(int) bool { return true })
	autoCompact()
	if !defragPending(db) {
		t.Fatal("the first automatic compaction did not defer its defragmentation")
	}
	write(1, overwritten)
	db.mu.RLock()
	sparse, dead, total := db.idx.Arena.SparseChunk(), db.idx.Arena.Dead(), db.idx.Arena.Total()
	db.mu.RUnlock()
	if sparse < 0 || dead*2 >= total {
		t.Fatalf("before the second compaction: sparse chunk %d, %d of %d bytes dead; want a sparse chunk and under half dead", sparse, dead, total)
	}
	autoCompact()
	db.mu.RLock()
	sparse, dead, total = db.idx.Arena.SparseChunk(), db.idx.Arena.Dead(), db.idx.Arena.Total()
	db.mu.RUnlock()
	t.Logf("after the second compaction: %d of %d arena bytes dead, %.0f%% of records in key order", dead, total, orderedFraction(db)*100)
	if !defragPending(db) {
		t.Error("the second automatic compaction ran the key-order walk; it was to stay pending")
	}
	if sparse >= 0 {
		t.Errorf("chunk %d is still less than half live after the second compaction", sparse)
	}
	for k := range n {
		v, err := db.Get(fmt.Sprintf("k%06d", k))
		want := byte(0)
		if overwritten(k) {
			want = 1
		}
		if err != nil || len(v) != 100 || v[0] != want {
			t.Fatalf("k%06d: %d bytes starting %v, %v; want round %d", k, len(v), v[:min(1, len(v))], err, want)
		}
	}
}

// TestCompact_DefragmentsAtOnce checks that an explicit Compact does not
// defer, and clears a deferred defragmentation.
func TestCompact_DefragmentsAtOnce(t *testing.T) {
	db, err := Open(defragOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := make([]byte, 100)
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range r.Perm(5000) {
		if err := db.Set(fmt.Sprintf("k%06d", k), value); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if defragPending(db) {
		t.Fatal("defragmentation pending after Compact")
	}
	if f := orderedFraction(db); f < 0.5 {
		t.Fatalf("after Compact %.0f%% of records follow their predecessor", f*100)
	}
}
