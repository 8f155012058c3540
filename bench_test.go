package minikv_test

// Benchmarks for every public operation of MiniKV, with the workload of
// issue 2: keys of 16 bytes, values of 100 bytes, read in random order.
//
// Benchmarks run only with -bench, so a plain `go test ./...` never loads a
// fixture. The sub-benchmarks with one million keys take a few seconds of
// setup each; -short skips them:
//
//	go test -run '^$' -bench . -benchmem                 # everything
//	go test -run '^$' -bench . -benchmem -short          # without the 1M-key cases
//	go test -run '^$' -bench 'Get|View|BaselineMap|GC' -benchmem
//
// Keys live in one pointer-free buffer and are handed out as strings that
// point into it, so the benchmark's own key list gives the garbage
// collector nothing to walk and does not distort BenchmarkGC. Read-only
// fixtures are built once per process and size (benchReadDB); they are
// opened ReadOnly, which starts no goroutine, so they may stay open until
// the process exits without tripping the goroutine-leak check of TestMain.
// Fixtures that are written to are built per benchmark in b.TempDir.

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/minikv/minikv"
)

const (
	benchKeyLen   = 16
	benchValueLen = 100
	benchBatchOps = 1000
	benchMaxKeys  = 1_000_000
	benchScanLen  = 100 // keys sharing one benchGroupPrefix
)

// benchSizes are the key counts of the sub-benchmarks that vary the size.
var (
	benchSizes3 = []int{10_000, 100_000, 1_000_000}
	benchSizes2 = []int{10_000, 1_000_000}
	benchSize1M = []int{1_000_000}
)

// benchKeyBuf holds benchMaxKeys keys of benchKeyLen bytes back to back,
// and one group more so that the end of a range past the last key can be
// named: key i is "k" followed by i in 15 zero-padded digits, so the 100
// keys i/100*100 ... i/100*100+99 share a 14-byte prefix.
var benchKeyBuf = sync.OnceValue(func() []byte {
	const n = benchMaxKeys + benchScanLen
	buf := make([]byte, n*benchKeyLen)
	for i := range n {
		k := buf[i*benchKeyLen : (i+1)*benchKeyLen]
		k[0] = 'k'
		n := i
		for j := benchKeyLen - 1; j >= 1; j-- {
			k[j] = byte('0' + n%10)
			n /= 10
		}
	}
	return buf
})

// benchKey returns key i as a string that shares benchKeyBuf's memory
// (which is never written after it is built): no allocation, no pointer.
func benchKey(i int) string {
	buf := benchKeyBuf()
	return unsafe.String(&buf[i*benchKeyLen], benchKeyLen)
}

// benchKeyGen formats keys into a buffer of its own, the way a caller
// builds a key just before it reads: the key bytes are in cache. benchKey's
// keys come from a 16 MB table instead, and reading one at random costs a
// cache miss of its own (about 200 ns here) that belongs to neither the
// store nor the baseline; the read benchmarks use benchKeyGen so that the
// miss does not blur the comparison. The string aliases the buffer: it is
// only valid until the next call, which is enough for a lookup.
type benchKeyGen struct{ buf [benchKeyLen]byte }

func (g *benchKeyGen) key(i int) string {
	g.buf[0] = 'k'
	for j := benchKeyLen - 1; j >= 1; j-- {
		g.buf[j] = byte('0' + i%10)
		i /= 10
	}
	return unsafe.String(&g.buf[0], benchKeyLen)
}

// benchGroupPrefix returns the prefix shared by the benchScanLen keys of
// group g (keys g*100 to g*100+99).
func benchGroupPrefix(g int) string {
	return benchKey(g * benchScanLen)[:benchKeyLen-2]
}

// benchPerm returns a random permutation of [0, n), the same for every call
// with the same n, as pointer-free uint32s.
func benchPerm(n int) []uint32 {
	benchPerms.Lock()
	defer benchPerms.Unlock()
	if p, ok := benchPerms.m[n]; ok {
		return p
	}
	key, size := n, max(n, -n) // a negative n names a second order of -n keys
	r := rand.New(rand.NewPCG(uint64(key), 2))
	p := make([]uint32, size)
	for i := range p {
		p[i] = uint32(i)
	}
	r.Shuffle(size, func(i, j int) { p[i], p[j] = p[j], p[i] })
	benchPerms.m[key] = p
	return p
}

// benchReadPerm returns the order in which read benchmarks visit the n
// keys: a permutation independent of the load order, so that reads do not
// walk memory in the order the records were allocated (which would favour
// every in-memory store, the map baseline included, with prefetching).
func benchReadPerm(n int) []uint32 { return benchPerm(-n) }

var benchPerms = struct {
	sync.Mutex
	m map[int][]uint32
}{m: map[int][]uint32{}}

// benchAlphabet repeats a-z over benchValueLen+26 bytes, so that
// benchValue is one copy rather than a loop the benchmarks would time.
var benchAlphabet = strings.Repeat("abcdefghijklmnopqrstuvwxyz", benchValueLen/26+2)

// benchValue fills a benchValueLen-byte value for key i: byte j is
// 'a'+(i+j)%26, the first 8 bytes i itself.
func benchValue(dst []byte, i int) []byte {
	dst = dst[:benchValueLen]
	copy(dst, benchAlphabet[i%26:])
	binary.LittleEndian.PutUint64(dst, uint64(i))
	return dst
}

