package vfstest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/minikv/minikv/internal/vfs"
)

// fsModel is what a MemFS over testDir must hold, kept apart from its
// code: the names now and as of the last SyncDir, and each file's content
// now and as of its last Sync.
type fsModel struct {
	names    map[string]int // name -> file
	durNames map[string]int
	data     map[int][]byte
	durData  map[int][]byte
	dirty    map[int]bool // the file changed since its last Sync
	next     int
}

func newFSModel() *fsModel {
	return &fsModel{names: map[string]int{}, durNames: map[string]int{}, data: map[int][]byte{}, durData: map[int][]byte{}, dirty: map[int]bool{}}
}

// image returns the model's files: those of the durable state, or those of
// now.
func (md *fsModel) image(durable bool) map[string][]byte {
	names, data := md.names, md.data
	if durable {
		names, data = md.durNames, md.durData
	}
	out := map[string][]byte{}
	for name, id := range names {
		out[name] = data[id]
	}
	return out
}

// imageOf returns the files of testDir in m.
func imageOf(m *MemFS) map[string][]byte {
	out := map[string][]byte{}
	for _, name := range m.ListNow(testDir) {
		out[name] = m.ReadFileNow(filepath.Join(testDir, name))
	}
	return out
}

// diffImages describes how got differs from want, or returns "".
func diffImages(got, want map[string][]byte) string {
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		return fmt.Sprintf("names %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for name, w := range want {
		if !bytes.Equal(got[name], w) {
			return fmt.Sprintf("%s = %q, want %q", name, got[name], w)
		}
	}
	return ""
}

// modelNames are the file names the workload uses.
var modelNames = []string{"a", "b", "c", "d"}

// step does one random operation on m through the seam and applies to md
// what each call that succeeded did. It returns the first error, which
// ends the workload: ErrCrashed after an armed crash.
func step(m *MemFS, md *fsModel, rng *rand.Rand) error {
	name := modelNames[rng.IntN(len(modelNames))]
	path := filepath.Join(testDir, name)
	id, exists := md.names[name]
	// open opens path, creating it when create, and records the creation.
	open := func(flag int) (vfs.File, error) {
		f, err := m.OpenFile(path, flag, 0o600)
		if err != nil {
			return nil, err
		}
		if !exists {
			md.next++
			id, exists = md.next, true
			md.names[name], md.data[id] = id, nil
		}
		if flag&os.O_TRUNC != 0 && len(md.data[id]) > 0 {
			md.data[id], md.dirty[id] = nil, true
		}
		return f, nil
	}
	switch op := rng.IntN(10); {
	case op < 3: // write, appending or at the start
		flag := os.O_RDWR | os.O_CREATE
		if rng.IntN(2) == 0 {
			flag |= os.O_APPEND
		}
		if rng.IntN(8) == 0 {
			flag |= os.O_TRUNC
		}
		f, err := open(flag)
		if err != nil {
			return err
		}
		p := make([]byte, 1+rng.IntN(100))
		for i := range p {
			p[i] = byte('a' + rng.IntN(26))
		}
		if _, err := f.Write(p); err != nil {
			f.Close()
			return err
		}
		off := 0
		if flag&os.O_APPEND != 0 {
			off = len(md.data[id])
		}
		md.data[id] = writeAt(bytes.Clone(md.data[id]), int64(off), p)
		md.dirty[id] = true
		return f.Close()
	case !exists:
		return nil
	case op == 3: // sync
		f, err := open(os.O_RDWR)
		if err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		md.durData[id], md.dirty[id] = bytes.Clone(md.data[id]), false
		return f.Close()
	case op == 4:
		if err := m.SyncDir(testDir); err != nil {
			return err
		}
		md.durNames = maps.Clone(md.names)
	case op == 5: // rename, maybe over another file
		to := modelNames[rng.IntN(len(modelNames))]
		if err := m.Rename(path, filepath.Join(testDir, to)); err != nil {
			return err
		}
		delete(md.names, name)
		md.names[to] = id
	case op == 6:
		if err := m.Remove(path); err != nil {
			return err
		}
		delete(md.names, name)
	case op == 7: // truncate, shorter or longer
		f, err := open(os.O_RDWR)
		if err != nil {
			return err
		}
		size := rng.Int64N(int64(len(md.data[id])) + 50)
		if err := f.Truncate(size); err != nil {
			f.Close()
			return err
		}
		md.data[id], md.dirty[id] = resize(bytes.Clone(md.data[id]), size), true
		return f.Close()
	case op == 8: // preallocate
		f, err := open(os.O_RDWR)
		if err != nil {
			return err
		}
		size := int64(len(md.data[id])) + rng.Int64N(50) - 10
		if err := f.(vfs.Mapper).Allocate(size); err != nil {
			f.Close()
			return err
		}
		if size > int64(len(md.data[id])) {
			md.data[id], md.dirty[id] = resize(bytes.Clone(md.data[id]), size), true
		}
		return f.Close()
	default: // a store through a mapping, which outlives the handle
		f, err := open(os.O_RDWR)
		if err != nil {
			return err
		}
		size := int64(len(md.data[id]))
		if size == 0 {
			return f.Close()
		}
		mp, err := f.(vfs.Mapper).Map(size)
		if err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			mp.Unmap()
			return err
		}
		off := rng.Int64N(size)
		p := bytes.Repeat([]byte{byte('A' + rng.IntN(26))}, 1+rng.IntN(int(size-off)))
		if err := mp.CopyAt(p, off); err != nil {
			mp.Unmap()
			return err
		}
		md.data[id] = writeAt(bytes.Clone(md.data[id]), off, p)
		md.dirty[id] = true
		return mp.Unmap()
	}
	return nil
}

