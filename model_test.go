package minikv_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/minikv/minikv"
	"github.com/minikv/minikv/internal/testseed"
)

// This file holds the model-based test of every operation
// (TestModel_AllOps), the concurrency properties 44 to 46, and the shared
// machinery of the property tests of TTL, batches, scans, atomic
// operations, compaction and stats. docs/properties.md lists every
// numbered property with its test.
//
// Environment:
//
//	MINIKV_PROP_ITERS=N   run every property N times (default 100,
//	                      20 under -short; use 1000 or more for a long run)
//	MINIKV_SEED=S         replay the seed that a failing property (gopter's
//	                      "initial seed"), TestModel_AllOps or
//	                      TestBatch_Crash printed; run only that test
//	MINIKV_MODEL_STEPS=N  steps of TestModel_AllOps (default 3000)
//	MINIKV_SOAK=1         long runs: 300 kills in TestBatch_Crash, a
//	                      million keys in TestCompact_Latency, and
//	                      TestBatch_ManyTinyOpsReopens

// Property iterations: every gopter property (core and ext) runs
// fullPropIters times, or shortPropIters under go test -short, the quick
// check; MINIKV_PROP_ITERS raises either. CI runs without -short.
const (
	fullPropIters  = 100
	shortPropIters = 20
)

// propIters returns the default number of successful tests of a property:
// fullPropIters, or shortPropIters under -short.
func propIters() int {
	if testing.Short() {
		return shortPropIters
	}
	return fullPropIters
}

// modelParams returns the gopter parameters of the properties of this file
// and those of TTL, batches, scans, atomic operations and stats: at least
// propIters() successful tests each (100, or 20 under -short),
// MINIKV_PROP_ITERS of them when that is set higher, and the seed from
// MINIKV_SEED when set.
func modelParams() *gopter.TestParameters {
	p := gopter.DefaultTestParameters()
	if s, err := strconv.ParseInt(os.Getenv("MINIKV_SEED"), 10, 64); err == nil {
		p = gopter.DefaultTestParametersWithSeed(s)
	}
	p.MinSuccessfulTests = propIters()
	if n, err := strconv.Atoi(os.Getenv("MINIKV_PROP_ITERS")); err == nil && n > p.MinSuccessfulTests {
		p.MinSuccessfulTests = n
	}
	p.MaxSize = 40
	return p
}

// checkProp runs one property with modelParams. gopter prints the seed of a
// failing run, which MINIKV_SEED replays.
func checkProp(t *testing.T, name string, p gopter.Prop) {
	t.Helper()
	props := gopter.NewProperties(modelParams())
	props.Property(name, p)
	props.TestingRun(t)
}

// modelOptions returns options for a test database: SyncNever, no background
// cleaner, and a fake clock.
func modelOptions(t testing.TB) (minikv.Options, *minikv.FakeClock) {
	clock := minikv.NewFakeClock()
	opts := minikv.Options{Dir: t.TempDir(), SyncMode: minikv.SyncNever, TTLCleanInterval: -1}
	return minikv.WithClock(opts, clock), clock
}

// openModelDB opens a database with modelOptions.
func openModelDB(t testing.TB) (*minikv.DB, *minikv.FakeClock, minikv.Options) {
	t.Helper()
	opts, clock := modelOptions(t)
	db, _ := openTestDB(t, opts)
	return db, clock, opts
}

// modelEntry is a key of the reference model: a value and an absolute expiry
// on the fake clock (0: none).
type modelEntry struct {
	value string
	exp   int64
}

// kvModel is the reference model of a database: a plain map.
type kvModel map[string]modelEntry

func (m kvModel) live(k string, now int64) (modelEntry, bool) {
	e, ok := m[k]
	if !ok || (e.exp != 0 && e.exp <= now) {
		return modelEntry{}, false
	}
	return e, true
}

