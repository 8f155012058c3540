// Command compare runs one workload on MiniKV, on a plain map behind a
// RWMutex and on five Go storage engines (BuntDB, bbolt, Badger, Pebble,
// goleveldb), each in a process of its own, and prints a Markdown table of
// the figures with MiniKV's ratio to the best peer and to the targets of
// issue 6.
//
// Usage, from this directory:
//
//	go run . -keys 1000000              # the full run, a few minutes per engine
//	go run . -keys 100000 -duration 1s  # a quick look
//	go run . -engines minikv,buntdb     # a subset
//	go run . -rounds 3                  # each engine 3 times, interleaved; best of 3
//	go run . -only writers              # the load, then the concurrent writers only
//	go run . -ycsb                      # YCSB load, workloads A and F (see below)
//	go run . -ycsb -ycsb-records 2000 -ycsb-ops 20000  # a quick YCSB look
//
// The workload: keys of 16 bytes ("k" and 15 digits), values of 100 bytes;
// a load in random order in batches of 1000, without fsync; then random
// Gets, prefix scans of 100 keys and single-key Sets without fsync, each
// for -duration; a close and a timed reopen (Open plus one Get) in durable
// mode; and single-key Sets with fsync from 1 and from 16 goroutines.
// Resident memory is VmRSS from /proc/self/status after a GC and
// debug.FreeOSMemory, minus the same figure taken before the engine was
// opened (the workload's keys, 16 bytes each, and its random orders, 8
// bytes per key, are in both), divided by the number of keys. Peak RSS is
// VmHWM after the fsync figures, workload included.
//
// Then the concurrent writers, 16 goroutines each, for -duration each:
// single-key Sets of loaded keys (overwrites), batches of 10 Sets, and Incr
// of one of 16 shared counters, without fsync; then batches of 10 Sets
// with fsync. They run after the peak RSS is read, in a reopened database,
// so that their writes change neither the reopen nor the memory figures.
// A batch figure counts batches (calls), not keys. Incr is db.Incr on
// MiniKV; on the peers it is the atomic read-modify-write of a base-10
// integer that their users would write: an Update transaction (get, parse,
// set) on BuntDB and bbolt, the same on Badger, run again on
// badger.ErrConflict, and a per-counter mutex around Get and Set on Pebble
// and goleveldb, which have no such transactions. The counters must add up
// to the increments done. The map has no fsync figures. With -only writers
// a run does the load, the Sets without fsync from 1 goroutine, these
// figures and the Sets with fsync from 16 goroutines, and nothing else.
// Under the table a row divides each engine's Sets without fsync from 16
// goroutines by its own from 1: how its writes scale.
//
// With -ycsb the harness runs YCSB instead, through the client of
// github.com/pingcap/go-ycsb used as a library, on adapters of its own
// (a record is one value of a small length-prefixed encoding under the key
// "table/key"): in each engine's process, without fsync, the load of
// -ycsb-records records, then workload A (50% read, 50% update) and
// workload F (50% read, 50% read-modify-write), both zipfian, of -ycsb-ops
// operations each, with -ycsb-threads threads, 10 fields of 100 bytes,
// readallfields and writeallfields true. The table shows each phase's
// operations per second over the client's wall time, and go-ycsb's own
// measurement of each operation.
//
// On a shared machine other processes slow some runs down. With -rounds N
// every engine runs N times, the rounds interleaved so that each engine
// meets the same mix of quiet and busy moments, and the table shows the best
// figure of each engine over its rounds. The one-minute load average before
// each run is printed under the table. Each engine's process keeps its
// databases in a directory of its own under -dir, removed when it ends.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		keys     = flag.Int("keys", 1_000_000, "number of keys")
		names    = flag.String("engines", strings.Join(engineNames(), ","), "comma-separated engines to run")
		dur      = flag.Duration("duration", 2*time.Second, "length of each timed figure")
		only     = flag.String("only", "", `run only a group of figures: "writers" (the load, then the concurrent writers)`)
		dir      = flag.String("dir", os.TempDir(), "parent directory of the databases")
		timeout  = flag.Duration("timeout", 20*time.Minute, "time limit of one engine's process")
		rounds   = flag.Int("rounds", 1, "runs of each engine, interleaved; the table keeps the best figure")
		jsonOut  = flag.String("json", "", "also write the raw results to this file")
		reportIn = flag.String("report", "", "print the table of a file written by -json, and run nothing")
		ycsbMode = flag.Bool("ycsb", false, "run YCSB load, workload A and workload F through the go-ycsb client instead of the figures")
		records  = flag.Int("ycsb-records", 200_000, "YCSB recordcount: the records of the load")
		ops      = flag.Int("ycsb-ops", 1_000_000, "YCSB operationcount of workload A and of workload F")
		threads  = flag.Int("ycsb-threads", 16, "YCSB threadcount of every phase")
		childArg = flag.String("child", "", "internal: run the workload on this engine and write JSON to -out")
		outArg   = flag.String("out", "", "internal: where the child writes its result")
	)
	flag.Parse()
	log.SetFlags(log.Ltime)
	cfg := &config{keys: *keys, dur: *dur, only: *only}
	if *ycsbMode {
		cfg.ycsb = &ycsbConfig{Records: *records, Operations: *ops, Threads: *threads}
	}
	var err error
	switch {
	case *reportIn != "":
		err = printReportFile(*reportIn)
	case *childArg != "":
		err = childMain(*childArg, *dir, *outArg, cfg)
	default:
		err = parentMain(strings.Split(*names, ","), *dir, *timeout, max(*rounds, 1), *jsonOut, cfg)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// config is what a run measures; each engine's process gets it through
// its arguments.
type config struct {
	keys int
	dur  time.Duration
	only string      // "" for every figure, or onlyWriters
	ycsb *ycsbConfig // nil for the figures, else the YCSB workloads
}

// check rejects settings that the workloads cannot run with.
func (c *config) check() error {
	if c.ycsb != nil {
		return c.ycsb.check()
	}
	if c.keys < scanLen {
		return fmt.Errorf("-keys must be at least %d", scanLen)
	}
	if c.only != "" && c.only != onlyWriters {
		return fmt.Errorf("-only %q: the one group is %q", c.only, onlyWriters)
	}
	return nil
}

// size is the number of keys or records that a run loads.
func (c *config) size() int {
	if c.ycsb != nil {
		return c.ycsb.Records
	}
	return c.keys
}

// childArgs returns the arguments of engine name's process, which keeps
// its databases under dir and writes its result to out.
func (c *config) childArgs(name, dir, out string) []string {
	args := []string{"-child", name, "-dir", dir, "-out", out,
		"-keys", strconv.Itoa(c.keys), "-duration", c.dur.String()}
	if c.only != "" {
		args = append(args, "-only", c.only)
	}
	if y := c.ycsb; y != nil {
		args = append(args, "-ycsb", "-ycsb-records", strconv.Itoa(y.Records),
			"-ycsb-ops", strconv.Itoa(y.Operations), "-ycsb-threads", strconv.Itoa(y.Threads))
	}
	return args
}

// printReportFile prints the table of a file written by -json.
func printReportFile(name string) error {
	var rep report
	data, err := os.ReadFile(name)
	if err == nil {
		err = json.Unmarshal(data, &rep)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if len(rep.Runs) == 0 {
		return fmt.Errorf("%s: no runs", name)
	}
	rep.print(os.Stdout)
	return nil
}

// childMain runs engine name's workload in this process and writes its
// result to out.
func childMain(name, dir, out string, cfg *config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	var res *result
	var err error
	if cfg.ycsb != nil {
		res, err = ycsbChild(name, dir, cfg.ycsb)
	} else {
		res, err = child(name, cfg.keys, dir, cfg.dur, cfg.only)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return writeJSON(out, res)
}

// parentMain runs each engine of list in a process of its own, rounds
// times, and prints the table.
func parentMain(list []string, dir string, timeout time.Duration, rounds int, jsonOut string, cfg *config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	for _, name := range list {
		if _, err := newEngine(name); err != nil {
			return err
		}
	}
	runs := make([][]*result, len(list)) // runs[engine][round]
	for round := range rounds {
		for i, name := range list {
			log.Printf("round %d of %d: %s", round+1, rounds, name)
			load := loadAverage()
			r := runChild(name, dir, cfg, timeout)
			r.Load = load
			runs[i] = append(runs[i], r)
		}
	}
	rep := &report{
		Date:       time.Now().UTC().Format("2006-01-02 15:04 MST"),
		Go:         runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Keys:       cfg.size(),
		Duration:   cfg.dur.String(),
		Only:       cfg.only,
		YCSB:       cfg.ycsb,
		Versions:   moduleVersions(),
		Runs:       runs,
	}
	if jsonOut != "" {
		if err := writeJSON(jsonOut, rep); err != nil {
			return err
		}
	}
	rep.print(os.Stdout)
	return nil
}

// report is a whole run: its settings and every round of every engine.
type report struct {
	Date       string
	Go         string
	GOMAXPROCS int
	Keys       int
	Duration   string            // of each timed figure
	Only       string            `json:",omitempty"` // the group of figures run, if not all
	YCSB       *ycsbConfig       `json:",omitempty"` // the YCSB settings, in a YCSB run
	Versions   map[string]string // module path -> version
	Runs       [][]*result       // [engine][round]
}

// print writes the table of the best figures, then the load averages.
func (rep *report) print(w io.Writer) {
	figs := figures
	if rep.YCSB != nil {
		figs = ycsbFigures()
	}
	results := make([]*result, len(rep.Runs))
	for i := range rep.Runs {
		results[i] = bestOf(rep.Runs[i], figs)
	}
	if rep.YCSB != nil {
		printYCSBTable(w, rep, results, figs)
	} else {
		printTable(w, rep, results)
	}
	printLoads(w, rep.Runs)
}

// result is what one engine's process reports.
type result struct {
	Engine  string
	Keys    int
	Figures map[string]float64
	Missing map[string]string // figure -> why it has no value
	Err     string            // the process failed
	Load    float64           // one-minute load average when the run started
}

// bestOf merges the rounds of one engine: the best value of each figure
// of figs over the rounds that produced it. It fails only when every round
// failed.
func bestOf(runs []*result, figs []figure) *result {
	out := &result{Engine: runs[0].Engine, Keys: runs[0].Keys, Figures: map[string]float64{}, Missing: map[string]string{}}
	var errs []string
	for _, r := range runs {
		if r.Err != "" {
			errs = append(errs, r.Err)
			continue
		}
		for _, f := range figs {
			v, ok := r.Figures[f.id]
			if !ok {
				if why, ok := r.Missing[f.id]; ok {
					out.Missing[f.id] = why
				}
				continue
			}
			old, seen := out.Figures[f.id]
			if !seen || (f.higher && v > old) || (!f.higher && v < old) {
				out.Figures[f.id] = v
			}
		}
	}
	for id := range out.Figures {
		delete(out.Missing, id)
	}
	if len(errs) == len(runs) {
		out.Err = strings.Join(errs, "; ")
	}
	return out
}

// loadAverage returns the one-minute load average, or 0 where it is not
// known.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(data), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

// printLoads writes the load average that each run started under, and the
// runs that failed.
func printLoads(w io.Writer, runs [][]*result) {
	fmt.Fprintf(w, "\nOne-minute load average at the start of each run (%d CPUs):", runtime.NumCPU())
	for _, rs := range runs {
		fmt.Fprintf(w, " %s", rs[0].Engine)
		for i, r := range rs {
			sep := "/"
			if i == 0 {
				sep = " "
			}
			fmt.Fprintf(w, "%s%.1f", sep, r.Load)
		}
		fmt.Fprint(w, ";")
	}
	fmt.Fprintln(w)
	for _, rs := range runs {
		for i, r := range rs {
			if r.Err != "" {
				fmt.Fprintf(w, "\n%s, round %d, did not finish: %s\n", r.Engine, i+1, r.Err)
			}
		}
	}
}

// put returns a function that records v under fig, or err as the reason
// it is missing.
func (r *result) put(fig string) func(v float64, err error) {
	return func(v float64, err error) {
		if err != nil {
			r.Missing[fig] = err.Error()
			return
		}
		r.Figures[fig] = v
	}
}

// writeJSON writes v as indented JSON to the file name.
func writeJSON(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

// runChild re-executes this program for one engine and reads its result.
// The process keeps its databases in a directory of its own under base,
// removed when it ends, whether it succeeded or not.
func runChild(name, base string, cfg *config, timeout time.Duration) *result {
	fail := func(err error) *result {
		log.Printf("%s: %v", name, err)
		return &result{Engine: name, Keys: cfg.size(), Err: err.Error()}
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp(base, "compare-run-")
	if err != nil {
		return fail(fmt.Errorf("database directory: %w", err))
	}
	defer os.RemoveAll(dir)
	out, err := os.CreateTemp("", "compare-result-*.json")
	if err != nil {
		return fail(err)
	}
	out.Close()
	defer os.Remove(out.Name())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, cfg.childArgs(name, dir, out.Name())...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fail(fmt.Errorf("process failed: %w", err))
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		return fail(err)
	}
	var res result
	if err := json.Unmarshal(data, &res); err != nil {
		return fail(err)
	}
	return &res
}

// readStatus returns a "kB" field of /proc/self/status in bytes, or 0 where
// there is no such file.
func readStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// moduleVersions returns the version of each engine's module built into
// this binary.
func moduleVersions() map[string]string {
	v := map[string]string{}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, d := range info.Deps {
		ver := d.Version
		if d.Replace != nil {
			ver = "local tree (" + d.Replace.Path + ")"
		}
		v[d.Path] = ver
	}
	return v
}

// printTable writes the Markdown table, the ratios and the notes.
func printTable(w io.Writer, rep *report, results []*result) {
	fmt.Fprintf(w, "%d keys of %d bytes, values of %d bytes; GOMAXPROCS=%d; %s per timed figure; best of %d rounds; %s; %s\n",
		rep.Keys, keyLen, valueLen, rep.GOMAXPROCS, rep.Duration, len(rep.Runs[0]), rep.Go, rep.Date)
	if rep.Only != "" {
		fmt.Fprintf(w, "Only the figures of -only %s: the load and the concurrent writers.\n", rep.Only)
	}
	fmt.Fprintln(w)
	printRows(w, results, figures, "issue-6 target")
	printScalings(w, results)
	fmt.Fprintln(w)
	printVersions(w, rep.Versions)
	fmt.Fprintln(w)
}

// printRows writes the Markdown table of the figures of figs that some
// engine measured or tried to, with MiniKV's ratio to the best peer and to
// its target.
func printRows(w io.Writer, results []*result, figs []figure, targetHeader string) {
	var mk *result
	fmt.Fprint(w, "| figure |")
	for _, r := range results {
		fmt.Fprintf(w, " %s |", r.Engine)
		if r.Engine == "minikv" && r.Err == "" {
			mk = r
		}
	}
	fmt.Fprintf(w, " MiniKV ÷ best peer | %s |\n|---|", targetHeader)
	for range results {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprint(w, "---|---|\n")
	all := !anySucceeded(results)
	for _, f := range figs {
		if !all && !measured(results, f) {
			continue
		}
		fmt.Fprintf(w, "| %s |", f.label)
		for _, r := range results {
			fmt.Fprintf(w, " %s |", cell(r, f))
		}
		fmt.Fprintf(w, " %s | %s |\n", bestRatio(mk, results, f), targetCell(mk, results, f))
	}
}

// measured reports whether some engine has a value of f or a reason why
// not: a figure that no engine ran (one outside -only, or one that an
// older report does not have) gets no row.
func measured(results []*result, f figure) bool {
	for _, r := range results {
		_, ok := r.Figures[f.id]
		_, why := r.Missing[f.id]
		if ok || why {
			return true
		}
	}
	return false
}

// anySucceeded reports whether some engine's process finished.
func anySucceeded(results []*result) bool {
	for _, r := range results {
		if r.Err == "" {
			return true
		}
	}
	return false
}

// printVersions writes the version of each engine's module, and of the
// modules of extra.
func printVersions(w io.Writer, vers map[string]string, extra ...string) {
	fmt.Fprint(w, "Versions:")
	for _, e := range engines {
		if e.module != "" {
			fmt.Fprintf(w, " %s %s;", e.name, vers[e.module])
		}
	}
	for _, m := range extra {
		fmt.Fprintf(w, " %s %s;", m, vers[m])
	}
}
