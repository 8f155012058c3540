//go:build !unix

package minikv

import "os"

// openGuard adds nothing where O_NOFOLLOW and O_NONBLOCK do not exist.
const openGuard = 0

// isLinkRefusal reports false: without O_NOFOLLOW, opens follow links.
func isLinkRefusal(error) bool { return false }

// isDirRefusal reports false: the refusal is not told apart here.
func isDirRefusal(error) bool { return false }

// checkStoreFile checks that f, just opened as name, is a regular file.
func checkStoreFile(f *os.File, name string, _ int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return notRegular(name, fileKind(fi.Mode()))
	}
	return nil
}

// Allocated returns the file's size: sparse files are not told apart here.
func (f osFile) Allocated() (int64, error) { return f.Size() }
