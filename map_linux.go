package minikv

import (
	"errors"
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// Allocate reserves the first size bytes of the file with fallocate(2),
// which extends the file and reads back as zeros. File systems without
// fallocate return an error (EOPNOTSUPP), and the WAL then uses Write.
func (f osFile) Allocate(size int64) error {
	for {
		err := unix.Fallocate(int(f.Fd()), 0, 0, size)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Map maps the first size bytes of the file with mmap(2), MAP_SHARED. It
// refuses a size the file does not hold: a store past the end of the
// file would raise SIGBUS.
func (f osFile) Map(size int64) (mapping, error) {
	fileSize, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size <= 0 || size > fileSize || size > math.MaxInt {
		return nil, fmt.Errorf("minikv: map %d bytes of a %d-byte file: %w", size, fileSize, unix.EINVAL)
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return &osMapping{b: b}, nil
}

// osMapping is a shared mapping of a file. Stores into it reach the page
// cache directly; fdatasync(2) on the file writes back the dirty pages of
// every mapping of it on Linux (msync(MS_SYNC) is the same call there),
// so the WAL's Sync covers them.
//
// Pages of a mapping count in the process's resident memory for as long
// as they are mapped, although the page cache holds them anyway; a
// segment written through would add up to SegmentSize (16 MiB) to the
// store's footprint. CopyAt therefore drops the mapping of the pages
// wholly behind the write position every dropEvery bytes
// (MADV_DONTNEED): for a shared file mapping the data, dirty or not,
// stays in the page cache and in the file.
type osMapping struct {
	b       []byte
	dropped int // the mapping of b[:dropped] was dropped
}

// dropEvery is how many written bytes accumulate before CopyAt drops the
// mapping of their pages.
const dropEvery = 1 << 20

// CopyAt copies p into the mapping. The slice expression panics, before
// any store, on a range outside the mapping.
func (m *osMapping) CopyAt(p []byte, off int64) error {
	copy(m.b[off:off+int64(len(p))], p)
	m.drop(int(off) + len(p))
	return nil
}

// drop releases the pages wholly below end once dropEvery bytes of them
// are mapped. A failure only leaves them mapped.
func (m *osMapping) drop(end int) {
	end &^= pageSize - 1
	if end-m.dropped < dropEvery {
		return
	}
	_ = unix.Madvise(m.b[m.dropped:end], unix.MADV_DONTNEED)
	m.dropped = end
}

var pageSize = unix.Getpagesize()

func (m *osMapping) Unmap() error {
	b := m.b
	m.b = nil
	if b == nil {
		return nil
	}
	return unix.Munmap(b)
}
