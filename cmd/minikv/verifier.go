package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// verifier checks every file of a database directory without changing
// any, and reports each problem with its file and offset. It is the seam
// between check and repair and the library's read-only checker,
// minikv.Verify: tests replace it with fakes.
type verifier func(dir string) (*verifyReport, error)

// storeVerifier is the verifier that check and repair use. It stays nil,
// and both commands report that they are unavailable, until minikv.Verify
// exists and is wired in, in an init function of this package:
//
//	func init() {
//		storeVerifier = func(dir string) (*verifyReport, error) {
//			r, err := minikv.Verify(dir)
//			... convert r into a verifyReport ...
//		}
//	}
var storeVerifier verifier

// errNoVerifier is what check and repair return without a verifier.
var errNoVerifier = errors.New("unavailable in this build: minikv has no read-only verifier " +
	"(minikv.Verify) wired in yet; nothing was checked or changed")

// verifyReport is the outcome of a verification.
type verifyReport struct {
	Files    []string  // the files checked, by name within the directory
	Problems []problem // in file order; empty when every file passed
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
	// fatal is damage repair cannot fix: a bad snapshot or MANIFEST, or a
	// missing WAL segment. Restore from a backup.
	fatal
)

func (k problemKind) String() string {
	switch k {
	case tornTail:
		return "torn tail"
	case midLog:
		return "mid-log damage"
	}
	return "unrepairable"
}

// lockStore takes the directory lock the library uses (a shared lock for
// readers, an exclusive one for writers) without waiting, so that no
// writer changes the files while they are checked. A directory without a
// LOCK file has never had a writer and needs no lock to be read.
func lockStore(dir string, exclusive bool) (io.Closer, error) {
	name := filepath.Join(dir, "LOCK")
	if _, err := os.Stat(name); errors.Is(err, fs.ErrNotExist) && !exclusive {
		return io.NopCloser(nil), nil
	}
	var fl *flock.Flock
	var ok bool
	var err error
	if exclusive {
		fl = flock.New(name, flock.SetPermissions(0o600))
		ok, err = fl.TryLock()
	} else {
		fl = flock.New(name, flock.SetFlag(os.O_RDONLY))
		ok, err = fl.TryRLock()
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s is in use by another process; stop it first", dir)
	}
	return closerFunc(func() error { return errors.Join(fl.Unlock(), fl.Close()) }), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