// benchSizeName names a sub-benchmark by its key count: keys=10K, keys=1M.
func benchSizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return "keys=" + strconv.Itoa(n/1_000_000) + "M"
	case n >= 1_000 && n%1_000 == 0:
		return "keys=" + strconv.Itoa(n/1_000) + "K"
	}
	return "keys=" + strconv.Itoa(n)
}

// benchSizes runs fn as one sub-benchmark per size; under -short it skips
// the sizes of one million keys and more.
func benchSizes(b *testing.B, sizes []int, fn func(b *testing.B, n int)) {
	for _, n := range sizes {
		b.Run(benchSizeName(n), func(b *testing.B) {
			benchSkipLarge(b, n)
			fn(b, n)
		})
	}
}

func benchSkipLarge(b *testing.B, n int) {
	if n >= 1_000_000 && testing.Short() {
		b.Skip("skipping the 1M-key case under -short")
	}
}

// benchFill writes keys 0..n-1 to db in random order, in batches of
// benchBatchOps.
func benchFill(tb testing.TB, db *minikv.DB, n int) {
	tb.Helper()
	perm := benchPerm(n)
	val := make([]byte, benchValueLen)
	for start := 0; start < n; start += benchBatchOps {
		bt := db.NewBatch()
		for _, i := range perm[start:min(start+benchBatchOps, n)] {
			bt.Set(benchKey(int(i)), benchValue(val, int(i)))
		}
		if err := bt.Write(); err != nil {
			tb.Fatalf("fill: %v", err)
		}
	}
}

// benchOpen opens a database in a new b.TempDir holding keys 0..n-1 and
// closes it when the benchmark ends.
func benchOpen(b *testing.B, mode minikv.SyncMode, n int) *minikv.DB {
	b.Helper()
	db, _ := openTestDB(b, minikv.Options{SyncMode: mode})
	if n > 0 {
		// Load without fsyncs, whatever the mode under test.
		benchFill(b, db, n)
	}
	return db
}

// benchBuildDir writes keys 0..n-1 to a database in dir, compacts it into
// a snapshot and closes it.
func benchBuildDir(tb testing.TB, dir string, n int) {
	tb.Helper()
	db, err := minikv.Open(minikv.Options{Dir: dir, SyncMode: minikv.SyncNever})
	if err != nil {
		tb.Fatal(err)
	}
	benchFill(tb, db, n)
	if err := db.Compact(); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

var benchReadDBs = struct {
	sync.Mutex
	m map[int]*minikv.DB
}{m: map[int]*minikv.DB{}}

// benchReadDB returns a read-only database holding keys 0..n-1, built once
// per process and size and never closed. Its directory is removed as soon
// as it is open: a read-only handle serves every read from memory.
func benchReadDB(b *testing.B, n int) *minikv.DB {
	b.Helper()
	benchReadDBs.Lock()
	defer benchReadDBs.Unlock()
	if db, ok := benchReadDBs.m[n]; ok {
		return db
	}
	dir, err := os.MkdirTemp("", "minikv-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	benchBuildDir(b, dir, n)
	db, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	benchReadDBs.m[n] = db
	return db
}

// benchMap is the baseline: a plain map behind a RWMutex, no disk, whose
// Get returns a copy as MiniKV's does.
type benchMap struct {
	mu sync.RWMutex // guards m
	m  map[string][]byte
}

func newBenchMap(n int) *benchMap {
	m := &benchMap{m: make(map[string][]byte, n)}
	val := make([]byte, benchValueLen)
	for _, i := range benchPerm(n) {
		m.Set(benchKey(int(i)), benchValue(val, int(i)))
	}
	return m
}

func (m *benchMap) Get(key string) ([]byte, error) {
	m.mu.RLock()
	v, ok := m.m[key]
	m.mu.RUnlock()
	if !ok {
		return nil, minikv.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (m *benchMap) Set(key string, value []byte) {
	k := string([]byte(key)) // own the key, as a store must
	v := append([]byte(nil), value...)
	m.mu.Lock()
	m.m[k] = v
	m.mu.Unlock()
}

// benchSink keeps results alive so the compiler cannot drop the reads.
var benchSink atomic.Int64

// --- point reads ---------------------------------------------------------

// BenchmarkGet reads random keys with the copying Get.
func BenchmarkGet(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		benchGets(b, n, benchReadDB(b, n).Get)
	})
}

// BenchmarkGetAfterLoad is BenchmarkGet on a store that was loaded in this
// process and never reopened, where BenchmarkGet reads one recovered from a
// snapshot: the two index states need not be equally fast.
func BenchmarkGetAfterLoad(b *testing.B) {
	benchSizes(b, benchSize1M, func(b *testing.B, n int) {
		benchGets(b, n, benchOpen(b, minikv.SyncNever, n).Get)
	})
}

// benchGets reads keys 0..n-1 through get in benchReadPerm's order, one
// key per iteration, from one goroutine.
func benchGets(b *testing.B, n int, get func(string) ([]byte, error)) {
	perm := benchReadPerm(n)
	var kg benchKeyGen
	b.ReportAllocs()
	b.SetBytes(benchValueLen)
	i, sum := 0, 0
	for b.Loop() {
		v, err := get(kg.key(int(perm[i])))
		if err != nil {
			b.Fatal(err)
		}
		sum += len(v)
		if i++; i == n {
			i = 0
		}
	}
	benchSink.Add(int64(sum))
}

// BenchmarkView reads random keys through the zero-copy View.
func BenchmarkView(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		db, perm := benchReadDB(b, n), benchReadPerm(n)
		var kg benchKeyGen
		b.ReportAllocs()
		b.SetBytes(benchValueLen)
		i, sum := 0, 0
		fn := func(v []byte) error { sum += int(v[0]); return nil }
		for b.Loop() {
			if err := db.View(kg.key(int(perm[i])), fn); err != nil {
				b.Fatal(err)
			}
			if i++; i == n {
				i = 0
			}
		}
		benchSink.Add(int64(sum))
	})
}

