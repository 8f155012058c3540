package minikv_test

// Real process kills: a child process (this test binary, re-executed with
// MINIKV_TEST_CHILD set) writes with four goroutines, and the parent kills
// it with SIGKILL at random moments, including during compactions, then
// checks what survived. A process kill loses nothing that reached the
// operating system, so in every sync mode every acknowledged write must
// survive, and each goroutine's writes must survive as a prefix.
//
// CI runs 200 kills in SyncAlways, 60 in SyncNever and 40 in SyncNever
// with batches of over 16 KiB (written with pwrite); go test -short, the
// quick check, runs a fifth of them (40, 12 and 8), and the soak mode
// (MINIKV_SOAK=1, see crash_internal_test.go) five times as many.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

func init() {
	children["crash-writer"] = crashWriterChild
	children["crash-lock-holder"] = crashLockHolderChild
}

const (
	crashSlots   = 32 // keys per writing goroutine
	crashWriters = 3  // goroutines writing single keys; a fourth writes batches
	crashBatchG  = crashWriters
)

// crashKillOptions are the options of the kill loop's database: a small
// WAL so that background compactions run all the time. With big, the
// batches carry a crashPadLen value and the segments are large enough
// to map them, so that the WAL writes them with pwrite rather than
// through the mapping (records of 16 KiB or more, see osMapping).
func crashKillOptions(dir string, mode minikv.SyncMode, big bool) minikv.Options {
	opts := minikv.Options{Dir: dir, SyncMode: mode, MaxWALSize: 8 << 10, SegmentSize: 2 << 10}
	if big {
		opts.MaxWALSize, opts.SegmentSize = 1<<20, 256<<10
	}
	return opts
}

// crashPadLen is the length of the padding value of a big batch.
const crashPadLen = 20 << 10

func crashSlotKey(g, slot int) string { return fmt.Sprintf("g%d-%02d", g, slot) }

func crashValue(n int64) []byte {
	return []byte(strconv.FormatInt(n, 10) + "|" + strings.Repeat("p", 60))
}

func crashPadValue(n int64) []byte {
	return []byte(strconv.FormatInt(n, 10) + "|" + strings.Repeat("q", crashPadLen))
}

func crashParse(v []byte) (int64, error) {
	s, _, ok := strings.Cut(string(v), "|")
	if !ok {
		return 0, fmt.Errorf("malformed value %q", v)
	}
	return strconv.ParseInt(s, 10, 64)
}

// crashWriterChild opens the database named by MINIKV_KILL_DIR, prints
// "ready", and writes until killed. Goroutine g writes n = base, base+1,
// ... to key g-(n mod crashSlots); the batch goroutine writes n to b-x,
// b-y and b-(n mod crashSlots) in one batch, and with MINIKV_KILL_BIG=1
// also to b-pad, whose value is crashPadLen bytes. After each acknowledged
// write it prints "g n".
func crashWriterChild() int {
	mode, _ := strconv.Atoi(os.Getenv("MINIKV_KILL_MODE"))
	base, _ := strconv.ParseInt(os.Getenv("MINIKV_KILL_BASE"), 10, 64)
	big := os.Getenv("MINIKV_KILL_BIG") == "1"
	db, err := minikv.Open(crashKillOptions(os.Getenv("MINIKV_KILL_DIR"), minikv.SyncMode(mode), big))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	var out sync.Mutex
	say := func(s string) {
		out.Lock()
		os.Stdout.WriteString(s)
		out.Unlock()
	}
	say("ready\n")
	done := make(chan error, crashWriters+1)
	for g := range crashWriters + 1 {
		go func() {
			for n := base; ; n++ {
				var err error
				if g == crashBatchG {
					b := db.NewBatch()
					b.Set("b-x", crashValue(n))
					b.Set("b-y", crashValue(n))
					b.Set(fmt.Sprintf("b-%02d", n%crashSlots), crashValue(n))
					if big {
						b.Set("b-pad", crashPadValue(n))
					}
					err = b.Write()
				} else {
					err = db.Set(crashSlotKey(g, int(n%crashSlots)), crashValue(n))
				}
				if err != nil {
					done <- err
					return
				}
				say(fmt.Sprintf("%d %d\n", g, n))
			}
		}()
	}
	select {
	case err := <-done:
		fmt.Fprintln(os.Stderr, "write:", err)
		return 1
	case <-time.After(time.Minute):
		return 2 // the parent is gone
	}
}

