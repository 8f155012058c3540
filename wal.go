package minikv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/minikv/minikv/internal/vfs"
)

// wal appends records to the current segment and makes them durable.
//
// The current segment is, where the file system allows it, preallocated to
// the segment limit (fallocate) and mapped shared into memory: an append
// is a copy into the mapping, with no system call (on Linux a record of
// 16 KiB or more is written with pwrite instead, see osMapping). Either
// way the record is in the page cache once the append returns, so it
// survives a process kill like a write(2) would, and Sync (fdatasync)
// writes it back. The file holds zeros after the written bytes:
//
//	current segment, mapped:   [rec][rec][rec][00000000000000000000000]
//	                           |<- segSize ->|                        |
//	                           |<------ segLimit (file size) -------->|
//	sealed segment:            [rec][rec][rec][rec]    (file size = its records)
//
// Rotation and close seal the segment: unmap, cut the zeros off
// (truncate), fdatasync; rotation then creates the next segment. A record
// that does not fit in what is left of the mapping starts the next
// segment; one larger than a whole segment is written with Write into a
// new segment that is cut back to zero bytes and unmapped first. When the
// file cannot be mapped (no mapper, fallocate or mmap failing) appends use
// Write, the file never holds more than its records, and a segment ends
// once it reaches the limit.
//
// Appends, rotation and close are serialised by the caller (DB.writeSem).
// Syncs may run concurrently with appends: fileMu keeps the file open while
// a sync uses it, and smu guards the group-commit state.
type wal struct {
	fsys     vfs.FS
	dir      string
	segLimit int64

	// Guarded by the caller's lock (DB.writeSem); rotate and close also
	// hold fileMu while they replace or close f.
	f vfs.File
	// m maps the first segLimit bytes of f, preallocated, when appends
	// are copies into memory; nil when they use f.Write. Only appends,
	// rotate and close use it.
	m       vfs.Mapping
	seq     uint64
	segSize int64     // bytes written to the current segment, never its preallocated size
	sealed  []segInfo // live segments before the current one
	// sealedBytes is the sum of the sizes in sealed, kept so that size,
	// which every write calls, does not walk the list.
	sealedBytes int64
	// presynced is how much of the current segment was handed to a
	// background fsync (see wantPresync).
	presynced int64

	fileMu  sync.Mutex   // held while f is synced, replaced or closed
	written atomic.Int64 // bytes appended since open (the LSN)
	failure atomic.Value // error: the first failed write or sync
	// base is the LSN of the current segment's offset 0 (negative for a
	// segment reopened with records in it); under fileMu and the caller's
	// lock. durable is the offset in the current segment up to which it
	// is known durable: every record carries it (see format.go). Syncs
	// raise it under fileMu; rotation resets it.
	base    int64
	durable atomic.Int64

	smu     sync.Mutex    // guards the fields below
	synced  int64         // LSN known durable
	syncing bool          // a sync leader is running
	closed  bool          // the segment file is closed
	round   chan struct{} // closed when the running sync round ends
}

// segInfo is a sealed WAL segment.
type segInfo struct {
	seq  uint64
	size int64
}

// openWAL opens segment seq for appending at size bytes, creating it when
// create is set. sealed lists the live segments before it.
func openWAL(fsys vfs.FS, dir string, seq uint64, size int64, sealed []segInfo, segLimit int64, create bool) (*wal, error) {
	w := &wal{fsys: fsys, dir: dir, segLimit: segLimit, round: make(chan struct{})}
	var err error
	if create {
		w.f, w.m, err = w.createSegment(seq)
	} else {
		w.f, w.m, err = w.reopenSegment(seq, size)
	}
	if err != nil {
		return nil, wrapOp(fmt.Sprintf("open wal segment %s", segmentName(seq)), err)
	}
	w.seq, w.segSize, w.sealed = seq, size, sealed
	for _, s := range sealed {
		w.sealedBytes += s.size
	}
	w.base = -size
	w.durable.Store(size)
	return w, nil
}

// segmentFlags open a segment for appending. Reads are there for mmap,
// which needs them; O_APPEND serves the writes of an unmapped segment,
// whose file never holds more than its written bytes.
const segmentFlags = os.O_RDWR | os.O_APPEND

// createSegment creates a segment file, preallocates and maps it when it
// can (see mapSegment), and makes its existence durable.
func (w *wal) createSegment(seq uint64) (vfs.File, vfs.Mapping, error) {
	name := filepath.Join(w.dir, segmentName(seq))
	f, err := w.fsys.OpenFile(name, segmentFlags|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, err
	}
	m, err := w.mapSegment(f, 0)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = w.fsys.SyncDir(w.dir)
	}
	if err != nil {
		return nil, nil, errors.Join(err, unmapIf(m), f.Close())
	}
	return f, m, nil
}

