package minikv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/minikv/minikv/internal/vfs"
)

// memFS is an in-memory vfs that simulates power loss. Besides the current
// state of every file and directory it keeps what is durable: for each
// file, its content as of its last Sync and the writes and truncations
// since; for each directory, its entries as of its last SyncDir and the
// creations, renames and removals since. crash builds the file system a
// reboot would find.
//
// A memFS can also be armed to crash by itself before its k-th operation
// (armCrash): it then takes the crash image at that instant and fails that
// operation and every later one with errCrashed, as a machine that lost
// power would never complete them.
//
// Every method is safe for concurrent use.
type memFS struct {
	mu    sync.Mutex // guards every field and everything reachable from them
	dirs  map[string]*memDir
	locks map[string]*memLock
	open  map[*memHandle]string  // open handles, for leak checks
	maps  map[*memMapping]string // live mappings, for leak checks

	ops     int        // operations so far
	crashAt int        // crash before this operation; -1 when not armed
	keep    float64    // share of unsynced changes the armed crash keeps
	rng     *rand.Rand // randomness of the armed crash
	image   *memFS     // the armed crash's image, once taken
	trace   []string   // the operations, when tracing
	tracing bool       // record operations into trace
	halted  bool       // the armed crash has happened
	dead    error      // returned by every operation once halted
}

// errCrashed is what a crashed memFS returns for every operation.
var errCrashed = errors.New("memfs: machine lost power")

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

type dirOp struct {
	kind    dirOpKind
	name    string
	newname string
	node    *memInode
}

// memInode is a file: its bytes now and as of its last Sync.
type memInode struct {
	data    []byte
	durable []byte
	pending []fileOp // since the last Sync, in order
	// lost holds the byte ranges whose writes a failed Sync dropped: as
	// Linux does after fdatasync returns EIO, their pages count as clean
	// though they never reached the disk, so reads still see the new bytes
	// while the disk keeps the old ones, and no later Sync writes them.
	// A new write to a range makes it dirty again.
	lost []span
	// failSyncs is how many of the next Syncs fail that way.
	failSyncs int
}

// span is the byte range [off, end).
type span struct{ off, end int64 }

// stable returns what the disk holds of the file.
func (n *memInode) stable() []byte { return bytes.Clone(n.durable) }

// keepLost puts the disk's bytes back into data over every lost range.
func (n *memInode) keepLost(data []byte) {
	for _, sp := range n.lost {
		for i := sp.off; i < sp.end && i < int64(len(data)); i++ {
			data[i] = 0
			if i < int64(len(n.durable)) {
				data[i] = n.durable[i]
			}
		}
	}
}

// dirty records a write to [off, end): those bytes are no longer lost.
func (n *memInode) dirty(off, end int64) {
	keep := n.lost[:0]
	for _, sp := range n.lost {
		if sp.end <= off || sp.off >= end {
			keep = append(keep, sp)
			continue
		}
		if sp.off < off {
			keep = append(keep, span{sp.off, off})
		}
		if sp.end > end {
			keep = append(keep, span{end, sp.end})
		}
	}
	n.lost = keep
}

// sync makes the file durable as a successful Sync does: everything but
// the lost ranges.
func (n *memInode) sync() {
	d := bytes.Clone(n.data)
	n.keepLost(d)
	n.durable, n.pending = d, nil
}

// failSync is a Sync that fails with EIO: the unsynced writes are lost
// (see lost) and the rest is synced.
func (n *memInode) failSync() {
	for _, op := range n.pending {
		if !op.truncate && len(op.data) > 0 {
			n.lost = append(n.lost, span{op.off, op.off + int64(len(op.data))})
		}
	}
	n.sync()
}

// fileOp is a write of data at off, or a truncation to size.
type fileOp struct {
	truncate bool
	off      int64
	data     []byte
	size     int64
}

type memLock struct {
	exclusive bool
	shared    int
}

func newMemFS() *memFS {
	return &memFS{
		dirs:    map[string]*memDir{},
		locks:   map[string]*memLock{},
		open:    map[*memHandle]string{},
		maps:    map[*memMapping]string{},
		crashAt: -1,
	}
}