// liveKeys returns the sorted keys alive at now that satisfy keep.
func (m kvModel) liveKeys(now int64, keep func(string) bool) []string {
	var keys []string
	for k := range m {
		if _, ok := m.live(k, now); ok && (keep == nil || keep(k)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// kv is one key and value read from the database.
type kv struct {
	Key   string
	Value string
}

// drain reads an iterator to its end, closes it and returns what it
// yielded and its error.
func drain(it minikv.Iterator) ([]kv, error) {
	var out []kv
	for it.Next() {
		out = append(out, kv{it.Key(), string(it.Value())})
	}
	err := it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return out, err
}

// want returns the model's entries for keys, in order.
func (m kvModel) want(keys []string) []kv {
	out := []kv{}
	for _, k := range keys {
		out = append(out, kv{k, m[k].value})
	}
	return out
}

func sameKVs(got, want []kv) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return reflect.DeepEqual(got, want)
}

// checkAll compares the whole database with the model.
func checkAll(db *minikv.DB, m kvModel, now int64) error {
	it, err := db.ScanRange("", "", 0)
	if err != nil {
		return err
	}
	got, err := drain(it)
	if err != nil {
		return err
	}
	want := m.want(m.liveKeys(now, nil))
	if !sameKVs(got, want) {
		return fmt.Errorf("full scan:\n got  %q\n want %q", got, want)
	}
	for k := range m {
		v, err := db.Get(k)
		e, ok := m.live(k, now)
		switch {
		case ok && (err != nil || string(v) != e.value):
			return fmt.Errorf("Get(%q) = %q, %v; want %q", k, v, err, e.value)
		case !ok && !errors.Is(err, minikv.ErrNotFound):
			return fmt.Errorf("Get(%q) = %q, %v; want ErrNotFound", k, v, err)
		}
	}
	n, err := db.Count()
	if err != nil || n != len(want) {
		return fmt.Errorf("Count = %d, %v; want %d", n, err, len(want))
	}
	return nil
}

// keyAlphabet gives short keys many shared prefixes, and bytes at both
// ends of the byte order.
const keyAlphabet = "ab/:z~\x00\xff"

// genFunc turns a plain random function into a gopter generator. It costs
// far less than gopter's reflective combinators (gen.Struct, gen.MapOf),
// which matters under the race detector; slices of its values still
// shrink by dropping elements.
func genFunc[T any](f func(r *mrand.Rand, size int) T) gopter.Gen {
	return func(p *gopter.GenParameters) *gopter.GenResult {
		return gopter.NewGenResult(f(p.Rng, p.MaxSize), gopter.NoShrinker)
	}
}

// randKey returns a key of 1 to 5 bytes from keyAlphabet.
func randKey(r *mrand.Rand) string {
	b := make([]byte, 1+r.Intn(5))
	for i := range b {
		b[i] = keyAlphabet[r.Intn(len(keyAlphabet))]
	}
	return string(b)
}

// randString returns up to 12 letters.
func randString(r *mrand.Rand) string {
	b := make([]byte, r.Intn(13))
	for i := range b {
		b[i] = byte('a' + r.Intn(26))
	}
	return string(b)
}

// genModelKey generates a key of 1 to 5 bytes from keyAlphabet.
func genModelKey() gopter.Gen {
	return genFunc(func(r *mrand.Rand, _ int) string { return randKey(r) })
}

// genString generates a short string of letters.
func genString() gopter.Gen {
	return genFunc(func(r *mrand.Rand, _ int) string { return randString(r) })
}

// genModelValue generates a value of up to size arbitrary bytes.
func genModelValue() gopter.Gen {
	return genFunc(func(r *mrand.Rand, size int) []byte {
		b := make([]byte, r.Intn(size+1))
		r.Read(b)
		return b
	})
}

// genKVs generates a map of up to size keys to short values.
func genKVs() gopter.Gen {
	return genFunc(func(r *mrand.Rand, size int) map[string]string {
		m := map[string]string{}
		for range r.Intn(size + 1) {
			m[randKey(r)] = randString(r)
		}
		return m
	})
}

// namespace hands out key prefixes, so that one database serves every
// run of a property without runs seeing each other's keys.
type namespace struct{ n int }

func (ns *namespace) next() string {
	ns.n++
	return fmt.Sprintf("run%06d|", ns.n)
}

// envInt returns the integer in the environment variable name, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestModel_AllOps runs a long random sequence of every kind of operation
// (single writes, TTL, batches, atomic operations, scans, Keys, Count,
// Compact, cleaning, reopening, clock moves) against the database and a
// map model, and compares them after every step. Automatic compaction and
// segment rotation run often thanks to small limits.
func TestModel_AllOps(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	clock := minikv.NewFakeClock()
	opts := minikv.WithClock(minikv.Options{
		Dir: t.TempDir(), SyncMode: minikv.SyncNever,
		MaxWALSize: 48 << 10, SegmentSize: 8 << 10, TTLCleanInterval: 2 * time.Millisecond,
	}, clock)
	db, _ := openTestDB(t, opts)
	s := &modelSim{t: t, rng: rng, db: db, clock: clock, opts: opts, model: kvModel{}}
	steps := envInt("MINIKV_MODEL_STEPS", 3000)
	for s.step = 0; s.step < steps; s.step++ {
		s.randomStep()
		if t.Failed() {
			t.Fatalf("stopped at step %d; replay with MINIKV_SEED=%d", s.step, seed)
		}
	}
	if err := checkAll(s.db, s.model, clock.Now()); err != nil {
		t.Fatalf("final check: %v (MINIKV_SEED=%d)", err, seed)
	}
	t.Logf("%d steps, %d keys in the model, stats %+v", steps, len(s.model), s.db.Stats())
}

// modelSim drives TestModel_AllOps.
type modelSim struct {
	t     *testing.T
	rng   *rand.Rand
	db    *minikv.DB
	clock *minikv.FakeClock
	opts  minikv.Options
	model kvModel
	step  int
}

func (s *modelSim) failf(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("step %d: "+format, append([]any{s.step}, args...)...)
}

func (s *modelSim) key() string {
	prefixes := []string{"a/", "a/b/", "b:", "c", "z\xff"}
	return prefixes[s.rng.IntN(len(prefixes))] + strconv.Itoa(s.rng.IntN(12))
}

func (s *modelSim) value() []byte {
	switch s.rng.IntN(5) {
	case 0:
		return []byte(strconv.FormatInt(s.rng.Int64N(2000)-1000, 10))
	case 1:
		return []byte(strconv.FormatInt(9223372036854775800+s.rng.Int64N(8), 10))
	case 2:
		return nil
	}
	b := make([]byte, s.rng.IntN(30))
	for i := range b {
		b[i] = byte(s.rng.IntN(256))
	}
	return b
}

func (s *modelSim) ttl() time.Duration {
	return time.Duration(1+s.rng.IntN(5000)) * time.Millisecond
}

func (s *modelSim) now() int64 { return s.clock.Now() }

func (s *modelSim) randomStep() {
	switch n := s.rng.IntN(100); {
	case n < 14:
		s.set()
	case n < 22:
		s.setTTL()
	case n < 28:
		s.del()
	case n < 36:
		s.get()
	case n < 40:
		s.expireOrPersist()
	case n < 44:
		s.setNX()
	case n < 50:
		s.incr()
	case n < 54:
		s.cas()
	case n < 57:
		s.getAndSet()
	case n < 65:
		s.batch()
	case n < 72:
		s.scan()
	case n < 77:
		s.scanRange()
	case n < 80:
		s.keys()
	case n < 83:
		s.count()
	case n < 90:
		s.clock.Advance(time.Duration(s.rng.IntN(1500)) * time.Millisecond)
	case n < 92:
		if err := s.db.Compact(); err != nil {
			s.failf("Compact: %v", err)
		}
	case n < 94:
		if err := minikv.CleanExpired(s.db); err != nil {
			s.failf("CleanExpired: %v", err)
		}
	case n < 96:
		s.db = reopen(s.t, s.db, s.opts)
		if err := checkAll(s.db, s.model, s.now()); err != nil {
			s.failf("after reopen: %v", err)
		}
	default:
		if err := checkAll(s.db, s.model, s.now()); err != nil {
			s.failf("%v", err)
		}
	}
}

func (s *modelSim) set() {
	k, v := s.key(), s.value()
	if err := s.db.Set(k, v); err != nil {
		s.failf("Set: %v", err)
	}
	s.model[k] = modelEntry{value: string(v)}
}

func (s *modelSim) setTTL() {
	k, v, ttl := s.key(), s.value(), s.ttl()
	if err := s.db.SetWithTTL(k, v, ttl); err != nil {
		s.failf("SetWithTTL: %v", err)
	}
	s.model[k] = modelEntry{string(v), s.now() + int64(ttl)}
}

func (s *modelSim) del() {
	k := s.key()
	if err := s.db.Delete(k); err != nil {
		s.failf("Delete: %v", err)
	}
	delete(s.model, k)
}

func (s *modelSim) get() {
	k := s.key()
	e, ok := s.model.live(k, s.now())
	v, err := s.db.Get(k)
	if ok != (err == nil) || (ok && string(v) != e.value) || (!ok && !errors.Is(err, minikv.ErrNotFound)) {
		s.failf("Get(%q) = %q, %v; model %q, %v", k, v, err, e.value, ok)
	}
	if ex, err := s.db.Exists(k); err != nil || ex != ok {
		s.failf("Exists(%q) = %v, %v; want %v", k, ex, err, ok)
	}
	d, err := s.db.TTL(k)
	switch {
	case !ok && !errors.Is(err, minikv.ErrNotFound):
		s.failf("TTL(%q) of a missing key = %v, %v", k, d, err)
	case ok && e.exp == 0 && (err != nil || d >= 0):
		s.failf("TTL(%q) of a persistent key = %v, %v", k, d, err)
	case ok && e.exp != 0 && (err != nil || d != time.Duration(e.exp-s.now())):
		s.failf("TTL(%q) = %v, %v; want %v", k, d, err, time.Duration(e.exp-s.now()))
	}
}

func (s *modelSim) expireOrPersist() {
	k := s.key()
	e, ok := s.model.live(k, s.now())
	var err error
	if s.rng.IntN(2) == 0 {
		ttl := s.ttl()
		err = s.db.Expire(k, ttl)
		e.exp = s.now() + int64(ttl)
	} else {
		err = s.db.Persist(k)
		e.exp = 0
	}
	if !ok {
		if !errors.Is(err, minikv.ErrNotFound) {
			s.failf("Expire/Persist(%q) of a missing key: %v", k, err)
		}
		return
	}
	if err != nil {
		s.failf("Expire/Persist(%q): %v", k, err)
	}
	s.model[k] = e
}

func (s *modelSim) setNX() {
	k, v := s.key(), s.value()
	_, exists := s.model.live(k, s.now())
	done, err := s.db.SetNX(k, v)
	if err != nil || done == exists {
		s.failf("SetNX(%q) = %v, %v; key existed: %v", k, done, err, exists)
	}
	if done {
		s.model[k] = modelEntry{value: string(v)}
	}
}

func (s *modelSim) incr() {
	k := s.key()
	delta := s.rng.Int64N(21) - 10
	if s.rng.IntN(10) == 0 {
		delta = 9223372036854775800
	}
	got, err := s.db.IncrBy(k, delta)
	want, werr := incrModel(s.model, k, delta, s.now())
	if !errors.Is(err, werr) || got != want {
		s.failf("IncrBy(%q, %d) = %d, %v; want %d, %v", k, delta, got, err, want, werr)
	}
	if werr == nil {
		s.model[k] = modelEntry{value: strconv.FormatInt(want, 10)}
	}
}

// incrModel computes IncrBy on the model, independently of the engine:
// the result, or ErrInvalidValue for a non-integer or an overflow.
func incrModel(m kvModel, k string, delta int64, now int64) (int64, error) {
	var n int64
	if e, ok := m.live(k, now); ok {
		var err error
		if n, err = strconv.ParseInt(e.value, 10, 64); err != nil {
			return 0, minikv.ErrInvalidValue
		}
	}
	sum := n + delta
	if (delta > 0 && sum < n) || (delta < 0 && sum > n) {
		return 0, minikv.ErrInvalidValue
	}
	return sum, nil
}

func (s *modelSim) cas() {
	k, nv := s.key(), s.value()
	e, ok := s.model.live(k, s.now())
	old := s.value()
	if ok && s.rng.IntN(2) == 0 {
		old = []byte(e.value)
	}
	want := ok && e.value == string(old)
	done, err := s.db.CompareAndSwap(k, old, nv)
	if err != nil || done != want {
		s.failf("CompareAndSwap(%q, %q) = %v, %v; want %v", k, old, done, err, want)
	}
	if done {
		s.model[k] = modelEntry{value: string(nv)}
	}
}

func (s *modelSim) getAndSet() {
	k, v := s.key(), s.value()
	e, ok := s.model.live(k, s.now())
	prev, err := s.db.GetAndSet(k, v)
	if err != nil || (ok && string(prev) != e.value) || (!ok && prev != nil) {
		s.failf("GetAndSet(%q) = %q, %v; model %q, %v", k, prev, err, e.value, ok)
	}
	s.model[k] = modelEntry{value: string(v)}
}

func (s *modelSim) batch() {
	b := s.db.NewBatch()
	next := maps.Clone(s.model)
	invalid := false
	for range 1 + s.rng.IntN(8) {
		k, v := s.key(), s.value()
		switch s.rng.IntN(10) {
		case 0, 1, 2, 3:
			b.Set(k, v)
			next[k] = modelEntry{value: string(v)}
		case 4, 5:
			ttl := s.ttl()
			b.SetWithTTL(k, v, ttl)
			next[k] = modelEntry{string(v), s.now() + int64(ttl)}
		case 6, 7, 8:
			b.Delete(k)
			delete(next, k)
		default:
			if s.rng.IntN(4) == 0 {
				b.SetWithTTL(k, v, -time.Duration(s.rng.IntN(2)))
				invalid = true
			} else {
				b.Set(k, v)
				next[k] = modelEntry{value: string(v)}
			}
		}
	}
	err := b.Write()
	if invalid {
		if !errors.Is(err, minikv.ErrInvalidTTL) {
			s.failf("batch with a bad TTL: Write = %v", err)
		}
		return
	}
	if err != nil {
		s.failf("batch Write: %v", err)
	}
	s.model = next
}

func (s *modelSim) scan() {
	prefixes := []string{"", "a", "a/", "a/b/", "a/1", "b:", "c1", "z", "z\xff", "q"}
	p := prefixes[s.rng.IntN(len(prefixes))]
	limit := s.rng.IntN(8) - 2
	it, err := s.db.Scan(p, limit)
	if err != nil {
		s.failf("Scan: %v", err)
		return
	}
	got, err := drain(it)
	keys := s.model.liveKeys(s.now(), func(k string) bool { return strings.HasPrefix(k, p) })
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	if want := s.model.want(keys); err != nil || !sameKVs(got, want) {
		s.failf("Scan(%q, %d) = %q, %v; want %q", p, limit, got, err, want)
	}
}

func (s *modelSim) scanRange() {
	bounds := []string{"", "a", "a/5", "b", "b:3", "c", "c5", "z", "z\xff9"}
	lo, hi := bounds[s.rng.IntN(len(bounds))], bounds[s.rng.IntN(len(bounds))]
	limit := s.rng.IntN(6) - 1
	it, err := s.db.ScanRange(lo, hi, limit)
	if err != nil {
		s.failf("ScanRange: %v", err)
		return
	}
	got, err := drain(it)
	keys := s.model.liveKeys(s.now(), func(k string) bool { return k >= lo && (hi == "" || k < hi) })
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	if want := s.model.want(keys); err != nil || !sameKVs(got, want) {
		s.failf("ScanRange(%q, %q, %d) = %q, %v; want %q", lo, hi, limit, got, err, want)
	}
}

func (s *modelSim) keys() {
	patterns := []string{"*", "a/*", "a/?", "*1*", "[ab]*", "[^a]*", "c[0-5]", "z\xff*", "a/b/1?", "\\a*"}
	p := patterns[s.rng.IntN(len(patterns))]
	got, err := s.db.Keys(p)
	want := s.model.liveKeys(s.now(), func(k string) bool { return globMatch(parseGlob(p), k) })
	if err != nil || !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		s.failf("Keys(%q) = %q, %v; want %q", p, got, err, want)
	}
}

func (s *modelSim) count() {
	want := len(s.model.liveKeys(s.now(), nil))
	if n, err := s.db.Count(); err != nil || n != want {
		s.failf("Count = %d, %v; want %d", n, err, want)
	}
}

// Feature: minikv-embedded-database, Property 44: Concurrent reads are safe
func TestProp44_ConcurrentReads(t *testing.T) {
	db, _, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "concurrent Get, Exists and Scan see the same committed data", prop.ForAll(
		func(kvs map[string]string, readers int) string {
			p := ns.next()
			for k, v := range kvs {
				if err := db.Set(p+k, []byte(v)); err != nil {
					return err.Error()
				}
			}
			keys := slices.Sorted(maps.Keys(kvs))
			errs := make(chan error, readers)
			var wg sync.WaitGroup
			for r := range readers {
				wg.Go(func() { errs <- readAll(db, p, kvs, keys, r) })
			}
			// A concurrent writer on another prefix keeps the index moving.
			wg.Go(func() {
				for i := range 50 {
					if err := db.Set(fmt.Sprintf("%sother%d", p[:len(p)-1], i), []byte("x")); err != nil {
						errs <- err
						return
					}
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					return err.Error()
				}
			}
			return ""
		},
		genKVs(), gen.IntRange(2, 6)))
}

// readAll reads every key of kvs under prefix p, checks Exists for a
// missing key, and scans the prefix, comparing all with kvs.
func readAll(db *minikv.DB, p string, kvs map[string]string, keys []string, r int) error {
	for i := range keys {
		k := keys[(i+r)%len(keys)]
		v, err := db.Get(p + k)
		if err != nil || string(v) != kvs[k] {
			return fmt.Errorf("reader %d: Get(%q) = %q, %v; want %q", r, p+k, v, err, kvs[k])
		}
	}
	if ok, err := db.Exists(p + "missing"); ok || err != nil {
		return fmt.Errorf("reader %d: Exists(missing) = %v, %v", r, ok, err)
	}
	it, err := db.Scan(p, 0)
	if err != nil {
		return err
	}
	got, err := drain(it)
	if err != nil || len(got) != len(keys) {
		return fmt.Errorf("reader %d: Scan = %d keys, %v; want %d", r, len(got), err, len(keys))
	}
	for i, kv := range got {
		if kv.Key != p+keys[i] || kv.Value != kvs[keys[i]] {
			return fmt.Errorf("reader %d: scan item %d = %q, want %q=%q", r, i, kv, keys[i], kvs[keys[i]])
		}
	}
	return nil
}

// Feature: minikv-embedded-database, Property 45: Concurrent writes are serialized
func TestProp45_ConcurrentWritesSerialized(t *testing.T) {
	db, _, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "GetAndSet from many goroutines forms one chain; Incr loses nothing", prop.ForAll(
		func(writers, each int) string {
			p := ns.next()
			chain, counter := p+"chain", p+"counter"
			prevs := make([][]string, writers)
			var wg sync.WaitGroup
			var failed sync.Map
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						tok := fmt.Sprintf("w%d-%d", w, i)
						prev, err := db.GetAndSet(chain, []byte(tok))
						if err != nil {
							failed.Store(tok, err)
						}
						if prev == nil {
							prevs[w] = append(prevs[w], "<none>")
						} else {
							prevs[w] = append(prevs[w], string(prev))
						}
						if _, err := db.Incr(counter); err != nil {
							failed.Store(tok+"incr", err)
						}
						if err := db.Set(fmt.Sprintf("%sown/%s", p, tok), []byte(tok)); err != nil {
							failed.Store(tok+"set", err)
						}
					}
				})
			}
			wg.Wait()
			var msg string
			failed.Range(func(k, v any) bool { msg = fmt.Sprintf("%v: %v", k, v); return false })
			if msg != "" {
				return msg
			}
			return checkChain(db, chain, counter, p, prevs, writers, each)
		},
		gen.IntRange(2, 6), gen.IntRange(1, 30)))
}

