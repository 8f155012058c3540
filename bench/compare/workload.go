package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	keyLen    = 16
	valueLen  = 100
	batchOps  = 1000
	scanLen   = 100 // keys sharing one group prefix
	prefixLen = keyLen - 2
)

// workload holds the keys and the random orders, in pointer-free memory
// allocated before the baseline RSS is taken, so that they count for no
// engine.
type workload struct {
	n        int
	keys     []byte   // n keys of keyLen bytes: "k" and 15 decimal digits
	loadPerm []uint32 // the order of the load
	readPerm []uint32 // the order of Gets and Sets
	groups   []uint32 // random order of the n/scanLen prefix groups
}

func newWorkload(n int) *workload {
	w := &workload{n: n, keys: make([]byte, n*keyLen)}
	for i := range n {
		k := w.keys[i*keyLen : (i+1)*keyLen]
		k[0] = 'k'
		for j, x := keyLen-1, i; j >= 1; j-- {
			k[j] = byte('0' + x%10)
			x /= 10
		}
	}
	w.loadPerm = perm(n, 1)
	w.readPerm = perm(n, 2)
	w.groups = perm(max(n/scanLen, 1), 3)
	return w
}

func perm(n int, seed uint64) []uint32 {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	p := make([]uint32, n)
	for i := range p {
		p[i] = uint32(i)
	}
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

func (w *workload) key(i uint32) []byte {
	return w.keys[int(i)*keyLen : (int(i)+1)*keyLen : (int(i)+1)*keyLen]
}

// value fills dst with key i's 100-byte value; round changes it on
// overwrites.
func value(dst []byte, i uint32, round int) []byte {
	dst = dst[:valueLen]
	copy(dst, alphabet[(int(i)+round)%26:]) // byte j is 'a'+(i+j+round)%26
	binary.LittleEndian.PutUint32(dst, i)
	return dst
}

// alphabet repeats a-z over 26+valueLen bytes, so that value copies a
// value's letters instead of computing them in the timed loop: a modulo
// per byte cost about 200 ns per key, a third of a fast engine's load.
var alphabet = func() []byte {
	b := make([]byte, 26+valueLen)
	for j := range b {
		b[j] = byte('a' + j%26)
	}
	return b
}()

// child runs the workload on one engine in this process and returns its
// figures: all of them, or with only set to onlyWriters the load and the
// concurrent-writer figures.
func child(name string, n int, base string, dur time.Duration, only string) (*result, error) {
	r, err := newRun(name, n, base, dur)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.dir)
	if err := r.load(); err != nil {
		return nil, err
	}
	if only == onlyWriters {
		return r.res, r.writersOnly()
	}
	return r.res, r.all()
}

// run is one engine's process: the engine, its database directory, the
// workload and the figures so far.
type run struct {
	name     string
	eng      engine
	w        *workload
	res      *result
	base     string // parent directory of the databases
	dir      string // the database
	dur      time.Duration
	baseline int64 // resident bytes before the engine was opened
}

// newRun makes the workload, takes the baseline RSS and makes the
// database directory.
func newRun(name string, n int, base string, dur time.Duration) (*run, error) {
	eng, err := newEngine(name)
	if err != nil {
		return nil, err
	}
	r := &run{name: name, eng: eng, base: base, dur: dur, res: newResult(name, n)}
	r.w = newWorkload(n)
	r.baseline = settledRSS()
	if r.dir, err = os.MkdirTemp(base, "compare-"+name+"-"); err != nil {
		return nil, fmt.Errorf("database directory: %w", err)
	}
	return r, nil
}

// newResult returns an empty result of engine name.
func newResult(name string, n int) *result {
	return &result{Engine: name, Keys: n, Figures: map[string]float64{}, Missing: map[string]string{}}
}

// step logs the figure that starts.
func (r *run) step(what string) { log.Printf("%s: %s", r.name, what) }

// load opens the engine without fsync, loads every key and checks a
// sample of them; the engine stays open.
func (r *run) load() error {
	if err := r.eng.open(r.dir, false); err != nil {
		return fmt.Errorf("open: %w", err)
	}
	r.step("load")
	start := time.Now()
	if err := load(r.eng, r.w); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	r.res.Figures[figLoad] = float64(r.w.n) / time.Since(start).Seconds()
	return verify(r.eng, r.w)
}

