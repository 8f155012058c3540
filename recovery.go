package minikv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/minikv/minikv/internal/index"
	"github.com/minikv/minikv/internal/vfs"
)

// recoveryInfo holds the figures of the Open that created a handle.
type recoveryInfo struct {
	records     int64
	keys        int64
	torn        int64
	tornRecords int64
	walBytes    int64
	took        time.Duration
}

func (r *recoveryInfo) fill(s *Stats) {
	s.RecoveredRecords = r.records
	s.RecoveredKeys = r.keys
	s.TornBytes = r.torn
	s.TornRecords = r.tornRecords
	s.RecoveryTime = r.took
}

// dirListing sorts the files of a database directory by role.
type dirListing struct {
	segments   []uint64 // ascending
	snapshots  []uint64 // ascending
	temps      []string
	syncFailed bool // the sync-failed mark is there
}

func listDir(fsys vfs.FS, dir string) (dirListing, error) {
	var l dirListing
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return l, wrapOp(fmt.Sprintf("list %s", dir), err)
	}
	for _, name := range names {
		if seq, ok := parseSeq(name, walExt); ok {
			l.segments = append(l.segments, seq)
		} else if seq, ok := parseSeq(name, snapExt); ok {
			l.snapshots = append(l.snapshots, seq)
		} else if filepath.Ext(name) == tmpExt {
			l.temps = append(l.temps, name)
		} else if name == syncFailedName {
			l.syncFailed = true
		}
	}
	slices.Sort(l.segments)
	slices.Sort(l.snapshots)
	return l, nil
}

// recover loads the snapshot named by the MANIFEST, replays the live WAL
// segments, cuts a torn tail and opens the WAL for appending.
func (db *DB) recover() error {
	start := time.Now()
	ls, err := listDir(db.fsys, db.dir)
	if err != nil {
		return err
	}
	man, found, err := readManifest(db.fsys, db.dir)
	if err != nil {
		return err
	}
	if !found {
		if man, err = db.initManifest(ls); err != nil {
			return err
		}
	}
	db.man = man
	if err := db.loadIndex(); err != nil {
		return err
	}
	live := liveSegments(ls.segments, man.walStart)
	if err := checkContiguous(live, man.walStart); err != nil {
		return err
	}
	scans, err := db.replay(live)
	if err != nil {
		return err
	}
	db.recovery.took = time.Since(start)
	if db.readOnly {
		return nil
	}
	// The files found may have been created or renamed by a handle that
	// failed before it synced the directory (the process goes on, so the
	// entries are visible but not durable). Sync it before the first write
	// relies on them.
	if err := db.fsys.SyncDir(db.dir); err != nil {
		return wrapOp("sync directory", err)
	}
	if man.v1 {
		// The WAL is about to get records of the current format: say so
		// first, so that a release that reads only the first format
		// refuses the store instead of stumbling on them.
		db.man.v1 = false
		if err := writeManifest(db.fsys, db.dir, db.man); err != nil {
			return err
		}
	}
	if err := db.resumeWAL(scans); err != nil {
		return err
	}
	if err := db.removeObsolete(ls); err != nil {
		return err
	}
	if ls.syncFailed {
		return db.recoverFromSyncFailure()
	}
	return nil
}

// recoverFromSyncFailure runs when an fsync of the WAL failed before (the
// sync-failed mark is there). The records just replayed may then lie in
// pages that the kernel marked clean without writing them: this boot reads
// them from the page cache, but no fsync will ever write them, and a power
// cut would turn them into a hole before whatever is appended after them,
// acknowledged writes included. So before any write it makes everything
// it recovered durable anew: it writes a snapshot of the whole index and
// switches the MANIFEST to it, as a compaction does (a new file, fsynced,
// then the MANIFEST replaced durably), then starts a new segment, and
// removes the mark once all that is durable. A failure leaves the mark,
// and the next Open tries again.
func (db *DB) recoverFromSyncFailure() error {
	db.log.Warn("minikv: an fsync of the WAL failed before; rewriting the recovered state into a snapshot")
	// The snapshot and the MANIFEST that names it come before the
	// rotation: until the switch is durable, the segment the failure hit
	// stays the last one, where a hole a power cut leaves in it is still
	// a torn tail; sealed first, the same hole would be damage.
	seq := db.wal.seq + 1
	db.mu.RLock()
	v := db.idx.freeze()
	db.mu.RUnlock()
	_, err := writeSnapshot(db.fsys, db.dir, seq, v, db.now())
	if err == nil {
		err = writeManifest(db.fsys, db.dir, manifest{snapshot: snapshotName(seq), walStart: seq})
	}
	if err == nil {
		var next uint64
		if next, err = db.wal.rotate(); err == nil && next != seq {
			err = fmt.Errorf("minikv: the WAL rotated to segment %d, want %d", next, seq)
		}
	}
	var old []string
	if err == nil {
		old, err = db.adoptManifest(seq, nil)
	}
	if err != nil {
		return wrapOp("make the state durable after a failed fsync", err)
	}
	db.removeFiles(append(old, syncFailedName))
	if err := db.fsys.SyncDir(db.dir); err != nil {
		return wrapOp("sync directory", err)
	}
	return nil
}

