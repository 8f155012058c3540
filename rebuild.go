package minikv

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"github.com/minikv/minikv/internal/vfs"
)

// A MANIFEST only points at files that name themselves: a snapshot's file
// name carries the WAL sequence it covers up to (and its header repeats
// it), a segment's name carries its sequence, and each file carries its
// own magic and checksums. So when the MANIFEST is lost or damaged, the
// state it described can be found again from the directory listing: the
// newest snapshot that passes its checks, then the segments from its
// sequence on, in order, up to the first one missing. This is what a
// compaction leaves at every step: it starts a new segment N, writes
// snapshot N of everything before it (to a temp file, fsynced, renamed),
// switches the MANIFEST to it, and only then removes what lies before N.

// ManifestPlan is the MANIFEST that RebuildManifest writes, and what it
// leaves out.
type ManifestPlan struct {
	// Snapshot is the newest snapshot that passes its checks, "" for none.
	Snapshot string
	// SnapshotEntries is the number of entries in it.
	SnapshotEntries int
	// WALStart is the first live WAL segment.
	WALStart uint64
	// Segments are the live WAL segments, contiguous from WALStart.
	Segments []string
	// Skipped lists the files left out that could have been live: newer
	// snapshots that fail their checks, and segments after a missing one.
	// The next writable Open deletes them with the other stale files.
	Skipped []VerifyProblem
	// Lost says which logged writes the plan cannot bring back, "" when
	// none is known lost: a missing segment, or segments deleted by a
	// compaction whose snapshot is gone.
	Lost string
}

// String describes the plan in one line.
func (p *ManifestPlan) String() string {
	snap := "no snapshot"
	if p.Snapshot != "" {
		snap = fmt.Sprintf("snapshot %s (%d entries)", p.Snapshot, p.SnapshotEntries)
	}
	switch len(p.Segments) {
	case 0:
		return snap + ", no WAL segment"
	case 1:
		return snap + ", WAL segment " + p.Segments[0]
	}
	return fmt.Sprintf("%s, %d WAL segments %s to %s", snap, len(p.Segments), p.Segments[0], p.Segments[len(p.Segments)-1])
}

// RebuildManifest replaces the MANIFEST of the closed database in dir,
// missing or damaged, with one built from the files in dir (see
// ManifestPlan), and returns the plan it wrote. It takes the directory's
// exclusive lock and returns an error wrapping ErrLocked when another
// handle holds it. It changes nothing but the MANIFEST; the next writable
// Open deletes the files the plan leaves out, so copy them first if they
// may matter (the minikv command's repair does). It returns an error and
// writes nothing when the plan's Lost is not empty: restore such a store
// from a backup, or accept the loss by removing the files named in Skipped
// and calling it again.
func RebuildManifest(dir string) (*ManifestPlan, error) {
	return rebuildManifest(osFS{}, dir)
}

func rebuildManifest(fsys vfs.FS, dir string) (*ManifestPlan, error) {
	lock, err := lockDir(fsys, dir, false)
	if err != nil {
		return nil, notDir(fsys, dir, err)
	}
	defer lock.Close()
	ls, err := listDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	p, err := planManifest(fsys, dir, ls)
	if err != nil {
		return nil, err
	}
	if p.Lost != "" {
		return p, wrapOp("rebuild MANIFEST", &corruptError{file: manifestName, offset: -1,
			reason: "cannot be rebuilt without a loss: " + p.Lost})
	}
	if err := writeManifest(fsys, dir, manifest{snapshot: p.Snapshot, walStart: p.WALStart}); err != nil {
		return p, err
	}
	return p, nil
}

// planManifest works out, from the files in the listing ls of dir, the
// MANIFEST that names the newest state they hold.
func planManifest(fsys vfs.FS, dir string, ls dirListing) (*ManifestPlan, error) {
	p := &ManifestPlan{}
	for i := len(ls.snapshots) - 1; i >= 0 && p.Snapshot == ""; i-- {
		seq := ls.snapshots[i]
		name := snapshotName(seq)
		_, info, err := loadSnapshot(fsys, filepath.Join(dir, name), math.MinInt64, 0)
		var ce *corruptError
		switch {
		case errors.As(err, &ce):
			p.Skipped = append(p.Skipped, VerifyProblem{File: name, Offset: ce.offset, Reason: ce.reason})
		case err != nil:
			return nil, err
		case info.walSeq != seq || seq > maxWALSeq:
			p.Skipped = append(p.Skipped, VerifyProblem{File: name, Offset: 20,
				Reason: fmt.Sprintf("WAL sequence %d does not match its name", info.walSeq)})
		default:
			p.Snapshot, p.SnapshotEntries, p.WALStart = name, info.entries, seq
		}
	}
	if p.Snapshot == "" {
		p.WALStart = 1
		if len(ls.segments) > 0 && ls.segments[0] <= maxWALSeq {
			p.WALStart = ls.segments[0]
		}
		if p.WALStart > 1 {
			// A compaction removed the segments before it once the
			// snapshot covering them was in place; that snapshot is gone.
			p.Lost = fmt.Sprintf("no snapshot passes its checks, and the WAL segments before %s are gone", segmentName(p.WALStart))
		}
	}
	live := liveSegments(ls.segments, p.WALStart)
	n := contiguous(live, p.WALStart)
	for _, seq := range live[:n] {
		p.Segments = append(p.Segments, segmentName(seq))
	}
	if n < len(live) {
		missing := segmentName(p.WALStart + uint64(n))
		if p.Lost != "" {
			p.Lost += "; "
		}
		p.Lost += "WAL segment " + missing + " is missing"
		for _, later := range live[n:] {
			p.Skipped = append(p.Skipped, VerifyProblem{File: segmentName(later), Offset: -1,
				Reason: "comes after the missing WAL segment " + missing})
		}
	}
	return p, nil
}