// BenchmarkBaselineMapGet is the reference for BenchmarkGet and
// BenchmarkView: a RWMutex-guarded map whose Get copies the value.
func BenchmarkBaselineMapGet(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		benchGets(b, n, newBenchMap(n).Get)
	})
}

// BenchmarkGetMissing reads keys that are not in the store.
func BenchmarkGetMissing(b *testing.B) {
	db := benchReadDB(b, 10_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.Get(benchKey(10_000 + i)); err == nil {
			b.Fatal("found a missing key")
		}
		if i++; i == 10_000 {
			i = 0
		}
	}
}

// BenchmarkExists checks random present keys.
func BenchmarkExists(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		db, perm := benchReadDB(b, n), benchReadPerm(n)
		var kg benchKeyGen
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ok, err := db.Exists(kg.key(int(perm[i])))
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
			if i++; i == n {
				i = 0
			}
		}
	})
}

// BenchmarkGetParallel reads random keys from GOMAXPROCS goroutines.
func BenchmarkGetParallel(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		benchGetsParallel(b, n, benchReadDB(b, n).Get)
	})
}

// benchGetsParallel is benchGets from GOMAXPROCS goroutines, each starting
// at its own place in the order.
func benchGetsParallel(b *testing.B, n int, get func(string) ([]byte, error)) {
	perm := benchReadPerm(n)
	b.ReportAllocs()
	b.SetBytes(benchValueLen)
	var seed atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919)) % n
		var kg benchKeyGen
		sum := 0
		for pb.Next() {
			v, err := get(kg.key(int(perm[i])))
			if err != nil {
				b.Error(err)
				return
			}
			sum += len(v)
			if i++; i == n {
				i = 0
			}
		}
		benchSink.Add(int64(sum))
	})
}

// BenchmarkBaselineMapGetParallel is BenchmarkGetParallel on the baseline.
func BenchmarkBaselineMapGetParallel(b *testing.B) {
	benchSizes(b, benchSize1M, func(b *testing.B, n int) {
		benchGetsParallel(b, n, newBenchMap(n).Get)
	})
}

// --- writes --------------------------------------------------------------

var benchModes = []minikv.SyncMode{minikv.SyncAlways, minikv.SyncPeriodic, minikv.SyncNever}

