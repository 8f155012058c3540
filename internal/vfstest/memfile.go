package vfstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/minikv/minikv/internal/vfs"
)

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

// fileOp is a write of data at off, or a truncation to size.
type fileOp struct {
	truncate bool
	off      int64
	data     []byte
	size     int64
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

// write records a write of p at off: the bytes now, and the unsynced
// change.
func (n *memInode) write(off int64, p []byte) {
	n.data = writeAt(n.data, off, p)
	n.pending = append(n.pending, fileOp{off: off, data: bytes.Clone(p)})
	n.dirty(off, off+int64(len(p)))
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

// memHandle is an open file of a MemFS.
type memHandle struct {
	fs     *MemFS
	node   *memInode
	flag   int
	off    int64 // read offset
	closed bool
}

// check counts the operation op of h; the caller holds the MemFS's mu.
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
		return 0, errors.New("vfstest: negative offset")
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
	h.node.write(off, p)
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
// that leak checks stay meaningful, and returns ErrCrashed.
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
		panic(fmt.Sprintf("vfstest: mapping %d bytes of %s, which holds %d", size, h.fs.open[h], len(h.node.data)))
	}
	mm := &memMapping{fs: h.fs, node: h.node, name: h.fs.open[h], size: size}
	h.fs.maps[mm] = mm.name
	return mm, nil
}

// memMapping is a mapping of a MemFS file. A store into it is recorded
// exactly as a Write at its offset: an unsynced change that a process
// kill (Clone) keeps and a power cut (Crash) keeps or loses, torn or
// whole, in order with the file's other changes.
type memMapping struct {
	fs       *MemFS
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
		panic("vfstest: store into " + mm.name + " after Unmap")
	case off < 0 || end > mm.size:
		panic(fmt.Sprintf("vfstest: store at [%d, %d) outside the %d-byte mapping of %s", off, end, mm.size, mm.name))
	case end > int64(len(mm.node.data)):
		panic(fmt.Sprintf("vfstest: SIGBUS: store at [%d, %d) of %s, which holds %d bytes", off, end, mm.name, len(mm.node.data)))
	}
	mm.node.write(off, p)
	return nil
}

// Unmap releases the mapping. Like Close it releases it even after a
// crash, and then returns ErrCrashed. A second Unmap returns an error.
func (mm *memMapping) Unmap() error {
	mm.fs.mu.Lock()
	defer mm.fs.mu.Unlock()
	if mm.unmapped {
		return errors.New("vfstest: " + mm.name + " unmapped twice")
	}
	err := mm.fs.tick("unmap", mm.name)
	mm.unmapped = true
	delete(mm.fs.maps, mm)
	return err
}
