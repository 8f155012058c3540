package vfstest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/minikv/minikv/internal/vfs"
)

// TestFaultFS_InjectsAtOp: only the operation numbered at fails, with an
// error that unwraps to its errno and ErrInjected; the others reach the
// inner file system; Count counts them all.
func TestFaultFS_InjectsAtOp(t *testing.T) {
	m := NewMemFS(testDir)
	f := NewFaultFS(m, 2, false)
	name := filepath.Join(testDir, "f")
	file, err := f.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600) // 0
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Write([]byte("ab")); err != nil { // 1
		t.Fatal(err)
	}
	err = file.Sync() // 2
	if !errors.Is(err, ErrInjected) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("operation 2 (sync) = %v, want an injected EIO", err)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.EIO {
		t.Fatalf("errors.As gives errno %v, want EIO", errno)
	}
	if err := file.Sync(); err != nil { // 3
		t.Fatalf("operation 3 = %v, want success", err)
	}
	if err := file.Close(); err != nil { // 4
		t.Fatal(err)
	}
	if ops, injected := f.Count(); ops != 5 || injected != 1 {
		t.Fatalf("Count = %d, %d; want 5, 1", ops, injected)
	}
	if got := m.Crash(0, nil).ListNow(testDir); got != nil {
		t.Fatalf("without SyncDir the file is durable: %v", got)
	}
	if got := m.ReadFileNow(name); string(got) != "ab" {
		t.Fatalf("the inner file holds %q", got)
	}
}

// TestFaultFS_EveryFailsFromAt: with every, the operation numbered at and
// each later one fail; those before succeed.
func TestFaultFS_EveryFailsFromAt(t *testing.T) {
	f := NewFaultFS(NewMemFS(testDir), 1, true)
	if _, err := f.ReadDir(testDir); err != nil {
		t.Fatalf("operation 0 = %v", err)
	}
	for i := 1; i < 5; i++ {
		if _, err := f.ReadDir(testDir); !errors.Is(err, ErrInjected) {
			t.Fatalf("operation %d = %v, want an injected error", i, err)
		}
	}
	if ops, injected := f.Count(); ops != 5 || injected != 4 {
		t.Fatalf("Count = %d, %d; want 5, 4", ops, injected)
	}
}

