package vfstest

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/minikv/minikv/internal/vfs"
)

// TestMemFS_OpenFlags: O_CREATE, O_EXCL, O_TRUNC, O_APPEND and the access
// mode act as os.OpenFile's do.
func TestMemFS_OpenFlags(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	if _, err := m.OpenFile(name, os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open of a missing file = %v, want ErrNotExist", err)
	}
	f, err := m.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(" world")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := m.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("O_EXCL on an existing file = %v, want ErrExist", err)
	}
	f, err = m.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("!"))
	f.Close()
	if got := m.ReadFileNow(name); string(got) != "hello world!" {
		t.Fatalf("after an append: %q", got)
	}
	r, err := m.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("x")); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("Write on a read-only handle = %v, want EBADF", err)
	}
	if err := r.(vfs.Mapper).Allocate(100); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("Allocate on a read-only handle = %v, want EBADF", err)
	}
	r.Close()
	f, err = m.OpenFile(name, os.O_RDWR|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if size, err := f.Size(); err != nil || size != 0 {
		t.Fatalf("Size after O_TRUNC = %d, %v; want 0", size, err)
	}
	f.Close()
}

// TestMemFS_ReadSemantics: Read advances and ends with io.EOF; ReadAt
// returns io.EOF with a short read and fails on a negative offset.
func TestMemFS_ReadSemantics(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	m.WriteFileNow(name, []byte("abcdef"))
	f, err := m.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if n, err := f.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end = %d, %v; want 0, EOF", n, err)
	}
	buf := make([]byte, 4)
	if n, err := f.ReadAt(buf, 1); n != 4 || err != nil || string(buf) != "bcde" {
		t.Fatalf("ReadAt(4 at 1) = %d, %v, %q", n, err, buf)
	}
	if n, err := f.ReadAt(buf, 4); n != 2 || err != io.EOF || string(buf[:2]) != "ef" {
		t.Fatalf("short ReadAt = %d, %v, %q; want 2, EOF, ef", n, err, buf[:n])
	}
	if n, err := f.ReadAt(buf, 6); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at the end = %d, %v; want 0, EOF", n, err)
	}
	if _, err := f.ReadAt(buf, -1); err == nil {
		t.Fatal("ReadAt at a negative offset succeeded")
	}
}

// TestMemFS_ClosedHandle: every operation of a closed handle fails with
// os.ErrClosed, a second Close too, and OpenHandles forgets it.
func TestMemFS_ClosedHandle(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if h := m.OpenHandles(); len(h) != 1 || h[0] != name {
		t.Fatalf("OpenHandles = %v, want [%s]", h, name)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if h := m.OpenHandles(); len(h) != 0 {
		t.Fatalf("OpenHandles after Close = %v", h)
	}
	mp := f.(vfs.Mapper)
	for what, err := range map[string]error{
		"Read":     func() error { _, err := f.Read(make([]byte, 1)); return err }(),
		"ReadAt":   func() error { _, err := f.ReadAt(make([]byte, 1), 0); return err }(),
		"Write":    func() error { _, err := f.Write([]byte("x")); return err }(),
		"Sync":     f.Sync(),
		"Truncate": f.Truncate(0),
		"Size":     func() error { _, err := f.Size(); return err }(),
		"Allocate": mp.Allocate(10),
		"Map":      func() error { _, err := mp.Map(1); return err }(),
		"Close":    f.Close(),
	} {
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s after Close = %v, want os.ErrClosed", what, err)
		}
	}
}

// TestMemFS_TruncateDurableAfterSync: a truncation, shorter or longer
// (zeros), is an unsynced change: a cut keeping nothing undoes it, a Sync
// makes it durable.
func TestMemFS_TruncateDurableAfterSync(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	memfsDurable(t, m, name, []byte("0123456789"))
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if got := m.ReadFileNow(name); string(got) != "0123" {
		t.Fatalf("after Truncate(4): %q", got)
	}
	if got := m.Crash(0, nil).ReadFileNow(name); string(got) != "0123456789" {
		t.Fatalf("an unsynced truncation survived the cut: %q", got)
	}
	if err := f.Truncate(6); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := m.Crash(0, nil).ReadFileNow(name); string(got) != "0123\x00\x00" {
		t.Fatalf("after Truncate(4), Truncate(6), Sync and a cut: %q, want 0123 and two zeros", got)
	}
}

