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