// BenchmarkSet writes 100-byte values under new keys (overwriting once the
// 1M keys are used up) in each SyncMode, starting from an empty store.
func BenchmarkSet(b *testing.B) {
	for _, mode := range benchModes {
		b.Run("sync="+mode.String(), func(b *testing.B) {
			db, perm := benchOpen(b, mode, 0), benchPerm(benchMaxKeys)
			val := make([]byte, benchValueLen)
			b.ReportAllocs()
			b.SetBytes(benchValueLen)
			i := 0
			for b.Loop() {
				k := int(perm[i%benchMaxKeys])
				if err := db.Set(benchKey(k), benchValue(val, k)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkSetOverwrite overwrites random keys of a store holding 1M.
func BenchmarkSetOverwrite(b *testing.B) {
	benchSizes(b, benchSize1M, func(b *testing.B, n int) {
		db, perm := benchOpen(b, minikv.SyncNever, n), benchReadPerm(n)
		val := make([]byte, benchValueLen)
		b.ReportAllocs()
		b.SetBytes(benchValueLen)
		i := 0
		for b.Loop() {
			k := int(perm[i])
			if err := db.Set(benchKey(k), benchValue(val, k)); err != nil {
				b.Fatal(err)
			}
			if i++; i == n {
				i = 0
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

// BenchmarkSetParallel writes from 1 to 256 goroutines at once, in both
// durable and non-durable modes, with three write forms: a Set of a
// 100-byte value over 200K distinct keys, a batch of 10 such Sets, and
// Incr on one of 16 shared counters. ops/s counts calls (a batch is one
// call; keys/s counts its keys). The figure that matters is how it moves
// with the goroutine count: it must not fall as writers are added.
//
//	go test -run '^$' -bench 'SetParallel' -benchtime 200000x .
func BenchmarkSetParallel(b *testing.B) {
	const keys = 200_000
	forms := []struct {
		name string
		n    int // keys a call writes
		op   func(db *minikv.DB, i int, val []byte) error
	}{
		{"set", 1, func(db *minikv.DB, i int, val []byte) error {
			k := i % keys
			return db.Set(benchKey(k), benchValue(val, k))
		}},
		{"batch10", 10, func(db *minikv.DB, i int, val []byte) error {
			bt := db.NewBatch()
			for j := range 10 {
				k := (i*10 + j) % keys
				bt.Set(benchKey(k), benchValue(val, k))
			}
			return bt.Write()
		}},
		{"incr", 1, func(db *minikv.DB, i int, _ []byte) error {
			_, err := db.Incr(benchCounter(i % 16))
			return err
		}},
	}
	for _, mode := range []minikv.SyncMode{minikv.SyncNever, minikv.SyncAlways} {
		for _, form := range forms {
			for _, g := range []int{1, 2, 4, 16, 64, 256} {
				name := fmt.Sprintf("sync=%s/%s/goroutines=%d", mode, form.name, g)
				b.Run(name, func(b *testing.B) {
					db := benchOpen(b, mode, 0)
					b.ReportAllocs()
					benchGoroutines(b, g, func() func(int) error {
						val := make([]byte, benchValueLen)
						return func(i int) error { return form.op(db, i, val) }
					})
					s := b.Elapsed().Seconds()
					b.ReportMetric(float64(b.N)/s, "ops/s")
					if form.n > 1 {
						b.ReportMetric(float64(b.N*form.n)/s, "keys/s")
					}
				})
			}
		}
	}
}

var benchCounters = func() (names [16]string) {
	for i := range names {
		names[i] = "counter" + strconv.Itoa(i)
	}
	return names
}()

func benchCounter(i int) string { return benchCounters[i] }

// benchGoroutines runs b.N calls spread over g goroutines, which take the
// next call's number from a shared counter, and times them all. Each
// goroutine makes its own op with newOp before the timer starts, so that
// it can keep state of its own (a value buffer, a random generator).
func benchGoroutines(b *testing.B, g int, newOp func() func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range g {
		wg.Go(func() {
			op := newOp()
			<-start
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ResetTimer()
	close(start)
	wg.Wait()
	b.StopTimer()
}

// BenchmarkSetWithWork writes as a service does, with work of its own
// between writes: before each Set of a 1 KiB value over 200K keys, the
// goroutine builds the value a byte at a time from a random generator, as
// a YCSB client builds its records, which takes longer than the Set. From
// 16 goroutines on 2 cores the writers should keep both cores busy:
// besides ops/s it reports cpus, the cores the process used on average
// (CPU time over wall time, where the platform tells).
//
//	go test -run '^$' -bench 'SetWithWork' -benchtime 200000x .
func BenchmarkSetWithWork(b *testing.B) {
	const keys = 200_000
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			db := benchOpen(b, minikv.SyncNever, 0)
			b.ReportAllocs()
			var seeds atomic.Uint64
			cpu := processCPU()
			benchGoroutines(b, g, func() func(int) error {
				rng := rand.New(rand.NewPCG(seeds.Add(1), 1))
				val := make([]byte, 1024)
				return func(i int) error {
					for j := range val {
						val[j] = ' ' + byte(rng.IntN(95))
					}
					return db.Set(benchKey(i%keys), val)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			if cpu > 0 {
				b.ReportMetric((processCPU()-cpu).Seconds()/b.Elapsed().Seconds(), "cpus")
			}
		})
	}
}

// BenchmarkGetLatencyUnderWrites times single Gets from one goroutine on a
// store of 200K keys, alone and while 16 goroutines overwrite keys without
// fsync, and reports the median and the 99th percentile in nanoseconds.
// With writers, the 99th percentile should stay within twice its figure
// without: readers never wait behind a queue of writers.
//
//	go test -run '^$' -bench 'GetLatencyUnderWrites' -benchtime 1000000x .
func BenchmarkGetLatencyUnderWrites(b *testing.B) {
	const keys = 200_000
	for _, writers := range []int{0, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db := benchOpen(b, minikv.SyncNever, keys)
			perm := benchReadPerm(keys)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					val := make([]byte, benchValueLen)
					for i := w; ; i += writers {
						select {
						case <-stop:
							return
						default:
						}
						k := int(perm[(i*7919)%keys])
						if err := db.Set(benchKey(k), benchValue(val, k)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			lat := make([]int64, 0, b.N)
			var kg benchKeyGen
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				key := kg.key(int(perm[i%keys]))
				t := time.Now()
				v, err := db.Get(key)
				lat = append(lat, int64(time.Since(t)))
				if err != nil {
					b.Fatal(err)
				}
				benchSink.Add(int64(len(v)))
				i++
			}
			close(stop)
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
		})
	}
}

// BenchmarkSetWithTTL writes keys with a one-hour expiry.
func BenchmarkSetWithTTL(b *testing.B) {
	db, perm := benchOpen(b, minikv.SyncNever, 0), benchPerm(benchMaxKeys)
	val := make([]byte, benchValueLen)
	b.ReportAllocs()
	b.SetBytes(benchValueLen)
	i := 0
	for b.Loop() {
		k := int(perm[i%benchMaxKeys])
		if err := db.SetWithTTL(benchKey(k), benchValue(val, k), time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDelete removes random present keys of a 1M-key store; when all
// are gone it refills the store with the timer stopped.
func BenchmarkDelete(b *testing.B) {
	benchSizes(b, benchSize1M, func(b *testing.B, n int) {
		db, perm := benchOpen(b, minikv.SyncNever, n), benchReadPerm(n)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := db.Delete(benchKey(int(perm[i]))); err != nil {
				b.Fatal(err)
			}
			if i++; i == n {
				b.StopTimer()
				benchFill(b, db, n)
				i = 0
				b.StartTimer()
			}
		}
	})
}

// BenchmarkBatchWrite loads 1M keys in batches of 1000 Sets of 100-byte
// values, in random order and in key order, into new databases (see
// benchBatches), and reports the operations per second: the issue-3
// batch figure.
func BenchmarkBatchWrite(b *testing.B) {
	for _, mode := range []minikv.SyncMode{minikv.SyncNever, minikv.SyncAlways} {
		b.Run("sync="+mode.String(), func(b *testing.B) {
			benchBatches(b, mode, benchPerm(benchMaxKeys))
		})
	}
	// A bulk load in key order, as from a sorted export: the order in
	// which LSM engines load fastest.
	order := make([]uint32, benchMaxKeys)
	for i := range order {
		order[i] = uint32(i)
	}
	b.Run("sync=never/keyorder", func(b *testing.B) {
		benchBatches(b, minikv.SyncNever, order)
	})
}

// benchBatches loads batches of benchBatchOps keys taken in the order of
// perm into a new database. Once every key of perm is in, the next batch
// goes into another new database (made with the timer stopped), so that
// every batch measures a load, not overwrites.
//
// Each key is formatted into a buffer of its own (benchKeyGen), the way a
// caller builds the keys of a batch: taken from benchKeyBuf in random
// order, every key cost a cache miss of about 200 ns that belongs to the
// benchmark, not the store (0.78-0.94M ops/s with it against 0.94-1.04M
// without, at e04324d). The buffers are reused only after Write, which
// keeps no reference to a key.
func benchBatches(b *testing.B, mode minikv.SyncMode, perm []uint32) {
	b.Helper()
	db, closeDB := benchFresh(b, mode)
	defer func() { closeDB() }()
	val := make([]byte, benchValueLen)
	gens := make([]benchKeyGen, benchBatchOps)
	b.ReportAllocs()
	b.SetBytes(benchBatchOps * benchValueLen)
	i := 0
	for b.Loop() {
		if i == len(perm) {
			b.StopTimer()
			closeDB()
			db, closeDB = benchFresh(b, mode)
			i = 0
			b.StartTimer()
		}
		bt := db.NewBatch()
		for j, k := range perm[i:min(i+benchBatchOps, len(perm))] {
			bt.Set(gens[j].key(int(k)), benchValue(val, int(k)))
		}
		i = min(i+benchBatchOps, len(perm))
		if err := bt.Write(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*benchBatchOps/b.Elapsed().Seconds(), "ops/s")
}

// benchFresh opens a new, empty database in a directory of its own, and
// returns it with a function that closes it and removes the directory.
func benchFresh(b *testing.B, mode minikv.SyncMode) (*minikv.DB, func()) {
	b.Helper()
	dir, err := os.MkdirTemp(b.TempDir(), "fresh")
	if err != nil {
		b.Fatal(err)
	}
	db, err := minikv.Open(minikv.Options{Dir: dir, SyncMode: mode})
	if err != nil {
		b.Fatal(err)
	}
	return db, func() {
		if err := db.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Error(err)
		}
	}
}

// --- atomic operations ---------------------------------------------------

// BenchmarkIncr increments one hot key, from one goroutine and from
// GOMAXPROCS goroutines (2 on the reference machine), with SyncNever.
func BenchmarkIncr(b *testing.B) {
	b.Run("goroutines=1", func(b *testing.B) {
		db := benchOpen(b, minikv.SyncNever, 0)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.Incr("counter"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run(fmt.Sprintf("hotkey/goroutines=%d", runtime.GOMAXPROCS(0)), func(b *testing.B) {
		db := benchOpen(b, minikv.SyncNever, 0)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.Incr("counter"); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		if v, err := db.Get("counter"); err != nil || string(v) != strconv.Itoa(b.N) {
			b.Fatalf("counter = %q, %v; want %d", v, err, b.N)
		}
	})
}

// BenchmarkCompareAndSwap swaps one key between two values; every swap
// succeeds.
func BenchmarkCompareAndSwap(b *testing.B) {
	db := benchOpen(b, minikv.SyncNever, 0)
	vals := [2][]byte{benchValue(make([]byte, benchValueLen), 1), benchValue(make([]byte, benchValueLen), 2)}
	if err := db.Set("cas", vals[0]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ok, err := db.CompareAndSwap("cas", vals[i&1], vals[(i+1)&1])
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		i++
	}
}

// BenchmarkOther covers the remaining public operations, each on a store of
// 10K keys written without fsync.
func BenchmarkOther(b *testing.B) {
	const n = 10_000
	val := benchValue(make([]byte, benchValueLen), 7)
	ctx := context.Background()
	cases := []struct {
		name string
		op   func(db *minikv.DB, i int) error
	}{
		{"SetNX", func(db *minikv.DB, i int) error {
			_, err := db.SetNX(benchKey(n+i%(benchMaxKeys-n)), val)
			return err
		}},
		{"GetAndSet", func(db *minikv.DB, i int) error {
			_, err := db.GetAndSet(benchKey(i%n), val)
			return err
		}},
		{"IncrBy", func(db *minikv.DB, i int) error {
			_, err := db.IncrBy("counter", 3)
			return err
		}},
		{"TTL", func(db *minikv.DB, i int) error {
			_, err := db.TTL(benchKey(i % n))
			return err
		}},
		{"Expire", func(db *minikv.DB, i int) error { return db.Expire(benchKey(i%n), time.Hour) }},
		{"Persist", func(db *minikv.DB, i int) error { return db.Persist(benchKey(i % n)) }},
		{"GetWithContext", func(db *minikv.DB, i int) error {
			_, err := db.GetWithContext(ctx, benchKey(i%n))
			return err
		}},
		{"SetWithContext", func(db *minikv.DB, i int) error { return db.SetWithContext(ctx, benchKey(i%n), val) }},
		{"Stats", func(db *minikv.DB, i int) error { db.Stats(); return nil }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			db := benchOpen(b, minikv.SyncNever, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := c.op(db, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// --- scans ---------------------------------------------------------------

// benchReadScan reads every entry of it and returns how many there were.
func benchReadScan(b *testing.B, it minikv.Iterator) int {
	n, sum := 0, 0
	for it.Next() {
		sum += len(it.Key()) + len(it.Value())
		n++
	}
	if err := it.Error(); err != nil {
		b.Fatal(err)
	}
	it.Close()
	benchSink.Add(int64(sum))
	return n
}

// BenchmarkScan reads the 100 keys under a random prefix, keys and values.
func BenchmarkScan(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		benchScanGroups(b, benchReadDB(b, n), n)
	})
}

// BenchmarkScanAfterLoad is BenchmarkScan on a store loaded in random key
// order in this process and never reopened, as it is right after the load
// (automatic compaction off) and after one Compact, which puts the arena
// back in key order.
func BenchmarkScanAfterLoad(b *testing.B) {
	for _, compacted := range []bool{false, true} {
		b.Run(fmt.Sprintf("keys=1M/compacted=%v", compacted), func(b *testing.B) {
			benchSkipLarge(b, benchMaxKeys)
			db, err := minikv.Open(minikv.Options{Dir: b.TempDir(), SyncMode: minikv.SyncNever, DisableAutoCompaction: true})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			benchFill(b, db, benchMaxKeys)
			if compacted {
				if err := db.Compact(); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			benchScanGroups(b, db, benchMaxKeys)
		})
	}
}

// benchScanGroups scans the benchScanLen keys of one random prefix group of
// db's n keys per iteration, and reports the scans per second.
func benchScanGroups(b *testing.B, db *minikv.DB, n int) {
	perm := benchPerm(n / benchScanLen)
	b.ReportAllocs()
	b.SetBytes(benchScanLen * (benchKeyLen + benchValueLen))
	i := 0
	for b.Loop() {
		it, err := db.Scan(benchGroupPrefix(int(perm[i])), benchScanLen)
		if err != nil {
			b.Fatal(err)
		}
		if got := benchReadScan(b, it); got != benchScanLen {
			b.Fatalf("scan read %d entries, want %d", got, benchScanLen)
		}
		if i++; i == len(perm) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scans/s")
}

// BenchmarkScanRange reads a random range of 100 keys.
func BenchmarkScanRange(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		db, perm := benchReadDB(b, n), benchPerm(n/benchScanLen)
		b.ReportAllocs()
		b.SetBytes(benchScanLen * (benchKeyLen + benchValueLen))
		i := 0
		for b.Loop() {
			g := int(perm[i]) * benchScanLen
			it, err := db.ScanRange(benchKey(g), benchKey(g+benchScanLen), 0)
			if err != nil {
				b.Fatal(err)
			}
			if got := benchReadScan(b, it); got != benchScanLen {
				b.Fatalf("range read %d entries, want %d", got, benchScanLen)
			}
			if i++; i == len(perm) {
				i = 0
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scans/s")
	})
}

// BenchmarkIteratorCreate measures creating an iterator over the whole
// store, positioning it on its first key and closing it: a store that
// copied its key set per iterator would show it here.
func BenchmarkIteratorCreate(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		db := benchReadDB(b, n)
		b.ReportAllocs()
		for b.Loop() {
			it, err := db.Scan("", 0)
			if err != nil {
				b.Fatal(err)
			}
			if !it.Next() {
				b.Fatal("empty iterator", it.Error())
			}
			it.Close()
		}
	})
}

// BenchmarkAll reads 100 keys through the range-over-func form of Scan.
func BenchmarkAll(b *testing.B) {
	db, perm := benchReadDB(b, 10_000), benchPerm(10_000/benchScanLen)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		got := 0
		for _, err := range db.All(benchGroupPrefix(int(perm[i]))) {
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		if got != benchScanLen {
			b.Fatalf("All yielded %d items, want %d", got, benchScanLen)
		}
		if i++; i == len(perm) {
			i = 0
		}
	}
}

// BenchmarkKeys matches a glob whose literal prefix selects 100 keys, and
// one that has no literal prefix and must visit every key.
func BenchmarkKeys(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		db, perm := benchReadDB(b, n), benchPerm(n/benchScanLen)
		patterns := make([]string, min(len(perm), 1024))
		for i := range patterns {
			patterns[i] = benchGroupPrefix(int(perm[i])) + "[0-9]?"
		}
		b.Run("pattern=prefix", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				keys, err := db.Keys(patterns[i])
				if err != nil || len(keys) != benchScanLen {
					b.Fatal(len(keys), err)
				}
				if i++; i == len(patterns) {
					i = 0
				}
			}
		})
		b.Run("pattern=suffix", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				keys, err := db.Keys("*99")
				if err != nil || len(keys) != n/100 {
					b.Fatal(len(keys), err)
				}
			}
		})
	})
}

// BenchmarkCount counts the live keys.
func BenchmarkCount(b *testing.B) {
	benchSizes(b, benchSizes2, func(b *testing.B, n int) {
		db := benchReadDB(b, n)
		b.ReportAllocs()
		for b.Loop() {
			if c, err := db.Count(); err != nil || c != n {
				b.Fatal(c, err)
			}
		}
	})
}

// --- maintenance ---------------------------------------------------------

// BenchmarkCompact compacts a store of n keys; one Set before each
// compaction makes sure there is something to fold.
func BenchmarkCompact(b *testing.B) {
	benchSizes(b, benchSizes3, func(b *testing.B, n int) {
		db := benchOpen(b, minikv.SyncNever, n)
		val := benchValue(make([]byte, benchValueLen), 0)
		b.ReportAllocs()
		b.SetBytes(int64(n) * (benchKeyLen + benchValueLen))
		i := 0
		for b.Loop() {
			if err := db.Set(benchKey(i%n), val); err != nil {
				b.Fatal(err)
			}
			if err := db.Compact(); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkOpen reopens a store of n keys held in one snapshot: Open and
// Close, with the default options.
func BenchmarkOpen(b *testing.B) {
	benchSizes(b, benchSizes3, func(b *testing.B, n int) {
		dir := b.TempDir()
		benchBuildDir(b, dir, n)
		b.ReportAllocs()
		for b.Loop() {
			db, err := minikv.Open(minikv.Options{Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/open")
	})
}

// BenchmarkGetDuringCompaction reads random keys of a 1M-key store while
// another goroutine compacts it over and over.
func BenchmarkGetDuringCompaction(b *testing.B) {
	benchSizes(b, benchSize1M, func(b *testing.B, n int) {
		db, perm := benchOpen(b, minikv.SyncNever, n), benchReadPerm(n)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var compactions atomic.Int64
		wg.Go(func() {
			val := benchValue(make([]byte, benchValueLen), 0)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := db.Set(benchKey(i%n), val); err != nil {
					b.Error(err)
					return
				}
				if err := db.Compact(); err != nil {
					b.Error(err)
					return
				}
				compactions.Add(1)
			}
		})
		b.ReportAllocs()
		b.SetBytes(benchValueLen)
		i, sum := 0, 0
		for b.Loop() {
			v, err := db.Get(benchKey(int(perm[i])))
			if err != nil {
				b.Fatal(err)
			}
			sum += len(v)
			if i++; i == n {
				i = 0
			}
		}
		close(stop)
		wg.Wait()
		benchSink.Add(int64(sum))
		b.ReportMetric(float64(compactions.Load()), "compactions")
	})
}

// BenchmarkSetLatencyDuringCompaction runs one compaction of a 1M-key store
// per iteration while one goroutine overwrites random keys (SyncNever) as
// fast as it can, and reports the longest single Set seen and the Sets
// that completed while compactions ran. It measures; it asserts nothing.
func BenchmarkSetLatencyDuringCompaction(b *testing.B) {
	benchSizes(b, benchSize1M, func(b *testing.B, n int) {
		db, perm := benchOpen(b, minikv.SyncNever, n), benchReadPerm(n)
		val := make([]byte, benchValueLen)
		var maxLat time.Duration
		sets, i := 0, 0
		for b.Loop() {
			done := make(chan error, 1)
			go func() { done <- db.Compact() }()
			for running := true; running; {
				select {
				case err := <-done:
					if err != nil {
						b.Fatal(err)
					}
					running = false
					continue
				default:
				}
				k := int(perm[i])
				start := time.Now()
				if err := db.Set(benchKey(k), benchValue(val, k)); err != nil {
					b.Fatal(err)
				}
				maxLat = max(maxLat, time.Since(start))
				sets++
				if i++; i == n {
					i = 0
				}
			}
		}
		b.ReportMetric(float64(maxLat.Microseconds())/1000, "max-set-ms")
		b.ReportMetric(float64(sets)/float64(b.N), "sets/compaction")
	})
}

// --- garbage collector ---------------------------------------------------

// BenchmarkGC times one forced collection with 1M keys loaded, in MiniKV
// and in the baseline map. The ratio of the two gc-ms figures is the
// issue-2 target (MiniKV at most 1/10 of the map).
func BenchmarkGC(b *testing.B) {
	run := func(b *testing.B, keep any) {
		runtime.GC()
		runtime.GC()
		for b.Loop() {
			runtime.GC()
		}
		runtime.KeepAlive(keep)
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "gc-ms")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	}
	benchSizes(b, benchSize1M, func(b *testing.B, n int) {
		b.Run("store=minikv", func(b *testing.B) {
			run(b, benchReadDB(b, n))
		})
		b.Run("store=map", func(b *testing.B) {
			run(b, newBenchMap(n))
			debug.FreeOSMemory()
		})
	})
}

// BenchmarkStatsCost measures what the operation counters and latency
// sampling cost Get: the same reads with the counters on and off, alone and
// from every CPU at once (where shared counters would contend). Issue 4
// asks for less than 5% of Get throughput; compare the stats=on and
// stats=off lines of one run, for example with benchstat.
func BenchmarkStatsCost(b *testing.B) {
	for _, n := range benchSizes2 {
		for _, parallel := range []bool{false, true} {
			for _, off := range []bool{false, true} {
				name := fmt.Sprintf("%s/parallel=%v/stats=%s", benchSizeName(n), parallel, map[bool]string{false: "on", true: "off"}[off])
				b.Run(name, func(b *testing.B) {
					benchSkipLarge(b, n)
					db, perm := benchReadDB(b, n), benchReadPerm(n)
					minikv.SetStatsOff(db, off)
					defer minikv.SetStatsOff(db, false)
					b.ReportAllocs()
					if !parallel {
						var kg benchKeyGen
						i := 0
						for b.Loop() {
							if _, err := db.Get(kg.key(int(perm[i%n]))); err != nil {
								b.Fatal(err)
							}
							i++
						}
						return
					}
					var next atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						i := int(next.Add(1)) * 7919
						var kg benchKeyGen
						for pb.Next() {
							if _, err := db.Get(kg.key(int(perm[i%n]))); err != nil {
								b.Error(err)
								return
							}
							i++
						}
					})
				})
			}
		}
	}
}

// --- a bounded cache --------------------------------------------------------

// The cache workload of issue 16: 1M distinct keys drawn from a zipfian
// distribution (YCSB's constant 0.99), read through a cache that holds
// about 200K of them. A read that misses sets its key (the cache is filled
// on demand), and one op in ten sets its key outright; values are 100
// bytes. Each sub-benchmark first runs 2M ops untimed, so the cache is
// full and evicting, and reports the hit rate of the timed ops:
//
//	go test -run '^$' -bench 'CacheZipf' -benchmem
//
// minikv-lru is a store with EvictLRU and a MaxMemory that holds about
// 200K keys (cacheMaxMemory); map-list-lru is an exact LRU of 200K keys
// (a map and container/list, exactLRU in memlimit_test.go), under a mutex
// in the parallel form.
const (
	cacheKeys      = 1_000_000
	cacheHeld      = 200_000
	cacheMaxMemory = 33 << 20
	cacheWarm      = 2_000_000
	cacheDraws     = 1 << 22
)

// cacheWorkload returns the keys of the cache workload and a sequence of
// zipfian draws of them, made once per process.
var cacheWorkload = sync.OnceValues(func() ([]string, []int32) {
	keys := make([]string, cacheKeys)
	for i := range keys {
		keys[i] = cacheKey(i)
	}
	z := newZipf(cacheKeys, 1)
	draws := make([]int32, cacheDraws)
	for i := range draws {
		draws[i] = int32(z.next())
	}
	return keys, draws
})

// cacheOps runs the cache workload from draw i on through get and set,
// n ops, and returns its hits and reads.
func cacheOps(i, n int, get func(string) bool, set func(string, []byte)) (hits, reads int) {
	keys, draws := cacheWorkload()
	value := make([]byte, benchValueLen)
	for ; n > 0; n-- {
		key := keys[draws[i&(cacheDraws-1)]]
		i++
		if i%10 == 0 {
			set(key, value)
			continue
		}
		reads++
		if get(key) {
			hits++
		} else {
			set(key, value)
		}
	}
	return hits, reads
}

func BenchmarkCacheZipf(b *testing.B) {
	if testing.Short() {
		b.Skip("1M keys; not under -short")
	}
	storeCache := func(b *testing.B) (get func(string) bool, set func(string, []byte)) {
		db, err := minikv.Open(minikv.Options{Dir: b.TempDir(), SyncMode: minikv.SyncNever, MaxMemory: cacheMaxMemory, Eviction: minikv.EvictLRU})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			s := db.Stats()
			b.ReportMetric(float64(s.KeyCount), "keys-held")
			db.Close()
		})
		return func(k string) bool { return db.View(k, func([]byte) error { return nil }) == nil },
			func(k string, v []byte) {
				if err := db.Set(k, v); err != nil {
					b.Fatal(err)
				}
			}
	}
	mapCache := func(b *testing.B) (get func(string) bool, set func(string, []byte)) {
		var mu sync.Mutex
		c := newExactLRU(cacheHeld)
		return func(k string) bool {
				mu.Lock()
				_, ok := c.get(k)
				mu.Unlock()
				return ok
			}, func(k string, v []byte) {
				mu.Lock()
				c.set(k, append([]byte(nil), v...)) // a cache keeps its own copy
				mu.Unlock()
			}
	}
	for _, c := range []struct {
		name string
		make func(*testing.B) (func(string) bool, func(string, []byte))
	}{{"minikv-lru", storeCache}, {"map-list-lru", mapCache}} {
		b.Run(c.name, func(b *testing.B) {
			get, set := c.make(b)
			cacheOps(0, cacheWarm, get, set)
			b.ReportAllocs()
			hits, reads, i := 0, 0, cacheWarm
			for b.Loop() {
				h, r := cacheOps(i, 1, get, set)
				hits, reads, i = hits+h, reads+r, i+1
			}
			b.ReportMetric(100*float64(hits)/float64(max(reads, 1)), "hit%")
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			get, set := c.make(b)
			cacheOps(0, cacheWarm, get, set)
			var hits, reads, next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				h, r := 0, 0
				i := int(next.Add(1)) * 1_000_003
				for pb.Next() {
					dh, dr := cacheOps(i, 1, get, set)
					h, r, i = h+dh, r+dr, i+1
				}
				hits.Add(int64(h))
				reads.Add(int64(r))
			})
			b.ReportMetric(100*float64(hits.Load())/float64(max(reads.Load(), 1)), "hit%")
		})
	}
}

// BenchmarkGetLRU is BenchmarkGet on a store opened with EvictLRU and a
// limit it is far from (the reads stamp their keys, nothing is evicted),
// beside the same store without a limit: what EvictLRU costs a read.
func BenchmarkGetLRU(b *testing.B) {
	for _, lru := range []bool{false, true} {
		name := "nolimit"
		opts := minikv.Options{Dir: b.TempDir(), SyncMode: minikv.SyncNever}
		if lru {
			name, opts.MaxMemory, opts.Eviction = "lru", 1<<40, minikv.EvictLRU
		}
		b.Run(name, func(b *testing.B) {
			benchSizes(b, benchSizes2, func(b *testing.B, n int) {
				opts.Dir = b.TempDir()
				db, err := minikv.Open(opts)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				benchFill(b, db, n)
				benchGets(b, n, db.Get)
			})
		})
	}
}
