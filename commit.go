package minikv

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"github.com/minikv/minikv/internal/index"
)

// How callers' writes reach the WAL and the index.
//
// Every write form (Set, SetWithTTL, Delete, a batch, the read-modify-write
// operations) becomes a writeReq. Its record is encoded in the writer's
// own goroutine, before any lock, where it can be (a read-modify-write
// request is decided and encoded under the lock, since it reads the
// current value). The writer then takes the writer lock (lockWriter),
// appends the record to the WAL, applies the change to the index under
// mu, and releases the lock; with SyncAlways it then waits for the group
// fsync of its record (wal.syncTo), shared with every writer whose record
// the fsync covers.
//
// The writer lock is two locks. Writes without a context that can end
// take writeMu, a sync.Mutex, and then the writer semaphore; everything
// else (context writes, the background workers, Close) takes only the
// semaphore, a channel, so that it can give up when its context ends.
// writeMu is what makes many writers fast: a goroutine that releases it
// and comes back with its next write takes it again without a context
// switch, while waiters park (sync.Mutex spins only while other Ps are
// idle, and only briefly), so the lock changes hands about once per
// scheduling quantum rather than once per write. A semaphore alone hands
// itself to the next waiter on every release, and every write then pays
// a wake-up and a context switch: a convoy. The earlier spin-then-park
// semaphore was worse still with more writers than cores, as spinners
// took the core the holder needed (59K Set/s from 16 goroutines).
//
// Measured on 2 cores (docs/performance.md): with writeMu, Set without
// fsync from 16 goroutines runs at about 0.8x of one goroutine's rate and
// 20x the spinning semaphore's. A leader-based commit queue (writers
// queue their records, one leader appends and applies a whole group) gave
// 0.7-0.9x in the same runs, as every write still paid a park and a
// wake-up; spinning or yielding while writeMu is held gave less than
// parking. So did four designs that kept the second core busy (a single
// spinning waiter, a polling waiter, a hand-off of one waiter's request to
// the holder, a combining queue with yielding waiters): a write whose
// data or lock moves to the other core costs about as much again as the
// write, so one writer at a time, on one core, is the fastest here.
//
// That holds while writers do nothing but write. A service does work of
// its own between writes, and there the same rule left a core idle: the
// releaser went back to that work while the waiters it woke sat queued
// behind it on its own P (the Go scheduler runs a goroutine that a
// release wakes next on the releaser's P, after the releaser), so writeMu
// stayed free with writers parked on it, until every goroutine was parked
// and the second P had nothing to run. With 16 goroutines that each build
// a 1 KiB value between writes, the process used 1.3 of its 2 cores
// (BenchmarkSetWithWork).
// writerHandOff tells the two apart by how long writeMu stays free after
// a release that has waiters, and in the second case the releaser yields
// its P to the waiter (runtime.Gosched), which takes writeMu at once while
// the releaser's own work moves to the other P (docs/performance.md).
//
// A single set (Set, SetWithTTL, a read-modify-write that sets) holds the
// index lock only for the change itself: under the writer lock nothing
// else changes the index, so its reading half (the hash-table probe, the
// walk to a present key's leaf: index.Find) runs before, beside readers.
// Deletes and batches still do all their work under the index lock.

// writerHandOff decides, when a goroutine releases writeMu while others
// wait for it, whether the releaser yields its P to them. It watches the
// gap between such a release and the next acquisition of writeMu: one
// release in gapProbeEvery does not yield and measures that gap (probeAt),
// and the others yield when the gaps average more than yieldGap. Writers
// that only write come back for writeMu within a fraction of a
// microsecond, and take it again before any waiter runs: yielding would
// only add a context switch to every write. Writers that do other work
// between writes leave it free for as long as that work takes. The
// probes keep measuring what the gap is without the yields, which shorten
// it. It is guarded by writeMu; the times are nanoseconds of a monotonic
// clock.
type writerHandOff struct {
	releases uint32 // contended releases of writeMu
	probeAt  int64  // when the last probe released writeMu; 0 when measured
	gapAvg   int64  // the average gap, a moving average of the probes
}

