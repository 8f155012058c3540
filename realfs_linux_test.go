package minikv_test

// A power cut on a real file system, opt in: MINIKV_REALFS=1, as root, with
// mkfs.ext4 (and mkfs.xfs, from xfsprogs, for the XFS case) installed:
//
//	MINIKV_REALFS=1 go test -count=1 -run TestRealFS -v .
//	MINIKV_REALFS=1 MINIKV_REALFS_ROUNDS=200 go test -count=1 -run TestRealFS -timeout 60m -v .
//
// Each case makes a small file system image, mounts it through a loop
// device, writes to a store on it, makes the kernel write back only some
// ranges of the WAL segment (sync_file_range), waits for the journal to
// commit, and copies the image while the writer still runs: the copy is
// what a power cut leaves. The copy is then mounted and opened.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minikv/minikv"
	"golang.org/x/sys/unix"
)

// realFS is one mounted image.
type realFS struct {
	img, mnt string
}

// mountImage makes a file system of type kind in a new sparse image (128 MiB,
// or 512 MiB for XFS) and
// mounts it; the test's cleanup unmounts it.
func mountImage(t *testing.T, kind string) *realFS {
	t.Helper()
	dir := t.TempDir()
	fs := &realFS{img: filepath.Join(dir, "fs.img"), mnt: filepath.Join(dir, "mnt")}
	size := "128M"
	if kind == "xfs" {
		size = "512M" // the smallest file system mkfs.xfs makes is 300 MiB
	}
	realRun(t, "truncate", "-s", size, fs.img)
	mkfs := []string{"mkfs.ext4", "-q", "-F", fs.img}
	opts := "loop,commit=1" // a journal commit every second
	if kind == "xfs" {
		mkfs = []string{"mkfs.xfs", "-q", "-f", fs.img}
		opts = "loop"
	}
	realRun(t, mkfs...)
	fs.mount(t, fs.img, opts)
	return fs
}