// TestMemFS_CrashKeepsExactlySynced runs a random workload of writes,
// syncs, directory syncs, renames, removals, truncations,
// preallocations and mapped stores, and after every step checks that a
// crash keeping nothing unsynced (Crash(0, nil)) holds exactly the files
// of the last SyncDir with the content of their last Sync, and that a
// process kill (Clone, Crash(1, nil)) holds exactly what reads see.
func TestMemFS_CrashKeepsExactlySynced(t *testing.T) {
	rng, _ := testRand(t)
	m, md := NewMemFS(testDir), newFSModel()
	for i := range 2000 {
		if err := step(m, md, rng); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if d := diffImages(imageOf(m), md.image(false)); d != "" {
			t.Fatalf("step %d: now: %s", i, d)
		}
		if d := diffImages(imageOf(m.Crash(0, nil)), md.image(true)); d != "" {
			t.Fatalf("step %d: after Crash(0, nil): %s", i, d)
		}
		if d := diffImages(imageOf(m.Clone()), md.image(false)); d != "" {
			t.Fatalf("step %d: after Clone: %s", i, d)
		}
	}
	if h := m.OpenHandles(); len(h) > 0 {
		t.Fatalf("left open: %v", h)
	}
}

// TestMemFS_CrashWithRandomness checks what a crash drawn with an rng may
// keep at the two ends of keep: at 0 the directory entries of the last
// SyncDir and each file's synced content, followed, only for a file
// changed since its Sync, by at most 64 bytes of tail; at 1 every
// directory change, and files no longer than now plus such a tail.
func TestMemFS_CrashWithRandomness(t *testing.T) {
	rng, _ := testRand(t)
	m, md := NewMemFS(testDir), newFSModel()
	tails := 0
	for i := range 1000 {
		if err := step(m, md, rng); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		img := imageOf(m.Crash(0, rng))
		if !slices.Equal(slices.Sorted(maps.Keys(img)), slices.Sorted(maps.Keys(md.durNames))) {
			t.Fatalf("step %d: Crash(0, rng) names %v, want those of the last SyncDir %v", i, slices.Sorted(maps.Keys(img)), slices.Sorted(maps.Keys(md.durNames)))
		}
		for name, id := range md.durNames {
			got, want := img[name], md.durData[id]
			extra := len(got) - len(want)
			switch {
			case !bytes.HasPrefix(got, want):
				t.Fatalf("step %d: Crash(0, rng): %s = %q, want %q and a tail", i, name, got, want)
			case extra > 64 || (extra > 0 && !md.dirty[id]):
				t.Fatalf("step %d: Crash(0, rng): %s has %d bytes of tail (changed since its sync: %v)", i, name, extra, md.dirty[id])
			case extra > 0:
				tails++
			}
		}
		img = imageOf(m.Crash(1, rng))
		if !slices.Equal(slices.Sorted(maps.Keys(img)), slices.Sorted(maps.Keys(md.names))) {
			t.Fatalf("step %d: Crash(1, rng) names %v, want those of now %v", i, slices.Sorted(maps.Keys(img)), slices.Sorted(maps.Keys(md.names)))
		}
		for name, id := range md.names {
			if len(img[name]) > len(md.data[id])+64 {
				t.Fatalf("step %d: Crash(1, rng): %s has %d bytes, now %d", i, name, len(img[name]), len(md.data[id]))
			}
		}
	}
	if tails == 0 {
		t.Error("no crash appended a tail to a changed file")
	}
}

// TestMemFS_ArmedCrashImage arms a crash before each operation of a
// random workload in turn: the operation and every later one fail with
// ErrCrashed, the operation count stops, and the image, keeping nothing
// unsynced, is the durable state after the operations that completed.
func TestMemFS_ArmedCrashImage(t *testing.T) {
	_, seed := testRand(t)
	const steps = 150
	dry, dmd := NewMemFS(testDir), newFSModel()
	rng := rand.New(rand.NewPCG(seed, 1))
	for range steps {
		if err := step(dry, dmd, rng); err != nil {
			t.Fatal(err)
		}
	}
	total := dry.Ops()
	stride := 1
	if testing.Short() {
		stride = 7
	}
	for k := 0; k <= total; k += stride {
		m, md := NewMemFS(testDir), newFSModel()
		m.ArmCrash(k, 0, nil)
		rng := rand.New(rand.NewPCG(seed, 1))
		var err error
		for i := 0; i < steps && err == nil; i++ {
			err = step(m, md, rng)
		}
		img := m.CrashImage()
		if k == total {
			if err != nil || img != nil {
				t.Fatalf("crash armed past the last operation: %v, image %v", err, img != nil)
			}
			continue
		}
		if !errors.Is(err, ErrCrashed) {
			t.Fatalf("crash at %d: the workload ended with %v, want ErrCrashed", k, err)
		}
		if img == nil {
			t.Fatalf("crash at %d: no image", k)
		}
		if m.Ops() != k {
			t.Fatalf("crash at %d: %d operations counted", k, m.Ops())
		}
		if err := m.SyncDir(testDir); !errors.Is(err, ErrCrashed) {
			t.Fatalf("crash at %d: an operation after the crash = %v, want ErrCrashed", k, err)
		}
		if d := diffImages(imageOf(img), md.image(true)); d != "" {
			t.Fatalf("crash at %d: image: %s", k, d)
		}
		if img.Ops() != 0 || len(img.OpenHandles()) != 0 {
			t.Fatalf("crash at %d: the image has %d operations and open files %v", k, img.Ops(), img.OpenHandles())
		}
	}
}
