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
