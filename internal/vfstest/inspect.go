package vfstest

import (
	"bytes"
	"maps"
	"path/filepath"
	"slices"
)

// The methods below look at or change a MemFS from outside, as a test
// does: they do not go through the seam, are not counted as operations
// and work after a crash.

// Ops returns the number of operations so far: the number an armed crash
// would give the next one.
func (m *MemFS) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// SetTracing turns on or off the recording of the operations that Trace
// returns.
func (m *MemFS) SetTracing(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tracing = on
}

// Trace returns the operations recorded while tracing was on, one a line
// without its newline: its number, its kind and the base name of its file
// or directory, as in "12 sync 0000000000000001.wal". The kinds are
// mkdir, open, remove, rename (named by the new name), readdir, syncdir,
// lock, read, readat, write, sync, truncate, size, close, allocate, map,
// mapwrite and unmap.
func (m *MemFS) Trace() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.trace)
}

// FailSyncs makes the next n Syncs of the file name fail with EIO as
// Linux's do: their unsynced writes are lost though reads still see them
// (see the package documentation). It does nothing when name does not
// exist.
func (m *MemFS) FailSyncs(name string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dirPath, base := split(name)
	if d, ok := m.dirLocked(dirPath); ok && d.entries[base] != nil {
		d.entries[base].failSyncs = n
	}
}

// Locked reports whether some lock is held on name.
func (m *MemFS) Locked(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.locks[filepath.Clean(name)]
	return l != nil && (l.exclusive || l.shared > 0)
}

// OpenHandles returns, sorted, the names of the files still open, once per
// handle, and of those still mapped, once per mapping, followed by
// " (mapped)".
func (m *MemFS) OpenHandles() []string {
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

// ReadFileNow returns a copy of the current content of the file name (what
// reads see, synced or not), or nil when there is no such file. An empty
// file may read as nil too: ListNow tells them apart.
func (m *MemFS) ReadFileNow(name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	dirPath, base := split(name)
	d, ok := m.dirLocked(dirPath)
	if !ok || d.entries[base] == nil {
		return nil
	}
	return bytes.Clone(d.entries[base].data)
}

// WriteFileNow makes name a new file holding data, durably, entry and
// content, as a test that damages files wants; it makes the directory of
// name when missing. Handles open on the file name held before keep it.
func (m *MemFS) WriteFileNow(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dirPath, base := split(name)
	d, ok := m.dirLocked(dirPath)
	if !ok {
		d = emptyDir()
		m.dirs[filepath.Clean(dirPath)] = d
	}
	node := &memInode{data: bytes.Clone(data), durable: bytes.Clone(data)}
	d.entries[base] = node
	d.durable[base] = node
}

// ListNow returns the names of the files in dir now, sorted; none (nil)
// for a missing directory as for an empty one.
func (m *MemFS) ListNow(dir string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirLocked(dir)
	if !ok {
		return nil
	}
	return slices.Sorted(maps.Keys(d.entries))
}
