package minikv

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"

	"github.com/minikv/minikv/internal/vfs"
)

// osFS is the vfs.FS of the operating system.
type osFS struct{}

type osFile struct{ *os.File }

func (f osFile) Sync() error { return fdatasync(f.File) }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// OpenFile opens a store file the one way every store file is opened: it
// never follows a symbolic link in the last component of name, never
// blocks on a FIFO, and accepts only a regular file on the store's device,
// without other hard links when opened for writing (see checkStoreFile).
// Anything else is an error wrapping ErrCorrupt that names the file and
// what it is.
func (osFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := os.OpenFile(name, flag|openGuard, perm)
	if err != nil {
		return nil, refusal(name, err)
	}
	if err := checkStoreFile(f, name, flag); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return osFile{f}, nil
}

// refusal turns the error of an open that met a symbolic link or a
// directory where a store file should be into one that says so; it
// returns other errors as they are.
func refusal(name string, err error) error {
	switch {
	case isLinkRefusal(err):
		return notRegular(name, "a symbolic link")
	case isDirRefusal(err):
		return notRegular(name, "a directory")
	}
	return err
}

// checkStoreFile checks the file f, just opened as name with flag: a
// regular file, placed as checkPlacement requires.
func checkStoreFile(f *os.File, name string, flag int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return notRegular(name, fileKind(fi.Mode()))
	}
	return checkPlacement(fi, name, flag)
}

// notRegular is the error for a store file that is not a regular file of
// the store: what is there instead is kind.
func notRegular(name, kind string) error {
	return &corruptError{file: filepath.Base(name), offset: -1, reason: "is " + kind + ", not a regular file of the store; refusing to use it"}
}

// fileKind names the kind of file mode describes.
func fileKind(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) MkdirAll(dir string, perm os.FileMode) error {
	return os.MkdirAll(dir, perm)
}

func (osFS) ReadDir(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(des))
	for i, de := range des {
		names[i] = de.Name()
	}
	return names, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

func (osFS) Lock(name string, exclusive bool) (io.Closer, error) {
	var fl *flock.Flock
	var ok bool
	var err error
	// The LOCK file is opened like every store file (see OpenFile): no
	// link followed, no FIFO waited on, and only a regular file kept.
	if exclusive {
		fl = flock.New(name, flock.SetPermissions(0o600), flock.SetFlag(os.O_CREATE|os.O_RDWR|openGuard))
		ok, err = fl.TryLock()
	} else {
		fl = flock.New(name, flock.SetFlag(os.O_RDONLY|openGuard))
		ok, err = fl.TryRLock()
	}
	if err != nil {
		return nil, wrapOp(fmt.Sprintf("lock %s", name), errors.Join(refusal(name, err), fl.Close()))
	}
	if fi, serr := fl.Stat(); serr == nil && !fi.Mode().IsRegular() {
		return nil, wrapOp(fmt.Sprintf("lock %s", name), errors.Join(notRegular(name, fileKind(fi.Mode())), fl.Unlock(), fl.Close()))
	}
	if !ok {
		return nil, errors.Join(fmt.Errorf("%w: %s%s", ErrLocked, name, lockHolder(name, exclusive)), fl.Close())
	}
	c := &flockCloser{fl: fl}
	if exclusive {
		c.name = name
	}
	return c, nil
}

// The LOCK file of a writer names it, the way a server's pid file does, so
// that a refused Open can say who holds the store:
//
//	pid 1234 host db7 since 2026-12-07T12:00:00Z
//
// A writer writes it once Open has succeeded (a failed Open leaves the
// directory as it found it) and empties it before it lets go. The line is
// read only while an exclusive lock is held, and not shown when it names a
// process of this host that no longer runs: a writer killed before Close
// leaves its line, and the next writer holds the lock a while (its
// recovery) before it writes its own. Writing is best effort: a LOCK that
// cannot be written (on a system whose locks forbid it) only makes the
// message shorter. The file is opened as every store file is (OpenFile),
// so the line cannot reach a file outside the store.

// maxHolderLine bounds what is read of a LOCK file.
const maxHolderLine = 256

// setHolder replaces the content of the LOCK file name with line ("" to
// empty it).
func setHolder(name, line string) {
	f, err := osFS{}.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	if f.Truncate(0) == nil && line != "" {
		_, _ = f.Write([]byte(line))
	}
	_ = f.Close()
}

// holderLine is this process's line for the LOCK file.
func holderLine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("pid %d host %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
}

