package minikv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minikv/minikv/internal/index"
	"github.com/minikv/minikv/internal/vfs"
)

// DB is an open MiniKV database. All methods are safe for concurrent use
// by multiple goroutines. A write is visible to every read that starts
// after the write returned.
type DB struct {
	opts     Options
	fsys     vfs.FS
	dir      string
	readOnly bool
	now      func() int64
	log      *slog.Logger
	lock     io.Closer

	// Lock order: compactMu, then writeSem, then mu. Readers take only mu
	// (shared); every change to idx holds writeSem and mu (exclusive), so a
	// writer holding writeSem may read idx without mu. No file I/O happens
	// under mu: the WAL append runs under writeSem alone, and the fsync a
	// SyncAlways writer waits for runs under no DB lock at all. Writes without
	// a context that can end take writeMu before writeSem (commit.go).
	compactMu sync.Mutex // one compaction at a time
	// defragPending: an automatic compaction left its defragmentation for
	// when writes pause; under compactMu.
	defragPending bool
	writeSem      chan struct{} // a one-slot semaphore serialising writers; a channel so a writer can give up when its context ends
	// writeMu is taken before writeSem by writes without a context that
	// can end (see commit.go); viaMu, under writeSem, says the holder
	// took it. muWaiters counts the goroutines that found writeMu held
	// and wait for it; handOff, under writeMu, decides whether its
	// releaser yields to them (see writerHandOff).
	writeMu   sync.Mutex
	viaMu     bool
	muWaiters atomic.Int32
	handOff   writerHandOff
	mu        indexLock // guards idx; idx is nil once closed (see indexlock.go)
	idx       *memIndex

	closed   atomic.Bool
	wal      *wal     // nil when read-only; appends under writeSem
	man      manifest // the MANIFEST in force; under compactMu and writeSem
	stats    counters
	recovery recoveryInfo
	// evictRng picks EvictLRU's samples; under writeSem and mu.
	evictRng *rand.Rand

	// The background workers (see spawn): Close cancels their context and
	// waits for them. cancel is nil for a read-only handle, which runs none.
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	compactCh chan struct{} // wakes the compaction worker
	presyncCh chan struct{} // asks the presync worker to fsync a filling segment
	// cleanMark is the WAL's length when the cleaner last checked how fast
	// it grows (see compactionNear).
	cleanMark atomic.Int64
}

// Open opens the database in opts.Dir, creating it when missing (unless
// ReadOnly), and recovers its contents from the snapshot and the WAL.
//
// Open returns ErrLocked when another handle holds the directory, ErrCorrupt
// (wrapped with the file and offset) when a file fails its checks in a way
// a crash cannot explain, an error naming the option for a missing Dir, a
// negative MaxMemory or an unknown Eviction, and an error wrapping the
// cause on I/O failure.
func Open(opts Options) (*DB, error) {
	if opts.Dir == "" {
		return nil, errors.New("minikv: Options.Dir is required")
	}
	if opts.MaxMemory < 0 {
		return nil, fmt.Errorf("minikv: Options.MaxMemory is negative (%d)", opts.MaxMemory)
	}
	if opts.Eviction < NoEviction || opts.Eviction > EvictLRU {
		return nil, fmt.Errorf("minikv: Options.Eviction is not a policy (%d)", int(opts.Eviction))
	}
	opts = opts.withDefaults()
	db := &DB{
		opts:      opts,
		fsys:      opts.fs,
		dir:       opts.Dir,
		readOnly:  opts.ReadOnly,
		now:       opts.now,
		log:       opts.Logger,
		writeSem:  make(chan struct{}, 1),
		mu:        newIndexLock(),
		compactCh: make(chan struct{}, 1),
		presyncCh: make(chan struct{}, 1),
	}
	if !db.readOnly {
		if err := createDir(db.fsys, db.dir); err != nil {
			return nil, notDir(db.fsys, db.dir, err)
		}
	}
	lock, err := waitLock(db.fsys, db.dir, db.readOnly, opts.LockTimeout)
	if err != nil {
		return nil, notDir(db.fsys, db.dir, err)
	}
	db.lock = lock
	err = db.recover()
	if err == nil {
		err = db.fitAtOpen()
	}
	if err != nil {
		errs := []error{err}
		if db.wal != nil {
			errs = append(errs, db.wal.close())
		}
		return nil, errors.Join(append(errs, lock.Close())...)
	}
	if n, ok := lock.(holderNoter); ok {
		n.noteHolder()
	}
	db.startWorkers()
	return db, nil
}

