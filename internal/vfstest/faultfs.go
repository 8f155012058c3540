package vfstest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"
	"syscall"

	"github.com/minikv/minikv/internal/vfs"
)

// FaultFS wraps a vfs.FS and fails its operations on demand: the operation
// numbered at (counting every call, reads included, from 0, or only the
// calls of one kind, see OnlyKind), and with every set, each one after it
// too. The error depends on the operation, as a real disk would give it:
// a write stores half of its bytes and fails with ENOSPC (a short write),
// a create and a preallocation fail with ENOSPC, a rename fails with
// ENOSPC when it is the first, third, ... error FaultFS injects and with
// EIO when it is the second, fourth, ..., and a sync, a directory sync and
// the rest fail with EIO. Every injected error wraps its errno and
// ErrInjected. Releasing a lock never fails. Stores into a mapping are
// passed through uncounted: a memory copy has no error to return (the
// crash simulation of MemFS covers them).
//
// The files of a FaultFS implement vfs.Mapper; when the inner file does
// not, Allocate and Map fail with errors.ErrUnsupported (after counting).
//
// Every method is safe for concurrent use, as the inner FS's must be.
type FaultFS struct {
	inner vfs.FS

	mu       sync.Mutex     // guards the fields below
	n        int            // operations so far
	at       int            // first operation to fail; -1 for none
	every    bool           // fail every operation from at on
	injected int            // errors returned so far
	kinds    map[string]int // errors returned per kind of operation
	kind     string         // when set, only operations of this kind count
}

// NewFaultFS returns a FaultFS over inner that fails the operation
// numbered at, and with every each one after it too; at -1 fails none.
func NewFaultFS(inner vfs.FS, at int, every bool) *FaultFS {
	return &FaultFS{inner: inner, at: at, every: every, kinds: map[string]int{}}
}

// ErrInjected is wrapped by every error a FaultFS injects, beside the
// errno.
var ErrInjected = errors.New("vfstest: injected")

// faultKinds are the kinds of operations a FaultFS counts.
var faultKinds = []string{
	"open", "create", "remove", "rename", "readdir", "mkdir", "syncdir", "lock",
	"read", "write", "sync", "truncate", "size", "close", "allocate", "map", "unmap",
}

// OnlyKind makes f count, and so fail, only the operations of one kind
// from now on: open (OpenFile without O_CREATE), create (with it), remove,
// rename, readdir, mkdir, syncdir, lock, and of files read (Read and
// ReadAt), write, sync, truncate, size, close, allocate, map and unmap
// (of a mapping). The empty kind counts them all again. It panics on any
// other kind, so that a misspelt one cannot make a test inject nothing.
func (f *FaultFS) OnlyKind(kind string) {
	if kind != "" && !slices.Contains(faultKinds, kind) {
		panic(fmt.Sprintf("vfstest: no operation kind %q", kind))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kind = kind
}

// injectedError is an error a FaultFS injects.
type injectedError struct {
	op    string
	errno syscall.Errno
}

func (e *injectedError) Error() string { return "vfstest: injected " + e.op + ": " + e.errno.Error() }
func (e *injectedError) Unwrap() []error {
	return []error{e.errno, ErrInjected}
}

// fault counts one operation and returns the error to inject, or nil.
func (f *FaultFS) fault(op string) error {
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

// Count returns the operations counted so far and the errors injected.
func (f *FaultFS) Count() (ops, injected int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.injected
}

// FailAt makes the operation numbered at (as Count numbers them) the
// first to fail, and with every set at creation each one after it too; at
// -1 fails none from now on. Numbers below the count fail nothing unless
// every is set, when the next operation fails.
func (f *FaultFS) FailAt(at int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = at
}

// InjectedKinds returns how many errors were injected into each kind of
// operation (see OnlyKind), in a new map.
func (f *FaultFS) InjectedKinds() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.kinds)
}

// OpenFile opens name through the inner FS, or fails, as an open or a
// create (O_CREATE), with an *fs.PathError wrapping the injected error.
func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
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

// Remove removes name through the inner FS, or fails.
func (f *FaultFS) Remove(name string) error {
	if err := f.fault("remove"); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

// Rename renames through the inner FS, or fails.
func (f *FaultFS) Rename(oldname, newname string) error {
	if err := f.fault("rename"); err != nil {
		return err
	}
	return f.inner.Rename(oldname, newname)
}

// ReadDir lists dir through the inner FS, or fails.
func (f *FaultFS) ReadDir(dir string) ([]string, error) {
	if err := f.fault("readdir"); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(dir)
}

// MkdirAll makes dir through the inner FS, or fails.
func (f *FaultFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := f.fault("mkdir"); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir, perm)
}

// SyncDir syncs dir through the inner FS, or fails.
func (f *FaultFS) SyncDir(dir string) error {
	if err := f.fault("syncdir"); err != nil {
		return err
	}
	return f.inner.SyncDir(dir)
}

// Lock locks name through the inner FS, or fails; the lock it returns is
// the inner one, whose release is not counted.
func (f *FaultFS) Lock(name string, exclusive bool) (io.Closer, error) {
	if err := f.fault("lock"); err != nil {
		return nil, err
	}
	return f.inner.Lock(name, exclusive)
}

// faultFile is an open file of a FaultFS.
type faultFile struct {
	fs *FaultFS
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

// faultMapping is a mapping of a faultFile.
type faultMapping struct {
	fs *FaultFS
	m  vfs.Mapping
}

func (m *faultMapping) CopyAt(p []byte, off int64) error { return m.m.CopyAt(p, off) }

// Unmap releases the mapping even when it reports an injected error, as
// Close does.
func (m *faultMapping) Unmap() error {
	err := m.fs.fault("unmap")
	return errors.Join(err, m.m.Unmap())
}
