//go:build !linux

package minikv

import "os"

// fdatasync flushes a file's data; where fdatasync is missing it is fsync.
func fdatasync(f *os.File) error { return f.Sync() }