// crashKillRun is what the parent learnt from one child.
type crashKillRun struct {
	acked  [crashWriters + 1]int64 // last acknowledged n per goroutine; base-1 for none
	stderr string
}

// crashSpawnAndKill starts a writer child, waits until it is ready, lets it
// write for delay and kills it.
func crashSpawnAndKill(t *testing.T, dir string, mode minikv.SyncMode, big bool, base int64, delay time.Duration) crashKillRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=crash-writer", "MINIKV_KILL_DIR="+dir,
		"MINIKV_KILL_MODE="+strconv.Itoa(int(mode)), "MINIKV_KILL_BASE="+strconv.FormatInt(base, 10))
	if big {
		cmd.Env = append(cmd.Env, "MINIKV_KILL_BIG=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var r crashKillRun
	for g := range r.acked {
		r.acked[g] = base - 1
	}
	ready := make(chan struct{})
	lines := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() {
			if sc.Text() == "ready" {
				seen = true
				close(ready)
				continue
			}
			var g int
			var n int64
			if _, err := fmt.Sscanf(sc.Text(), "%d %d", &g, &n); err != nil || g < 0 || g > crashWriters {
				lines <- fmt.Errorf("bad line %q", sc.Text())
				return
			}
			r.acked[g] = max(r.acked[g], n)
		}
		if !seen {
			close(ready)
		}
		lines <- sc.Err()
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Error("child not ready after 30s")
	}
	time.Sleep(delay)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	lerr := <-lines // all read: Wait closes the pipe
	err = cmd.Wait()
	if lerr != nil {
		t.Fatalf("reading the child: %v", lerr)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v before the kill; stderr: %s", err, stderr.String())
	}
	r.stderr = stderr.String()
	return r
}

// crashKillState is the parent's record of the database: the value number
// of every key it checked last.
type crashKillState map[string]int64

// check opens dir after a kill and checks the run's writes: each
// goroutine's surviving writes are a prefix of what it wrote that holds
// every acknowledged one, and every batch is whole. It returns the new
// state.
func (prev crashKillState) check(t *testing.T, dir string, big bool, base int64, r crashKillRun) crashKillState {
	t.Helper()
	db, err := minikv.Open(crashKillOptions(dir, minikv.SyncAlways, big))
	if err != nil {
		t.Fatalf("open after kill: %v (child stderr: %s)", err, r.stderr)
	}
	defer db.Close()
	cur := crashKillState{}
	it, err := db.Scan("", 0)
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		n, err := crashParse(it.Value())
		if err != nil {
			t.Fatalf("key %q: %v", it.Key(), err)
		}
		cur[it.Key()] = n
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		t.Fatal(err)
	}
	if cur["b-x"] != cur["b-y"] {
		t.Fatalf("batch torn: b-x=%d b-y=%d", cur["b-x"], cur["b-y"])
	}
	if big && cur["b-pad"] != cur["b-x"] {
		t.Fatalf("big batch torn: b-x=%d b-pad=%d", cur["b-x"], cur["b-pad"])
	}
	for g := range crashWriters + 1 {
		key := func(slot int) string { return crashSlotKey(g, slot) }
		if g == crashBatchG {
			key = func(slot int) string { return fmt.Sprintf("b-%02d", slot) }
		}
		top := base - 1 // the last write of this run that survived
		for slot := range crashSlots {
			if n := cur[key(slot)]; n >= base {
				top = max(top, n)
			}
		}
		if top < r.acked[g] {
			t.Fatalf("goroutine %d: acknowledged write %d lost (newest survivor %d)", g, r.acked[g], top)
		}
		for slot := range crashSlots {
			want, ok := prev[key(slot)]
			for n := top; n >= base; n-- {
				if n%crashSlots == int64(slot) {
					want, ok = n, true
					break
				}
			}
			if got, has := cur[key(slot)]; has != ok || got != want {
				t.Fatalf("goroutine %d, %s: %d (present %v), want %d (present %v): not a prefix of the writes",
					g, key(slot), got, has, want, ok)
			}
		}
		if g == crashBatchG && top >= base && cur["b-x"] != top {
			t.Fatalf("batch goroutine: b-x=%d, newest batch %d", cur["b-x"], top)
		}
	}
	return cur
}