// all runs every figure after the load. The order matters: the memory
// and GC figures with the data loaded, the reads and the unsynced writes,
// then a close and a timed reopen in durable mode for the fsync figures,
// the peak RSS, and only then the concurrent writers, so that their writes
// change neither the reopen nor the memory figures, and the load in key
// order last.
func (r *run) all() error {
	r.res.Figures[figBytesPerKey] = float64(settledRSS()-r.baseline) / float64(r.w.n)
	r.res.Figures[figGC] = gcTime().Seconds()
	r.reads()
	r.step("Set without fsync")
	r.res.put(figSetNoSync)(rate(r.dur, 1, r.setter(1)))
	if err := r.eng.close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := r.reopen(); err != nil {
		return err
	}
	r.res.Figures[figPeakRSS] = float64(readStatus("VmHWM:"))
	r.step("reopen without fsync")
	if err := r.eng.open(r.dir, false); err != nil {
		return fmt.Errorf("open without fsync: %w", err)
	}
	if err := r.writers(figBatchSync16); err != nil {
		return err
	}
	r.step("load in key order, new database")
	r.res.put(figLoadSorted)(loadSorted(r.name, r.base, r.w))
	return nil
}

// writersOnly runs the concurrent-writer figures after the load, those
// with fsync included. It first runs the Set figure of one goroutine,
// against which the table sets the Sets of writerCount goroutines.
func (r *run) writersOnly() error {
	r.step("Set without fsync, 1 goroutine")
	r.res.put(figSetNoSync)(rate(r.dur, 1, r.setter(1)))
	return r.writers(figSetSync16, figBatchSync16)
}

// reads runs the Get and scan figures.
func (r *run) reads() {
	procs := runtime.GOMAXPROCS(0)
	getter := func(g int, stop *atomic.Bool) (int, error) { return gets(r.eng, r.w, g, stop) }
	r.step("random Get, 1 goroutine")
	r.res.put(figGet1)(rate(r.dur, 1, getter))
	r.step(fmt.Sprintf("random Get, %d goroutines", procs))
	r.res.put(figGetN)(rate(r.dur, procs, getter))
	r.step("prefix scans")
	r.res.put(figScan)(rate(r.dur, 1, func(g int, stop *atomic.Bool) (int, error) { return scans(r.eng, r.w, stop) }))
}

