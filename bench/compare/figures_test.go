package main

import (
	"strings"
	"testing"
)

// TestPrintScalings checks the row that divides each engine's Sets from 16
// goroutines by its own from one: the quotients, the best peer (the map is
// no peer), MiniKV's verdict, and n/a for an engine without both figures.
func TestPrintScalings(t *testing.T) {
	res := func(name string, one, many float64) *result {
		r := newResult(name, 10)
		if one > 0 {
			r.Figures[figSetNoSync] = one
		}
		r.Figures[figSetNoSync16] = many
		return r
	}
	for _, tc := range []struct {
		minikv float64 // MiniKV's figure from 16 goroutines; from one it is 100
		want   []string
	}{
		{90, []string{"| 0.9× | 0.5× | 1.20× | n/a |", "best peer: 1.20× (pebble)", "0.9×, missed"}},
		{110, []string{"| 1.10× |", "1.10×, met"}},
	} {
		var b strings.Builder
		printScalings(&b, []*result{
			res("minikv", 100, tc.minikv),
			res("map", 100, 50),
			res("pebble", 100, 120),
			res("buntdb", 0, 70), // no figure from one goroutine
		})
		row := b.String()
		for _, w := range tc.want {
			if !strings.Contains(row, w) {
				t.Errorf("MiniKV at %v: row %q lacks %q", tc.minikv, row, w)
			}
		}
	}
	var b strings.Builder
	printScalings(&b, []*result{res("minikv", 0, 90)})
	if b.Len() != 0 {
		t.Errorf("no engine with both figures: got %q, want no row", b.String())
	}
}