// lockHolder says, for an ErrLocked message, who holds the lock on name
// that a lock of the kind exclusive asked for conflicts with: the writer
// that its LOCK line names, or read-only handles. It returns "" when it
// cannot tell.
func lockHolder(name string, exclusive bool) string {
	if exclusive {
		// A shared lock that can be had means no writer holds the file:
		// only read-only handles do.
		probe := flock.New(name, flock.SetFlag(os.O_RDONLY|openGuard))
		ok, err := probe.TryRLock()
		_ = probe.Close()
		if err == nil && ok {
			return " (held by read-only handles)"
		}
	}
	f, err := osFS{}.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, maxHolderLine)
	n, _ := io.ReadFull(f, buf)
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	var pid int
	var host, since string
	if k, _ := fmt.Sscanf(line, "pid %d host %s since %s", &pid, &host, &since); k != 3 ||
		strings.IndexFunc(line, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
		return "" // not a line a writer wrote: say nothing rather than repeat it
	}
	if me, _ := os.Hostname(); host == me && !processAlive(pid) {
		return "" // left by a writer that was killed
	}
	return " (held by " + line + ")"
}

// flockCloser is the lock of an osFS.
type flockCloser struct {
	fl   *flock.Flock
	name string // the LOCK file of an exclusive lock, for its holder line
	note bool   // the holder line was written
}

// noteHolder writes the holder line of an exclusive lock (see above).
func (c *flockCloser) noteHolder() {
	if c.name != "" && !c.note {
		c.note = true
		setHolder(c.name, holderLine())
	}
}

func (c *flockCloser) Close() error {
	if c.note {
		setHolder(c.name, "")
	}
	return errors.Join(c.fl.Unlock(), c.fl.Close())
}

// holderNoter is a lock that can name its holder in the LOCK file.
type holderNoter interface{ noteHolder() }

// noLock stands in for the lock of a read-only database whose directory has
// no LOCK file, since a read-only open must not create one.
type noLock struct{}

func (noLock) Close() error { return nil }

// LockDir takes, without waiting, the lock that Open takes on the database
// in dir: exclusive, as a writer's, or shared, as a read-only handle's. It
// is for tools that read or repair the files of a closed database (Verify
// takes no lock) and must keep a writer out meanwhile. A shared lock on a
// directory without a LOCK file, which no writer ever opened, holds
// nothing and creates nothing. It returns an error wrapping ErrLocked when
// a conflicting lock is held; Close on the result releases the lock.
func LockDir(dir string, exclusive bool) (io.Closer, error) {
	l, err := lockDir(osFS{}, dir, !exclusive)
	if n, ok := l.(holderNoter); ok && err == nil {
		n.noteHolder() // a writer refused meanwhile can name the tool
	}
	return l, err
}

// lockDir takes the directory lock of a database.
func lockDir(fsys vfs.FS, dir string, readOnly bool) (io.Closer, error) {
	name := filepath.Join(dir, lockName)
	l, err := fsys.Lock(name, !readOnly)
	if readOnly && errors.Is(err, fs.ErrNotExist) {
		return noLock{}, nil
	}
	return l, err
}

// waitLock takes the directory lock as lockDir does, retrying for up to
// timeout while another handle holds a conflicting one.
func waitLock(fsys vfs.FS, dir string, readOnly bool, timeout time.Duration) (io.Closer, error) {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for {
		l, err := lockDir(fsys, dir, readOnly)
		if err == nil || timeout <= 0 || !errors.Is(err, ErrLocked) {
			return l, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("%w; waited %v", err, timeout)
		}
		time.Sleep(min(pause, left))
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// notDir returns, for the failure err of an Open of dir, an error that
// says dir is not a directory when that is the cause, and err otherwise.
func notDir(fsys vfs.FS, dir string, err error) error {
	if _, rerr := fsys.ReadDir(dir); errors.Is(rerr, syscall.ENOTDIR) {
		return &notDirError{dir}
	}
	return err
}

// createDir creates dir (0700) and any missing parents, and makes each new
// directory entry durable by fsyncing the directory that holds it, so that
// a database created just before a power cut does not vanish with its
// acknowledged writes. An existing dir is left as it is.
func createDir(fsys vfs.FS, dir string) error {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		_, err := fsys.ReadDir(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return wrapOp(fmt.Sprintf("read directory %s", d), err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		return wrapOp(fmt.Sprintf("create directory %s", dir), err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := fsys.SyncDir(filepath.Dir(missing[i])); err != nil {
			return wrapOp(fmt.Sprintf("sync directory %s", filepath.Dir(missing[i])), err)
		}
	}
	return nil
}

// createNew creates name for writing as a new file. Whatever name held
// before (a temp file a crash left, or a link someone planted) is removed
// first, and the file is created with O_EXCL, so that writes can only
// reach a new file of the store.
func createNew(fsys vfs.FS, name string) (vfs.File, error) {
	if err := fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// writeFileSync writes data to a new file name (see createNew), fsyncs it
// and closes it.
func writeFileSync(fsys vfs.FS, name string, data []byte) error {
	f, err := createNew(fsys, name)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// readFile reads a whole file through fsys, refusing one larger than max.
func readFile(fsys vfs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size > max {
		return nil, &corruptError{file: filepath.Base(name), offset: -1, reason: "file too large"}
	}
	buf := make([]byte, size)
	_, err = io.ReadFull(f, buf)
	return buf, err
}