// TestMemFS_FailedSyncKeepsSize: a failed Sync of a write that grew the
// file makes the size durable but not the bytes: a cut leaves zeros.
func TestMemFS_FailedSyncKeepsSize(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	memfsDurable(t, m, name, []byte("old!"))
	memfsWrite(t, m, name, 4, []byte("lost"))
	m.FailSyncs(name, 2)
	m.FailSyncs(filepath.Join(testDir, "missing"), 1) // does nothing
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 2 {
		var pe *fs.PathError
		if err := f.Sync(); !errors.Is(err, syscall.EIO) || !errors.As(err, &pe) {
			t.Fatalf("armed Sync %d = %v, want an *fs.PathError wrapping EIO", i, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync after the armed ones = %v", err)
	}
	if got := m.Crash(0, nil).ReadFileNow(name); string(got) != "old!\x00\x00\x00\x00" {
		t.Fatalf("after the failed sync and a cut: %q, want old! and four zeros", got)
	}
	if got := m.Clone().ReadFileNow(name); string(got) != "old!lost" {
		t.Fatalf("after a process kill: %q, want the page cache's old!lost", got)
	}
}

// TestMemFS_MapCopyAtUnmap: Allocate extends the file with zeros as an
// unsynced change; a mapping needs a read-write handle and at most the
// file's size; stores through it read back at once, outlive the handle,
// are lost by a cut until a Sync, and are kept by a process kill; the
// mapping is listed until Unmap, and a second Unmap fails.
func TestMemFS_MapCopyAtUnmap(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "seg")
	memfsDurable(t, m, name, nil)
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	mf := f.(vfs.Mapper)
	if err := mf.Allocate(64); err != nil {
		t.Fatal(err)
	}
	if err := mf.Allocate(32); err != nil { // shorter: nothing changes
		t.Fatal(err)
	}
	if size, _ := f.Size(); size != 64 {
		t.Fatalf("size after Allocate(64), Allocate(32) = %d", size)
	}
	if got := m.Crash(0, nil).ReadFileNow(name); len(got) != 0 {
		t.Fatalf("an unsynced preallocation survived the cut: %d bytes", len(got))
	}
	w, err := m.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.(vfs.Mapper).Map(64); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("Map of a write-only handle = %v, want EACCES", err)
	}
	w.Close()
	mp, err := mf.Map(64)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := mp.CopyAt([]byte("mapped"), 10); err != nil {
		t.Fatal(err)
	}
	if got := m.ReadFileNow(name); len(got) != 64 || string(got[10:16]) != "mapped" {
		t.Fatalf("after a store through the mapping: %q", got)
	}
	if h := m.OpenHandles(); len(h) != 1 || h[0] != name+" (mapped)" {
		t.Fatalf("OpenHandles with a live mapping = %v", h)
	}
	if got := m.Crash(0, nil).ReadFileNow(name); len(got) != 0 {
		t.Fatalf("an unsynced store survived the cut: %q", got)
	}
	if got := m.Clone().ReadFileNow(name); string(got[10:16]) != "mapped" {
		t.Fatalf("a process kill lost the store: %q", got)
	}
	memfsSync(t, m, name)
	if got := m.Crash(0, nil).ReadFileNow(name); len(got) != 64 || string(got[10:16]) != "mapped" {
		t.Fatalf("after Sync and a cut: %q", got)
	}
	if err := mp.Unmap(); err != nil {
		t.Fatal(err)
	}
	if h := m.OpenHandles(); len(h) != 0 {
		t.Fatalf("OpenHandles after Unmap = %v", h)
	}
	if err := mp.Unmap(); err == nil {
		t.Fatal("a second Unmap succeeded")
	}
}

// TestMemFS_MapMisusePanics: what would be SIGBUS or memory corruption on
// a real mapping panics at once: a mapping past the end of the file or of
// no bytes, a store outside the mapping, past the end of a file cut
// shorter, or after Unmap.
func TestMemFS_MapMisusePanics(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "seg")
	m.WriteFileNow(name, make([]byte, 32))
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mf := f.(vfs.Mapper)
	mustPanic := func(what, want string, fn func()) {
		t.Helper()
		defer func() {
			r := recover()
			if r == nil {
				t.Errorf("%s did not panic", what)
			} else if s, _ := r.(string); !strings.Contains(s, want) {
				t.Errorf("%s panicked with %v, want it to say %q", what, r, want)
			}
		}()
		fn()
	}
	mustPanic("Map past the end", "mapping 33 bytes", func() { mf.Map(33) })
	mustPanic("Map of no bytes", "mapping 0 bytes", func() { mf.Map(0) })
	mp, err := mf.Map(32)
	if err != nil {
		t.Fatal(err)
	}
	mustPanic("a store past the mapping", "outside", func() { mp.CopyAt([]byte("xx"), 31) })
	mustPanic("a store at a negative offset", "outside", func() { mp.CopyAt([]byte("x"), -1) })
	if err := f.Truncate(8); err != nil {
		t.Fatal(err)
	}
	mustPanic("a store past the end of the file", "SIGBUS", func() { mp.CopyAt([]byte("x"), 20) })
	if err := mp.Unmap(); err != nil {
		t.Fatal(err)
	}
	mustPanic("a store after Unmap", "after Unmap", func() { mp.CopyAt([]byte("x"), 0) })
}

// TestMemFS_RewriteInsideLostRange: a write inside bytes that a failed
// Sync lost makes those bytes, and only those, durable at the next Sync.
func TestMemFS_RewriteInsideLostRange(t *testing.T) {
	m := NewMemFS(testDir)
	name := filepath.Join(testDir, "f")
	memfsDurable(t, m, name, []byte("01234567"))
	memfsWrite(t, m, name, 0, []byte("abcdefgh"))
	m.FailSyncs(name, 1)
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("the armed Sync = %v, want EIO", err)
	}
	memfsWrite(t, m, name, 3, []byte("XY"))
	memfsSync(t, m, name)
	if got := m.Crash(0, nil).ReadFileNow(name); string(got) != "012XY567" {
		t.Fatalf("after a cut: %q, want 012XY567", got)
	}
	if got := m.ReadFileNow(name); string(got) != "abcXYfgh" {
		t.Fatalf("reads see %q, want abcXYfgh", got)
	}
}