// reopenSegment opens the existing segment seq, whose valid records end
// at size (recovery has cut the file there), to append after them.
func (w *wal) reopenSegment(seq uint64, size int64) (vfs.File, vfs.Mapping, error) {
	f, err := w.fsys.OpenFile(filepath.Join(w.dir, segmentName(seq)), segmentFlags, 0o600)
	if err != nil {
		return nil, nil, err
	}
	// The records found may sit only in the page cache, written by a
	// process that was killed before it synced them. Sync them, so that
	// the records appended after them may claim them durable.
	if err := f.Sync(); err != nil {
		// It may report a writeback that failed before this open: the
		// pages now count as clean, so a retry's sync would succeed.
		_ = writeSyncFailedMark(w.fsys, w.dir, segmentName(seq))
		return nil, nil, errors.Join(err, f.Close())
	}
	m, err := w.mapSegment(f, size)
	if err != nil {
		return nil, nil, errors.Join(err, f.Close())
	}
	return f, m, nil
}

// maxMapSize is the largest segment limit the WAL maps; a larger segment
// is written with Write, rather than reserve that much disk and address
// space for every segment.
const maxMapSize = 1 << 30

// mapSegment prepares the segment f, which holds size bytes of records,
// for appends through memory: it preallocates f to the segment limit
// (fallocate, so that a store into the mapping cannot hit a missing
// block) and maps that many bytes. The file then ends in zeros after its
// records until the segment is sealed (see unmap).
//
// It returns a nil mapping, leaving appends to Write, when f cannot be
// mapped or has no room left, or when preallocation or mapping fails. In
// the last case it first cuts f back to size, since O_APPEND writes go to
// the end of the file; it returns an error only when that cut fails.
func (w *wal) mapSegment(f vfs.File, size int64) (vfs.Mapping, error) {
	mf, ok := f.(vfs.Mapper)
	if !ok || size >= w.segLimit || w.segLimit > maxMapSize {
		return nil, nil
	}
	err := mf.Allocate(w.segLimit)
	if err == nil {
		var m vfs.Mapping
		if m, err = mf.Map(w.segLimit); err == nil {
			return m, nil
		}
	}
	if terr := f.Truncate(size); terr != nil {
		return nil, fmt.Errorf("minikv: cut segment back after failed preallocation (%w): %w", err, terr)
	}
	return nil, nil
}

// unmapIf releases m when it is not nil.
func unmapIf(m vfs.Mapping) error {
	if m == nil {
		return nil
	}
	return m.Unmap()
}

// err returns the error that stopped the WAL, or nil.
func (w *wal) err() error {
	if e, ok := w.failure.Load().(error); ok {
		return e
	}
	return nil
}

func (w *wal) fail(op string, err error) error {
	e := wrapOp(fmt.Sprintf("wal %s failed, database refuses writes until reopened", op), err)
	w.failure.CompareAndSwap(nil, e)
	return w.err()
}

// failSync is fail for a failed fsync. After fdatasync fails, Linux marks
// the pages it could not write clean: reads still return them, so a reopen
// in the same boot replays them, but no later fsync writes them, and a
// power cut loses them. So it also leaves the sync-failed mark in the
// directory (see DB.recoverFromSyncFailure), as best it can: the disk may
// refuse that too.
func (w *wal) failSync(err error) error {
	e := w.fail("sync", err)
	_ = writeSyncFailedMark(w.fsys, w.dir, segmentName(w.seq))
	return e
}

// presyncMin is the smallest segment worth syncing ahead: a smaller one
// seals quickly anyway.
const presyncMin = 4 << 20

// presyncSteps is how many background fsyncs a segment gets as it fills.
const presyncSteps = 8

// wantPresync reports that the current segment grew by another
// 1/presyncSteps of its limit since it was last handed to a background
// fsync. Without SyncAlways its data is still unsynced, and the fsync
// that seals it at rotation runs under the writer lock: syncing it ahead
// in steps, in the background, leaves that fsync at most about one step
// to write. (Once at three quarters left it a quarter, 4 MiB of a default
// segment, and a 5-7 ms pause at every rotation.)
func (w *wal) wantPresync() bool {
	step := w.segLimit / presyncSteps
	if w.segLimit < presyncMin || w.segSize < w.presynced+step {
		return false
	}
	w.presynced = w.segSize
	return true
}

// size returns the bytes in all live segments.
func (w *wal) size() int64 { return w.sealedBytes + w.segSize }

// dropBefore forgets the sealed segments numbered below seq, once a
// snapshot holds their records, and returns their file names.
func (w *wal) dropBefore(seq uint64) []string {
	var names []string
	keep := w.sealed[:0]
	for _, s := range w.sealed {
		if s.seq < seq {
			names = append(names, segmentName(s.seq))
			w.sealedBytes -= s.size
		} else {
			keep = append(keep, s)
		}
	}
	w.sealed = keep
	return names
}

