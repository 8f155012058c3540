package minikv_test

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"math"
	randv2 "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
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

// fillUntilRefused sets limitKey(n) to limitValue(n) for n = 0, 1, ...
// until a Set fails, checking the limit every 64 sets and calling each
// (if not nil) after every set; it returns how many succeeded and the
// error.
func fillUntilRefused(t *testing.T, db *minikv.DB, max int64, each func(n int)) (int, error) {
	t.Helper()
	for n := 0; n < 100000; n++ {
		if err := db.Set(limitKey(n), limitValue(n)); err != nil {
			return n, err
		}
		if n%64 == 0 {
			checkUnderLimit(t, db, max, fmt.Sprintf("after %d sets", n+1))
		}
		if each != nil {
			each(n)
		}
	}
	return 100000, nil
}

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
	n, err := fillUntilRefused(t, db, max, nil)
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
	const max = 512 << 10
	opts := minikv.Options{SyncMode: minikv.SyncNever, MaxMemory: max, Eviction: minikv.EvictLRU}
	db, dir := openTestDB(t, opts)
	opts.Dir = dir
	const total = 8000
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

func TestMemoryLimit_WriteLargerThanTheLimitEvictsNothing(t *testing.T) {
	const max = 1 << 20
	db, _ := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever, MaxMemory: max, Eviction: minikv.EvictLRU})
	for i := range 1000 {
		if err := db.Set(limitKey(i), limitValue(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Set("huge", make([]byte, max)); !errors.Is(err, minikv.ErrMemoryLimit) {
		t.Fatalf("Set of a value as large as the limit = %v, want ErrMemoryLimit", err)
	}
	if s := db.Stats(); s.Evicted != 0 || s.KeyCount != 1000 {
		t.Fatalf("a hopeless write evicted %d keys (%d left)", s.Evicted, s.KeyCount)
	}
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
	n, err := fillUntilRefused(t, db, max, func(n int) {
		// The first evicted are the soonest to expire: the last written.
		s := db.Stats()
		if n != 500 || s.Evicted == 0 {
			return
		}
		if ok, _ := db.Exists(fmt.Sprintf("ttl%05d", ttlKeys-1)); ok {
			t.Fatalf("the soonest expiry survived %d evictions", s.Evicted)
		}
		if ok, _ := db.Exists("ttl00000"); !ok {
			t.Fatalf("the latest expiry went first")
		}
	})
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

// TestMemoryLimit_Properties checks, under each policy and limits from 32
// to 128 KiB, over 300 random writes of 1 byte to 3 KiB values on 2000
// keys:
//   - MemoryUsage never passes MaxMemory;
//   - the store holds only what was written, each key with its last value
//     (evictions only delete);
//   - NoEviction never loses an acknowledged write, and EvictTTL never
//     evicts a key without an expiry;
//   - a reopen keeps what the store held before it, but for the keys Open
//     evicts (counted) to fit a fresh arena: evicted keys stay gone.
//
// It runs propIters() times; MINIKV_PROP_ITERS=1000 runs more.
func TestMemoryLimit_Properties(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("the limit holds, evictions only delete, and reopen keeps what was held", prop.ForAll(
		func(seed int64, policy int, limitKB int) string {
			return checkLimitRun(t, uint64(seed), minikv.EvictionPolicy(policy), int64(limitKB)<<10)
		},
		gen.Int64(), gen.IntRange(0, 2), gen.IntRange(32, 128)))
	props.TestingRun(t)
}

func checkLimitRun(t *testing.T, seed uint64, policy minikv.EvictionPolicy, max int64) string {
	rng := randv2.New(randv2.NewPCG(seed, 1))
	opts := minikv.Options{Dir: t.TempDir(), SyncMode: minikv.SyncNever, MaxMemory: max, Eviction: policy}
	db, err := minikv.Open(opts)
	if err != nil {
		return errText(err)
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
	for step := range 300 {
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
			return failMsg("step %d: %v", step, err)
		}
		if u := db.Stats().MemoryUsage; u > max {
			return failMsg("step %d: MemoryUsage %d passes MaxMemory %d (policy %v) after %v", step, u, max, policy, err)
		}
	}
	held := map[string]string{}
	it, err := db.Scan("", 0)
	if err != nil {
		return errText(err)
	}
	for it.Next() {
		held[it.Key()] = string(it.Value())
	}
	it.Close()
	for k, v := range held {
		if w, ok := model[k]; !ok || w != v {
			return failMsg("the store holds %s = %.20q..., the last write was %.20q... (written: %v)", k, v, w, ok)
		}
	}
	evicted := 0
	for k := range model {
		if _, ok := held[k]; ok {
			continue
		}
		evicted++
		if policy == minikv.NoEviction {
			return failMsg("NoEviction lost acknowledged key %s", k)
		}
		if policy == minikv.EvictTTL && !withTTL[k] {
			return failMsg("EvictTTL evicted %s, which has no expiry", k)
		}
	}
	if s := db.Stats(); s.Evicted < int64(evicted) {
		return failMsg("%d written keys are gone but Stats.Evicted is %d", evicted, s.Evicted)
	}
	if err := db.Close(); err != nil {
		return errText(err)
	}
	if db, err = minikv.Open(opts); err != nil {
		return errText(err)
	}
	n := 0
	it, err = db.Scan("", 0)
	if err != nil {
		return errText(err)
	}
	for it.Next() {
		n++
		if v, ok := held[it.Key()]; !ok || v != string(it.Value()) {
			return failMsg("after reopen %s = %.20q..., held before: %v", it.Key(), it.Value(), ok)
		}
	}
	it.Close()
	// A reopen replays the WAL into a fresh arena, which can hold a few
	// records' worth more than the one it replaces: Open then evicts, as a
	// write would, and only then.
	if ev := db.Stats().Evicted; n+int(ev) != len(held) || policy == minikv.NoEviction && ev != 0 {
		return failMsg("after reopen %d keys and %d evicted by Open, %d before", n, ev, len(held))
	}
	// Open evicts until it is under the limit when the policy finds keys
	// to evict; otherwise (NoEviction, or EvictTTL with no expiry left)
	// the fresh layout may pass it, by no more than a record.
	slack := int64(0)
	if policy != minikv.EvictLRU {
		slack = 3000 + 64
	}
	if u := db.Stats().MemoryUsage; u > max+slack {
		return failMsg("after reopen MemoryUsage %d passes MaxMemory %d by more than %d", u, max, slack)
	}
	return ""
}

// zipf draws ranks in [0, n) with the Zipfian distribution of YCSB
// (constant 0.99), by the method of Gray et al., "Quickly generating
// billion-record synthetic databases" (1994): rank 0 is the most popular.
type zipf struct {
	n                        float64
	theta, alpha, zetan, eta float64
	half                     float64 // 1 + 0.5^theta
	rng                      *randv2.Rand
}

func newZipf(n int, seed uint64) *zipf {
	const theta = 0.99
	z := &zipf{n: float64(n), theta: theta, alpha: 1 / (1 - theta), rng: randv2.New(randv2.NewPCG(seed, 2))}
	for i := 1; i <= n; i++ {
		z.zetan += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + 1/math.Pow(2, theta)
	z.eta = (1 - math.Pow(2/z.n, 1-theta)) / (1 - zeta2/z.zetan)
	z.half = 1 + math.Pow(0.5, theta)
	return z
}

func (z *zipf) next() int {
	u := z.rng.Float64()
	uz := u * z.zetan
	if uz < 1 {
		return 0
	}
	if uz < z.half {
		return 1
	}
	return min(int(z.n*math.Pow(z.eta*u-z.eta+1, z.alpha)), int(z.n)-1)
}

// exactLRU is a least-recently-used cache of keys, exact: a map and a
// doubly linked list, most recent at the front. It is the yardstick of
// EvictLRU's hit rate and speed.
type exactLRU struct {
	capacity int
	order    *list.List
	items    map[string]*list.Element
}

type lruEntry struct {
	key   string
	value []byte
}

func newExactLRU(capacity int) *exactLRU {
	return &exactLRU{capacity: capacity, order: list.New(), items: map[string]*list.Element{}}
}

func (c *exactLRU) get(key string) ([]byte, bool) {
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).value, true
}

func (c *exactLRU) set(key string, value []byte) {
	if e, ok := c.items[key]; ok {
		e.Value.(*lruEntry).value = value
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key, value})
	if c.order.Len() > c.capacity {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
}

// cacheKey names rank i of the zipfian cache workload.
func cacheKey(i int) string { return "item:" + strconv.Itoa(i) }

// runCacheWorkload runs ops of the cache workload against get and set:
// read a zipfian key and, on a miss, set it (a cache filled on demand);
// one op in ten sets its key outright. It returns the hit rate of the
// reads in the second half, once the cache is warm.
func runCacheWorkload(z *zipf, ops int, value []byte, get func(string) bool, set func(string, []byte)) float64 {
	hits, reads := 0, 0
	for i := range ops {
		key := cacheKey(z.next())
		if i%10 == 9 {
			set(key, value)
			continue
		}
		hit := get(key)
		if !hit {
			set(key, value)
		}
		if i >= ops/2 {
			reads++
			if hit {
				hits++
			}
		}
	}
	return float64(hits) / float64(reads)
}

// TestMemoryLimit_LRUHitRate runs the zipfian cache workload through a
// store under EvictLRU and through an exact LRU of the same number of
// keys, and checks that the store's hit rate is within 5 points of the
// exact one. It is deterministic for a seed (printed); MINIKV_SOAK=1
// runs the size, 1M distinct keys through room for about 200K.
func TestMemoryLimit_LRUHitRate(t *testing.T) {
	keys, ops, max := 20_000, 100_000, int64(1<<20)
	if os.Getenv("MINIKV_SOAK") != "" {
		keys, ops, max = 1_000_000, 6_000_000, 33<<20
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (keys %d, ops %d, MaxMemory %d)", seed, keys, ops, max)
	z := newZipf(keys, seed)
	value := make([]byte, 100)
	db, _ := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever, MaxMemory: max, Eviction: minikv.EvictLRU})
	var fail error
	got := runCacheWorkload(z, ops, value,
		func(k string) bool { _, err := db.Get(k); return err == nil },
		func(k string, v []byte) {
			if err := db.Set(k, v); err != nil && fail == nil {
				fail = err
			}
		})
	if fail != nil {
		t.Fatalf("Set under EvictLRU: %v", fail)
	}
	held, _ := db.Count()
	s := db.Stats()
	checkUnderLimit(t, db, max, "after the workload")
	z = newZipf(keys, seed)
	lru := newExactLRU(held)
	want := runCacheWorkload(z, ops, value,
		func(k string) bool { _, ok := lru.get(k); return ok },
		lru.set)
	t.Logf("EvictLRU hit rate %.2f%%, exact LRU of %d keys %.2f%% (evicted %d, MemoryUsage %d of %d)",
		100*got, held, 100*want, s.Evicted, s.MemoryUsage, max)
	if got < want-0.05 {
		t.Fatalf("EvictLRU hit rate %.2f%% is more than 5 points under the exact LRU's %.2f%%", 100*got, 100*want)
	}
}

// TestMemoryLimit_Concurrent runs writers (Set, SetWithTTL, batches,
// Incr), readers, a scanner and Compact at once on a store under EvictLRU
// and a small limit, so that evictions, chunk moves, table growth and
// compaction meet concurrent reads (run it under -race). Every value read
// must be one its key was given, scans must be sorted, and the limit must
// hold at the end and after a reopen.
func TestMemoryLimit_Concurrent(t *testing.T) {
	const max = 256 << 10
	opts := minikv.Options{SyncMode: minikv.SyncNever, MaxMemory: max, Eviction: minikv.EvictLRU, MaxWALSize: 1 << 20}
	db, dir := openTestDB(t, opts)
	opts.Dir = dir
	valueOf := func(key string, n int) []byte { return []byte(fmt.Sprintf("%s=%d;%0*d", key, n, n%300, 0)) }
	check := func(key string, v []byte) error {
		if !bytes.HasPrefix(v, []byte(key+"=")) {
			return fmt.Errorf("key %s holds %.40q", key, v)
		}
		return nil
	}
	const writers, readers, perWriter = 3, 3, 1500
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := randv2.New(randv2.NewPCG(uint64(w), 7))
			for i := range perWriter {
				key := fmt.Sprintf("k%04d", rng.IntN(3000))
				var err error
				switch i % 10 {
				case 0:
					b := db.NewBatch()
					for j := range 5 {
						k := fmt.Sprintf("k%04d", rng.IntN(3000))
						b.Set(k, valueOf(k, i+j))
					}
					err = b.Write()
				case 1:
					err = db.SetWithTTL(key, valueOf(key, i), time.Hour)
				case 2:
					_, err = db.Incr(fmt.Sprintf("counter%d", w))
				case 3:
					err = db.Delete(key)
				default:
					err = db.Set(key, valueOf(key, i))
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d op %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	var rwg sync.WaitGroup
	for r := range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			rng := randv2.New(randv2.NewPCG(uint64(r), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("k%04d", rng.IntN(3000))
				v, err := db.Get(key)
				if err == nil {
					err = check(key, v)
				} else if errors.Is(err, minikv.ErrNotFound) {
					err = nil
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	rwg.Add(2)
	go func() { // a scanner
		defer rwg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			prev := ""
			for item, err := range db.All("k") {
				if err == nil && item.Key <= prev {
					err = fmt.Errorf("scan: %s after %s", item.Key, prev)
				}
				if err == nil {
					err = check(item.Key, item.Value)
				}
				if err != nil {
					errs <- err
					return
				}
				prev = item.Key
			}
		}
	}()
	go func() { // a compactor
		defer rwg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if err := db.Compact(); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := db.Stats()
	if s.Evicted == 0 {
		t.Fatalf("nothing was evicted: the test did not reach the limit (MemoryUsage %d)", s.MemoryUsage)
	}
	checkUnderLimit(t, db, max, "after the run")
	before, _ := db.Keys("*")
	db = reopen(t, db, opts)
	after, _ := db.Keys("*")
	if len(after)+int(db.Stats().Evicted) != len(before) {
		t.Fatalf("reopen: %d keys and %d evicted by Open, %d before", len(after), db.Stats().Evicted, len(before))
	}
	checkUnderLimit(t, db, max, "after reopen")
}
