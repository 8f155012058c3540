package minikv

import (
	"expvar"
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats is a point-in-time summary of a database, returned by DB.Stats.
type Stats struct {
	KeyCount      int64 // live keys, expired ones excluded
	WALSize       int64 // bytes in live WAL segments
	SnapshotCount int64 // snapshot files in use (0 or 1)
	MemoryUsage   int64 // bytes held by the in-memory index

	Reads   int64 // Get, Exists and context Get calls since Open
	Writes  int64 // keys set since Open (batch operations count one each)
	Deletes int64 // keys deleted by callers since Open
	Scans   int64 // iterators and Keys calls since Open

	Expired     int64 // expired keys removed by the cleaner or to make room under MaxMemory
	Evicted     int64 // keys evicted to stay within Options.MaxMemory
	Compactions int64 // compactions finished since Open

	// Latency percentiles of Get and Set (Set in every form, including
	// the wait for fsync), from a sample of one call in 16 that always
	// takes the first calls, so a few calls already give figures.
	GetP50, GetP95, GetP99 time.Duration
	SetP50, SetP95, SetP99 time.Duration

	// Recovery figures of the Open that created this handle.
	RecoveredRecords int64 // WAL records replayed
	RecoveredKeys    int64 // keys loaded from the snapshot
	TornBytes        int64 // bytes of torn WAL tail cut off
	// TornRecords counts the valid WAL records cut off with a torn tail:
	// records that a power cut left after a hole in data never synced.
	TornRecords  int64
	RecoveryTime time.Duration // time Open spent loading the data
}

const (
	stripes    = 16
	sampleMask = 15
)

// opStripe is one stripe of the operation counters, padded to two cache
// lines (adjacent lines are fetched in pairs) so that readers on different
// cores do not contend.
type opStripe struct {
	_                             [64]byte
	reads, writes, deletes, scans atomic.Int64
	_                             [32]byte
}

// counters counts operations and samples their latency without locks.
type counters struct {
	stripe      [stripes]opStripe
	expired     atomic.Int64
	evicted     atomic.Int64
	compactions atomic.Int64
	getLat      histogram
	setLat      histogram
	// off turns counting off; only benchmarks set it, to measure what the
	// counters cost.
	off bool
}

// read counts a read on the stripe of hash h and reports whether to sample
// its latency: the first read of each stripe and every 16th after it, so
// that a store with only a few reads still reports percentiles.
func (c *counters) read(h uint64) bool {
	if c.off {
		return false
	}
	return c.stripe[h&(stripes-1)].reads.Add(1)&sampleMask == 1
}

// write counts n writes and reports whether to sample the latency, on the
// same rule as read.
func (c *counters) write(h uint64, n int64) bool {
	return c.stripe[h&(stripes-1)].writes.Add(n)&sampleMask == 1
}

func (c *counters) delete(h uint64, n int64) { c.stripe[h&(stripes-1)].deletes.Add(n) }
func (c *counters) scan(h uint64)            { c.stripe[h&(stripes-1)].scans.Add(1) }

func (c *counters) fill(s *Stats) {
	for i := range c.stripe {
		st := &c.stripe[i]
		s.Reads += st.reads.Load()
		s.Writes += st.writes.Load()
		s.Deletes += st.deletes.Load()
		s.Scans += st.scans.Load()
	}
	s.Expired = c.expired.Load()
	s.Evicted = c.evicted.Load()
	s.Compactions = c.compactions.Load()
	s.GetP50, s.GetP95, s.GetP99 = c.getLat.percentiles()
	s.SetP50, s.SetP95, s.SetP99 = c.setLat.percentiles()
}

// histogram is a lock-free latency histogram with fixed memory: 8 buckets
// per power of two of nanoseconds, so a percentile is within 12.5%.
type histogram struct {
	counts [64 * 8]atomic.Int64
}

func bucketOf(ns int64) int {
	if ns < 8 {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 4 // ns >> e is in [8, 16)
	return (e+1)*8 + int(ns>>e) - 8
}

// bucketMid returns a representative latency for bucket b.
func bucketMid(b int) time.Duration {
	if b < 8 {
		return time.Duration(b)
	}
	e := b/8 - 1
	lo := int64(b%8+8) << e
	return time.Duration(lo + (int64(1)<<e)/2)
}

func (h *histogram) observe(d time.Duration) {
	b := min(bucketOf(int64(d)), len(h.counts)-1)
	h.counts[b].Add(1)
}

func (h *histogram) percentiles() (p50, p95, p99 time.Duration) {
	var total int64
	var snap [len(histogram{}.counts)]int64
	for i := range h.counts {
		snap[i] = h.counts[i].Load()
		total += snap[i]
	}
	if total == 0 {
		return 0, 0, 0
	}
	at := func(q float64) time.Duration {
		want := int64(q*float64(total)) + 1
		var seen int64
		for i, c := range snap {
			seen += c
			if seen >= want {
				return bucketMid(i)
			}
		}
		return bucketMid(len(snap) - 1)
	}
	return at(0.50), at(0.95), at(0.99)
}

// StatsVar returns an expvar.Var that reports db.Stats() as JSON each time
// it is read, so that a service can publish it next to its own figures:
//
//	expvar.Publish("minikv", db.StatsVar())
//
// Durations appear in nanoseconds. It is safe for concurrent use and keeps
// working (with zero gauges) after Close.
func (db *DB) StatsVar() expvar.Var {
	return expvar.Func(func() any { return db.Stats() })
}