const (
	// gapProbeEvery is one contended release in how many that probes.
	gapProbeEvery = 16
	// yieldGap is the average gap above which releasers yield. A yield
	// costs the releaser a context switch and its next write a move to
	// another core, about a microsecond; a writer that leaves writeMu
	// free for longer gains that back.
	yieldGap = 2000
)

// yield is called by a goroutine that holds writeMu, is about to release
// it and has seen waiters for it, and reports whether it should yield
// after the release. now reads the clock.
func (h *writerHandOff) yield(now func() int64) bool {
	h.releases++
	if h.releases%gapProbeEvery == 0 {
		h.probeAt = max(now(), 1) // 0 means measured
		return false
	}
	return h.gapAvg > yieldGap
}

// acquired is called by a goroutine that just took writeMu. When the
// release before was a probe, it adds the gap since to the average.
func (h *writerHandOff) acquired(now func() int64) {
	if h.probeAt == 0 {
		return
	}
	gap := now() - h.probeAt
	h.probeAt = 0
	h.gapAvg += (gap - h.gapAvg) / 4
}

// monoNow returns the nanoseconds of a monotonic clock since the process
// started.
func monoNow() int64 { return int64(time.Since(monoStart)) }

var monoStart = time.Now()

// reqKind says what a writeReq does.
type reqKind uint8

const (
	reqRecord reqKind = iota // rec is encoded; apply sets or deletes key
	reqBatch                 // rec is encoded; apply runs ops
	reqRMW                   // decided, encoded and applied under the writer lock
)

// writeReq is one write on its way to the WAL and the index.
type writeReq struct {
	kind  reqKind
	del   bool // reqRecord: a delete, else a set of value
	key   string
	h     uint64
	value []byte
	exp   int64
	// reqBatch: the batch's operations and values.
	ops  []batchOp
	data []byte
	// reqRMW: the operation, decided under the writer lock on key's current
	// value (see writeReq.decide), and its results for the caller.
	rmw   rmwKind
	delta int64    // rmwIncr
	old   []byte   // rmwCompareAndSwap
	num   [20]byte // rmwIncr's result in base 10
	n     int64    // rmwIncr's result
	ok    bool     // rmwSetNX: stored; rmwCompareAndSwap: swapped
	prev  []byte   // rmwGetAndSet: the previous value, copied

	ts      int64  // the record's timestamp
	durable int64  // the durable point rec carries (see wal.prepare)
	rec     []byte // the encoded WAL record
	lsn     int64  // the WAL position after rec, for SyncAlways
	err     error
}

// encode encodes r's record into r.rec, with r.durable as its durable
// point.
func (r *writeReq) encode() {
	switch {
	case r.kind == reqBatch:
		r.rec = appendBatchRecord(r.rec[:0], r.ts, r.durable, r.ops, r.data)
	case r.del:
		r.rec = appendDeleteRecord(r.rec[:0], r.ts, r.durable, r.key)
	default:
		r.rec = appendSetRecord(r.rec[:0], r.ts, r.durable, r.key, r.value, r.exp)
	}
}

// encodeEarly encodes r's record in the writer's goroutine, before the
// writer lock, with the durable point as it stands; apply encodes it
// again in the rare case that a sync or a rotation changed it meanwhile.
func (db *DB) encodeEarly(r *writeReq, now int64) {
	r.ts, r.durable = now, db.wal.durableGuess()
	r.encode()
}

// reqPool recycles requests with their record buffers, so that a write
// encodes its record outside the writer lock without allocating.
var reqPool = sync.Pool{New: func() any { return new(writeReq) }}

// maxPooledRecord is the largest record buffer a pooled request keeps: a
// batch of a thousand small writes (130 KiB) should reuse its buffer, as
// it did when one buffer served every writer, but a rare huge batch should
// not stay pinned in the pool.
const maxPooledRecord = 4 << 20