// writeSyncFailedMark leaves the sync-failed mark naming segment, durably
// if the disk allows. It returns the first error, for tests; the WAL that
// calls it has already failed.
func writeSyncFailedMark(fsys vfs.FS, dir, segment string) error {
	if err := writeFileSync(fsys, filepath.Join(dir, syncFailedName), []byte(segment+"\n")); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// initManifest handles a directory without a MANIFEST: a new database
// gets one; a directory holding data without one is corrupt.
func (db *DB) initManifest(ls dirListing) (manifest, error) {
	if len(ls.snapshots) > 0 {
		return manifest{}, manifestCorrupt("missing, but the directory holds snapshots")
	}
	for _, seq := range ls.segments {
		data, _, err := readSegment(db.fsys, filepath.Join(db.dir, segmentName(seq)))
		if err != nil {
			return manifest{}, wrapOp(fmt.Sprintf("read %s", segmentName(seq)), err)
		}
		if !allZero(data) {
			return manifest{}, manifestCorrupt("missing, but the directory holds WAL segments")
		}
	}
	man := manifest{walStart: 1}
	if n := len(ls.segments); n > 0 {
		man.walStart = ls.segments[n-1] + 1
	}
	if db.readOnly {
		return man, nil
	}
	return man, writeManifest(db.fsys, db.dir, man)
}

// maxSegmentRead bounds the size of a segment file recovery reads.
const maxSegmentRead = 1 << 34

// loadIndex loads the snapshot the MANIFEST names into a new index (an
// empty one without a snapshot).
func (db *DB) loadIndex() error {
	if db.man.snapshot == "" {
		db.idx = newMemIndex(0)
		db.limitIndex()
		return nil
	}
	idx, info, err := loadSnapshot(db.fsys, filepath.Join(db.dir, db.man.snapshot), db.now(), db.limitChunk())
	if errors.Is(err, fs.ErrNotExist) {
		return manifestCorrupt("names missing snapshot " + db.man.snapshot)
	}
	if err != nil {
		return err
	}
	if info.walSeq != db.man.walStart {
		return &corruptError{file: db.man.snapshot, offset: 20, reason: "WAL sequence does not match the MANIFEST"}
	}
	db.idx = idx
	db.limitIndex()
	db.recovery.keys = int64(info.entries)
	return nil
}

// limitChunk returns the fixed chunk size of the memory limit, 0 without
// one (or for a read-only handle).
func (db *DB) limitChunk() int {
	if db.readOnly || db.opts.MaxMemory <= 0 {
		return 0
	}
	return chunkFor(db.opts.MaxMemory)
}

// limitIndex prepares the new index for the memory limit, before the WAL
// is replayed into it. A read-only handle takes no writes, so it needs
// neither LRU stamps nor fixed chunks.
func (db *DB) limitIndex() {
	if !db.readOnly {
		db.idx.setLimit(db.opts.MaxMemory, db.opts.Eviction)
	}
}

func liveSegments(all []uint64, start uint64) []uint64 {
	i, _ := slices.BinarySearch(all, start)
	return all[i:]
}

func checkContiguous(live []uint64, start uint64) error {
	if n := contiguous(live, start); n < len(live) {
		return &corruptError{file: segmentName(start + uint64(n)), offset: -1, reason: "WAL segment missing"}
	}
	return nil
}

// contiguous returns how many of the live segments, from the first on,
// are numbered start, start+1, ... without a gap; segment start+n is the
// first one missing when n < len(live).
func contiguous(live []uint64, start uint64) int {
	for i, seq := range live {
		if seq != start+uint64(i) {
			return i
		}
	}
	return len(live)
}

// replay applies the live segments in order. Damage that a crash cannot
// explain (valid records after it, or damage in a segment other than the
// last) fails with ErrCorrupt unless SalvageCorruptWAL is set; then, as
// for a torn tail, everything after the damage is dropped.
func (db *DB) replay(live []uint64) ([]segmentScan, error) {
	var scans []segmentScan
	for i, seq := range live {
		s, err := db.replaySegment(seq)
		if err != nil {
			return nil, err
		}
		scans = append(scans, s)
		if !s.damaged {
			continue
		}
		// Only the last segment can end in a torn record: a segment is
		// fsynced before the next one is created, so damage in an earlier
		// one is not a crash artefact, even when the segments after it are
		// empty.
		if !s.trailing && i == len(live)-1 {
			db.recovery.torn = s.size - s.validEnd
			db.recovery.tornRecords = int64(s.after)
			if s.after > 0 {
				db.log.Warn("minikv: cutting records after a hole in WAL data that was never synced",
					"segment", segmentName(seq), "offset", s.validEnd, "records", s.after)
			}
			return scans, nil
		}
		if !db.opts.SalvageCorruptWAL {
			reason := "damaged record in durable data, followed by valid records"
			if !s.trailing {
				reason = "damaged record in a sealed segment"
			}
			return nil, &corruptError{file: segmentName(seq), offset: s.validEnd, reason: reason}
		}
		db.log.Warn("minikv: salvaging WAL prefix", "segment", segmentName(seq), "offset", s.validEnd)
		db.recovery.torn = s.size - s.validEnd
		return scans, nil
	}
	return scans, nil
}

// replaySegment reads one segment and applies its records.
func (db *DB) replaySegment(seq uint64) (segmentScan, error) {
	name := segmentName(seq)
	data, size, err := readSegment(db.fsys, filepath.Join(db.dir, name))
	if err != nil {
		return segmentScan{}, wrapOp(fmt.Sprintf("read %s", name), err)
	}
	now := db.now()
	s, err := scanSegment(data, func(r walRecord) bool {
		if r.typ != recDurable {
			db.recovery.records++
		}
		return decodeOps(r.typ, r.body, func(op walOp) { db.applyOp(op, now) })
	})
	s.size = size // past data, only zeros
	if err != nil {
		return s, &corruptError{file: name, offset: s.validEnd, reason: err.Error()}
	}
	s.seq = seq
	db.recovery.walBytes += s.validEnd
	return s, nil
}

// applyOp applies one replayed operation. A set that has already expired
// deletes the key, so that an older value cannot come back.
func (db *DB) applyOp(op walOp, now int64) {
	key := string(op.key)
	h := index.Hash(key)
	if op.del || (op.exp != 0 && op.exp <= now) {
		db.idx.del(key, h)
		return
	}
	db.idx.set(key, h, op.value, op.exp)
}

// resumeWAL cuts the damage after the last good record, removes the
// segments after it and opens the last good segment for appending.
func (db *DB) resumeWAL(scans []segmentScan) error {
	segLimit := db.opts.SegmentSize
	if len(scans) == 0 {
		w, err := openWAL(db.fsys, db.dir, db.man.walStart, 0, nil, segLimit, true)
		db.wal = w
		return err
	}
	last := scans[len(scans)-1]
	if last.validEnd < last.size {
		// Zero bytes after the last record are cut too (and counted): a
		// torn tail can begin with zeros just as well as padding can.
		db.recovery.torn = last.size - last.validEnd
		if err := db.truncate(last.seq, last.validEnd); err != nil {
			return err
		}
	}
	var sealed []segInfo
	for _, s := range scans[:len(scans)-1] {
		sealed = append(sealed, segInfo{s.seq, s.validEnd})
	}
	w, err := openWAL(db.fsys, db.dir, last.seq, last.validEnd, sealed, segLimit, false)
	db.wal = w
	return err
}

// truncate cuts segment seq to size bytes and fsyncs it.
func (db *DB) truncate(seq uint64, size int64) error {
	name := filepath.Join(db.dir, segmentName(seq))
	f, err := db.fsys.OpenFile(name, os.O_WRONLY, 0o600)
	if err != nil {
		return wrapOp(fmt.Sprintf("open %s to cut its tail", segmentName(seq)), err)
	}
	err = f.Truncate(size)
	if err == nil {
		if err = f.Sync(); err != nil {
			_ = writeSyncFailedMark(db.fsys, db.dir, segmentName(seq)) // see reopenSegment
		}
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return wrapOp(fmt.Sprintf("cut tail of %s", segmentName(seq)), err)
	}
	db.log.Info("minikv: cut torn WAL tail", "segment", segmentName(seq), "offset", size)
	return nil
}

// removeObsolete deletes the files the MANIFEST no longer names: older
// segments and snapshots, segments after a cut tail, and temp files. The
// removal of segments after a cut tail is made durable before any new
// write, since their records must never be replayed after newer ones.
func (db *DB) removeObsolete(ls dirListing) error {
	var names, after []string
	for _, seq := range ls.segments {
		if seq < db.man.walStart {
			names = append(names, segmentName(seq))
		} else if seq > db.wal.seq {
			after = append(after, segmentName(seq))
		}
	}
	if len(after) > 0 {
		for _, name := range after {
			if err := db.fsys.Remove(filepath.Join(db.dir, name)); err != nil {
				return wrapOp(fmt.Sprintf("remove %s after the WAL tail", name), err)
			}
		}
		if err := db.fsys.SyncDir(db.dir); err != nil {
			return wrapOp("sync directory", err)
		}
	}
	for _, seq := range ls.snapshots {
		if snapshotName(seq) != db.man.snapshot {
			names = append(names, snapshotName(seq))
		}
	}
	names = append(names, ls.temps...)
	db.removeFiles(names)
	return nil
}

func (db *DB) removeFiles(names []string) {
	for _, name := range names {
		if err := db.fsys.Remove(filepath.Join(db.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			db.log.Warn("minikv: remove obsolete file", "file", name, "err", err)
		}
	}
}