// newCrashFS returns a memFS holding the empty, durable directory dir.
func newCrashFS(dir string) *memFS {
	m := newMemFS()
	m.dirs[filepath.Clean(dir)] = &memDir{entries: map[string]*memInode{}, durable: map[string]*memInode{}}
	return m
}

// armCrash makes the operation numbered k (counting from the first one
// this memFS ever saw) take the crash image, keeping the share keep of the
// unsynced changes, and fail with every later operation.
func (m *memFS) armCrash(k int, keep float64, rng *rand.Rand) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashAt, m.keep, m.rng = k, keep, rng
}

// crashImage returns the image taken by the armed crash, or nil when the
// crash point was not reached.
func (m *memFS) crashImage() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.image
}

// opCount returns the number of operations so far.
func (m *memFS) opCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// tick counts one operation; the caller holds mu. It returns errCrashed
// once the armed crash has happened.
func (m *memFS) tick(op string, name string) error {
	if m.halted {
		return m.dead
	}
	if m.crashAt >= 0 && m.ops >= m.crashAt {
		m.image = m.crashLocked(m.keep, m.rng)
		m.halted = true
		m.dead = errCrashed
		return m.dead
	}
	if m.tracing {
		m.trace = append(m.trace, fmt.Sprintf("%d %s %s", m.ops, op, filepath.Base(name)))
	}
	m.ops++
	return nil
}

// crash returns the file system a reboot would find after a power cut now:
// every directory as of its last SyncDir and every file as of its last
// Sync, plus a random share keep (0 to 1) of the changes made since. A
// directory keeps any subset of its unsynced creations, renames and
// removals (a rename only when its source survived), since a filesystem
// need not persist them in order. A file's unsynced data survives in one
// of two ways, drawn at random for each file (see memInode.crashed): a
// prefix of its writes, in order, or any subset of its blocks. The image
// has no locks and no open files, and all of it is durable.
func (m *memFS) crash(keep float64, rng *rand.Rand) *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashLocked(keep, rng)
}

func (m *memFS) crashLocked(keep float64, rng *rand.Rand) *memFS {
	c := newMemFS()
	nodes := map[*memInode]*memInode{}
	for _, path := range slices.Sorted(mapsKeys(m.dirs)) {
		d := m.dirs[path]
		entries := cloneEntries(d.durable)
		for _, op := range d.pending {
			if !kept(keep, rng) {
				continue
			}
			switch op.kind {
			case dirCreate:
				entries[op.name] = op.node
			case dirRemove:
				delete(entries, op.name)
			case dirRename:
				if node, ok := entries[op.name]; ok && node == op.node {
					entries[op.newname] = node
					delete(entries, op.name)
				}
			}
		}
		nd := &memDir{entries: map[string]*memInode{}}
		for _, name := range slices.Sorted(mapsKeys(entries)) {
			node := entries[name]
			if nodes[node] == nil {
				nodes[node] = node.crashed(keep, rng)
			}
			nd.entries[name] = nodes[node]
		}
		nd.durable = cloneEntries(nd.entries)
		c.dirs[path] = nd
	}
	return c
}

// crashed returns the content of node after a power cut, as a new inode.
// Half the time it keeps a prefix of the unsynced writes and truncations,
// the last one possibly torn at a random byte (crashedPrefix); half the
// time any subset of the blocks they changed (crashedBlocks). Either may
// leave zeros or garbage appended to the tail, as a file system that
// updated the size before the data does.
func (n *memInode) crashed(keep float64, rng *rand.Rand) *memInode {
	var data []byte
	if keep >= 1 && rng == nil {
		// Everything, as a process kill leaves it: the page cache holds
		// even the writes a failed sync lost.
		return &memInode{data: bytes.Clone(n.data), durable: bytes.Clone(n.data)}
	}
	if rng != nil && len(n.pending) > 0 && rng.IntN(2) == 0 {
		data = n.crashedBlocks(keep, rng)
	} else {
		data = n.crashedPrefix(keep, rng)
	}
	if len(n.pending) > 0 && rng != nil {
		switch rng.IntN(3) {
		case 0:
			data = append(data, make([]byte, 1+rng.IntN(64))...)
		case 1:
			junk := make([]byte, 1+rng.IntN(64))
			for i := range junk {
				junk[i] = byte(rng.UintN(256))
			}
			data = append(data, junk...)
		}
	}
	return &memInode{data: data, durable: bytes.Clone(data)}
}

