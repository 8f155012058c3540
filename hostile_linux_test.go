//go:build linux

package minikv_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// Environment of the hostile-file children.
const (
	hostileOp   = "MINIKV_HOSTILE_OP"
	hostilePath = "MINIKV_HOSTILE_PATH"
)

func init() { children["hostile"] = hostileChild }

// hostileChild runs one operation on the path in its environment and
// prints its outcome ("ok", "corrupt" or the error) and its peak resident
// memory, read from /proc/self/status after the operation.
func hostileChild() int {
	path := os.Getenv(hostilePath)
	var err error
	switch op := os.Getenv(hostileOp); op {
	case "open", "open-ro":
		var db *minikv.DB
		if db, err = minikv.Open(minikv.Options{Dir: path, ReadOnly: op == "open-ro"}); err == nil {
			err = db.Close()
		}
	case "verify":
		_, err = minikv.Verify(path)
	case "restore":
		var f *os.File
		if f, err = os.Open(path); err == nil {
			err = minikv.Restore(f, filepath.Join(filepath.Dir(path), "restored"))
			f.Close()
		}
	default:
		err = fmt.Errorf("unknown op %q", op)
	}
	outcome := "ok"
	switch {
	case errors.Is(err, minikv.ErrCorrupt):
		outcome = "corrupt"
	case err != nil:
		outcome = "error: " + err.Error()
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Printf("%s\n%s\n", outcome, strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
		}
	}
	return 0
}

// TestHostile_SparseFiles puts, in place of each kind of file a store
// reads, a sparse file that declares 1 TiB and holds a few KiB on disk,
// and runs Open (writable and read-only), Verify or Restore on it in a
// child process. Each must end quickly, with the outcome the file's real
// bytes call for, within a small peak of resident memory (VmHWM): the
// cost follows the bytes on disk, never the size a file declares.
func TestHostile_SparseFiles(t *testing.T) {
	const tib = 1 << 40
	cases := []struct {
		name  string
		build func(t *testing.T, dir string) string // returns the path to work on
		ops   []string
		want  string
	}{
		{"MANIFEST", func(t *testing.T, dir string) string {
			hostileStore(t, dir, false)
			mustT(t, os.Truncate(filepath.Join(dir, "MANIFEST"), tib))
			return dir
		}, []string{"open", "open-ro", "verify"}, "corrupt"},
		{"LOCK", func(t *testing.T, dir string) string {
			hostileStore(t, dir, false)
			mustT(t, os.Truncate(filepath.Join(dir, "LOCK"), tib))
			return dir
		}, []string{"open", "open-ro", "verify"}, "ok"},
		{"WAL segment with a hole after its records", func(t *testing.T, dir string) string {
			hostileStore(t, dir, false)
			mustT(t, os.Truncate(filepath.Join(dir, "0000000000000001.wal"), tib))
			return dir
		}, []string{"open-ro", "verify", "open"}, "ok"},
		{"WAL segment with data at 1 TiB", func(t *testing.T, dir string) string {
			hostileStore(t, dir, false)
			f, err := os.OpenFile(filepath.Join(dir, "0000000000000001.wal"), os.O_WRONLY, 0)
			mustT(t, err)
			_, err = f.WriteAt([]byte{1}, tib)
			mustT(t, errors.Join(err, f.Close()))
			return dir
		}, []string{"open", "open-ro", "verify"}, "corrupt"},
		{"snapshot claiming 1 TiB of entries", func(t *testing.T, dir string) string {
			hostileStore(t, dir, true)
			snap := filepath.Join(dir, "0000000000000002.snap")
			head, err := os.ReadFile(snap)
			mustT(t, err)
			f, err := os.OpenFile(snap, os.O_WRONLY|os.O_TRUNC, 0)
			mustT(t, err)
			var foot [12]byte
			binary.LittleEndian.PutUint64(foot[:], (tib-28-12)/3)
			_, err = f.Write(head[:28])
			if err == nil {
				_, err = f.WriteAt(foot[:], tib-12)
			}
			mustT(t, errors.Join(err, f.Close()))
			return dir
		}, []string{"open", "open-ro", "verify"}, "corrupt"},
		{"backup stream", func(t *testing.T, dir string) string {
			db, err := minikv.Open(minikv.Options{Dir: filepath.Join(dir, "src")})
			mustT(t, err)
			mustT(t, db.Set("a", []byte("1")))
			stream := filepath.Join(dir, "stream")
			f, err := os.Create(stream)
			mustT(t, err)
			mustT(t, db.Backup(f))
			mustT(t, errors.Join(db.Close(), f.Truncate(28), f.Close()))
			mustT(t, os.Truncate(stream, tib)) // the header, then zeros
			return stream
		}, []string{"restore"}, "corrupt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.build(t, t.TempDir())
			for _, op := range c.ops {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), childEnv+"=hostile", hostileOp+"="+op, hostilePath+"="+path)
				start := time.Now()
				out, err := cmd.Output()
				took := time.Since(start)
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if err != nil || len(lines) != 2 {
					t.Fatalf("%s: child failed: %v\n%s", op, err, out)
				}
				kb, _ := strconv.Atoi(strings.TrimSuffix(lines[1], " kB"))
				t.Logf("%s: %s in %v, peak RSS %d MiB", op, lines[0], took.Round(time.Millisecond), kb>>10)
				if lines[0] != c.want {
					t.Errorf("%s: %s; want %s", op, lines[0], c.want)
				}
				// Generous bounds for a shared machine: reading a declared
				// terabyte would take minutes and the memory of the machine.
				if took > 5*time.Second {
					t.Errorf("%s took %v", op, took)
				}
				if kb > 64<<10 {
					t.Errorf("%s: peak RSS %d MiB; want under 64", op, kb>>10)
				}
			}
		})
	}
}

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
