package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
)

// Figure identifiers, the keys of result.Figures.
const (
	figLoad             = "load"
	figLoadSorted       = "loadSorted"
	figGet1             = "get1"
	figGetN             = "getN"
	figSetNoSync        = "setNoSync"
	figSetSync1         = "setSync1"
	figSetSync16        = "setSync16"
	figSetNoSync16      = "setNoSync16"
	figBatchNoSync16    = "batchNoSync16"
	figIncr16           = "incr16"
	figBatchSync16      = "batchSync16"
	figScan             = "scan100"
	figReopen           = "reopen"
	figBytesPerKey      = "bytesPerKey"
	figBytesAfterReopen = "bytesAfterReopen"
	figGC               = "gc"
	figPeakRSS          = "peakRSS"
)

type unit int

const (
	perSecond unit = iota
	seconds
	bytesPerKey
	totalBytes
)

// target is an issue-6 target: MiniKV's figure divided by the reference
// engine's ("" for the best peer) must be at least factor (for a figure
// where higher is better) or at most factor (lower is better).
type target struct {
	ref    string
	factor float64
	text   string
}

type figure struct {
	id     string
	label  string
	unit   unit
	higher bool // higher is better
	target *target
}

var figures = []figure{
	{figLoad, "load, batches of 1000 (keys/s)", perSecond, true, &target{"", 1.0, "≥ 1.0× best"}},
	{figLoadSorted, "load in key order, batches of 1000 (keys/s)", perSecond, true, &target{"", 1.0, "≥ 1.0× best"}},
	{figGet1, "random Get, 1 goroutine (ops/s)", perSecond, true, &target{"map", 1.0, "≥ 1.0× map"}},
	{figGetN, fmt.Sprintf("random Get, %d goroutines (ops/s)", runtime.GOMAXPROCS(0)), perSecond, true, &target{"map", 1.0, "≥ 1.0× map"}},
	{figSetNoSync, "Set, no fsync, 1 goroutine (ops/s)", perSecond, true, &target{"pebble", 1.5, "≥ 1.5× pebble"}},
	{figSetNoSync16, fmt.Sprintf("Set, no fsync, %d goroutines (ops/s)", writerCount), perSecond, true, &target{"", 1.5, "≥ 1.5× best"}},
	{figBatchNoSync16, fmt.Sprintf("batch of %d Sets, no fsync, %d goroutines (batches/s)", writeBatchLen, writerCount), perSecond, true, nil},
	{figIncr16, fmt.Sprintf("Incr of %d shared counters, no fsync, %d goroutines (ops/s)", counterCount, writerCount), perSecond, true, nil},
	{figSetSync1, "Set, fsync, 1 goroutine (ops/s)", perSecond, true, &target{"", 1.0, "≥ 1.0× best"}},
	{figSetSync16, "Set, fsync, 16 goroutines (ops/s)", perSecond, true, &target{"", 1.5, "≥ 1.5× best"}},
	{figBatchSync16, fmt.Sprintf("batch of %d Sets, fsync, %d goroutines (batches/s)", writeBatchLen, writerCount), perSecond, true, nil},
	{figScan, "prefix scan of 100 keys (scans/s)", perSecond, true, &target{"", 2.0, "≥ 2× best"}},
	{figReopen, "reopen: Open + one Get", seconds, false, &target{"buntdb", 1.0 / 6, "≤ 1/6 buntdb"}},
	{figBytesPerKey, "resident bytes per key, after load", bytesPerKey, false, &target{"buntdb", 0.75, "≤ 0.75× buntdb"}},
	{figBytesAfterReopen, "resident bytes per key, after reopen", bytesPerKey, false, nil},
	{figGC, "one forced GC, data loaded", seconds, false, &target{"map", 0.1, "≤ 1/10 map"}},
	{figPeakRSS, "peak RSS (VmHWM)", totalBytes, false, nil},
}

// scaling is a row of the table that divides two figures of each engine
// by each other: how its rate changes from one goroutine to many.
type scaling struct {
	label    string
	num, den string  // the figures divided
	target   float64 // the least quotient MiniKV's must reach
	text     string  // the target as the table states it
}

var scalings = []scaling{
	{fmt.Sprintf("Set, no fsync: %d goroutines ÷ 1, each engine against itself", writerCount),
		figSetNoSync16, figSetNoSync, 1.0, "≥ 1.0× (issue 21)"},
}

