package vfstest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/minikv/minikv/internal/vfs"
)

// MemFS is a vfs.FS in memory that simulates power loss: see the package
// documentation for what a crash keeps. Its files also implement
// vfs.Mapper. Create one with NewMemFS; Crash, Clone and an armed crash
// make others.
//
// Every method is safe for concurrent use, and so are its files, mappings
// and locks.
type MemFS struct {
	mu    sync.Mutex // guards every field and everything reachable from them
	dirs  map[string]*memDir
	locks map[string]*memLock
	open  map[*memHandle]string  // open handles, for leak checks
	maps  map[*memMapping]string // live mappings, for leak checks

	ops     int        // operations so far
	crashAt int        // crash before this operation; -1 when not armed
	keep    float64    // share of unsynced changes the armed crash keeps
	rng     *rand.Rand // randomness of the armed crash
	image   *MemFS     // the armed crash's image, once taken
	trace   []string   // the operations, when tracing
	tracing bool       // record operations into trace
	halted  bool       // the armed crash has happened
}

// ErrCrashed is what every operation of a MemFS returns once its armed
// crash has happened (see ArmCrash).
var ErrCrashed = errors.New("vfstest: machine lost power")

// memDir is a directory: its entries now and as of its last SyncDir.
type memDir struct {
	entries map[string]*memInode
	durable map[string]*memInode
	pending []dirOp // since the last SyncDir, in order
}

type dirOpKind int

const (
	dirCreate dirOpKind = iota
	dirRemove
	dirRename
)

// dirOp is a change to a directory: the creation or removal of name, or
// its rename to newname; node is the file it names.
type dirOp struct {
	kind    dirOpKind
	name    string
	newname string
	node    *memInode
}

// memLock is the lock state of one file name.
type memLock struct {
	exclusive bool
	shared    int
}

// newMemFS returns a MemFS without any directory.
func newMemFS() *MemFS {
	return &MemFS{
		dirs:    map[string]*memDir{},
		locks:   map[string]*memLock{},
		open:    map[*memHandle]string{},
		maps:    map[*memMapping]string{},
		crashAt: -1,
	}
}

// emptyDir returns an empty, durable directory.
func emptyDir() *memDir {
	return &memDir{entries: map[string]*memInode{}, durable: map[string]*memInode{}}
}

// NewMemFS returns a MemFS holding the empty, durable directory dir and
// nothing else; MkdirAll makes more.
func NewMemFS(dir string) *MemFS {
	m := newMemFS()
	m.dirs[filepath.Clean(dir)] = emptyDir()
	return m
}

// tick counts one operation; the caller holds mu. It returns ErrCrashed
// once the armed crash has happened, after taking its image when this is
// the operation it was armed for.
func (m *MemFS) tick(op string, name string) error {
	if m.halted {
		return ErrCrashed
	}
	if m.crashAt >= 0 && m.ops >= m.crashAt {
		m.image = m.crashLocked(m.keep, m.rng)
		m.halted = true
		return ErrCrashed
	}
	if m.tracing {
		m.trace = append(m.trace, fmt.Sprintf("%d %s %s", m.ops, op, filepath.Base(name)))
	}
	m.ops++
	return nil
}

// split returns the directory and the base name of path.
func split(path string) (string, string) {
	path = filepath.Clean(path)
	return filepath.Dir(path), filepath.Base(path)
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// dirLocked returns the directory at path; the caller holds mu.
func (m *MemFS) dirLocked(path string) (*memDir, bool) {
	d, ok := m.dirs[filepath.Clean(path)]
	return d, ok
}

// MkdirAll makes dir a directory, durable at once, when it is not one; it
// does not make its parents, nor list dir in them. It fails only with
// ErrCrashed.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.tick("mkdir", dir); err != nil {
		return err
	}
	// Directories are durable at once: the engine does not create the
	// parents of its directory, and their durability is the caller's.
	dir = filepath.Clean(dir)
	if _, ok := m.dirs[dir]; !ok {
		m.dirs[dir] = emptyDir()
	}
	return nil
}

// OpenFile opens name as os.OpenFile does, honouring O_CREATE, O_EXCL,
// O_TRUNC, O_APPEND and the access mode. A creation is an unsynced change
// to the directory, a truncation one to the file. Errors are
// *fs.PathError wrapping fs.ErrNotExist or fs.ErrExist, or ErrCrashed.
func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.tick("open", name); err != nil {
		return nil, err
	}
	dirPath, base := split(name)
	d, ok := m.dirLocked(dirPath)
	if !ok {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	node, exists := d.entries[base]
	switch {
	case exists && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, fs.ErrExist)
	case !exists && flag&os.O_CREATE == 0:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case !exists:
		node = &memInode{}
		d.entries[base] = node
		d.pending = append(d.pending, dirOp{kind: dirCreate, name: base, node: node})
	}
	h := &memHandle{fs: m, node: node, flag: flag}
	if flag&os.O_TRUNC != 0 && len(node.data) > 0 {
		node.data = node.data[:0]
		node.pending = append(node.pending, fileOp{truncate: true})
	}
	m.open[h] = name
	return h, nil
}

