package minikv

import (
	"runtime"
	"sync"
)

// indexLock is the read-write lock that guards the index. Its holds are
// short (a lookup, or one write's change: well under a microsecond), and
// it is taken by many goroutines at once, so it waits differently from a
// bare sync.RWMutex, whose waiters park at once.
//
// A parked waiter is the trouble. A reader that parks in RLock counts as a
// reader from then on; the writer that wakes it puts it on its own P's run
// queue, behind itself, so it holds the lock without running. The writer's
// next Lock then parks too, waiting for it, and every later reader parks
// behind that pending writer: readers and writers fall into a convoy of
// wake-ups, each costing microseconds. With 16 goroutines writing, a
// quarter of all Gets met a held lock and the 99th percentile of Get went
// from 0.8 to 5-8 us.
//
// So a waiter first retries with TryLock or TryRLock, a spinPause apart,
// for about a microsecond (only with GOMAXPROCS > 1, when the holder can
// be running on another P); then it yields its P with runtime.Gosched, so
// that a holder waiting on this P runs, and tries again. Neither counts
// as a reader or a pending writer, so neither can block the holder. After
// lockYields rounds (about a tenth of a millisecond, for the rare long
// hold: a compaction's step, a resize) it blocks in the RWMutex, which
// also keeps a writer from being starved by a stream of readers.
type indexLock struct {
	sync.RWMutex
	spin bool // GOMAXPROCS > 1 at Open
}

const (
	lockSpins  = 32  // tries between yields, a spinPause apart
	lockYields = 100 // yields before a waiter blocks
)

func newIndexLock() indexLock { return indexLock{spin: runtime.GOMAXPROCS(0) > 1} }

// Lock takes the lock exclusively.
func (l *indexLock) Lock() {
	if !l.retry(l.TryLock) {
		l.RWMutex.Lock()
	}
}

// RLock takes the lock shared.
func (l *indexLock) RLock() {
	if !l.retry(l.TryRLock) {
		l.RWMutex.RLock()
	}
}

// retry calls try, spinning and yielding between calls as the type's
// comment says, until it succeeds or the yields run out; it reports
// whether try succeeded.
func (l *indexLock) retry(try func() bool) bool {
	if try() {
		return true
	}
	for range lockYields {
		if l.spin {
			for range lockSpins {
				spinPause()
				if try() {
					return true
				}
			}
		}
		runtime.Gosched()
		if try() {
			return true
		}
	}
	return false
}

// spinPause burns about 30 ns without touching shared memory. It is not
// inlined, so the compiler keeps the call though nothing uses the result.
//
//go:noinline
func spinPause() uint32 {
	x := uint32(1)
	for range 20 {
		x = x*1664525 + 1013904223
	}
	return x
}
