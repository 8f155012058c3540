//go:build !unix

package minikv

import "os"

// openGuard adds nothing where O_NOFOLLOW and O_NONBLOCK do not exist.
const openGuard = 0

// isLinkRefusal reports false: without O_NOFOLLOW, opens follow links.
func isLinkRefusal(error) bool { return false }

// isDirRefusal reports false: the refusal is not told apart here.
func isDirRefusal(error) bool { return false }

// checkPlacement accepts every regular file: devices and links are not
// told apart here.
func checkPlacement(os.FileInfo, string, int) error { return nil }

// Allocated returns the file's size: sparse files are not told apart here.
func (f osFile) Allocated() (int64, error) { return f.Size() }

// processAlive reports true: whether a process runs is not asked here.
func processAlive(int) bool { return true }