// Remove removes the file name, an unsynced change to its directory.
// Errors are *fs.PathError wrapping fs.ErrNotExist, or ErrCrashed.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.tick("remove", name); err != nil {
		return err
	}
	dirPath, base := split(name)
	d, ok := m.dirLocked(dirPath)
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	node, ok := d.entries[base]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	delete(d.entries, base)
	d.pending = append(d.pending, dirOp{kind: dirRemove, name: base, node: node})
	return nil
}

// Rename renames oldname to newname, replacing newname, within one
// directory: an unsynced change to it. Errors are *fs.PathError wrapping
// syscall.EXDEV (two directories) or fs.ErrNotExist, or ErrCrashed.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.tick("rename", newname); err != nil {
		return err
	}
	dirPath, base := split(oldname)
	newDir, newBase := split(newname)
	if dirPath != newDir {
		return pathErr("rename", oldname, syscall.EXDEV)
	}
	d, ok := m.dirLocked(dirPath)
	if !ok {
		return pathErr("rename", oldname, fs.ErrNotExist)
	}
	node, ok := d.entries[base]
	if !ok {
		return pathErr("rename", oldname, fs.ErrNotExist)
	}
	delete(d.entries, base)
	d.entries[newBase] = node
	d.pending = append(d.pending, dirOp{kind: dirRename, name: base, newname: newBase, node: node})
	return nil
}

// ReadDir returns the names of the files in dir, sorted. Errors are
// *fs.PathError wrapping fs.ErrNotExist, or ErrCrashed.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.tick("readdir", dir); err != nil {
		return nil, err
	}
	d, ok := m.dirLocked(dir)
	if !ok {
		return nil, pathErr("readdir", dir, fs.ErrNotExist)
	}
	return slices.Sorted(maps.Keys(d.entries)), nil
}

// SyncDir makes the entries of dir durable as they are now. Errors are
// *fs.PathError wrapping fs.ErrNotExist, or ErrCrashed.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.tick("syncdir", dir); err != nil {
		return err
	}
	d, ok := m.dirLocked(dir)
	if !ok {
		return pathErr("sync", dir, fs.ErrNotExist)
	}
	d.durable = cloneEntries(d.entries)
	d.pending = nil
	return nil
}

// Lock takes a lock on name as flock would, creating the file (an
// unsynced change to its directory) for an exclusive lock. Locks live in
// this MemFS only: a crash image has none. A conflict returns an error
// wrapping vfs.ErrLocked; a shared lock on a missing file, an
// *fs.PathError wrapping fs.ErrNotExist; a crashed MemFS, ErrCrashed.
func (m *MemFS) Lock(name string, exclusive bool) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.tick("lock", name); err != nil {
		return nil, err
	}
	dirPath, base := split(name)
	d, ok := m.dirLocked(dirPath)
	if !ok {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	if _, ok := d.entries[base]; !ok {
		if !exclusive {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		node := &memInode{}
		d.entries[base] = node
		d.pending = append(d.pending, dirOp{kind: dirCreate, name: base, node: node})
	}
	key := filepath.Clean(name)
	l := m.locks[key]
	if l == nil {
		l = &memLock{}
		m.locks[key] = l
	}
	if l.exclusive || (exclusive && l.shared > 0) {
		return nil, fmt.Errorf("%w: %s", vfs.ErrLocked, name)
	}
	if exclusive {
		l.exclusive = true
	} else {
		l.shared++
	}
	return &memUnlock{fs: m, key: key, exclusive: exclusive}, nil
}

// memUnlock releases a lock of a MemFS.
type memUnlock struct {
	fs        *MemFS
	key       string
	exclusive bool
	once      sync.Once
}

// Close releases the lock; a second Close does nothing. It works even
// after a crash, as the lock of a dead process goes with it, and always
// returns nil.
func (u *memUnlock) Close() error {
	u.once.Do(func() {
		u.fs.mu.Lock()
		defer u.fs.mu.Unlock()
		l := u.fs.locks[u.key]
		if u.exclusive {
			l.exclusive = false
		} else {
			l.shared--
		}
	})
	return nil
}

func cloneEntries(m map[string]*memInode) map[string]*memInode {
	c := make(map[string]*memInode, len(m))
	maps.Copy(c, m)
	return c
}
