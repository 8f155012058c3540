package main

import (
	"errors"

	"github.com/minikv/minikv"
)

func init() { storeVerifier = libraryVerifier }

// libraryVerifier runs minikv.Verify and converts its report: the torn
// tail becomes a tornTail problem, and every other problem gets the kind
// of its fix: midLog for a salvage, rebuildable for a MANIFEST rebuild,
// fatal for a restore.
func libraryVerifier(dir string) (*verifyReport, error) {
	r, err := minikv.Verify(dir)
	if r == nil || (err != nil && !errors.Is(err, minikv.ErrCorrupt)) {
		return nil, err
	}
	out := &verifyReport{Snapshot: r.Snapshot, SnapshotEntries: r.SnapshotEntries,
		Segments: r.Segments, Records: r.Records, Stale: r.Stale}
	if r.Rebuild != nil {
		out.Rebuild, out.Lost = r.Rebuild.String(), r.Rebuild.Lost
	}
	for _, p := range r.Problems {
		kind := fatal
		switch p.Fix {
		case minikv.FixSalvage:
			kind = midLog
		case minikv.FixRebuild:
			kind = rebuildable
		}
		out.Problems = append(out.Problems, problem{p.File, p.Offset, p.Reason, kind})
	}
	if t := r.TornTail; t != nil {
		out.Problems = append(out.Problems, problem{t.File, t.Offset, t.Reason, tornTail})
	}
	return out, nil
}