func getReq() *writeReq { return reqPool.Get().(*writeReq) }

// putReq returns r to the pool once its writer has read its outcome.
func putReq(r *writeReq) {
	r.kind, r.del, r.key, r.h, r.value, r.exp = 0, false, "", 0, nil, 0
	r.ops, r.data, r.err = nil, nil, nil
	r.rmw, r.delta, r.old, r.n, r.ok, r.prev = 0, 0, nil, 0, false, nil
	r.lsn, r.ts, r.durable = 0, 0, 0
	if cap(r.rec) > maxPooledRecord {
		r.rec = nil
	}
	r.rec = r.rec[:0]
	reqPool.Put(r)
}

// submit writes r under the writer lock and returns its error. With
// SyncAlways it then waits until r's record is durable. It returns
// ctx.Err() without writing when ctx ends before the lock is taken.
func (db *DB) submit(ctx context.Context, r *writeReq) error {
	if err := db.lockWriter(ctx); err != nil {
		return err
	}
	return db.submitLocked(ctx, r)
}

// submitLocked is submit for a caller that holds the writer lock, which
// it releases.
func (db *DB) submitLocked(ctx context.Context, r *writeReq) error {
	db.apply(r)
	db.afterWrites()
	if r.err == nil && r.lsn > 0 && db.opts.SyncMode == SyncAlways {
		return db.wal.syncTo(ctx, r.lsn)
	}
	return r.err
}

// apply writes r to the WAL and then to the index. The caller holds the
// writer semaphore.
func (db *DB) apply(r *writeReq) {
	if r.kind == reqRMW && !db.decideRMW(r) {
		return
	}
	if db.opts.MaxMemory > 0 && !r.del {
		if err := db.makeRoom(r); err != nil {
			r.err = err
			return
		}
	}
	if len(r.rec) == 0 {
		// Decided just now (or built under the lock): encode it with the
		// durable point as it stands, so that prepare sees its size.
		r.durable = db.wal.durableGuess()
		r.encode()
	}
	// A record may grow by a few bytes when its durable point changes.
	d, err := db.wal.prepare(len(r.rec) + binary.MaxVarintLen64)
	if err != nil {
		r.err = err
		return
	}
	if d != r.durable {
		r.durable = d
		r.encode()
	}
	lsn, err := db.wal.append(r.rec)
	if err != nil {
		r.err = err
		return
	}
	r.lsn = lsn
	// A set's reading half, before the index lock (see the top of the file).
	var p index.Probe
	if r.kind != reqBatch && !r.del {
		p = db.idx.Find(r.key, r.h)
	}
	db.mu.Lock()
	switch {
	case r.kind == reqBatch:
		db.applyBatch(r.ops, r.data)
	case r.del:
		db.idx.del(r.key, r.h)
	default:
		db.idx.setAt(p, r.key, r.h, r.value, r.exp)
	}
	db.mu.Unlock()
}

// decideRMW runs a read-modify-write request's decision on the key's current
// value and encodes the record it asks for. It reports whether there is a
// record to write.
func (db *DB) decideRMW(r *writeReq) bool {
	now := db.now()
	e, ok := db.idx.get(r.key, r.h, now)
	next, write, err := r.decide(e.Value, ok)
	if err == nil && write && len(next) > MaxValueSize {
		err = tooLarge(ErrValueTooLarge, len(next), MaxValueSize)
	}
	if err != nil || !write {
		r.err = err
		return false
	}
	db.stats.write(r.h, 1)
	r.value, r.ts, r.rec = next, now, r.rec[:0] // apply encodes it
	return true
}

// afterWrites wakes the background workers that the writes just made
// due, and releases the writer semaphore.
func (db *DB) afterWrites() {
	full := db.wal.size() >= db.opts.MaxWALSize
	presync := db.wal.wantPresync()
	db.unlockWriter()
	if full && !db.opts.DisableAutoCompaction {
		kick(db.compactCh)
	}
	if presync {
		kick(db.presyncCh)
	}
}
