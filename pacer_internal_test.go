package minikv

import (
	"testing"
	"time"
)

// TestPacer_Rest checks the pacer's rule: no rest without writes, and never
// more rest in all than work.
func TestPacer_Rest(t *testing.T) {
	var p pacer
	p.worked = 10 * time.Millisecond
	p.rest(0)
	if p.rested != 0 {
		t.Fatalf("rested %v though the WAL did not grow", p.rested)
	}
	p.rest(100)
	if p.rested < time.Millisecond {
		t.Fatalf("rested %v after the WAL grew; want at least 1ms", p.rested)
	}
	first := p.rested
	p.rest(100)
	if p.rested != first {
		t.Fatalf("rested again (%v in all) though the WAL did not grow", p.rested)
	}
	before := p.rested
	p.worked = p.rested / restShare // budget spent
	for w := int64(200); w < 210; w++ {
		p.rest(w)
	}
	if p.rested != before {
		t.Fatalf("rested %v beyond a spent budget", p.rested-before)
	}
	worked := p.worked
	p.begin()
	time.Sleep(time.Millisecond)
	p.end()
	if p.worked <= worked {
		t.Fatalf("worked %v did not grow after a step from %v", p.worked, worked)
	}
}