// mount mounts img on fs.mnt.
func (fs *realFS) mount(t *testing.T, img, opts string) {
	t.Helper()
	if err := os.MkdirAll(fs.mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	realRun(t, "mount", "-o", opts, img, fs.mnt)
	t.Cleanup(func() { exec.Command("umount", fs.mnt).Run() })
}

// powerCut copies the image as it is on the device now and mounts the copy
// on a directory of its own, which it returns.
func (fs *realFS) powerCut(t *testing.T, kind string) string {
	t.Helper()
	dir := t.TempDir()
	cp := &realFS{img: filepath.Join(dir, "cut.img"), mnt: filepath.Join(dir, "mnt")}
	realRun(t, "cp", "--sparse=always", fs.img, cp.img)
	opts := "loop"
	if kind == "xfs" {
		opts = "loop,nouuid" // the copy has the same UUID as the mounted original
	}
	cp.mount(t, cp.img, opts)
	return cp.mnt
}

func realRun(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// realKinds returns the file systems the test can make here.
func realKinds(t *testing.T) []string {
	if os.Getenv("MINIKV_REALFS") == "" {
		t.Skip("set MINIKV_REALFS=1 (as root, with mkfs.ext4) to run the real file system power-cut test")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount loop devices")
	}
	var kinds []string
	for _, k := range []string{"ext4", "xfs"} {
		if _, err := exec.LookPath("mkfs." + k); err == nil {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		t.Skip("neither mkfs.ext4 nor mkfs.xfs is installed")
	}
	return kinds
}

// writeBackRange makes the kernel write bytes [off, off+n) of the file at
// path to the device now, and nothing else of it.
func writeBackRange(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags := unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	if err := unix.SyncFileRange(int(f.Fd()), off, n, flags); err != nil {
		t.Fatal(err)
	}
}

// TestRealFS_OutOfOrderWriteback is the reproduction of a store that
// refused to open after a power cut: 10 durable writes and a Close, then a
// reopen without fsync and 60 more writes, of which only the later part of
// the segment's unsynced tail reaches the disk. The copy must open, with
// the 10 durable writes.
func TestRealFS_OutOfOrderWriteback(t *testing.T) {
	for _, kind := range realKinds(t) {
		t.Run(kind, func(t *testing.T) {
			fs := mountImage(t, kind)
			dir := filepath.Join(fs.mnt, "store")
			db, err := minikv.Open(minikv.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				mustSetT(t, db, fmt.Sprintf("durable-%02d", i), 100)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = minikv.Open(minikv.Options{Dir: dir, SyncMode: minikv.SyncNever})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i := range 60 {
				mustSetT(t, db, fmt.Sprintf("later-%02d", i), 250)
			}
			writeBackRange(t, realSegment(t, dir), 8192, 8192)
			time.Sleep(3 * time.Second) // the journal commits every second
			got := realOpen(t, filepath.Join(fs.powerCut(t, kind), "store"))
			for i := range 10 {
				if _, ok := got[fmt.Sprintf("durable-%02d", i)]; !ok {
					t.Fatalf("durable-%02d lost; recovered %d keys", i, len(got))
				}
			}
			t.Logf("%s: recovered %d keys (10 durable, then a prefix of the 60)", kind, len(got))
		})
	}
}

// TestRealFS_RandomWriteback loops: writes in a random sync mode, random
// ranges of the segment written back, sometimes a Sync point, a power cut
// copy, and a reopen of the copy, which must open with every write made
// durable before the cut.
func TestRealFS_RandomWriteback(t *testing.T) {
	kinds := realKinds(t)
	rounds := 5
	if s := os.Getenv("MINIKV_REALFS_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			for round := range rounds {
				realRound(t, kind, rng, round)
			}
		})
	}
}

// realRound is one round of TestRealFS_RandomWriteback on a new image.
func realRound(t *testing.T, kind string, rng *rand.Rand, round int) {
	fs := mountImage(t, kind)
	dir := filepath.Join(fs.mnt, "store")
	durable := map[string]bool{}
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1 + rng.IntN(20) {
		k := fmt.Sprintf("synced-%03d", i)
		mustSetT(t, db, k, 1+rng.IntN(400))
		durable[k] = true
	}
	mode := []minikv.SyncMode{minikv.SyncNever, minikv.SyncPeriodic, minikv.SyncAlways}[rng.IntN(3)]
	if rng.IntN(2) == 0 {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if db, err = minikv.Open(minikv.Options{Dir: dir, SyncMode: mode, SyncInterval: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	defer db.Close()
	for i := range 1 + rng.IntN(300) {
		k := fmt.Sprintf("later-%03d", i)
		mustSetT(t, db, k, 1+rng.IntN(2000))
		if mode == minikv.SyncAlways {
			durable[k] = true
		}
	}
	seg := realSegment(t, dir)
	for range rng.IntN(4) {
		writeBackRange(t, seg, int64(rng.IntN(64))*4096, int64(1+rng.IntN(8))*1024)
	}
	time.Sleep(time.Duration(1500+rng.IntN(1500)) * time.Millisecond)
	got := realOpen(t, filepath.Join(fs.powerCut(t, kind), "store"))
	for k := range durable {
		if _, ok := got[k]; !ok {
			t.Fatalf("round %d (%s): durable %s lost; recovered %d keys", round, mode, k, len(got))
		}
	}
}

// realSegment returns the path of the newest WAL segment in dir.
func realSegment(t *testing.T, dir string) string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no WAL segment in %s: %v", dir, err)
	}
	return names[len(names)-1]
}

// realOpen opens the store in dir, after a power cut, and returns its keys.
func realOpen(t *testing.T, dir string) map[string]bool {
	t.Helper()
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open after the power cut: %v", err)
	}
	defer db.Close()
	keys, err := db.Keys("*")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, k := range keys {
		got[k] = true
	}
	if st := db.Stats(); st.TornRecords > 0 {
		t.Logf("cut a torn tail of %d bytes, %d records after a hole", st.TornBytes, st.TornRecords)
	}
	return got
}

// mustSetT sets key to a value of n bytes.
func mustSetT(t *testing.T, db *minikv.DB, key string, n int) {
	t.Helper()
	if err := db.Set(key, []byte(strings.Repeat("v", n))); err != nil {
		t.Fatal(err)
	}
}