// crashedPrefix keeps a prefix of the unsynced writes and truncations, in
// order, the last one possibly torn. This is what ext4 with data=ordered
// and XFS leave of appends to a file that is not preallocated: a size
// update reaches the disk after the data it covers.
func (n *memInode) crashedPrefix(keep float64, rng *rand.Rand) []byte {
	data := n.stable()
	k := keptCount(len(n.pending), keep, rng)
	for i, op := range n.pending[:k] {
		torn := i == k-1 && rng != nil && rng.IntN(4) == 0
		if op.truncate {
			data = resize(data, op.size)
			continue
		}
		b := op.data
		if torn && len(b) > 0 {
			b = b[:rng.IntN(len(b))]
		}
		data = writeAt(data, op.off, b)
	}
	return data
}

// crashBlocks are the block sizes crashedBlocks draws from: the sector of
// older disks and the block of some file systems (512, 1024), and the page
// (4096).
var crashBlocks = []int{512, 1024, 4096}

// crashedBlocks keeps any subset of the blocks that unsynced writes
// changed, each with probability keep, in no order: the rest hold what the
// disk held before (the last synced bytes, or zeros past them). The size
// is that after a prefix of the unsynced size changes. This is what
// writeback leaves of a file whose size is already durable, a preallocated
// or mapped one above all: the kernel writes dirty pages back in any order
// (ext4's background writeback picks them by inode and offset ranges, not
// by age), a page may be written as several block I/Os, and a device may
// complete them in any order, so a later block can reach the disk while an
// earlier one never does; and nothing orders them against a size update,
// since there is none. Blocks are drawn at 512 bytes, 1 KiB or a page.
func (n *memInode) crashedBlocks(keep float64, rng *rand.Rand) []byte {
	size := int64(len(n.durable))
	for _, op := range n.pending[:keptCount(len(n.pending), keep, rng)] {
		if op.truncate {
			size = op.size
		} else if end := op.off + int64(len(op.data)); end > size {
			size = end
		}
	}
	old := resize(n.stable(), size)
	cur := resize(bytes.Clone(n.data), size)
	bs := int64(crashBlocks[rng.IntN(len(crashBlocks))])
	for off := int64(0); off < size; off += bs {
		end := min(off+bs, size)
		if !bytes.Equal(old[off:end], cur[off:end]) && kept(keep, rng) {
			copy(old[off:end], cur[off:end])
		}
	}
	n.keepLost(old)
	return old
}

// kept draws whether one unsynced change survives a crash.
func kept(keep float64, rng *rand.Rand) bool {
	if keep >= 1 {
		return true
	}
	return keep > 0 && rng != nil && rng.Float64() < keep
}

// keptCount draws how many of n unsynced changes survive a crash: a
// binomial share keep of them.
func keptCount(n int, keep float64, rng *rand.Rand) int {
	if keep >= 1 {
		return n
	}
	if keep <= 0 || rng == nil {
		return 0
	}
	k := 0
	for range n {
		if rng.Float64() < keep {
			k++
		}
	}
	return k
}

