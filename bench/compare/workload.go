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

// child runs the whole workload on one engine in this process and returns
// its figures. The order matters: the load, then the memory and GC figures
// with the data loaded, the reads and the unsynced writes, then a close and
// a timed reopen in durable mode for the fsync figures, and the peak RSS
// last.
func child(name string, n int, base string, dur time.Duration) (*result, error) {
	eng, err := newEngine(name)
	if err != nil {
		return nil, err
	}
	res := &result{Engine: name, Keys: n, Figures: map[string]float64{}, Missing: map[string]string{}}
	w := newWorkload(n)
	baseline := settledRSS()
	dir, err := os.MkdirTemp(base, "compare-"+name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	step := func(what string) { log.Printf("%s: %s", name, what) }
	procs := runtime.GOMAXPROCS(0)
	getter := func(g int, stop *atomic.Bool) (int, error) { return gets(eng, w, g, stop) }
	setter := func(round int) func(int, *atomic.Bool) (int, error) {
		return func(g int, stop *atomic.Bool) (int, error) { return sets(eng, w, g, round, stop) }
	}

	if err := eng.open(dir, false); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	step("load")
	start := time.Now()
	if err := load(eng, w); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	res.Figures[figLoad] = float64(n) / time.Since(start).Seconds()
	if err := verify(eng, w); err != nil {
		return nil, err
	}
	res.Figures[figBytesPerKey] = float64(settledRSS()-baseline) / float64(n)
	res.Figures[figGC] = gcTime().Seconds()

	step("random Get, 1 goroutine")
	res.put(figGet1)(rate(dur, 1, getter))
	step(fmt.Sprintf("random Get, %d goroutines", procs))
	res.put(figGetN)(rate(dur, procs, getter))
	step("prefix scans")
	res.put(figScan)(rate(dur, 1, func(g int, stop *atomic.Bool) (int, error) { return scans(eng, w, stop) }))
	step("Set without fsync")
	res.put(figSetNoSync)(rate(dur, 1, setter(1)))
	if err := eng.close(); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}

	step("reopen")
	start = time.Now()
	err = eng.open(dir, true)
	if errors.Is(err, errUnsupported) {
		for _, f := range []string{figReopen, figBytesAfterReopen, figSetSync1, figSetSync16} {
			res.put(f)(0, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("reopen: %w", err)
	} else {
		if _, err := eng.get(w.key(w.readPerm[0])); err != nil {
			return nil, fmt.Errorf("get after reopen: %w", err)
		}
		res.Figures[figReopen] = time.Since(start).Seconds()
		res.Figures[figBytesAfterReopen] = float64(settledRSS()-baseline) / float64(n)
		step("Set with fsync, 1 goroutine")
		res.put(figSetSync1)(rate(dur, 1, setter(2)))
		step("Set with fsync, 16 goroutines")
		res.put(figSetSync16)(rate(dur, 16, setter(3)))
	}
	if err := eng.close(); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}
	res.Figures[figPeakRSS] = float64(readStatus("VmHWM:"))
	step("load in key order, new database")
	res.put(figLoadSorted)(loadSorted(name, base, w))
	return res, nil
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
