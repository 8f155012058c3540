package vfstest

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/minikv/minikv/internal/testseed"
)

// testDir is the directory the tests' MemFS holds.
const testDir = "/db"

// memfsWrite creates name in m and writes data at off through a handle
// opened read-write, then closes it (a close is not a sync).
func memfsWrite(t *testing.T, m *MemFS, name string, off int64, data []byte) {
	t.Helper()
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	h := f.(*memHandle)
	h.fs.mu.Lock()
	h.node.write(off, data)
	h.fs.mu.Unlock()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// memfsSync opens name and syncs it.
func memfsSync(t *testing.T, m *MemFS, name string) {
	t.Helper()
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		t.Fatal(err)
	}
}

// memfsDurable creates name in testDir holding data, syncs it and syncs
// the directory, so that all of it survives any crash.
func memfsDurable(t *testing.T, m *MemFS, name string, data []byte) {
	t.Helper()
	memfsWrite(t, m, name, 0, data)
	memfsSync(t, m, name)
	mustSyncDir(t, m, testDir)
}

// mustSyncDir syncs dir of m.
func mustSyncDir(t *testing.T, m *MemFS, dir string) {
	t.Helper()
	if err := m.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
}

// testRand returns a generator seeded by testseed.Seed (MINIKV_SEED
// replays it), and the seed.
func testRand(t *testing.T) (*rand.Rand, uint64) {
	t.Helper()
	seed := testseed.Seed(t)
	return rand.New(rand.NewPCG(seed, 0x5eed)), seed
}
