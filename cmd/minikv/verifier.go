package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/minikv/minikv"
)

// verifier checks every file of a database directory without changing
// any, and reports each problem with its file and offset. It is the seam
// between check and repair and the library's read-only checker,
// minikv.Verify: tests replace it with fakes.
type verifier func(dir string) (*verifyReport, error)

// storeVerifier is the verifier that check and repair use. It stays nil,
// and both commands report that they are unavailable, until minikv.Verify
// is wired in by an init function of this package that converts its
// report: TornTail becomes a tornTail problem, a WAL problem with valid
// records after it a midLog one, and every other problem a fatal one.
var storeVerifier verifier

// errNoVerifier is what check and repair return without a verifier.
var errNoVerifier = errors.New("unavailable in this build: minikv has no read-only verifier " +
	"(minikv.Verify) wired in yet; nothing was checked or changed")

// verifyReport is the outcome of a verification. Its fields follow
// minikv.VerifyReport.
type verifyReport struct {
	Snapshot        string    // the snapshot the MANIFEST names, "" for none
	SnapshotEntries int       // entries in that snapshot
	Segments        int       // live WAL segments checked
	Records         int64     // valid WAL records checked
	Stale           []string  // files the MANIFEST no longer names; Open deletes them
	Problems        []problem // in file order, a torn tail included; empty when sound
	// Rebuild, when the MANIFEST is missing or damaged, describes what a
	// MANIFEST rebuilt from the files would name; the other fields then
	// describe those files. Lost says what such a rebuild cannot bring
	// back ("" when nothing is known lost).
	Rebuild, Lost string
}

// damaged returns the problems that are more than a torn tail.
func (r *verifyReport) damaged() []problem {
	var out []problem
	for _, p := range r.Problems {
		if p.Kind != tornTail {
			out = append(out, p)
		}
	}
	return out
}

// summary describes what was checked, in one line.
func (r *verifyReport) summary() string {
	snap := "no snapshot"
	if r.Snapshot != "" {
		snap = fmt.Sprintf("snapshot %s with %d entries", r.Snapshot, r.SnapshotEntries)
	}
	manifest := "MANIFEST"
	if r.Rebuild != "" {
		manifest = "no readable MANIFEST; the files a rebuilt one would name"
	}
	return fmt.Sprintf("%s, %s, %d WAL segments with %d records", manifest, snap, r.Segments, r.Records)
}

// problem is one piece of damage.
type problem struct {
	File   string // name within the directory
	Offset int64  // the first bad byte; -1 when the whole file is at fault
	Reason string
	Kind   problemKind
}

// problemKind says how Open treats a problem, and so what repair can do.
type problemKind int

const (
	// tornTail is damage at the very end of the WAL with nothing valid
	// after it, what a crash leaves. Open cuts it by itself.
	tornTail problemKind = iota
	// midLog is WAL damage followed by valid records. Open refuses it;
	// repair keeps the records before it and drops everything after.
	midLog
	// rebuildable is a missing or damaged MANIFEST, or a damaged file a
	// MANIFEST rebuilt from the others leaves out without losing a logged
	// write. Open refuses it; repair rebuilds the MANIFEST.
	rebuildable
	// fatal is damage repair cannot fix: a bad snapshot the MANIFEST
	// names, a missing WAL segment, a MANIFEST that cannot be rebuilt
	// without a loss. Restore from a backup.
	fatal
)

func (k problemKind) String() string {
	switch k {
	case tornTail:
		return "torn tail"
	case midLog:
		return "mid-log damage"
	case rebuildable:
		return "rebuildable"
	}
	return "unrepairable"
}

// lockStore takes the directory lock the library uses (minikv.LockDir: a
// shared lock for readers, an exclusive one for writers) without waiting,
// so that no writer changes the files while they are checked.
func lockStore(dir string, exclusive bool) (io.Closer, error) {
	lock, err := minikv.LockDir(dir, exclusive)
	if errors.Is(err, minikv.ErrLocked) {
		return nil, inUseError(dir, err, !exclusive)
	}
	return lock, err
}
