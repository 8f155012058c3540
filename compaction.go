package minikv

import (
	"context"
	"time"

	"github.com/minikv/minikv/internal/index"
)

// relocateStep bounds the records moved per hold of the write lock while
// compaction frees sparse arena chunks, which bounds the pause it causes.
const relocateStep = 256

// compactRetry is the pause after a failed background compaction.
const compactRetry = time.Second

// Compact writes a snapshot of the current contents, switches the MANIFEST
// to it and deletes the WAL segments and the snapshot it replaces. Reads
// and writes go on while it runs. If a compaction is already running,
// Compact waits for it and then runs one more, so that everything written
// before the call is in the snapshot it leaves.
//
// Compact returns ErrReadOnly, ErrClosed, or an error wrapping the I/O
// failure; a failure before the MANIFEST switch leaves the database as it
// was.
func (db *DB) Compact() error {
	if err := db.writable(); err != nil {
		return err
	}
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	return db.compactLocked(context.Background(), false)
}

// defragIdle is how long the WAL must stay unchanged before an automatic
// compaction's deferred defragmentation runs.
const defragIdle = 500 * time.Millisecond

// compactLocked runs one compaction; the caller holds compactMu. With
// deferDefrag (automatic compactions), the defragmentation that follows is
// left to the worker for when writes pause (see compactWorker), unless
// half the arena is dead: during a bulk load or steady overwrites the
// key-order walk would copy records that the next writes put out of order
// again, and it would double the arena while they run. When one is already
// pending, the compaction empties the sparse chunks instead
// (relocateSparse), which gives back the memory of dead records while
// copying only what those chunks still hold, and the walk stays pending.
// An explicit Compact defragments at once.
func (db *DB) compactLocked(ctx context.Context, deferDefrag bool) error {
	seq, v, now, err := db.freeze(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	count, err := writeSnapshot(db.fsys, db.dir, seq, v, now)
	if err != nil {
		return err
	}
	old, err := db.switchManifest(seq)
	if err != nil {
		return err
	}
	db.removeFiles(old)
	db.stats.compactions.Add(1)
	db.log.Info("minikv: compaction done", "snapshot", snapshotName(seq), "keys", count, "took", time.Since(start))
	if deferDefrag && !db.mostlyDead() {
		if db.defragPending {
			return db.relocateSparse(ctx, &pacer{})
		}
		db.defragPending = true
		return nil
	}
	db.defragPending = false
	return db.defragment(ctx)
}

// closeSnapshotMin is the share of MaxWALSize that the WAL must hold for
// Close to write a snapshot (see snapshotAtClose).
const closeSnapshotMin = 4

// snapshotAtClose writes a snapshot, as a compaction does, when the WAL
// holds at least MaxWALSize/closeSnapshotMin bytes, so that the next Open
// loads the snapshot instead of replaying the WAL: a million overwrites
// replay in about half a second, a snapshot of a million keys loads in a
// fifth of one. Close calls it holding compactMu and the writer
// semaphore, after every writer has finished. Its failure loses nothing:
// the WAL still holds every write.
func (db *DB) snapshotAtClose() error {
	if db.readOnly || db.opts.DisableAutoCompaction || db.wal.err() != nil ||
		db.wal.size() < db.opts.MaxWALSize/closeSnapshotMin {
		return nil
	}
	seq, v, now, err := db.freezeLocked()
	if err != nil {
		return err
	}
	if _, err := writeSnapshot(db.fsys, db.dir, seq, v, now); err != nil {
		return err
	}
	old, err := db.adoptManifest(seq, writeManifest(db.fsys, db.dir, manifest{snapshot: snapshotName(seq), walStart: seq}))
	if err != nil {
		return err
	}
	db.removeFiles(old)
	db.stats.compactions.Add(1)
	return nil
}

// mostlyDead reports whether half the arena's bytes are dead records.
func (db *DB) mostlyDead() bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.idx != nil && db.idx.Arena.Dead()*2 >= db.idx.Arena.Total()
}

// defragmentIfIdle runs a deferred defragmentation if the WAL did not grow
// since mark; it reports whether one is still pending, and the new mark.
func (db *DB) defragmentIfIdle(ctx context.Context, mark int64) (bool, int64, error) {
	if !db.compactMu.TryLock() {
		return true, mark, nil // a Compact call runs; try again later
	}
	defer db.compactMu.Unlock()
	if !db.defragPending {
		return false, mark, nil
	}
	if w := db.wal.written.Load(); w != mark {
		return true, w, nil
	}
	db.defragPending = false
	return false, mark, db.defragment(ctx)
}

// freeze rotates the WAL to a new segment and captures the index as it is
// at that boundary: the snapshot holds exactly the segments before seq.
func (db *DB) freeze(ctx context.Context) (seq uint64, v frozenIndex, now int64, err error) {
	// Flush the current segment before taking the writer lock, so that the
	// fsync that seals it under the lock has little left to write.
	if err := db.wal.sync(); err != nil {
		return 0, v, 0, err
	}
	if err := db.lockWriter(ctx); err != nil {
		return 0, v, 0, err
	}
	defer db.unlockWriter()
	return db.freezeLocked()
}

