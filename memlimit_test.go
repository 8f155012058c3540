package minikv_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// limitKey and limitValue are the keys and values of the memory-limit
// tests: about 130-byte records.
func limitKey(i int) string { return fmt.Sprintf("key%08d", i) }

func limitValue(i int) []byte { return []byte(fmt.Sprintf("%0100d", i)) }

// checkUnderLimit fails the test when db's MemoryUsage passes max.
func checkUnderLimit(t *testing.T, db *minikv.DB, max int64, when string) {
	t.Helper()
	if u := db.Stats().MemoryUsage; u > max {
		t.Fatalf("%s: MemoryUsage %d passes MaxMemory %d", when, u, max)
	}
}

func TestMemoryLimit_Options(t *testing.T) {
	for _, opts := range []minikv.Options{
		{MaxMemory: -1},
		{MaxMemory: 1 << 20, Eviction: minikv.EvictLRU + 1},
		{Eviction: -1},
	} {
		opts.Dir = t.TempDir()
		if db, err := minikv.Open(opts); err == nil {
			db.Close()
			t.Errorf("Open with MaxMemory %d, Eviction %d succeeded", opts.MaxMemory, opts.Eviction)
		} else if !strings.HasPrefix(err.Error(), "minikv: Options.") {
			t.Errorf("Open's error %q does not name the option", err)
		}
	}
	for p, want := range map[minikv.EvictionPolicy]string{
		minikv.NoEviction: "noeviction", minikv.EvictTTL: "ttl", minikv.EvictLRU: "lru", 7: "EvictionPolicy(7)",
	} {
		if p.String() != want {
			t.Errorf("EvictionPolicy(%d).String() = %q, want %q", int(p), p.String(), want)
		}
	}
}

func TestMemoryLimit_NoEvictionRefusesAndDeletesMakeRoom(t *testing.T) {
	const max = 1 << 20
	opts := minikv.Options{SyncMode: minikv.SyncNever, MaxMemory: max}
	db, dir := openTestDB(t, opts)
	opts.Dir = dir
	n := 0
	var err error
	for ; n < 100000; n++ {
		if err = db.Set(limitKey(n), limitValue(n)); err != nil {
			break
		}
		if n%64 == 0 {
			checkUnderLimit(t, db, max, fmt.Sprintf("after %d sets", n+1))
		}
	}
	if !errors.Is(err, minikv.ErrMemoryLimit) {
		t.Fatalf("after %d sets: Set = %v, want ErrMemoryLimit", n, err)
	}
	if !strings.HasPrefix(err.Error(), "minikv: memory limit reached: ") || strings.Count(err.Error(), "minikv:") != 1 {
		t.Errorf("error %q", err)
	}
	if n < 3000 {
		t.Fatalf("only %d 130-byte records fit in 1 MiB", n)
	}
	checkUnderLimit(t, db, max, "at the limit")
	if _, err := db.Get(limitKey(n)); !errors.Is(err, minikv.ErrNotFound) {
		t.Fatalf("the refused key reads as %v", err)
	}
	// Every form of write is refused; nothing is lost.
	if err := db.SetWithTTL(limitKey(n), limitValue(n), time.Hour); !errors.Is(err, minikv.ErrMemoryLimit) {
		t.Errorf("SetWithTTL = %v", err)
	}
	b := db.NewBatch()
	b.Set(limitKey(n), limitValue(n))
	b.Set(limitKey(n+1), limitValue(n+1))
	if err := b.Write(); !errors.Is(err, minikv.ErrMemoryLimit) {
		t.Errorf("Batch.Write = %v", err)
	}
	if c, _ := db.Count(); c != n {
		t.Fatalf("Count = %d after %d acknowledged sets", c, n)
	}
	if s := db.Stats(); s.Evicted != 0 {
		t.Fatalf("NoEviction evicted %d keys", s.Evicted)
	}
	// Deletes always work, and their room is taken back at once.
	for i := 0; i < n; i += 2 {
		if err := db.Delete(limitKey(i)); err != nil {
			t.Fatalf("Delete at the limit: %v", err)
		}
	}
	for i := 0; i < n/4; i++ {
		if err := db.Set(limitKey(n+i), limitValue(n+i)); err != nil {
			t.Fatalf("Set %d after deleting half of %d keys: %v", i, n, err)
		}
		checkUnderLimit(t, db, max, "after deletes")
	}
	want := map[string]bool{}
	for i := 1; i < n; i += 2 {
		want[limitKey(i)] = true
	}
	for i := 0; i < n/4; i++ {
		want[limitKey(n+i)] = true
	}
	db = reopen(t, db, opts)
	keys, err := db.Keys("*")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("after reopen %d keys, want %d", len(keys), len(want))
	}
	for _, k := range keys {
		if !want[k] {
			t.Fatalf("after reopen: unexpected key %s", k)
		}
	}
}