func cloneEntries(m map[string]*memInode) map[string]*memInode {
	c := make(map[string]*memInode, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func resize(b []byte, size int64) []byte {
	if int64(len(b)) >= size {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func writeAt(b []byte, off int64, p []byte) []byte {
	if end := off + int64(len(p)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], p)
	return b
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
func (m *memFS) dirLocked(path string) (*memDir, bool) {
	d, ok := m.dirs[filepath.Clean(path)]
	return d, ok
}

func (m *memFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.tick("mkdir", dir); err != nil {
		return err
	}
	// Directories are durable at once: the engine does not create the
	// parents of its directory, and their durability is the caller's.
	dir = filepath.Clean(dir)
	if _, ok := m.dirs[dir]; !ok {
		m.dirs[dir] = &memDir{entries: map[string]*memInode{}, durable: map[string]*memInode{}}
	}
	return nil
}

func (m *memFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
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

func (m *memFS) Remove(name string) error {
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

func (m *memFS) Rename(oldname, newname string) error {
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

func (m *memFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.tick("readdir", dir); err != nil {
		return nil, err
	}
	d, ok := m.dirLocked(dir)
	if !ok {
		return nil, pathErr("readdir", dir, fs.ErrNotExist)
	}
	return slices.Sorted(mapsKeys(d.entries)), nil
}

func (m *memFS) SyncDir(dir string) error {
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

// Lock takes a lock on name as flock would, creating the file for an
// exclusive lock. Locks live in this memFS only: a crash image has none.
func (m *memFS) Lock(name string, exclusive bool) (io.Closer, error) {
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
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	if exclusive {
		l.exclusive = true
	} else {
		l.shared++
	}
	return &memUnlock{fs: m, key: key, exclusive: exclusive}, nil
}

type memUnlock struct {
	fs        *memFS
	key       string
	exclusive bool
	once      sync.Once
}

// Close releases the lock. It works even after a crash, as the lock of a
// dead process goes with it.
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

// locked reports whether some lock is held on name.
func (m *memFS) locked(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.locks[filepath.Clean(name)]
	return l != nil && (l.exclusive || l.shared > 0)
}

// openHandles returns the names of the files still open, and of those
// still mapped, marked so.
func (m *memFS) openHandles() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, name := range m.open {
		names = append(names, name)
	}
	for _, name := range m.maps {
		names = append(names, name+" (mapped)")
	}
	slices.Sort(names)
	return names
}

// readFileNow returns the current content of a file, for tests.
func (m *memFS) readFileNow(name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	dirPath, base := split(name)
	d, ok := m.dirLocked(dirPath)
	if !ok || d.entries[base] == nil {
		return nil
	}
	return bytes.Clone(d.entries[base].data)
}

// writeFileNow replaces the content of a file durably, for tests that
// damage files.
func (m *memFS) writeFileNow(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dirPath, base := split(name)
	d, ok := m.dirLocked(dirPath)
	if !ok {
		d = &memDir{entries: map[string]*memInode{}, durable: map[string]*memInode{}}
		m.dirs[filepath.Clean(dirPath)] = d
	}
	node := &memInode{data: bytes.Clone(data), durable: bytes.Clone(data)}
	d.entries[base] = node
	d.durable[base] = node
}

// listNow returns the names in dir, for tests.
func (m *memFS) listNow(dir string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirLocked(dir)
	if !ok {
		return nil
	}
	return slices.Sorted(mapsKeys(d.entries))
}

// clone returns a deep copy of the current state as a durable one.
func (m *memFS) clone() *memFS { return m.crash(1, nil) }

// memHandle is an open file of a memFS.
type memHandle struct {
	fs     *memFS
	node   *memInode
	flag   int
	off    int64 // read offset
	closed bool
}

func (h *memHandle) check(op string) error {
	if err := h.fs.tick(op, h.fs.open[h]); err != nil {
		return err
	}
	if h.closed {
		return os.ErrClosed
	}
	return nil
}

func (h *memHandle) Read(p []byte) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("read"); err != nil {
		return 0, err
	}
	if h.off >= int64(len(h.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.node.data[h.off:])
	h.off += int64(n)
	return n, nil
}

func (h *memHandle) ReadAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("readat"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, errors.New("memfs: negative offset")
	}
	if off >= int64(len(h.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *memHandle) Write(p []byte) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("write"); err != nil {
		return 0, err
	}
	if h.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return 0, pathErr("write", h.fs.open[h], syscall.EBADF)
	}
	off := h.off
	if h.flag&os.O_APPEND != 0 {
		off = int64(len(h.node.data))
	}
	h.node.data = writeAt(h.node.data, off, p)
	h.node.pending = append(h.node.pending, fileOp{off: off, data: bytes.Clone(p)})
	h.node.dirty(off, off+int64(len(p)))
	h.off = off + int64(len(p))
	return len(p), nil
}

func (h *memHandle) Sync() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("sync"); err != nil {
		return err
	}
	if h.node.failSyncs > 0 {
		h.node.failSyncs--
		h.node.failSync()
		return pathErr("fdatasync", h.fs.open[h], syscall.EIO)
	}
	h.node.sync()
	return nil
}

// failSyncs makes the next n Syncs of the file name fail with EIO as
// Linux's do: their unsynced writes are lost though reads still see them
// (see memInode.lost).
func (m *memFS) failSyncs(name string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dirPath, base := split(name)
	if d, ok := m.dirLocked(dirPath); ok && d.entries[base] != nil {
		d.entries[base].failSyncs = n
	}
}

func (h *memHandle) Truncate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("truncate"); err != nil {
		return err
	}
	h.node.data = resize(h.node.data, size)
	h.node.pending = append(h.node.pending, fileOp{truncate: true, size: size})
	return nil
}

func (h *memHandle) Size() (int64, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("size"); err != nil {
		return 0, err
	}
	return int64(len(h.node.data)), nil
}

// Close closes the handle; after a crash it still forgets the handle, so
// that leak checks stay meaningful, and returns errCrashed.
func (h *memHandle) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return os.ErrClosed
	}
	err := h.fs.tick("close", h.fs.open[h])
	h.closed = true
	delete(h.fs.open, h)
	return err
}

// Allocate extends the file with zeros to size, as fallocate does. The
// new size is an unsynced change like a truncation: a crash may keep it or
// not, and a later Sync makes it durable.
func (h *memHandle) Allocate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("allocate"); err != nil {
		return err
	}
	if h.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return pathErr("fallocate", h.fs.open[h], syscall.EBADF)
	}
	if size > int64(len(h.node.data)) {
		h.node.data = resize(h.node.data, size)
		h.node.pending = append(h.node.pending, fileOp{truncate: true, size: size})
	}
	return nil
}

