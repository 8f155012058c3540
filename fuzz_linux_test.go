//go:build linux

package minikv_test

// FuzzStoreDir: a whole store directory of hostile files (Linux: FIFOs and
// sparse files). The other fuzzers are in fuzz_test.go (files of a store,
// through the public API) and fuzz_internal_test.go (the decoders).

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// fuzzNames are the names FuzzStoreDir puts files under.
var fuzzNames = []string{"MANIFEST", "MANIFEST.tmp", "LOCK", "0000000000000001.wal",
	"0000000000000002.wal", "0000000000000002.snap", "0000000000000001.snap", "SYNC-FAILED"}

// fuzzEntry encodes one file of a FuzzStoreDir input: its name (an index
// into fuzzNames), its kind (see buildFuzzDir) and its content.
func fuzzEntry(name, kind byte, content []byte) []byte {
	b := []byte{name, kind, byte(len(content)), byte(len(content) >> 8)}
	return append(b, content...)
}

// buildFuzzDir makes the store directory that data describes, a sequence
// of fuzzEntry records, in dir; links point into outside. Each file is a
// regular file with the content, a symbolic link to outside's victim, a
// dangling link into outside, a FIFO, a directory, or the content in a
// sparse file of 1 GiB to 1 TiB.
func buildFuzzDir(t *testing.T, data []byte, dir, outside string) {
	for len(data) >= 4 {
		name := filepath.Join(dir, fuzzNames[int(data[0])%len(fuzzNames)])
		kind := data[1] % 6
		n := min(int(binary.LittleEndian.Uint16(data[2:])), len(data)-4)
		content := data[4 : 4+n]
		data = data[4+n:]
		if _, err := os.Lstat(name); err == nil {
			continue // the first entry for a name wins
		}
		var err error
		switch kind {
		case 0:
			err = os.WriteFile(name, content, 0o600)
		case 1:
			err = os.Symlink(filepath.Join(outside, "victim"), name)
		case 2:
			err = os.Symlink(filepath.Join(outside, "created"), name)
		case 3:
			err = mkfifo(name)
		case 4:
			err = os.Mkdir(name, 0o700)
		case 5:
			if err = os.WriteFile(name, content, 0o600); err == nil {
				shift := 30
				if len(content) > 0 {
					shift += int(content[0] % 11)
				}
				err = os.Truncate(name, 1<<shift)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzStoreDir builds whole store directories from the fuzzer's bytes
// (several files, of every kind a hostile directory can hold: links out of
// the store, FIFOs, directories, sparse files of up to 1 TiB) and opens
// each read-only and writable, and verifies it. Nothing may panic, hang,
// or touch a file outside the store; the errors are not judged. CI runs it
// briefly (.ci/run); a longer run:
//
//	go test -run '^$' -fuzz '^FuzzStoreDir$' -fuzztime 10m .
func FuzzStoreDir(f *testing.F) {
	// A real store's files, and each of them in each hostile form.
	src := f.TempDir()
	db, err := minikv.Open(minikv.Options{Dir: src})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 20 {
		if err := db.Set(fmt.Sprint("k", i), []byte("v")); err != nil {
			f.Fatal(err)
		}
		if i == 9 {
			if err := db.Compact(); err != nil {
				f.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		f.Fatal(err)
	}
	var real []byte
	for i, name := range fuzzNames {
		if b, err := os.ReadFile(filepath.Join(src, name)); err == nil {
			real = append(real, fuzzEntry(byte(i), 0, b)...)
		}
	}
	f.Add(real)
	for i := range fuzzNames {
		for kind := byte(1); kind < 6; kind++ {
			f.Add(append(fuzzEntry(byte(i), kind, []byte("MINIKVSN")), real...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir, outside := t.TempDir(), t.TempDir()
		victim := filepath.Join(outside, "victim")
		mustT(t, os.WriteFile(victim, []byte("not the store's"), 0o600))
		buildFuzzDir(t, data, dir, outside)
		for _, ro := range []bool{true, false} {
			openWithin(t, minikv.Options{Dir: dir, ReadOnly: ro}, 5*time.Second)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = minikv.Verify(dir)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Verify still running after 5s")
		}
		if b, err := os.ReadFile(victim); err != nil || string(b) != "not the store's" {
			t.Fatalf("the file outside the store now holds %q (%v)", b, err)
		}
		if names, _ := os.ReadDir(outside); len(names) != 1 {
			t.Fatalf("the directory outside the store holds %v, want only the victim", names)
		}
	})
}

// mkfifo makes a FIFO at name.
func mkfifo(name string) error { return syscall.Mkfifo(name, 0o600) }
