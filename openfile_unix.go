//go:build unix

package minikv

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// openGuard is added to every open of a store file: never follow a
// symbolic link in the last component of the name (the store's directory
// itself may be one), and never block on a FIFO, which would otherwise
// hang an open for reading until a writer came.
const openGuard = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// isLinkRefusal reports whether err is how the system refuses O_NOFOLLOW
// on a symbolic link (ELOOP; EMLINK on FreeBSD and NetBSD).
func isLinkRefusal(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)
}

// isDirRefusal reports whether err is how the system refuses to open a
// directory for writing.
func isDirRefusal(err error) bool { return errors.Is(err, syscall.EISDIR) }

// checkPlacement checks the regular file fi, just opened as name with
// flag: on the device of the directory that holds it, and, when opened for
// writing, with no other hard link, so that a write cannot reach a file
// outside the store through it.
func checkPlacement(fi os.FileInfo, name string, flag int) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 && st.Nlink > 1 {
		return notRegular(name, "a file with other hard links (a write would change them too)")
	}
	dir, err := os.Stat(filepath.Dir(name))
	if err != nil {
		return err
	}
	if ds, ok := dir.Sys().(*syscall.Stat_t); ok && ds.Dev != st.Dev {
		return notRegular(name, "a file on another device than the store's directory")
	}
	return nil
}

// Allocated returns the bytes of disk the file holds, which for a sparse
// file is far less than its size: what a reader may presize by.
func (f osFile) Allocated() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return min(fi.Size(), int64(st.Blocks)*512), nil
	}
	return fi.Size(), nil
}

// processAlive reports whether process pid of this host runs (or may run:
// one of another user answers EPERM).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