// checkChain checks that the previous values returned by GetAndSet, plus
// the final value, hold every token exactly once and "<none>" once: each
// write saw exactly the write before it, as in some serial order.
func checkChain(db *minikv.DB, chain, counter, p string, prevs [][]string, writers, each int) string {
	final, err := db.Get(chain)
	if err != nil {
		return "Get(chain): " + err.Error()
	}
	seen := map[string]int{string(final): 1}
	for _, ps := range prevs {
		for _, v := range ps {
			seen[v]++
		}
	}
	want := map[string]int{"<none>": 1}
	for w := range writers {
		for i := range each {
			want[fmt.Sprintf("w%d-%d", w, i)] = 1
		}
	}
	if !maps.Equal(seen, want) {
		return fmt.Sprintf("chain of GetAndSet is not serial: saw %v", seen)
	}
	n, err := db.Get(counter)
	if err != nil || string(n) != strconv.Itoa(writers*each) {
		return fmt.Sprintf("counter = %q, %v; want %d", n, err, writers*each)
	}
	it, err := db.Scan(p+"own/", 0)
	if err != nil {
		return err.Error()
	}
	got, err := drain(it)
	if err != nil || len(got) != writers*each {
		return fmt.Sprintf("own keys: %d, %v; want %d", len(got), err, writers*each)
	}
	return ""
}

