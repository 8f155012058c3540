package minikv

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"

	"github.com/minikv/minikv/internal/vfs"
)

// VerifyReport is what Verify found in a database directory.
type VerifyReport struct {
	// Snapshot is the snapshot file the MANIFEST names, "" for none.
	Snapshot string
	// WALStart is the first live WAL segment the MANIFEST names.
	WALStart uint64
	// SnapshotEntries is the number of entries in the snapshot.
	SnapshotEntries int
	// Segments is the number of live WAL segments checked.
	Segments int
	// Records is the number of valid WAL records checked.
	Records int64
	// TornTail, when not nil, is a damaged record at the very end of the
	// log with nothing valid after it: what a crash leaves. It is not
	// damage; the next writable Open cuts it off.
	TornTail *VerifyProblem
	// Stale lists the files the MANIFEST no longer names (older segments
	// and snapshots, temp files); the next writable Open deletes them.
	Stale []string
	// Problems lists the damage found, in the order the files were
	// checked. It is empty when the database is sound.
	Problems []VerifyProblem
	// Rebuild, when the MANIFEST is missing or damaged, is the MANIFEST
	// RebuildManifest would write; the rest of the report (Snapshot,
	// WALStart, the segments checked) then describes the files it names.
	Rebuild *ManifestPlan
}

// VerifyProblem is one damaged spot of a database file.
type VerifyProblem struct {
	File   string // file name within the directory
	Offset int64  // byte offset of the damage; -1 when the whole file is at fault
	Reason string
	Fix    Fix // what can repair it
}

// Fix says what can repair a problem Verify found.
type Fix int

const (
	// FixRestore: nothing here can; restore the store from a backup.
	FixRestore Fix = iota
	// FixSalvage: an Open with SalvageCorruptWAL keeps every WAL record
	// before the damage and drops the rest of the log.
	FixSalvage
	// FixRebuild: RebuildManifest writes a MANIFEST naming the files that
	// pass their checks (VerifyReport.Rebuild says which), and leaves the
	// damaged ones out, losing no logged write.
	FixRebuild
)

// String names the fix: "restore", "salvage" or "rebuild".
func (f Fix) String() string {
	switch f {
	case FixSalvage:
		return "salvage"
	case FixRebuild:
		return "rebuild"
	}
	return "restore"
}

// String returns the problem as "file at offset N: reason".
func (p VerifyProblem) String() string {
	if p.Offset < 0 {
		return p.File + ": " + p.Reason
	}
	return p.File + " at offset " + strconv.FormatInt(p.Offset, 10) + ": " + p.Reason
}

// OK reports whether no problem was found. A torn tail and stale files
// are not problems.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Verify checks every file of the database in dir without modifying
// anything: the MANIFEST's layout and CRC; the snapshot it names (present,
// magic, version, CRC, entries well formed and in strictly ascending key
// order, WAL sequence matching the MANIFEST); and the live WAL segments
// (contiguous from the MANIFEST's wal-start, every record's CRC and body).
// A torn record at the very end of the log is reported in TornTail, not as
// a problem, since it is what a crash leaves and Open repairs it.
//
// Verify takes no lock. Run it on a closed database (hold LockDir to keep
// writers out), or on one opened ReadOnly: a writer working meanwhile may
// make it report a torn tail or a vanished file. It holds the snapshot's contents in memory while it checks
// them, as Open does.
//
// Verify returns a report whenever it could list dir. The error wraps
// ErrCorrupt, naming the first problem, when the report lists problems; it
// is the I/O error that stopped Verify when a file could not be read.
func Verify(dir string) (*VerifyReport, error) {
	return verifyFS(osFS{}, dir)
}

// verifyFS is Verify on any vfs.FS.
func verifyFS(fsys vfs.FS, dir string) (*VerifyReport, error) {
	ls, err := listDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	r := &VerifyReport{}
	man, ok, err := verifyManifest(fsys, dir, ls, r)
	switch {
	case err != nil:
		return r, r.result(err)
	case !ok && len(r.Problems) == 0:
		return r, nil // an empty or never opened database
	case !ok:
		// Check what a rebuilt MANIFEST would name instead.
		plan, err := planManifest(fsys, dir, ls)
		if err != nil {
			return r, r.result(err)
		}
		r.Rebuild = plan
		if plan.Lost == "" {
			r.Problems[0].Fix = FixRebuild
		}
		for _, s := range plan.Skipped {
			s.Fix = r.Problems[0].Fix
			r.Problems = append(r.Problems, s)
		}
		man = manifest{snapshot: plan.Snapshot, walStart: plan.WALStart}
		r.SnapshotEntries = plan.SnapshotEntries
	default:
		if err := r.checkSnapshot(fsys, dir, man); err != nil {
			return r, r.result(err)
		}
	}
	r.Snapshot, r.WALStart = man.snapshot, man.walStart
	r.listStale(ls, man)
	live := liveSegments(ls.segments, man.walStart)
	if n := contiguous(live, man.walStart); n < len(live) {
		if r.Rebuild == nil { // a plan stops there and says so
			r.problem(segmentName(man.walStart+uint64(n)), -1, "WAL segment missing")
		}
		live = live[:n]
	}
	return r, r.result(r.checkSegments(fsys, dir, live))
}