// TestCrash_Kill kills a writing child process at random moments and checks
// that every acknowledged write survived, as a prefix of each goroutine's
// writes, with whole batches, and that Verify finds nothing after.
func TestCrash_Kill(t *testing.T) {
	for _, tc := range []struct {
		mode  minikv.SyncMode
		big   bool // batches of over 16 KiB, written with pwrite
		kills int
	}{{minikv.SyncAlways, false, 200}, {minikv.SyncNever, false, 60}, {minikv.SyncNever, true, 40}} {
		name := tc.mode.String()
		if tc.big {
			name += "/bigbatches"
		}
		t.Run(name, func(t *testing.T) {
			kills := tc.kills
			seed := uint64(time.Now().UnixNano())
			if os.Getenv("MINIKV_SOAK") == "1" {
				kills *= 5
			} else if testing.Short() {
				kills /= 5
			}
			rng := rand.New(rand.NewPCG(seed, 1))
			dir := t.TempDir()
			state := crashKillState{}
			var acked int64
			snaps := map[string]bool{}
			for i := range kills {
				base := int64(i+1) * 1_000_000_000
				// Mostly a few milliseconds, sometimes long enough for
				// several compactions.
				delay := time.Duration(rng.IntN(5000)) * time.Microsecond
				if rng.IntN(4) == 0 {
					delay = time.Duration(10+rng.IntN(50)) * time.Millisecond
				}
				r := crashSpawnAndKill(t, dir, tc.mode, tc.big, base, delay)
				state = state.check(t, dir, tc.big, base, r)
				for _, n := range r.acked {
					acked += n - base + 1
				}
				rep, err := minikv.Verify(dir)
				if err != nil || rep.TornTail != nil {
					t.Fatalf("kill %d: Verify: %v, torn tail %v", i, err, rep.TornTail)
				}
				snaps[rep.Snapshot] = true
			}
			t.Logf("%d kills in %s (seed %d): %d acknowledged writes checked, %d snapshots seen",
				kills, name, seed, acked, len(snaps))
		})
	}
}

// crashLockHolderChild opens the database named by MINIKV_KILL_DIR, prints
// "ready" and waits to be killed.
func crashLockHolderChild() int {
	db, err := minikv.Open(minikv.Options{Dir: os.Getenv("MINIKV_KILL_DIR")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	if err := db.Set("holder", []byte("alive")); err != nil {
		return 1
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
	return 2
}

// TestCrash_LockAfterKill checks that the directory lock of a process is
// held while it lives (ErrLocked for a writer and a reader here) and gone
// once it is killed with SIGKILL, without any cleanup by the holder.
func TestCrash_LockAfterKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=crash-lock-holder", "MINIKV_KILL_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	for _, ro := range []bool{false, true} {
		if db, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: ro}); !errors.Is(err, minikv.ErrLocked) {
			if err == nil {
				db.Close()
			}
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("Open (read-only %v) while a child holds the lock: %v, want ErrLocked", ro, err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	io.Copy(io.Discard, stdout)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	defer db.Close()
	if v, err := db.Get("holder"); err != nil || string(v) != "alive" {
		t.Fatalf("holder's write: %q, %v", v, err)
	}
}
