package minikv

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/minikv/minikv/internal/vfs"
)

// dataEnd returns the end of the last data of the file f of the given
// size, skipping its holes with SEEK_DATA and SEEK_HOLE: one step per
// extent of data, so the cost is bounded by the bytes the file holds. It
// returns size where the file or its file system cannot tell.
func dataEnd(f vfs.File, size int64) (int64, error) {
	fd, ok := f.(interface{ Fd() uintptr })
	if !ok {
		return size, nil
	}
	end := int64(0)
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(fd.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // no data from off on
		}
		if err != nil {
			return size, nil
		}
		hole, err := unix.Seek(int(fd.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return size, nil
		}
		end, off = hole, hole
	}
	return min(end, size), nil
}