// Sync makes every write acknowledged before it durable, whatever the
// SyncMode: for SyncNever and SyncPeriodic it is the durability point
// (after a batch of imports, say) that SyncAlways gives every write. It is
// safe to call concurrently with writes, which it does not wait for. It
// returns ErrClosed after Close, nil on a read-only handle (which has
// written nothing), and the WAL's failure otherwise; after a failed fsync
// every later write is refused (see Close).
func (db *DB) Sync() error {
	if db.closed.Load() {
		return ErrClosed
	}
	if db.readOnly {
		return nil
	}
	return db.wal.sync()
}

// Close flushes and fsyncs the WAL, stops every background goroutine and
// releases the directory lock. When the WAL holds a quarter of MaxWALSize
// or more (and automatic compaction is on), Close first writes a snapshot,
// as a compaction does, so that the next Open does not replay the WAL. It returns the failures it met, joined,
// including a WAL failure met earlier (after which writes were refused).
// Calling Close again does nothing and returns nil.
func (db *DB) Close() error {
	if !db.closed.CompareAndSwap(false, true) {
		return nil
	}
	if db.cancel != nil {
		db.cancel()
	}
	db.wg.Wait()
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	db.writeSem <- struct{}{}
	defer func() { <-db.writeSem }()
	var errs []error
	if db.wal != nil {
		if err := db.snapshotAtClose(); err != nil {
			errs = append(errs, wrapOp("snapshot at close", err))
		}
		// A WAL that failed earlier (in a background sync, say) is not
		// synced again; its failure is reported here, since writes
		// acknowledged before it may not be durable.
		failed := db.wal.err()
		if err := db.wal.close(); err != nil {
			errs = append(errs, wrapOp("close wal", err))
		} else if failed != nil {
			errs = append(errs, failed)
		}
	}
	db.mu.Lock()
	db.idx = nil
	db.mu.Unlock()
	if err := db.lock.Close(); err != nil {
		errs = append(errs, wrapOp("release lock", err))
	}
	return errors.Join(errs...)
}

// writable returns ErrClosed or ErrReadOnly when the database takes no
// writes. Writes check it before their arguments, so that a closed or
// read-only database answers the same whatever the call.
// kick wakes a background worker without waiting.
func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (db *DB) writable() error {
	if db.closed.Load() {
		return ErrClosed
	}
	if db.readOnly {
		return ErrReadOnly
	}
	return nil
}

func checkKey(key string) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(key) > MaxKeySize {
		return tooLarge(ErrKeyTooLarge, len(key), MaxKeySize)
	}
	return nil
}

func checkKV(key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return tooLarge(ErrValueTooLarge, len(value), MaxValueSize)
	}
	return nil
}

// Get returns a copy of key's value. It returns ErrNotFound for a missing
// or expired key, ErrEmptyKey or ErrKeyTooLarge for a bad key and ErrClosed
// after Close.
func (db *DB) Get(key string) ([]byte, error) {
	var out []byte
	err := db.view(key, func(v []byte) error {
		out = bytes.Clone(v)
		if out == nil {
			out = []byte{}
		}
		return nil
	})
	return out, err
}

// View calls fn with key's value without copying it. The slice is valid
// only until fn returns and must not be modified. View returns fn's error,
// or the errors of Get. fn runs under no lock and may call other methods.
func (db *DB) View(key string, fn func(value []byte) error) error {
	return db.view(key, fn)
}

func (db *DB) view(key string, fn func([]byte) error) error {
	if db.closed.Load() {
		return ErrClosed
	}
	if err := checkKey(key); err != nil {
		return err
	}
	h := index.Hash(key)
	var start time.Time
	sample := db.stats.read(h)
	if sample {
		start = time.Now()
	}
	db.mu.RLock()
	if db.idx == nil {
		db.mu.RUnlock()
		return ErrClosed
	}
	// Decoded in place: a returned entry is copied through the stack,
	// which stalls on store forwarding (see index.Entry.Decode).
	var e index.Entry
	ref, ok := db.idx.lookup(key, h)
	if ok {
		e.Decode(db.idx.Arena.Record(ref))
	}
	db.mu.RUnlock()
	if ok && e.Exp != 0 && e.Exp <= db.now() {
		ok = false
	}
	if sample {
		defer func() { db.stats.getLat.observe(time.Since(start)) }()
	}
	if !ok {
		return ErrNotFound
	}
	return fn(e.Value)
}

