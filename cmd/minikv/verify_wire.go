package main

import (
	"errors"

	"github.com/minikv/minikv"
)

func init() { storeVerifier = libraryVerifier }

// libraryVerifier runs minikv.Verify and converts its report: the torn
// tail becomes a tornTail problem, WAL damage with valid records after it
// a midLog one, and every other problem (snapshot, MANIFEST, a missing
// segment, a malformed record body under a valid CRC, which Open cannot
// salvage) a fatal one.
func libraryVerifier(dir string) (*verifyReport, error) {
	r, err := minikv.Verify(dir)
	if r == nil || (err != nil && !errors.Is(err, minikv.ErrCorrupt)) {
		return nil, err
	}
	out := &verifyReport{Snapshot: r.Snapshot, SnapshotEntries: r.SnapshotEntries,
		Segments: r.Segments, Records: r.Records, Stale: r.Stale}
	for _, p := range r.Problems {
		kind := fatal
		switch p.Reason {
		case "damaged record in durable data, followed by valid records",
			"damaged record in a sealed segment":
			// Both are WAL damage that SalvageCorruptWAL opens, keeping
			// every record before it.
			kind = midLog
		}
		out.Problems = append(out.Problems, problem{p.File, p.Offset, p.Reason, kind})
	}
	if t := r.TornTail; t != nil {
		out.Problems = append(out.Problems, problem{t.File, t.Offset, t.Reason, tornTail})
	}
	return out, nil
}