// quotient returns r's figure num divided by its figure den.
func (s scaling) quotient(r *result) (float64, bool) {
	n, ok1 := r.value(s.num)
	d, ok2 := r.value(s.den)
	if !ok1 || !ok2 || d == 0 {
		return 0, false
	}
	return n / d, true
}

// printScalings writes the rows of scalings that some engine has both
// figures of, in the columns of printRows: each engine's quotient, the
// best peer's, and MiniKV's against its target.
func printScalings(w io.Writer, results []*result) {
	for _, s := range scalings {
		var mk *result
		row, have := "| "+s.label+" |", false
		bq, bn := 0.0, ""
		for _, r := range results {
			q, ok := s.quotient(r)
			if !ok {
				row += " n/a |"
				continue
			}
			have = true
			row += " " + times(q) + " |"
			switch {
			case r.Engine == "minikv":
				mk = r
			case r.Engine != "map" && (bn == "" || q > bq):
				bq, bn = q, r.Engine
			}
		}
		if !have {
			continue
		}
		peer, verdict := "—", s.text+": not measured"
		if bn != "" {
			peer = fmt.Sprintf("best peer: %s (%s)", times(bq), bn)
		}
		if q, ok := s.quotient(mk); mk != nil && ok {
			verdict = verdictCell(s.text, q, q >= s.target)
		}
		fmt.Fprintf(w, "%s %s | %s |\n", row, peer, verdict)
	}
}

func (r *result) value(fig string) (float64, bool) {
	if r == nil || r.Err != "" {
		return 0, false
	}
	v, ok := r.Figures[fig]
	return v, ok
}

func cell(r *result, f figure) string {
	if r.Err != "" {
		return "failed"
	}
	if v, ok := r.Figures[f.id]; ok {
		return format(v, f.unit)
	}
	if why, ok := r.Missing[f.id]; ok && why != errUnsupported.Error() {
		return "error"
	}
	return "n/a"
}

func format(v float64, u unit) string {
	switch u {
	case perSecond:
		switch {
		case v >= 1e6:
			return fmt.Sprintf("%.2fM", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.1fK", v/1e3)
		}
		return fmt.Sprintf("%.0f", v)
	case seconds:
		switch {
		case v >= 1:
			return fmt.Sprintf("%.2f s", v)
		case v >= 1e-3:
			return fmt.Sprintf("%.1f ms", v*1e3)
		}
		return fmt.Sprintf("%.0f µs", v*1e6)
	case bytesPerKey:
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.0f MiB", v/(1<<20))
}

// best returns the best figure among the peers: the engines other than
// MiniKV and the map.
func best(results []*result, f figure) (float64, string) {
	bv, bn := math.NaN(), ""
	for _, r := range results {
		if r.Engine == "minikv" || r.Engine == "map" {
			continue
		}
		v, ok := r.value(f.id)
		if !ok {
			continue
		}
		if bn == "" || (f.higher && v > bv) || (!f.higher && v < bv) {
			bv, bn = v, r.Engine
		}
	}
	return bv, bn
}

func bestRatio(mk *result, results []*result, f figure) string {
	v, ok := mk.value(f.id)
	bv, bn := best(results, f)
	if !ok || bn == "" || bv == 0 {
		return "—"
	}
	return fmt.Sprintf("%s (%s)", times(v/bv), bn)
}

func targetCell(mk *result, results []*result, f figure) string {
	if f.target == nil {
		return "—"
	}
	v, ok := mk.value(f.id)
	var ref float64
	var refOK bool
	if f.target.ref == "" {
		var name string
		ref, name = best(results, f)
		refOK = name != ""
	} else {
		for _, r := range results {
			if r.Engine == f.target.ref {
				ref, refOK = r.value(f.id)
			}
		}
	}
	if !ok || !refOK || ref == 0 {
		return f.target.text + ": not measured"
	}
	ratio := v / ref
	met := ratio >= f.target.factor
	if !f.higher {
		met = ratio <= f.target.factor
	}
	return verdictCell(f.target.text, ratio, met)
}

// verdictCell states a target, MiniKV's ratio and whether it is met.
func verdictCell(text string, ratio float64, met bool) string {
	verdict := "missed"
	if met {
		verdict = "met"
	}
	return fmt.Sprintf("%s: %s, %s", text, times(ratio), verdict)
}

// times formats a ratio with two significant digits below 1, so that a
// small one does not read as zero.
func times(r float64) string {
	if r >= 1 || r == 0 {
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.2g×", r)
}