// freezeLocked is freeze for a caller that holds the writer semaphore.
func (db *DB) freezeLocked() (seq uint64, v frozenIndex, now int64, err error) {
	seq, err = db.wal.rotate()
	if err != nil {
		return 0, v, 0, err
	}
	db.mu.RLock()
	v = db.idx.freeze()
	db.mu.RUnlock()
	return seq, v, db.now(), nil
}

// switchManifest makes the snapshot of seq the one in force and returns
// the names of the files it replaced. A failure here leaves it unknown
// which MANIFEST is on disk, so the WAL is stopped: writes are refused
// until the database is reopened and recovers from what is there.
func (db *DB) switchManifest(seq uint64) ([]string, error) {
	err := writeManifest(db.fsys, db.dir, manifest{snapshot: snapshotName(seq), walStart: seq})
	db.writeSem <- struct{}{}
	defer db.unlockWriter()
	return db.adoptManifest(seq, err)
}

// adoptManifest records the outcome err of writing the MANIFEST for
// the snapshot of seq, as switchManifest does; the caller holds the
// writer semaphore.
func (db *DB) adoptManifest(seq uint64, err error) ([]string, error) {
	man := manifest{snapshot: snapshotName(seq), walStart: seq}
	if err != nil {
		return nil, db.wal.fail("manifest switch", err)
	}
	old := db.wal.dropBefore(seq)
	if db.man.snapshot != "" {
		old = append(old, db.man.snapshot)
	}
	db.man = man
	return old, nil
}

// defragment puts the arena's records back in key order (see
// internal/index/reorder.go) and then moves the live records out of sparse
// arena chunks, a few at a time, so that the memory of overwritten and
// deleted records is returned.
func (db *DB) defragment(ctx context.Context) error {
	// A record that the walk found in place may sit in a chunk that the
	// walk then emptied of everything else; a second walk moves such
	// records, in key order, rather than leaving them to relocate.
	var pace pacer
	for range 2 {
		moved, sparse, err := db.reorderWalk(ctx, &pace)
		if err != nil {
			return err
		}
		if moved == 0 || !sparse {
			break
		}
	}
	return db.relocateSparse(ctx, &pace)
}