func TestMemoryLimit_EvictLRU(t *testing.T) {
	const max = 1 << 20
	opts := minikv.Options{SyncMode: minikv.SyncNever, MaxMemory: max, Eviction: minikv.EvictLRU}
	db, dir := openTestDB(t, opts)
	opts.Dir = dir
	const total = 30000
	for i := range total {
		if err := db.Set(limitKey(i), limitValue(i)); err != nil {
			t.Fatalf("Set %d: %v", i, err)
		}
		// A few keys are read all along: they must survive.
		if i >= 100 {
			for h := range 10 {
				if _, err := db.Get(limitKey(h)); err != nil {
					t.Fatalf("hot key %d evicted after %d sets: %v", h, i, err)
				}
			}
		}
		if i%97 == 0 {
			checkUnderLimit(t, db, max, fmt.Sprintf("after %d sets", i+1))
		}
	}
	s := db.Stats()
	if s.Evicted == 0 || s.KeyCount+s.Evicted != total {
		t.Fatalf("KeyCount %d + Evicted %d, want %d in all with some evicted", s.KeyCount, s.Evicted, total)
	}
	// The newest keys are there; most of the oldest are gone.
	for i := total - 100; i < total; i++ {
		if _, err := db.Get(limitKey(i)); err != nil {
			t.Fatalf("a newest key, %d: %v", i, err)
		}
	}
	old := 0
	for i := 10; i < 1010; i++ {
		if ok, _ := db.Exists(limitKey(i)); ok {
			old++
		}
	}
	if old > 100 {
		t.Errorf("%d of the 1000 oldest cold keys survived", old)
	}
	before, _ := db.Keys("*")
	db = reopen(t, db, opts)
	after, _ := db.Keys("*")
	if strings.Join(before, ",") != strings.Join(after, ",") {
		t.Fatalf("reopen changed the keys: %d before, %d after (evictions not logged?)", len(before), len(after))
	}
	checkUnderLimit(t, db, max, "after reopen")
	// Writing goes on after reopen within the limit.
	for i := total; i < total+5000; i++ {
		if err := db.Set(limitKey(i), limitValue(i)); err != nil {
			t.Fatalf("Set after reopen: %v", err)
		}
	}
	checkUnderLimit(t, db, max, "writes after reopen")
}

func TestMemoryLimit_EvictTTL(t *testing.T) {
	const max = 1 << 20
	opts := minikv.Options{SyncMode: minikv.SyncNever, MaxMemory: max, Eviction: minikv.EvictTTL}
	db, _ := openTestDB(t, opts)
	// 2000 keys with expiries, the soonest last, then keys without one
	// until the limit refuses.
	const ttlKeys = 2000
	for i := range ttlKeys {
		if err := db.SetWithTTL(fmt.Sprintf("ttl%05d", i), limitValue(i), time.Hour+time.Duration(ttlKeys-i)*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	var err error
	for ; n < 100000; n++ {
		if err = db.Set(limitKey(n), limitValue(n)); err != nil {
			break
		}
		if n%64 == 0 {
			checkUnderLimit(t, db, max, fmt.Sprintf("after %d sets", n+1))
		}
		if n == 500 {
			// The first evicted are the soonest to expire: the last written.
			s := db.Stats()
			if s.Evicted == 0 {
				continue
			}
			if ok, _ := db.Exists(fmt.Sprintf("ttl%05d", ttlKeys-1)); ok {
				t.Fatalf("the soonest expiry survived %d evictions", s.Evicted)
			}
			if ok, _ := db.Exists("ttl00000"); !ok {
				t.Fatalf("the latest expiry went first")
			}
		}
	}
	if !errors.Is(err, minikv.ErrMemoryLimit) {
		t.Fatalf("Set = %v after every key with an expiry was evicted, want ErrMemoryLimit", err)
	}
	s := db.Stats()
	if s.Evicted != ttlKeys {
		t.Fatalf("Evicted = %d, want all %d keys with an expiry", s.Evicted, ttlKeys)
	}
	for i := 0; i < n; i++ {
		if _, err := db.Get(limitKey(i)); err != nil {
			t.Fatalf("key without expiry %d: %v", i, err)
		}
	}
}
