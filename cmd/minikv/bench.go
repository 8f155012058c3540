package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/minikv/minikv"
)

// benchCmd is "minikv bench".
var benchCmd = &command{
	name:    "bench",
	args:    "",
	summary: "run a quick load test and print throughput and latency",
	doc: `Bench opens a store, runs each operation of -ops in turn for -n operations
spread over -c goroutines, and prints, per operation, the throughput and the
50th and 99th percentile latency of single calls. The operations:

  set   Set of keys from a space of -keys keys, values of -value bytes
  get   Get of random keys that set wrote
  scan  Scan of up to 100 keys from a random start
  del   Delete of random keys

While a phase runs longer than -progress, bench prints its progress to
standard error.

Bench writes to a new temporary directory, deleted at the end, unless -dir
names one; that directory must be missing or empty, so that bench cannot
damage a real store, and is kept when bench succeeds. It ignores
$MINIKV_DIR. The figures depend on the disk and on -sync: "always" (the
default of minikv.Options) waits for an fsync on every write, shared
between concurrent writers.`,
	run: runBench,
}

// benchConfig holds the flags of a bench run.
type benchConfig struct {
	ops      []string
	n        int
	workers  int
	keys     int
	value    int
	sync     minikv.SyncMode
	progress time.Duration
}

// benchResult is the outcome of one phase.
type benchResult struct {
	op      string
	n       int
	elapsed time.Duration
	lat     []time.Duration // sorted
}

// runBench runs the phases of a load test and prints their figures.
func runBench(c *cmdCtx, args []string) error {
	cfg, err := parseBench(c, args)
	if err != nil {
		return err
	}
	dir, made, err := benchDir(c)
	if err != nil {
		return err
	}
	if made == nil {
		defer os.RemoveAll(dir)
	}
	db, err := minikv.Open(minikv.Options{Dir: dir, SyncMode: cfg.sync})
	if made != nil {
		made.opened(err)
	}
	if err != nil {
		return openError(dir, err, false)
	}
	fmt.Fprintf(c.stdout, "bench: %d ops per phase, %d goroutines, %d keys, %d-byte values, sync %s, in %s\n",
		cfg.n, cfg.workers, cfg.keys, cfg.value, cfg.sync, dir)
	var results []benchResult
	for _, op := range cfg.ops {
		r, err := benchPhase(c.stderr, db, cfg, op)
		if err != nil {
			return closeDB(db, err)
		}
		results = append(results, r)
	}
	if err := db.Close(); err != nil {
		return err
	}
	c.keep()
	return printBench(c.stdout, results)
}

// parseBench defines and parses the flags of bench.
func parseBench(c *cmdCtx, args []string) (benchConfig, error) {
	var cfg benchConfig
	c.fs.Lookup("dir").Usage = "a new or empty `directory` to run in, kept when bench succeeds (default: a temporary one)"
	ops := c.fs.String("ops", "set,get,scan,del", "comma-separated `operations` to run, in order")
	n := c.count("n", 10000, 1, math.MaxInt, "operations per phase")
	workers := c.count("c", 8, 1, math.MaxInt, "concurrent goroutines")
	keys := c.count("keys", 0, 0, math.MaxInt, "size of the key space (0: the same as -n)")
	value := c.count("value", 100, 0, minikv.MaxValueSize, "value size in `bytes`")
	syncMode := c.fs.String("sync", "always", "sync `mode`: always, periodic or never")
	c.fs.DurationVar(&cfg.progress, "progress", time.Second, "print progress at this `interval` (0: never)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return cfg, err
	}
	if cfg.progress < 0 {
		return cfg, usagef("invalid value %q for flag -progress: must be 0 or more", cfg.progress)
	}
	cfg.n, cfg.workers, cfg.keys, cfg.value = *n, *workers, *keys, *value
	cfg.ops = strings.Split(*ops, ",")
	for _, op := range cfg.ops {
		if !slices.Contains([]string{"set", "get", "scan", "del"}, op) {
			return cfg, usagef("unknown operation %q in -ops", op)
		}
	}
	switch *syncMode {
	case "always":
		cfg.sync = minikv.SyncAlways
	case "periodic":
		cfg.sync = minikv.SyncPeriodic
	case "never":
		cfg.sync = minikv.SyncNever
	default:
		return cfg, usagef("unknown -sync mode %q", *syncMode)
	}
	if cfg.keys == 0 {
		cfg.keys = cfg.n
	}
	return cfg, nil
}

