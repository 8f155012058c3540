package minikv_test

import (
	"bytes"
	"errors"
	"fmt"
	randv2 "math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
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

// TestMemoryLimit_Properties checks, under each policy and limits from 48
// to 256 KiB, over 1000 random writes of 1 byte to 3 KiB values on 2000
// keys:
//   - MemoryUsage never passes MaxMemory;
//   - the store holds only what was written, each key with its last value
//     (evictions only delete);
//   - NoEviction never loses an acknowledged write, and EvictTTL never
//     evicts a key without an expiry;
//   - a reopen keeps exactly what the store held before it: evicted keys
//     stay gone.
//
// It runs propIters() times; MINIKV_PROP_ITERS=1000 runs more.
func TestMemoryLimit_Properties(t *testing.T) {
	props := gopter.NewProperties(coreParams())
	props.Property("the limit holds, evictions only delete, and reopen keeps what was held", prop.ForAll(
		func(seed int64, policy int, limitKB int) string {
			return checkLimitRun(t, uint64(seed), minikv.EvictionPolicy(policy), int64(limitKB)<<10)
		},
		gen.Int64(), gen.IntRange(0, 2), gen.IntRange(48, 256)))
	props.TestingRun(t)
}

func checkLimitRun(t *testing.T, seed uint64, policy minikv.EvictionPolicy, max int64) string {
	rng := randv2.New(randv2.NewPCG(seed, 1))
	opts := minikv.Options{Dir: t.TempDir(), SyncMode: minikv.SyncNever, MaxMemory: max, Eviction: policy}
	db, err := minikv.Open(opts)
	if err != nil {
		return coreErr(err)
	}
	defer func() { db.Close() }()
	model := map[string]string{}
	withTTL := map[string]bool{}
	value := func() []byte {
		n := 1 + rng.IntN(200)
		if rng.IntN(10) == 0 {
			n = rng.IntN(3000)
		}
		return bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, n)
	}
	for step := range 1000 {
		key := fmt.Sprintf("k%04d", rng.IntN(2000))
		var err error
		switch op := rng.IntN(10); {
		case op < 5:
			v := value()
			if err = db.Set(key, v); err == nil {
				model[key], withTTL[key] = string(v), false
			}
		case op < 7:
			v := value()
			if err = db.SetWithTTL(key, v, time.Hour); err == nil {
				model[key], withTTL[key] = string(v), true
			}
		case op < 8:
			if err = db.Delete(key); err == nil {
				delete(model, key)
			}
		case op < 9:
			b := db.NewBatch()
			staged := map[string]string{}
			for range 1 + rng.IntN(8) {
				k, v := fmt.Sprintf("k%04d", rng.IntN(2000)), value()
				b.Set(k, v)
				staged[k] = string(v)
			}
			if err = b.Write(); err == nil {
				for k, v := range staged {
					model[k], withTTL[k] = v, false
				}
			}
		default:
			if policy != minikv.NoEviction {
				continue // Incr would start over on an evicted key
			}
			cur, ok := model[key]
			if _, perr := strconv.ParseInt(cur, 10, 64); ok && perr != nil {
				continue
			}
			var n int64
			if n, err = db.Incr(key); err == nil {
				model[key], withTTL[key] = strconv.FormatInt(n, 10), false
			}
		}
		if err != nil && !errors.Is(err, minikv.ErrMemoryLimit) {
			return coreFail("step %d: %v", step, err)
		}
		if u := db.Stats().MemoryUsage; u > max {
			return coreFail("step %d: MemoryUsage %d passes MaxMemory %d (policy %v) after %v", step, u, max, policy, err)
		}
	}
	held := map[string]string{}
	it, err := db.Scan("", 0)
	if err != nil {
		return coreErr(err)
	}
	for it.Next() {
		held[it.Key()] = string(it.Value())
	}
	it.Close()
	for k, v := range held {
		if w, ok := model[k]; !ok || w != v {
			return coreFail("the store holds %s = %.20q..., the last write was %.20q... (written: %v)", k, v, w, ok)
		}
	}
	evicted := 0
	for k := range model {
		if _, ok := held[k]; ok {
			continue
		}
		evicted++
		if policy == minikv.NoEviction {
			return coreFail("NoEviction lost acknowledged key %s", k)
		}
		if policy == minikv.EvictTTL && !withTTL[k] {
			return coreFail("EvictTTL evicted %s, which has no expiry", k)
		}
	}
	if s := db.Stats(); s.Evicted < int64(evicted) {
		return coreFail("%d written keys are gone but Stats.Evicted is %d", evicted, s.Evicted)
	}
	if err := db.Close(); err != nil {
		return coreErr(err)
	}
	if db, err = minikv.Open(opts); err != nil {
		return coreErr(err)
	}
	n := 0
	it, err = db.Scan("", 0)
	if err != nil {
		return coreErr(err)
	}
	for it.Next() {
		n++
		if v, ok := held[it.Key()]; !ok || v != string(it.Value()) {
			return coreFail("after reopen %s = %.20q..., held before: %v", it.Key(), it.Value(), ok)
		}
	}
	it.Close()
	if n != len(held) {
		return coreFail("after reopen %d keys, %d before", n, len(held))
	}
	if u := db.Stats().MemoryUsage; u > max {
		return coreFail("after reopen MemoryUsage %d passes MaxMemory %d", u, max)
	}
	return ""
}