// Exists reports whether key is present and not expired. It returns
// (false, nil) for a missing key and the errors of Get for a bad key.
func (db *DB) Exists(key string) (bool, error) {
	err := db.view(key, func([]byte) error { return nil })
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Set stores value under key, replacing any value and clearing any expiry.
// The store keeps its own copy of value. Set returns ErrEmptyKey,
// ErrKeyTooLarge or ErrValueTooLarge (writing nothing), ErrReadOnly,
// ErrClosed, or the error that stopped the WAL.
func (db *DB) Set(key string, value []byte) error {
	return db.set(context.Background(), key, value, 0)
}

// Delete removes key. Deleting a missing key succeeds. It returns the same
// errors as Set.
func (db *DB) Delete(key string) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	h := index.Hash(key)
	db.stats.delete(h, 1)
	r := getReq()
	r.kind, r.del, r.key, r.h = reqRecord, true, key, h
	db.encodeEarly(r, db.now())
	err := db.submit(context.Background(), r)
	putReq(r)
	return err
}

// set writes key with an absolute expiry (0 for none).
func (db *DB) set(ctx context.Context, key string, value []byte, exp int64) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := checkKV(key, value); err != nil {
		return err
	}
	h := index.Hash(key)
	var start time.Time
	sample := db.stats.write(h, 1)
	if sample {
		start = time.Now()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := getReq()
	r.kind, r.del, r.key, r.h, r.value, r.exp = reqRecord, false, key, h, value, exp
	db.encodeEarly(r, db.now())
	err := db.submit(ctx, r)
	putReq(r)
	if sample {
		db.stats.setLat.observe(time.Since(start))
	}
	return err
}

// lockWriter takes the writer semaphore, waiting until ctx ends, and checks
// that the database accepts writes. On success the caller must call commit
// or unlockWriter.
func (db *DB) lockWriter(ctx context.Context) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if ctx.Done() == nil {
		if !db.writeMu.TryLock() {
			db.muWaiters.Add(1)
			db.writeMu.Lock()
			db.muWaiters.Add(-1)
		}
		db.handOff.acquired(monoNow)
		db.writeSem <- struct{}{}
		db.viaMu = true
	} else if err := db.acquireWriter(ctx); err != nil {
		return err
	}
	if db.closed.Load() {
		db.unlockWriter()
		return ErrClosed
	}
	if err := db.wal.err(); err != nil {
		db.unlockWriter()
		return err
	}
	return nil
}

func (db *DB) unlockWriter() {
	viaMu := db.viaMu
	db.viaMu = false
	yield := viaMu && db.muWaiters.Load() > 0 && db.handOff.yield(monoNow)
	<-db.writeSem
	if viaMu {
		db.writeMu.Unlock()
		if yield {
			runtime.Gosched() // see writerHandOff
		}
	}
}

// acquireWriter takes the writer semaphore, or returns ctx.Err() if ctx
// ends first. It parks at once rather than spin: a spinning waiter takes
// the core that the holder needs when writers outnumber cores.
func (db *DB) acquireWriter(ctx context.Context) error {
	done := ctx.Done()
	if done == nil {
		db.writeSem <- struct{}{}
		return nil
	}
	select {
	case db.writeSem <- struct{}{}:
		return nil
	case <-done:
		return ctx.Err()
	}
}

// Stats returns counters and gauges of the database. After Close the
// gauges are zero and the counters keep their last values. It is safe to
// call concurrently with every other method.
func (db *DB) Stats() Stats {
	var s Stats
	db.stats.fill(&s)
	db.recovery.fill(&s)
	db.mu.RLock()
	open := db.idx != nil
	if open {
		s.KeyCount = int64(db.idx.liveCount(db.now()))
		s.MemoryUsage = db.idx.memoryUsage()
	}
	db.mu.RUnlock()
	if !open {
		return s
	}
	s.WALSize = db.recovery.walBytes
	if db.wal != nil {
		db.writeSem <- struct{}{} // db.man and the WAL change under it
		defer db.unlockWriter()
		s.WALSize = db.wal.size()
	}
	if db.man.snapshot != "" {
		s.SnapshotCount = 1
	}
	return s
}
