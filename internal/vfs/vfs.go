// Package vfs is the file system seam of MiniKV: every file operation of
// the engine goes through an FS, so that tests can put a simulated disk
// under it, cut its power at any operation or make any operation fail
// (package vfstest does both), while the library runs on the operating
// system's files. The seam holds only what the engine needs: no working
// directory, no permissions beyond those given at creation, no links.
//
// Names are full paths. A rename moves a file within its directory only.
package vfs

import (
	"errors"
	"io"
	"os"
)

// ErrLocked is what an FS's Lock wraps when a conflicting lock is held.
// Package minikv exports this very value as minikv.ErrLocked, so that an
// error of Lock matches it with errors.Is whichever FS returned it.
var ErrLocked = errors.New("minikv: database is locked by another process or handle")

// FS is the file system seam: every file operation of the engine goes
// through it, so that tests can simulate power loss and inject faults.
// Names are full paths.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	Rename(oldname, newname string) error
	// ReadDir returns the names of the entries in dir, sorted.
	ReadDir(dir string) ([]string, error)
	MkdirAll(dir string, perm os.FileMode) error
	// SyncDir makes the creations, renames and removals in dir durable.
	SyncDir(dir string) error
	// Lock takes an exclusive or shared lock on the file name without
	// waiting; it returns an error wrapping ErrLocked when a conflicting
	// lock is held.
	Lock(name string, exclusive bool) (io.Closer, error)
}

// File is an open file of an FS.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync makes the file's data durable (fdatasync where available).
	Sync() error
	Truncate(size int64) error
	Size() (int64, error)
}

// Mapper is implemented by files whose first bytes can be written through
// a shared memory mapping, which saves the WAL a system call per small
// record.
// It is optional: the WAL writes with Write to a file that does not
// implement it, or when Allocate or Map fails.
type Mapper interface {
	// Allocate reserves disk space for the first size bytes of the file,
	// extending it with zeros to size when it is shorter, so that writing
	// to a mapping of them cannot fail for want of space. On failure the
	// file may have grown.
	Allocate(size int64) error
	// Map maps the first size bytes of the file, shared and writable. The
	// file must be open for reading and writing and hold at least size
	// bytes: a mapping must never reach past the end of its file.
	Map(size int64) (Mapping, error)
}

// Mapping is a shared, writable memory mapping of the start of a file.
// Bytes copied into it are in the operating system's page cache: like the
// bytes of a Write, they survive a process kill, and a power cut unless
// the file is synced (Sync covers them). The mapping stays valid after its
// file is closed, until Unmap.
type Mapping interface {
	// CopyAt puts p into the file at offset off: a copy into the mapping,
	// or for a large p possibly a write that reaches the same page-cache
	// pages (the operating system's mapping). The whole range must lie in
	// the mapping.
	CopyAt(p []byte, off int64) error
	// Unmap releases the mapping; the bytes copied into it stay in the
	// file. The mapping must not be used after.
	Unmap() error
}