// prepare readies the WAL for a record of at most n bytes, starting the
// next segment when it does not fit in this one, and returns the durable
// point that the record must carry. The caller then encodes the record
// with it and appends it, under the same hold of its lock.
func (w *wal) prepare(n int) (int64, error) {
	if err := w.err(); err != nil {
		return 0, err
	}
	if w.full(n) {
		if _, err := w.rotate(); err != nil {
			return 0, err
		}
	}
	return w.durable.Load(), nil
}

// durableGuess returns the durable point as it stands, for a writer that
// encodes its record before it takes the lock; prepare says whether the
// guess still holds. Safe to call concurrently with everything.
func (w *wal) durableGuess() int64 { return w.durable.Load() }

// append writes one encoded record and returns the LSN after it. The
// record has reached the operating system when append returns. The record
// must carry the durable point prepare returned.
func (w *wal) append(rec []byte) (int64, error) {
	if err := w.err(); err != nil {
		return 0, err
	}
	if w.full(len(rec)) {
		if _, err := w.rotate(); err != nil {
			return 0, err
		}
	}
	if w.m != nil && int64(len(rec)) > w.segLimit-w.segSize {
		// A record larger than a whole segment, in a new one: Write it.
		if err := w.unmap(); err != nil {
			return 0, err
		}
	}
	if w.m != nil {
		if err := w.m.CopyAt(rec, w.segSize); err != nil {
			return 0, w.fail("write", err)
		}
		w.segSize += int64(len(rec))
		return w.written.Add(int64(len(rec))), nil
	}
	n, err := w.f.Write(rec)
	w.segSize += int64(n)
	lsn := w.written.Add(int64(n))
	if err != nil {
		return 0, w.fail("write", err)
	}
	return lsn, nil
}

// full reports whether a record of n bytes must start a new segment. A
// mapped segment ends before a record that does not fit in it, so that
// its stores stay inside the mapping; an unmapped one ends once it has
// reached the limit, the record that crossed it included.
func (w *wal) full(n int) bool {
	if w.m == nil {
		return w.segSize >= w.segLimit
	}
	return w.segSize > 0 && int64(n) > w.segLimit-w.segSize
}

// unmap ends the current segment's mapping and cuts the preallocated
// zeros after the written bytes off the file, which is then an ordinary
// segment again; a crash before the cut is durable leaves a zero tail,
// which recovery cuts. It is a no-op for an unmapped segment.
func (w *wal) unmap() error {
	if w.m == nil {
		return nil
	}
	err := w.m.Unmap()
	w.m = nil
	if err != nil {
		return w.fail("unmap", err)
	}
	if err := w.f.Truncate(w.segSize); err != nil {
		return w.fail("truncate", err)
	}
	return nil
}

// rotate seals the current segment (fsynced) and starts the next one. It
// returns the new segment's number.
func (w *wal) rotate() (uint64, error) {
	if err := w.err(); err != nil {
		return 0, err
	}
	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	if err := w.err(); err != nil {
		return 0, err // a sync failed while this waited for fileMu
	}
	// Seal the old segment: cut its preallocated tail and sync, so that
	// its length and records are durable before the next segment exists.
	// A sealed segment thus never ends in zeros.
	if err := w.unmap(); err != nil {
		return 0, err
	}
	if err := w.f.Sync(); err != nil {
		return 0, w.failSync(err)
	}
	lsn := w.written.Load()
	f, m, err := w.createSegment(w.seq + 1)
	if err != nil {
		return 0, w.fail("rotate", err)
	}
	// The old segment is synced, so the rotation is complete even when its
	// close fails; w.f must not keep pointing at a closed file.
	closeErr := w.f.Close()
	w.f, w.m = f, m
	w.seq++
	w.sealed = append(w.sealed, segInfo{w.seq - 1, w.segSize})
	w.sealedBytes += w.segSize
	w.segSize = 0
	w.presynced = 0
	w.base = lsn
	w.durable.Store(0) // the new segment is durable, and empty
	w.markSynced(lsn)
	if closeErr != nil {
		return 0, w.fail("close segment", closeErr)
	}
	return w.seq, nil
}

func (w *wal) markSynced(lsn int64) {
	w.smu.Lock()
	if lsn > w.synced {
		w.synced = lsn
	}
	w.smu.Unlock()
}

