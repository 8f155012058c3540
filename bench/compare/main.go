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
// VmHWM at the end, workload included.
//
// On a shared machine other processes slow some runs down. With -rounds N
// every engine runs N times, the rounds interleaved so that each engine
// meets the same mix of quiet and busy moments, and the table shows the best
// figure of each engine over its rounds. The one-minute load average before
// each run is printed under the table.
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
		dir      = flag.String("dir", os.TempDir(), "parent directory of the databases")
		timeout  = flag.Duration("timeout", 20*time.Minute, "time limit of one engine's process")
		rounds   = flag.Int("rounds", 1, "runs of each engine, interleaved; the table keeps the best figure")
		jsonOut  = flag.String("json", "", "also write the raw results to this file")
		reportIn = flag.String("report", "", "print the table of a file written by -json, and run nothing")
		childArg = flag.String("child", "", "internal: run the workload on this engine and write JSON to -out")
		outArg   = flag.String("out", "", "internal: where the child writes its result")
	)
	flag.Parse()
	log.SetFlags(log.Ltime)
	if *keys < scanLen {
		log.Fatalf("-keys must be at least %d", scanLen)
	}
	if *reportIn != "" {
		var rep report
		data, err := os.ReadFile(*reportIn)
		if err == nil {
			err = json.Unmarshal(data, &rep)
		}
		if err != nil {
			log.Fatalf("read %s: %v", *reportIn, err)
		}
		rep.print(os.Stdout)
		return
	}
	if *childArg != "" {
		res, err := child(*childArg, *keys, *dir, *dur)
		if err != nil {
			log.Fatalf("%s: %v", *childArg, err)
		}
		if err := writeJSON(*outArg, res); err != nil {
			log.Fatal(err)
		}
		return
	}
	list := strings.Split(*names, ",")
	for _, name := range list {
		if _, err := newEngine(name); err != nil {
			log.Fatal(err)
		}
	}
	runs := make([][]*result, len(list)) // runs[engine][round]
	for round := range max(*rounds, 1) {
		for i, name := range list {
			log.Printf("round %d of %d: %s", round+1, max(*rounds, 1), name)
			load := loadAverage()
			r := runChild(name, *keys, *dir, *dur, *timeout)
			r.Load = load
			runs[i] = append(runs[i], r)
		}
	}
	rep := &report{
		Date:       time.Now().UTC().Format("2006-01-02 15:04 MST"),
		Go:         runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Keys:       *keys,
		Duration:   dur.String(),
		Versions:   moduleVersions(),
		Runs:       runs,
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, rep); err != nil {
			log.Fatal(err)
		}
	}
	rep.print(os.Stdout)
}

// report is a whole run: its settings and every round of every engine.
type report struct {
	Date       string
	Go         string
	GOMAXPROCS int
	Keys       int
	Duration   string            // of each timed figure
	Versions   map[string]string // module path -> version
	Runs       [][]*result       // [engine][round]
}

// print writes the table of the best figures, then the load averages.
func (rep *report) print(w io.Writer) {
	results := make([]*result, len(rep.Runs))
	for i := range rep.Runs {
		results[i] = bestOf(rep.Runs[i])
	}
	printTable(w, rep, results)
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

// bestOf merges the rounds of one engine: each figure's best value over
// the rounds that produced it. It fails only when every round failed.
func bestOf(runs []*result) *result {
	out := &result{Engine: runs[0].Engine, Keys: runs[0].Keys, Figures: map[string]float64{}, Missing: map[string]string{}}
	var errs []string
	for _, r := range runs {
		if r.Err != "" {
			errs = append(errs, r.Err)
			continue
		}
		for _, f := range figures {
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

func writeJSON(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

// runChild re-executes this program for one engine and reads its result.
func runChild(name string, keys int, dir string, dur, timeout time.Duration) *result {
	fail := func(err error) *result {
		log.Printf("%s: %v", name, err)
		return &result{Engine: name, Keys: keys, Err: err.Error()}
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	out, err := os.CreateTemp("", "compare-result-*.json")
	if err != nil {
		return fail(err)
	}
	out.Close()
	defer os.Remove(out.Name())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-child", name, "-keys", strconv.Itoa(keys),
		"-dir", dir, "-duration", dur.String(), "-out", out.Name())
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
	fmt.Fprintf(w, "%d keys of %d bytes, values of %d bytes; GOMAXPROCS=%d; %s per timed figure; best of %d rounds; %s; %s\n\n",
		rep.Keys, keyLen, valueLen, rep.GOMAXPROCS, rep.Duration, len(rep.Runs[0]), rep.Go, rep.Date)
	var mk *result
	fmt.Fprint(w, "| figure |")
	for _, r := range results {
		fmt.Fprintf(w, " %s |", r.Engine)
		if r.Engine == "minikv" && r.Err == "" {
			mk = r
		}
	}
	fmt.Fprint(w, " MiniKV ÷ best peer | issue-6 target |\n|---|")
	for range results {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprint(w, "---|---|\n")
	for _, f := range figures {
		fmt.Fprintf(w, "| %s |", f.label)
		for _, r := range results {
			fmt.Fprintf(w, " %s |", cell(r, f))
		}
		fmt.Fprintf(w, " %s | %s |\n", bestRatio(mk, results, f), targetCell(mk, results, f))
	}
	fmt.Fprintln(w)
	vers := rep.Versions
	fmt.Fprint(w, "Versions:")
	for _, e := range engines {
		if e.module != "" {
			fmt.Fprintf(w, " %s %s;", e.name, vers[e.module])
		}
	}
	fmt.Fprintln(w)
}