func (r *VerifyReport) problem(file string, off int64, reason string) {
	r.Problems = append(r.Problems, VerifyProblem{File: file, Offset: off, Reason: reason})
}

// result returns the error Verify returns with r: err itself, or one
// naming the first problem.
func (r *VerifyReport) result(err error) error {
	if err != nil || len(r.Problems) == 0 {
		return err
	}
	p := r.Problems[0]
	return &corruptError{file: p.File, offset: p.Offset, reason: p.Reason}
}

// verifyManifest reads the MANIFEST. ok is false when the live files are
// unknown (no MANIFEST, or a corrupt one), which ends the check.
func verifyManifest(fsys vfs.FS, dir string, ls dirListing, r *VerifyReport) (manifest, bool, error) {
	man, found, err := readManifest(fsys, dir)
	var ce *corruptError
	switch {
	case errors.As(err, &ce):
		r.problem(ce.file, ce.offset, ce.reason)
		return man, false, nil
	case err != nil:
		return man, false, err
	case found:
		return man, true, nil
	}
	if len(ls.snapshots) > 0 {
		r.problem(manifestName, -1, "missing, but the directory holds snapshots")
		return man, false, nil
	}
	for _, seq := range ls.segments {
		data, _, err := readSegment(fsys, filepath.Join(dir, segmentName(seq)))
		if err != nil {
			return man, false, wrapOp(fmt.Sprintf("read %s", segmentName(seq)), err)
		}
		if !allZero(data) {
			r.problem(manifestName, -1, "missing, but the directory holds WAL segments")
			return man, false, nil
		}
	}
	return man, false, nil // an empty or never opened database
}

// checkSnapshot decodes the snapshot the MANIFEST names.
func (r *VerifyReport) checkSnapshot(fsys vfs.FS, dir string, man manifest) error {
	if man.snapshot == "" {
		return nil
	}
	_, info, err := loadSnapshot(fsys, filepath.Join(dir, man.snapshot), math.MinInt64, 0)
	var ce *corruptError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.problem(manifestName, -1, "names missing snapshot "+man.snapshot)
		return nil
	case errors.As(err, &ce):
		r.problem(man.snapshot, ce.offset, ce.reason)
		return nil
	case err != nil:
		return err
	}
	r.SnapshotEntries = info.entries
	if info.walSeq != man.walStart {
		r.problem(man.snapshot, 20, "WAL sequence does not match the MANIFEST")
	}
	return nil
}

// listStale records the files the MANIFEST does not name.
func (r *VerifyReport) listStale(ls dirListing, man manifest) {
	for _, seq := range ls.segments {
		if seq < man.walStart {
			r.Stale = append(r.Stale, segmentName(seq))
		}
	}
	for _, seq := range ls.snapshots {
		if name := snapshotName(seq); name != man.snapshot {
			r.Stale = append(r.Stale, name)
		}
	}
	r.Stale = append(r.Stale, ls.temps...)
}

// checkSegments scans the live segments as recovery would, without
// stopping at the first damage.
func (r *VerifyReport) checkSegments(fsys vfs.FS, dir string, live []uint64) error {
	scans := make([]segmentScan, len(live))
	for i, seq := range live {
		name := segmentName(seq)
		data, size, err := readSegment(fsys, filepath.Join(dir, name))
		var ce *corruptError
		if errors.As(err, &ce) {
			r.problem(name, ce.offset, ce.reason) // a file that is not a segment
			return nil
		}
		if err != nil {
			return wrapOp(fmt.Sprintf("read %s", name), err)
		}
		s, err := scanSegment(data, func(rec walRecord) bool {
			return decodeOps(rec.typ, rec.body, func(walOp) {})
		})
		s.size = size // past data, only zeros
		if err != nil {
			r.problem(name, s.validEnd, err.Error())
		}
		scans[i] = s
		r.Segments++
		r.Records += int64(s.records)
	}
	for i, s := range scans {
		if !s.damaged {
			continue
		}
		name := segmentName(live[i])
		if !s.trailing && i == len(scans)-1 {
			// Recovery cuts here, as it does every torn tail.
			reason := fmt.Sprintf("torn tail of %d bytes", s.size-s.validEnd)
			if s.after > 0 {
				reason += fmt.Sprintf(", %d records after a hole in data never synced", s.after)
			}
			r.TornTail = &VerifyProblem{File: name, Offset: s.validEnd, Reason: reason}
			return nil
		}
		reason := "damaged record in durable data, followed by valid records"
		if !s.trailing {
			reason = "damaged record in a sealed segment"
		}
		r.problem(name, s.validEnd, reason)
		r.Problems[len(r.Problems)-1].Fix = FixSalvage
	}
	return nil
}