// Map returns a mapping of the first size bytes of the file. Like mmap
// with MAP_SHARED and PROT_WRITE it needs a handle open for reading and
// writing. A mapping past the end of the file, which the real one allows
// and punishes with SIGBUS at the first store, panics here at once.
func (h *memHandle) Map(size int64) (vfs.Mapping, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("map"); err != nil {
		return nil, err
	}
	if h.flag&os.O_RDWR == 0 {
		return nil, pathErr("mmap", h.fs.open[h], syscall.EACCES)
	}
	if size <= 0 || size > int64(len(h.node.data)) {
		panic(fmt.Sprintf("memfs: mapping %d bytes of %s, which holds %d", size, h.fs.open[h], len(h.node.data)))
	}
	mm := &memMapping{fs: h.fs, node: h.node, name: h.fs.open[h], size: size}
	h.fs.maps[mm] = mm.name
	return mm, nil
}

// memMapping is a mapping of a memFS file. A store into it is recorded
// exactly as a Write at its offset: an unsynced change that a process
// kill (clone) keeps and a power cut (crash) keeps or loses, torn or
// whole, in order with the file's other changes.
type memMapping struct {
	fs       *memFS
	node     *memInode
	name     string
	size     int64
	unmapped bool
}

// CopyAt stores p at off. It counts as a file operation, so an armed
// crash can strike before it, after which it fails like every operation
// of a dead machine. A store outside the mapping, after Unmap, or past
// the end of the file (SIGBUS on a real system) panics.
func (mm *memMapping) CopyAt(p []byte, off int64) error {
	mm.fs.mu.Lock()
	defer mm.fs.mu.Unlock()
	if err := mm.fs.tick("mapwrite", mm.name); err != nil {
		return err
	}
	end := off + int64(len(p))
	switch {
	case mm.unmapped:
		panic("memfs: store into " + mm.name + " after Unmap")
	case off < 0 || end > mm.size:
		panic(fmt.Sprintf("memfs: store at [%d, %d) outside the %d-byte mapping of %s", off, end, mm.size, mm.name))
	case end > int64(len(mm.node.data)):
		panic(fmt.Sprintf("memfs: SIGBUS: store at [%d, %d) of %s, which holds %d bytes", off, end, mm.name, len(mm.node.data)))
	}
	mm.node.data = writeAt(mm.node.data, off, p)
	mm.node.pending = append(mm.node.pending, fileOp{off: off, data: bytes.Clone(p)})
	mm.node.dirty(off, end)
	return nil
}

// Unmap releases the mapping. Like Close it releases it even after a
// crash, and then returns errCrashed.
func (mm *memMapping) Unmap() error {
	mm.fs.mu.Lock()
	defer mm.fs.mu.Unlock()
	if mm.unmapped {
		return errors.New("memfs: " + mm.name + " unmapped twice")
	}
	err := mm.fs.tick("unmap", mm.name)
	mm.unmapped = true
	delete(mm.fs.maps, mm)
	return err
}
