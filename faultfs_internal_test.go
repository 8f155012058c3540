package minikv

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/minikv/minikv/internal/vfs"
)

// faultFS wraps a vfs and fails its operations on demand: the operation
// numbered at (counting every call, reads included, from 0, or only the
// calls of one kind), and with every set, each one after it too. The error depends on the operation,
// as a real disk would give it: a write stores half of its bytes and
// fails with ENOSPC (a short write), a create fails with ENOSPC, a rename
// alternates ENOSPC and EIO, and a sync, a directory sync and the rest fail
// with EIO; preallocation fails with ENOSPC too. Releasing a lock never
// fails. Stores into a mapping are passed through uncounted: a memory copy
// has no error to return (the crash simulation of memfs covers them).
type faultFS struct {
	inner vfs.FS

	mu       sync.Mutex     // guards the fields below
	n        int            // operations so far
	at       int            // first operation to fail; -1 for none
	every    bool           // fail every operation from at on
	injected int            // errors returned so far
	kinds    map[string]int // errors returned per kind of operation
	kind     string         // when set, only operations of this kind count
}

func newFaultFS(inner vfs.FS, at int, every bool) *faultFS {
	return &faultFS{inner: inner, at: at, every: every, kinds: map[string]int{}}
}

// errInjected marks every injected error, under the errno.
var errInjected = errors.New("faultfs: injected")

type injectedError struct {
	op    string
	errno syscall.Errno
}

func (e *injectedError) Error() string { return "faultfs: injected " + e.op + ": " + e.errno.Error() }
func (e *injectedError) Unwrap() []error {
	return []error{e.errno, errInjected}
}

// fault counts one operation and returns the error to inject, or nil.
func (f *faultFS) fault(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kind != "" && op != f.kind {
		return nil
	}
	n := f.n
	f.n++
	if f.at < 0 || n < f.at || (n > f.at && !f.every) {
		return nil
	}
	f.injected++
	f.kinds[op]++
	errno := syscall.EIO
	switch op {
	case "write", "create", "allocate":
		errno = syscall.ENOSPC
	case "rename":
		if f.injected%2 == 1 {
			errno = syscall.ENOSPC
		}
	}
	return &injectedError{op: op, errno: errno}
}

// count returns the operations so far and the errors injected.
func (f *faultFS) count() (ops, injected int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.injected
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	op := "open"
	if flag&os.O_CREATE != 0 {
		op = "create"
	}
	if err := f.fault(op); err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	inner, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: f, f: inner}, nil
}

func (f *faultFS) Remove(name string) error {
	if err := f.fault("remove"); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

func (f *faultFS) Rename(oldname, newname string) error {
	if err := f.fault("rename"); err != nil {
		return err
	}
	return f.inner.Rename(oldname, newname)
}

func (f *faultFS) ReadDir(dir string) ([]string, error) {
	if err := f.fault("readdir"); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(dir)
}

func (f *faultFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := f.fault("mkdir"); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir, perm)
}

func (f *faultFS) SyncDir(dir string) error {
	if err := f.fault("syncdir"); err != nil {
		return err
	}
	return f.inner.SyncDir(dir)
}

func (f *faultFS) Lock(name string, exclusive bool) (io.Closer, error) {
	if err := f.fault("lock"); err != nil {
		return nil, err
	}
	return f.inner.Lock(name, exclusive)
}

type faultFile struct {
	fs *faultFS
	f  vfs.File
}

func (f *faultFile) Read(p []byte) (int, error) {
	if err := f.fs.fault("read"); err != nil {
		return 0, err
	}
	return f.f.Read(p)
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.fault("read"); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

// Write stores half of p before it fails, as a disk that fills up does.
func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.fault("write"); err != nil {
		n, _ := f.f.Write(p[:len(p)/2])
		return n, err
	}
	return f.f.Write(p)
}

func (f *faultFile) Sync() error {
	if err := f.fs.fault("sync"); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.fault("truncate"); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *faultFile) Size() (int64, error) {
	if err := f.fs.fault("size"); err != nil {
		return 0, err
	}
	return f.f.Size()
}

// Close closes the file even when it reports an injected error, as
// close(2) does.
func (f *faultFile) Close() error {
	err := f.fs.fault("close")
	return errors.Join(err, f.f.Close())
}

// Allocate preallocates through the inner file, or fails with
// errors.ErrUnsupported when it cannot map, like a file system without
// fallocate.
func (f *faultFile) Allocate(size int64) error {
	if err := f.fs.fault("allocate"); err != nil {
		return err
	}
	mf, ok := f.f.(vfs.Mapper)
	if !ok {
		return errors.ErrUnsupported
	}
	return mf.Allocate(size)
}

func (f *faultFile) Map(size int64) (vfs.Mapping, error) {
	if err := f.fs.fault("map"); err != nil {
		return nil, err
	}
	mf, ok := f.f.(vfs.Mapper)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	m, err := mf.Map(size)
	if err != nil {
		return nil, err
	}
	return &faultMapping{fs: f.fs, m: m}, nil
}

type faultMapping struct {
	fs *faultFS
	m  vfs.Mapping
}

func (m *faultMapping) CopyAt(p []byte, off int64) error { return m.m.CopyAt(p, off) }

// Unmap releases the mapping even when it reports an injected error, as
// Close does.
func (m *faultMapping) Unmap() error {
	err := m.fs.fault("unmap")
	return errors.Join(err, m.m.Unmap())
}