// syncTo returns once every byte up to lsn is durable. Concurrent callers
// share one fsync: the first becomes the leader and syncs everything
// written so far, the others wait for its round. A caller whose ctx ends
// stops waiting and returns ctx.Err(); its record may still become durable.
func (w *wal) syncTo(ctx context.Context, lsn int64) error {
	for {
		w.smu.Lock()
		// A record already durable is reported so even if the WAL failed
		// or closed since: Close syncs before it closes the file.
		if w.synced >= lsn {
			w.smu.Unlock()
			return nil
		}
		if err := w.err(); err != nil {
			w.smu.Unlock()
			return err
		}
		if w.closed {
			w.smu.Unlock()
			return ErrClosed
		}
		if !w.syncing {
			w.syncing = true
			w.smu.Unlock()
			w.syncRound()
			continue
		}
		round := w.round
		w.smu.Unlock()
		select {
		case <-round:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// gatherRounds bounds how many times a round's leader yields to let other
// writers append before it syncs.
const gatherRounds = 8

// syncRound fsyncs the current segment once, as the leader of a round.
func (w *wal) syncRound() {
	w.gather()
	w.fileMu.Lock()
	target := w.written.Load()
	var err error
	if w.f != nil {
		if err = w.f.Sync(); err == nil {
			w.raiseDurable(target)
		} else {
			// Recorded before fileMu is released: a rotation waiting for
			// it must not seal the segment with a sync that succeeds only
			// because the failed pages now count as clean.
			w.failSync(err)
		}
	} else {
		target = 0 // closed meanwhile: Close synced what it could
	}
	w.fileMu.Unlock()
	w.smu.Lock()
	if err == nil && target > w.synced {
		w.synced = target
	}
	w.syncing = false
	close(w.round)
	w.round = make(chan struct{})
	w.smu.Unlock()
}

// gather lets writers that are ready to append join the round about to
// start. When a round ends it wakes all its writers at once; the first to
// write again leads the next round, and without this pause it would sync
// alone while the others append behind it, so rounds would alternate
// between one writer and all the rest. The leader yields while the log
// keeps growing; a lone writer finds nothing to wait for and goes on after
// one yield.
func (w *wal) gather() {
	for range gatherRounds {
		before := w.written.Load()
		runtime.Gosched()
		if w.written.Load() == before {
			return
		}
	}
}

// raiseDurable records that a sync made every byte before lsn durable.
// The caller holds fileMu, so the segment cannot change meanwhile.
func (w *wal) raiseDurable(lsn int64) {
	if off := lsn - w.base; off > w.durable.Load() {
		w.durable.Store(off)
	}
}

// syncNow fsyncs the current segment whatever the group-commit state, for
// a change that is not a record (a cut), and counts everything written
// before it as durable.
func (w *wal) syncNow() error {
	w.fileMu.Lock()
	lsn := w.written.Load()
	err := w.f.Sync()
	if err == nil {
		w.raiseDurable(lsn)
	} else {
		err = w.failSync(err) // under fileMu, as in syncRound
	}
	w.fileMu.Unlock()
	if err != nil {
		return err
	}
	w.markSynced(lsn)
	return nil
}

// sync makes everything written so far durable.
func (w *wal) sync() error { return w.syncTo(context.Background(), w.written.Load()) }

// dirty reports whether some written bytes are not yet known durable.
func (w *wal) dirty() bool {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.written.Load() > w.synced
}

// markDurable, when records were appended since open, syncs them and
// appends a recDurable record that claims them all durable, so that
// damage in the last records of a segment closed cleanly is told from a
// torn tail (see scanAfterDamage). The close that follows syncs it.
func (w *wal) markDurable() error {
	if w.written.Load() == 0 || w.segSize == 0 {
		return nil
	}
	const markMax = walHeaderMax + recFixedSize + binary.MaxVarintLen64
	if w.full(markMax) {
		return nil // it would go into a new segment, and vouch for nothing there
	}
	if err := w.sync(); err != nil {
		return err
	}
	d, err := w.prepare(markMax)
	if err != nil {
		return err
	}
	_, err = w.append(appendRecord(nil, recDurable, 0, d, nil))
	return err
}

// close cuts the current segment's preallocated tail, syncs the segment
// and closes it. After a failure of the WAL it only releases the mapping
// and the file: the next open cuts the zero tail.
func (w *wal) close() error {
	var err error
	if w.err() == nil {
		err = w.markDurable()
	}
	if err == nil && w.err() == nil {
		mapped := w.m != nil
		err = w.unmap()
		if err == nil && !mapped {
			err = w.sync()
		}
		if err == nil && mapped {
			// The cut must be durable too, even when every record
			// already is, which w.sync would take for nothing to do.
			err = w.syncNow()
		}
	}
	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	w.smu.Lock()
	w.closed = true
	w.smu.Unlock()
	if w.f == nil {
		return err
	}
	err = errors.Join(err, unmapIf(w.m), w.f.Close())
	w.m, w.f = nil, nil
	return err
}
