package minikv

import "testing"

// TestWAL_WantPresync checks that a filling segment is handed to a background
// fsync once per 1/presyncSteps of its limit, that a rotation starts the
// count again, and that small segments are never presynced.
func TestWAL_WantPresync(t *testing.T) {
	w := &wal{segLimit: 16 << 20}
	fill := func() int {
		n := 0
		for w.segSize = 0; w.segSize < w.segLimit; w.segSize += 100_000 {
			if w.wantPresync() {
				n++
			}
		}
		return n
	}
	if n := fill(); n != presyncSteps-1 {
		t.Fatalf("filling a segment asked for %d presyncs, want %d", n, presyncSteps-1)
	}
	if w.segLimit-w.presynced > w.segLimit/presyncSteps+100_000 {
		t.Fatalf("last presync at %d of %d: the seal would sync more than a step", w.presynced, w.segLimit)
	}
	w.presynced = 0 // as rotate does
	if n := fill(); n != presyncSteps-1 {
		t.Fatalf("after a rotation: %d presyncs, want %d", n, presyncSteps-1)
	}
	w = &wal{segLimit: presyncMin - 1}
	if n := fill(); n != 0 {
		t.Fatalf("a segment below presyncMin asked for %d presyncs", n)
	}
}