// benchDir returns the directory to run in: -dir, which must be missing or
// empty and is recorded for removal should bench fail, or else a new
// temporary directory, for which it returns a nil *newDir.
func benchDir(c *cmdCtx) (string, *newDir, error) {
	if c.dir == "" {
		tmp, err := os.MkdirTemp("", "minikv-bench-")
		return tmp, nil, err
	}
	if err := checkDir(c.dir); err != nil {
		return "", nil, err
	}
	d, err := c.willFill(c.dir, true, "; bench writes only to a new or empty directory")
	return c.dir, d, err
}

// benchKey returns the key number i of the key space.
func benchKey(i int) string { return fmt.Sprintf("bench:%012d", i) }

// benchPhase runs cfg.n calls of op over cfg.workers goroutines.
func benchPhase(progress io.Writer, db *minikv.DB, cfg benchConfig, op string) (benchResult, error) {
	value := make([]byte, cfg.value)
	rand.Read(value)
	var next, done atomic.Int64
	lats := make([][]time.Duration, cfg.workers)
	errs := make([]error, cfg.workers)
	stop := startProgress(progress, op, cfg, &done)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range cfg.workers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for i := int(next.Add(1)) - 1; i < cfg.n; i = int(next.Add(1)) - 1 {
				t := time.Now()
				err := benchOp(db, op, i, rng, cfg, value)
				lats[w] = append(lats[w], time.Since(t))
				done.Add(1)
				if err != nil {
					errs[w] = fmt.Errorf("%s: %w", op, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	if err := errors.Join(errs...); err != nil {
		return benchResult{}, err
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	return benchResult{op: op, n: len(all), elapsed: elapsed, lat: all}, nil
}

// benchOp performs call number i of op.
func benchOp(db *minikv.DB, op string, i int, rng *mrand.Rand, cfg benchConfig, value []byte) error {
	switch op {
	case "set":
		return db.Set(benchKey(i%cfg.keys), value)
	case "get":
		_, err := db.Get(benchKey(rng.IntN(min(cfg.keys, cfg.n))))
		if errors.Is(err, minikv.ErrNotFound) {
			return nil // no set phase before, or del ran
		}
		return err
	case "scan":
		it, err := db.ScanRange(benchKey(rng.IntN(cfg.keys)), "", 100)
		if err != nil {
			return err
		}
		for it.Next() {
		}
		return it.Close()
	case "del":
		return db.Delete(benchKey(rng.IntN(cfg.keys)))
	}
	return fmt.Errorf("unknown operation %q", op)
}

// startProgress prints the progress of a phase every cfg.progress until the
// returned function is called.
func startProgress(w io.Writer, op string, cfg benchConfig, done *atomic.Int64) func() {
	if cfg.progress <= 0 {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(cfg.progress)
		defer t.Stop()
		start, last, lastN := time.Now(), time.Now(), int64(0)
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				n := done.Load()
				rate := float64(n-lastN) / now.Sub(last).Seconds()
				fmt.Fprintf(w, "%s: %d/%d ops (%.0f%%) after %s, %.0f ops/s\n",
					op, n, cfg.n, 100*float64(n)/float64(cfg.n), now.Sub(start).Round(time.Millisecond), rate)
				last, lastN = now, n
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// printBench writes one row of figures per phase.
func printBench(w io.Writer, results []benchResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "op\tops\ttime\tops/s\tp50\tp99\t\n")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%s\t%s\t\n", r.op, r.n, fmtLatency(r.elapsed),
			float64(r.n)/r.elapsed.Seconds(), fmtLatency(percentile(r.lat, 0.50)), fmtLatency(percentile(r.lat, 0.99)))
	}
	return tw.Flush()
}

// percentile returns the q-quantile of the sorted latencies.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

// fmtLatency formats d with about three significant digits.
func fmtLatency(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return sig3(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	}
	return sig3(d.Seconds()) + "s"
}

// sig3 formats v, a number under 1000, with three significant digits.
func sig3(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}
