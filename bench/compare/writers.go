package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
)

const (
	writerCount   = 16 // goroutines of the concurrent-writer figures
	writeBatchLen = 10 // Sets in one batch of the batch figures
	counterCount  = 16 // shared counters of the Incr figure
	onlyWriters   = "writers"
)

// writers runs the concurrent-writer figures on the engine, open without
// fsync: single-key Sets, batches of writeBatchLen Sets and Incr of shared
// counters, each from writerCount goroutines. It then closes the engine,
// reopens it in durable mode for the fsync figures among synced
// (figSetSync16, figBatchSync16) and closes it again.
func (r *run) writers(synced ...string) error {
	r.step(fmt.Sprintf("Set without fsync, %d goroutines", writerCount))
	r.res.put(figSetNoSync16)(rate(r.dur, writerCount, r.setter(4)))
	r.step(fmt.Sprintf("batch of %d Sets without fsync, %d goroutines", writeBatchLen, writerCount))
	r.res.put(figBatchNoSync16)(rate(r.dur, writerCount, r.batcher(5)))
	r.step(fmt.Sprintf("Incr of %d counters without fsync, %d goroutines", counterCount, writerCount))
	r.res.put(figIncr16)(r.incrRate())
	if err := r.eng.close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return r.syncedWriters(synced)
}

// syncedWriters reopens the engine in durable mode, runs the figures of
// ids (figSetSync16, figBatchSync16) and closes it. An engine without
// durable mode gets them as unsupported.
func (r *run) syncedWriters(ids []string) error {
	err := r.eng.open(r.dir, true)
	if errors.Is(err, errUnsupported) {
		for _, id := range ids {
			r.res.put(id)(0, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("open in durable mode: %w", err)
	}
	for _, id := range ids {
		switch id {
		case figSetSync16:
			r.step(fmt.Sprintf("Set with fsync, %d goroutines", writerCount))
			r.res.put(id)(rate(r.dur, writerCount, r.setter(3)))
		case figBatchSync16:
			r.step(fmt.Sprintf("batch of %d Sets with fsync, %d goroutines", writeBatchLen, writerCount))
			r.res.put(id)(rate(r.dur, writerCount, r.batcher(6)))
		}
	}
	if err := r.eng.close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// batcher returns the goroutine function of a batch figure whose values
// are those of round.
func (r *run) batcher(round int) func(int, *atomic.Bool) (int, error) {
	return func(g int, stop *atomic.Bool) (int, error) { return batches(r.eng, r.w, g, round, stop) }
}

// batches overwrites keys in random order in batches of writeBatchLen,
// with values of round, and returns the number of batches it wrote.
func batches(eng engine, w *workload, g, round int, stop *atomic.Bool) (int, error) {
	keys := make([][]byte, writeBatchLen)
	vals := make([][]byte, writeBatchLen)
	for j := range vals {
		vals[j] = make([]byte, valueLen)
	}
	n, i := 0, (g*w.n/17+round*w.n/5)%w.n
	for !stop.Load() {
		for j := range keys {
			k := w.readPerm[i]
			keys[j] = w.key(k)
			value(vals[j], k, round)
			if i++; i == w.n {
				i = 0
			}
		}
		if err := eng.writeBatch(keys, vals); err != nil {
			return n, fmt.Errorf("batch from %s: %w", keys[0], err)
		}
		n++
	}
	return n, nil
}

// incrRate runs the Incr figure: writerCount goroutines increment
// counters drawn at random from counterCount shared ones, which start at
// 0; afterwards the counters must add up to the increments done.
func (r *run) incrRate() (float64, error) {
	keys := make([][]byte, counterCount)
	for c := range keys {
		keys[c] = fmt.Appendf(nil, "c%0*d", keyLen-1, c) // apart from the loaded keys
		if err := r.eng.set(keys[c], []byte("0")); err != nil {
			return 0, fmt.Errorf("set counter %s: %w", keys[c], err)
		}
	}
	var done atomic.Int64
	v, err := rate(r.dur, writerCount, func(g int, stop *atomic.Bool) (int, error) {
		n, err := incrs(r.eng, keys, g, stop)
		done.Add(int64(n))
		return n, err
	})
	if err != nil {
		return 0, err
	}
	return v, checkCounters(r.eng, keys, done.Load())
}

// incrs increments counters drawn at random, each goroutine with a
// sequence of its own, and returns how many increments it did.
func incrs(eng engine, keys [][]byte, g int, stop *atomic.Bool) (int, error) {
	rnd := rand.New(rand.NewPCG(uint64(g), 4))
	n := 0
	for !stop.Load() {
		for range 8 {
			k := keys[rnd.IntN(len(keys))]
			if _, err := eng.incr(k); err != nil {
				return n, fmt.Errorf("incr %s: %w", k, err)
			}
			n++
		}
	}
	return n, nil
}

// checkCounters reads the counters back and checks that they add up to
// want: an increment lost to a race shows here.
func checkCounters(eng engine, keys [][]byte, want int64) error {
	var sum int64
	for _, k := range keys {
		v, err := eng.get(k)
		if err != nil {
			return fmt.Errorf("read counter %s: %w", k, err)
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("counter %s: %w", k, err)
		}
		sum += n
	}
	if sum != want {
		return fmt.Errorf("the counters add up to %d after %d increments", sum, want)
	}
	return nil
}