// Feature: minikv-embedded-database, Property 46: Read-your-writes
func TestProp46_ReadYourWrites(t *testing.T) {
	db, _, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "a read that starts after a write returned sees it, in any goroutine", prop.ForAll(
		func(vals [][]byte, useBatch []bool) string {
			p := ns.next()
			handoff := make(chan int)
			reply := make(chan string)
			// The other goroutine reads each value once the writer says its
			// write returned.
			go func() {
				for i := range handoff {
					v, err := db.Get(p + "k")
					if err != nil || !bytes.Equal(v, vals[i]) {
						reply <- fmt.Sprintf("other goroutine: Get = %q, %v; want %q", v, err, vals[i])
						continue
					}
					reply <- ""
				}
			}()
			defer close(handoff)
			return writeAndRead(db, p, vals, useBatch, handoff, reply)
		},
		gen.SliceOfN(20, genModelValue()), gen.SliceOfN(20, gen.Bool())))
}

// writeAndRead writes each value (alone or in a batch), reads it back in
// the same goroutine, then has the other goroutine read it.
func writeAndRead(db *minikv.DB, p string, vals [][]byte, useBatch []bool, handoff chan<- int, reply <-chan string) string {
	for i, v := range vals {
		var err error
		if useBatch[i] {
			b := db.NewBatch()
			b.Set(p+"k", v)
			b.Set(p+"other", v)
			err = b.Write()
		} else {
			err = db.Set(p+"k", v)
		}
		if err != nil {
			return err.Error()
		}
		got, err := db.Get(p + "k")
		if err != nil || !bytes.Equal(got, v) {
			return fmt.Sprintf("same goroutine: Get = %q, %v; want %q", got, err, v)
		}
		handoff <- i
		if msg := <-reply; msg != "" {
			return msg
		}
	}
	return ""
}