// reopen times the reopen in durable mode (Open plus one Get), runs the
// fsync figures of 1 and 16 goroutines and closes the engine. An engine
// without durable mode gets these figures as unsupported.
func (r *run) reopen() error {
	r.step("reopen")
	start := time.Now()
	err := r.eng.open(r.dir, true)
	if errors.Is(err, errUnsupported) {
		for _, f := range []string{figReopen, figBytesAfterReopen, figSetSync1, figSetSync16} {
			r.res.put(f)(0, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	if _, err := r.eng.get(r.w.key(r.w.readPerm[0])); err != nil {
		return fmt.Errorf("get after reopen: %w", err)
	}
	r.res.Figures[figReopen] = time.Since(start).Seconds()
	r.res.Figures[figBytesAfterReopen] = float64(settledRSS()-r.baseline) / float64(r.w.n)
	r.step("Set with fsync, 1 goroutine")
	r.res.put(figSetSync1)(rate(r.dur, 1, r.setter(2)))
	r.step(fmt.Sprintf("Set with fsync, %d goroutines", writerCount))
	r.res.put(figSetSync16)(rate(r.dur, writerCount, r.setter(3)))
	if err := r.eng.close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// setter returns the goroutine function of a Set figure whose values are
// those of round.
func (r *run) setter(round int) func(int, *atomic.Bool) (int, error) {
	return func(g int, stop *atomic.Bool) (int, error) { return sets(r.eng, r.w, g, round, stop) }
}

// loadSorted loads every key once in key order into a new database of
// engine name and returns the keys per second. It runs after the peak RSS
// is read, so that its second database does not count there.
func loadSorted(name, base string, w *workload) (float64, error) {
	eng, err := newEngine(name)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp(base, "compare-sorted-"+name+"-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := eng.open(dir, false); err != nil {
		return 0, err
	}
	start := time.Now()
	err = loadOrder(eng, w, w.sorted())
	took := time.Since(start)
	if cerr := eng.close(); err == nil {
		err = cerr
	}
	return float64(w.n) / took.Seconds(), err
}

// sorted returns the order 0, 1, ..., n-1: key order, since key i is i
// zero-padded.
func (w *workload) sorted() []uint32 {
	order := make([]uint32, w.n)
	for i := range order {
		order[i] = uint32(i)
	}
	return order
}

// load writes every key once, in random order, in batches of batchOps.
func load(eng engine, w *workload) error { return loadOrder(eng, w, w.loadPerm) }

// loadOrder writes every key once, in the order of order, in batches of
// batchOps.
func loadOrder(eng engine, w *workload, order []uint32) error {
	keys := make([][]byte, 0, batchOps)
	vals := make([][]byte, batchOps)
	for i := range vals {
		vals[i] = make([]byte, valueLen)
	}
	for start := 0; start < w.n; start += batchOps {
		keys = keys[:0]
		for j, i := range order[start:min(start+batchOps, w.n)] {
			keys = append(keys, w.key(i))
			value(vals[j], i, 0)
		}
		if err := eng.writeBatch(keys, vals[:len(keys)]); err != nil {
			return err
		}
	}
	return nil
}

// verify reads a sample of keys back and checks their values.
func verify(eng engine, w *workload) error {
	want := make([]byte, valueLen)
	for j := 0; j < w.n; j += max(w.n/1000, 1) {
		i := w.readPerm[j]
		got, err := eng.get(w.key(i))
		if err != nil {
			return fmt.Errorf("verify %s: %w", w.key(i), err)
		}
		if string(got) != string(value(want, i, 0)) {
			return fmt.Errorf("verify %s: wrong value %q", w.key(i), got)
		}
	}
	return nil
}

// rate runs fn in g goroutines for dur and returns the operations per
// second they completed together.
func rate(dur time.Duration, g int, fn func(g int, stop *atomic.Bool) (int, error)) (float64, error) {
	var stop atomic.Bool
	var total atomic.Int64
	errs := make([]error, g)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range g {
		wg.Go(func() {
			n, err := fn(i, &stop)
			total.Add(int64(n))
			errs[i] = err
		})
	}
	time.Sleep(dur)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return float64(total.Load()) / elapsed.Seconds(), nil
}

// gets reads keys in random order, goroutine g starting at its own offset.
func gets(eng engine, w *workload, g int, stop *atomic.Bool) (int, error) {
	n, i := 0, (g*w.n/17)%w.n
	for !stop.Load() {
		for range 64 {
			v, err := eng.get(w.key(w.readPerm[i]))
			if err != nil {
				return n, fmt.Errorf("get %s: %w", w.key(w.readPerm[i]), err)
			}
			if len(v) != valueLen {
				return n, fmt.Errorf("get %s: %d bytes", w.key(w.readPerm[i]), len(v))
			}
			if i++; i == w.n {
				i = 0
			}
			n++
		}
	}
	return n, nil
}

// sets overwrites keys in random order with values of the given round.
func sets(eng engine, w *workload, g, round int, stop *atomic.Bool) (int, error) {
	val := make([]byte, valueLen)
	n, i := 0, (g*w.n/17+round*w.n/5)%w.n
	for !stop.Load() {
		for range 8 {
			k := w.readPerm[i]
			if err := eng.set(w.key(k), value(val, k, round)); err != nil {
				return n, fmt.Errorf("set %s: %w", w.key(k), err)
			}
			if i++; i == w.n {
				i = 0
			}
			n++
		}
	}
	return n, nil
}

// scans reads the scanLen keys under random group prefixes.
func scans(eng engine, w *workload, stop *atomic.Bool) (int, error) {
	n, i := 0, 0
	for !stop.Load() {
		g := w.groups[i]
		prefix := w.key(g * scanLen)[:prefixLen]
		got, err := eng.scan(prefix, scanLen)
		if err != nil {
			return n, err
		}
		if want := min(scanLen, w.n-int(g)*scanLen); got != want {
			return n, fmt.Errorf("scan %s: %d entries, want %d", prefix, got, want)
		}
		if i++; i == len(w.groups) {
			i = 0
		}
		n++
	}
	return n, nil
}

// gcTime returns the median duration of three forced collections, after
// one that clears the garbage of the load.
func gcTime() time.Duration {
	runtime.GC()
	var d [3]time.Duration
	for i := range d {
		start := time.Now()
		runtime.GC()
		d[i] = time.Since(start)
	}
	s := d[:]
	slices.Sort(s)
	return s[1]
}

// settledRSS collects garbage, returns freed memory to the system and
// returns the resident set size in bytes.
func settledRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return readStatus("VmRSS:")
}