// TestFaultFS_ErrnoByKind fails one operation of each kind in turn
// (OnlyKind, at 0) and checks its errno, what reached the inner file
// system, and InjectedKinds.
func TestFaultFS_ErrnoByKind(t *testing.T) {
	name := filepath.Join(testDir, "f")
	cases := []struct {
		kind  string
		errno syscall.Errno
		do    func(f *FaultFS, m *MemFS) error
		check func(m *MemFS) string // what the inner file system must show, or ""
	}{
		{"open", syscall.EIO, func(f *FaultFS, _ *MemFS) error { _, err := f.OpenFile(name, os.O_RDONLY, 0); return err }, nil},
		{"create", syscall.ENOSPC, func(f *FaultFS, _ *MemFS) error {
			_, err := f.OpenFile(filepath.Join(testDir, "new"), os.O_RDWR|os.O_CREATE, 0o600)
			return err
		}, func(m *MemFS) string {
			if m.ReadFileNow(filepath.Join(testDir, "new")) != nil || len(m.ListNow(testDir)) != 1 {
				return "a failed create made the file"
			}
			return ""
		}},
		{"remove", syscall.EIO, func(f *FaultFS, _ *MemFS) error { return f.Remove(name) }, func(m *MemFS) string {
			if m.ReadFileNow(name) == nil {
				return "a failed remove removed the file"
			}
			return ""
		}},
		{"rename", syscall.ENOSPC, func(f *FaultFS, _ *MemFS) error { return f.Rename(name, name+"2") }, nil},
		{"readdir", syscall.EIO, func(f *FaultFS, _ *MemFS) error { _, err := f.ReadDir(testDir); return err }, nil},
		{"mkdir", syscall.EIO, func(f *FaultFS, _ *MemFS) error { return f.MkdirAll(testDir+"/sub", 0o700) }, nil},
		{"syncdir", syscall.EIO, func(f *FaultFS, m *MemFS) error {
			h, err := m.OpenFile(filepath.Join(testDir, "g"), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				return err
			}
			h.Close()
			return f.SyncDir(testDir)
		}, func(m *MemFS) string {
			if len(m.Crash(0, nil).ListNow(testDir)) != 1 {
				return "a failed SyncDir synced the directory"
			}
			return ""
		}},
		{"lock", syscall.EIO, func(f *FaultFS, _ *MemFS) error { _, err := f.Lock(testDir+"/LOCK", true); return err }, func(m *MemFS) string {
			if m.Locked(testDir + "/LOCK") {
				return "a failed Lock holds the lock"
			}
			return ""
		}},
		{"read", syscall.EIO, withFile(func(h vfs.File) error { _, err := h.Read(make([]byte, 1)); return err }), nil},
		{"read", syscall.EIO, withFile(func(h vfs.File) error { _, err := h.ReadAt(make([]byte, 1), 0); return err }), nil},
		{"write", syscall.ENOSPC, withFile(func(h vfs.File) error {
			n, err := h.Write([]byte("WXYZ"))
			if n != 2 {
				return errors.New("a failed write did not store half")
			}
			return err
		}), func(m *MemFS) string {
			if got := m.ReadFileNow(name); string(got) != "WXta" {
				return "after a failed 4-byte write the file holds " + string(got) + ", want WXta"
			}
			return ""
		}},
		{"sync", syscall.EIO, withFile(func(h vfs.File) error { return h.Sync() }), nil},
		{"truncate", syscall.EIO, withFile(func(h vfs.File) error { return h.Truncate(0) }), func(m *MemFS) string {
			if len(m.ReadFileNow(name)) != 4 {
				return "a failed truncate cut the file"
			}
			return ""
		}},
		{"size", syscall.EIO, withFile(func(h vfs.File) error { _, err := h.Size(); return err }), nil},
		{"allocate", syscall.ENOSPC, withFile(func(h vfs.File) error { return h.(vfs.Mapper).Allocate(100) }), nil},
		{"map", syscall.EIO, withFile(func(h vfs.File) error { _, err := h.(vfs.Mapper).Map(4); return err }), nil},
		{"close", syscall.EIO, func(f *FaultFS, _ *MemFS) error {
			h, err := f.OpenFile(name, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			return h.Close()
		}, func(m *MemFS) string {
			if h := m.OpenHandles(); len(h) > 0 {
				return "a failed Close left the file open"
			}
			return ""
		}},
		{"unmap", syscall.EIO, withFile(func(h vfs.File) error {
			mp, err := h.(vfs.Mapper).Map(4)
			if err != nil {
				return err
			}
			if err := mp.CopyAt([]byte("M"), 0); err != nil { // not counted
				return err
			}
			return mp.Unmap()
		}), func(m *MemFS) string {
			if h := m.OpenHandles(); len(h) > 0 {
				return "a failed Unmap left the mapping"
			}
			if got := m.ReadFileNow(name); string(got) != "Mata" {
				return "the store through the mapping did not reach the file: " + string(got)
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			m := NewMemFS(testDir)
			m.WriteFileNow(name, []byte("data"))
			f := NewFaultFS(m, 0, false)
			f.OnlyKind(c.kind)
			err := c.do(f, m)
			if !errors.Is(err, ErrInjected) || !errors.Is(err, c.errno) {
				t.Fatalf("%s = %v, want an injected %v", c.kind, err, c.errno)
			}
			if _, injected := f.Count(); injected != 1 {
				t.Fatalf("%d errors injected, want 1", injected)
			}
			if k := f.InjectedKinds(); len(k) != 1 || k[c.kind] != 1 {
				t.Fatalf("InjectedKinds = %v, want %s: 1", k, c.kind)
			}
			if c.check != nil {
				if msg := c.check(m); msg != "" {
					t.Fatal(msg)
				}
			}
		})
	}
}

// withFile returns an operation that opens the test file read-write
// through f, does op on it, and closes it.
func withFile(op func(h vfs.File) error) func(f *FaultFS, m *MemFS) error {
	return func(f *FaultFS, _ *MemFS) error {
		h, err := f.OpenFile(filepath.Join(testDir, "f"), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		err = op(h)
		return errors.Join(err, h.Close())
	}
}

// TestFaultFS_RenameAlternates: injected rename errors alternate ENOSPC
// and EIO, starting with ENOSPC.
func TestFaultFS_RenameAlternates(t *testing.T) {
	f := NewFaultFS(NewMemFS(testDir), 0, true)
	for i, want := range []syscall.Errno{syscall.ENOSPC, syscall.EIO, syscall.ENOSPC} {
		if err := f.Rename(testDir+"/a", testDir+"/b"); !errors.Is(err, want) {
			t.Fatalf("rename %d = %v, want %v", i, err, want)
		}
	}
}

// TestFaultFS_FailAtAndOnlyKind: FailAt rearms a FaultFS that failed
// nothing, counting from its start; OnlyKind counts one kind only, the
// empty kind all again, and panics on an unknown kind.
func TestFaultFS_FailAtAndOnlyKind(t *testing.T) {
	f := NewFaultFS(NewMemFS(testDir), -1, false)
	f.OnlyKind("syncdir")
	for range 3 {
		if _, err := f.ReadDir(testDir); err != nil {
			t.Fatal(err)
		}
		if err := f.SyncDir(testDir); err != nil {
			t.Fatal(err)
		}
	}
	ops, _ := f.Count()
	if ops != 3 {
		t.Fatalf("%d operations counted, want the 3 syncdirs", ops)
	}
	f.FailAt(ops)
	if _, err := f.ReadDir(testDir); err != nil {
		t.Fatalf("a readdir while only syncdirs count = %v", err)
	}
	if err := f.SyncDir(testDir); !errors.Is(err, ErrInjected) {
		t.Fatalf("the next syncdir = %v, want an injected error", err)
	}
	f.OnlyKind("")
	if _, err := f.ReadDir(testDir); err != nil {
		t.Fatal(err)
	}
	if ops, _ := f.Count(); ops != 5 {
		t.Fatalf("%d operations counted, want 5", ops)
	}
	defer func() {
		if recover() == nil {
			t.Error("OnlyKind of an unknown kind did not panic")
		}
	}()
	f.OnlyKind("fsync")
}

// TestFaultFS_PassesInnerResults: without a fault, results and errors of
// the inner file system pass unchanged: a missing file, a lock conflict,
// a file without mapping support (errors.ErrUnsupported).
func TestFaultFS_PassesInnerResults(t *testing.T) {
	m := NewMemFS(testDir)
	f := NewFaultFS(m, -1, false)
	if _, err := f.OpenFile(testDir+"/missing", os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInjected) {
		t.Fatalf("open of a missing file = %v, want ErrNotExist", err)
	}
	l, err := f.Lock(testDir+"/LOCK", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lock(testDir+"/LOCK", false); !errors.Is(err, vfs.ErrLocked) {
		t.Fatalf("conflicting lock = %v, want ErrLocked", err)
	}
	l.Close()
	nm := NewFaultFS(noMapFS{m}, -1, false)
	h, err := nm.OpenFile(testDir+"/f", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.(vfs.Mapper).Allocate(10); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Allocate without inner support = %v, want ErrUnsupported", err)
	}
	if _, err := h.(vfs.Mapper).Map(10); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Map without inner support = %v, want ErrUnsupported", err)
	}
}

// noMapFS hides the mapping methods of a MemFS's files.
type noMapFS struct{ *MemFS }

type noMapFile struct{ vfs.File }

func (n noMapFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	h, err := n.MemFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noMapFile{h}, nil
}

// TestFaultFS_PassThrough: without a fault every operation reaches the
// inner file system and returns its result, and the error message of an
// injected fault names the operation and the errno.
func TestFaultFS_PassThrough(t *testing.T) {
	m := NewMemFS(testDir)
	f := NewFaultFS(m, -1, false)
	sub := filepath.Join(testDir, "sub")
	if err := f.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(sub, "f")
	h, err := f.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	h.Write([]byte("abcdef"))
	buf := make([]byte, 3)
	if n, err := h.ReadAt(buf, 1); n != 3 || err != nil || string(buf) != "bcd" {
		t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
	}
	if n, _ := h.Read(buf); n != 0 { // the handle's offset is past the written bytes
		t.Fatalf("Read at the end read %d bytes", n)
	}
	if err := h.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if err := h.(vfs.Mapper).Allocate(8); err != nil {
		t.Fatal(err)
	}
	if size, err := h.Size(); size != 8 || err != nil {
		t.Fatalf("Size = %d, %v; want 8", size, err)
	}
	mp, err := h.(vfs.Mapper).Map(8)
	if err != nil {
		t.Fatal(err)
	}
	mp.CopyAt([]byte("Z"), 7)
	if err := errors.Join(mp.Unmap(), h.Close()); err != nil {
		t.Fatal(err)
	}
	if err := f.Rename(name, name+"2"); err != nil {
		t.Fatal(err)
	}
	if got := m.ReadFileNow(name + "2"); string(got) != "abcd\x00\x00\x00Z" {
		t.Fatalf("the inner file holds %q", got)
	}
	if err := f.Remove(name + "2"); err != nil {
		t.Fatal(err)
	}
	if names, err := f.ReadDir(sub); err != nil || len(names) != 0 {
		t.Fatalf("ReadDir = %v, %v; want nothing", names, err)
	}
	if _, injected := f.Count(); injected != 0 {
		t.Fatalf("%d faults injected, want none", injected)
	}
	f.FailAt(0) // long past: with every unset, nothing fails
	if err := f.SyncDir(sub); err != nil {
		t.Fatal(err)
	}
	g := NewFaultFS(m, 0, false)
	err = g.Remove(filepath.Join(testDir, "x"))
	if want := "vfstest: injected remove: " + syscall.EIO.Error(); err == nil || err.Error() != want {
		t.Fatalf("injected error %q, want %q", err, want)
	}
}