// relocateSparse moves the live records out of the arena chunks less than
// half live, a paced step at a time, until none is left.
func (db *DB) relocateSparse(ctx context.Context, pace *pacer) error {
	for more := true; more; {
		err := db.pacedStep(ctx, pace, func() {
			more = db.stepRelocation(1, 2)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// stepRelocation moves up to relocateStep live records out of a chunk whose
// live bytes are below num/den of what it holds, if they fit under the
// memory limit, and reports whether such a chunk remains. The caller holds
// the writer lock; readers wait only while the records move, not while the
// step looks for them (memIndex.planRelocate).
func (db *DB) stepRelocation(num, den int64) bool {
	if !db.roomToRelocate() || !db.idx.planRelocate(relocateStep, num, den) {
		return false
	}
	db.mu.Lock()
	more := db.idx.applyRelocate(num, den)
	db.mu.Unlock()
	return more
}

// restShare is how much longer than a defragmentation's steps have worked
// its rests may last in all while writes go on.
const restShare = 2

// pacer shares a defragmentation's time with writers. A step holds the
// writer semaphore for about 100 us, and a writer that waited for it has
// parked, so back-to-back steps let a writer through only once per step, a
// few thousand writes a second. While the WAL grows, the pacer rests a
// millisecond (about the shortest sleep the runtime gives) before a step,
// as long as the rests stay within restShare times the steps' work:
// writers get about two thirds of the time, and the walk keeps a third of
// its speed, so that it still ends under writes that never stop (a walk
// step moves records several times faster than a writer adds them).
// Without writes it never rests.
type pacer struct {
	mark   int64         // the WAL's length at the last rest check
	worked time.Duration // time spent in steps
	rested time.Duration // time spent resting
	start  time.Time     // when the current step began
}

// rest sleeps before a step if the WAL's length w moved since the last
// step and the rest budget allows.
func (p *pacer) rest(w int64) {
	if w != p.mark && p.rested < restShare*p.worked {
		t := time.Now()
		time.Sleep(time.Millisecond)
		p.rested += time.Since(t)
	}
	p.mark = w
}

// begin and end bracket a step's work, once it holds the writer semaphore.
func (p *pacer) begin() { p.start = time.Now() }
func (p *pacer) end()   { p.worked += time.Since(p.start) }

// pacedStep runs one defragmentation step under the writer semaphore,
// after the rest that pace allows, and counts its time as work. It returns
// ctx.Err() if ctx ends before the semaphore is taken, and then runs
// nothing.
func (db *DB) pacedStep(ctx context.Context, pace *pacer, step func()) error {
	pace.rest(db.wal.written.Load())
	if err := db.lockWriter(ctx); err != nil {
		return err
	}
	pace.begin()
	step()
	pace.end()
	db.unlockWriter()
	return nil
}

// reorderWalk walks the index once in key order (see
// internal/index/reorder.go), a step at a time, and returns how many
// records it moved and whether a sparse chunk is left. Each step plans
// with only the writer semaphore held, so readers wait for the index lock
// only while the step applies the plan.
func (db *DB) reorderWalk(ctx context.Context, pace *pacer) (moved int, sparse bool, err error) {
	var st index.ReorderState
	var p index.ReorderPlan
	for !st.Done {
		err := db.pacedStep(ctx, pace, func() {
			db.idx.PlanReorder(&st, index.ReorderStep, &p)
			if p.Moves() > 0 && !db.roomToMove(int64(p.Bytes()), p.Moves()) {
				st.Done = true // under a memory limit, the copies must fit
				return
			}
			if p.Moves() > 0 {
				db.mu.Lock()
				db.idx.ApplyReorder(&st, &p, db.idx.moved)
				db.mu.Unlock()
			}
		})
		if err != nil {
			return st.Moved, false, err
		}
	}
	if err := db.lockWriter(ctx); err != nil {
		return st.Moved, false, err
	}
	defer db.unlockWriter()
	return st.Moved, db.idx.Arena.SparseChunk() >= 0, nil
}

// compactWorker runs a compaction whenever a writer finds the WAL over
// MaxWALSize, until Close.
func (db *DB) compactWorker(ctx context.Context) {
	var idle <-chan time.Time // ticks while a deferred defragmentation waits
	var mark int64            // the WAL's length at the last tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-idle:
			pending, m, err := db.defragmentIfIdle(ctx, mark)
			if err != nil && ctx.Err() == nil {
				db.log.Error("minikv: background defragmentation failed", "err", err)
			}
			mark, idle = m, nil
			if pending {
				idle = time.After(defragIdle)
			}
			continue
		case <-db.compactCh:
		}
		if !db.compactMu.TryLock() {
			continue // a Compact call is running; it will leave a short WAL
		}
		db.mu.RLock()
		closed := db.idx == nil
		db.mu.RUnlock()
		var err error
		if !closed && db.walSize() >= db.opts.MaxWALSize {
			err = db.compactLocked(ctx, true)
		}
		pending := db.defragPending
		db.compactMu.Unlock()
		if pending && idle == nil {
			mark, idle = db.wal.written.Load(), time.After(defragIdle)
		}
		if err != nil && ctx.Err() == nil {
			db.log.Error("minikv: background compaction failed", "err", err)
			select { // back off, so a full disk is not retried at every write
			case <-ctx.Done():
				return
			case <-time.After(compactRetry):
			}
		}
	}
}

func (db *DB) walSize() int64 {
	db.writeSem <- struct{}{}
	defer db.unlockWriter()
	return db.wal.size()
}

// presyncWorker fsyncs the WAL when a writer finds the current segment
// filling (see wal.wantPresync), so that its rotation finds little left to
// sync, until ctx ends.
func (db *DB) presyncWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.presyncCh:
		}
		if err := db.wal.sync(); err != nil && ctx.Err() == nil {
			db.log.Error("minikv: background sync of a filling segment failed", "err", err)
		}
	}
}

// every calls fn every interval until ctx ends.
func (db *DB) every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// periodicSync fsyncs the WAL when something was written since the last
// fsync, for SyncPeriodic.
func (db *DB) periodicSync() {
	if db.wal.dirty() {
		if err := db.wal.sync(); err != nil {
			db.log.Error("minikv: periodic sync failed", "err", err)
		}
	}
}

// startWorkers starts the background goroutines, each through spawn, so
// that Close stops them all (db.cancel) and waits for them (db.wg).
func (db *DB) startWorkers() {
	if db.readOnly {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	db.cancel = cancel
	db.spawn(ctx, db.compactWorker)
	db.spawn(ctx, db.presyncWorker)
	if db.opts.SyncMode == SyncPeriodic {
		db.spawn(ctx, func(ctx context.Context) { db.every(ctx, db.opts.SyncInterval, db.periodicSync) })
	}
	if db.opts.TTLCleanInterval > 0 {
		db.spawn(ctx, func(ctx context.Context) {
			db.every(ctx, db.opts.TTLCleanInterval, func() { db.cleanRound(ctx) })
		})
	}
}

// spawn runs fn in a goroutine owned by db: counted in db.wg, and given
// the workers' context, which Close cancels before it waits.
func (db *DB) spawn(ctx context.Context, fn func(context.Context)) {
	db.wg.Add(1)
	go func() {
		defer db.wg.Done()
		fn(ctx)
	}()
}
