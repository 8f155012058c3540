package minikv_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// Lock tests: one writer excludes every other handle, in this process and
// in another one; read-only handles share a directory with each other.

// Exit codes of the lock children.
const (
	childOpened = 0  // Open succeeded (and Close too)
	childLocked = 10 // Open returned ErrLocked
	childFailed = 11 // anything else
)

// Environment of the lock children.
const (
	childDirEnv      = "MINIKV_CORE_DIR"
	childReadOnlyEnv = "MINIKV_CORE_READONLY"
)

func init() {
	children["core-lock-probe"] = lockProbe
	children["core-lock-holder"] = lockHolder
}

func childOptions() minikv.Options {
	return minikv.Options{Dir: os.Getenv(childDirEnv), ReadOnly: os.Getenv(childReadOnlyEnv) == "1"}
}

func childExit(err error) int {
	switch {
	case err == nil:
		return childOpened
	case errors.Is(err, minikv.ErrLocked):
		return childLocked
	}
	fmt.Fprintln(os.Stderr, "child:", err)
	return childFailed
}

// lockProbe opens the directory, closes it, and reports the outcome of
// Open through its exit code.
func lockProbe() int {
	db, err := minikv.Open(childOptions())
	if err != nil {
		return childExit(err)
	}
	return childExit(db.Close())
}

// lockHolder opens the directory, writes a key when it is a writer,
// prints "ready", and holds the database open until its standard input
// closes.
func lockHolder() int {
	opts := childOptions()
	db, err := minikv.Open(opts)
	if err != nil {
		return childExit(err)
	}
	if !opts.ReadOnly {
		if err := db.Set("holder", []byte(fmt.Sprint(os.Getpid()))); err != nil {
			db.Close()
			return childExit(err)
		}
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return childExit(db.Close())
}

// childCmd returns the command that runs the test binary as a child
// in role for dir.
func childCmd(role, dir string, readOnly bool) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	ro := "0"
	if readOnly {
		ro = "1"
	}
	cmd.Env = append(os.Environ(), childEnv+"="+role, childDirEnv+"="+dir, childReadOnlyEnv+"="+ro)
	return cmd
}

// probe runs a probe child and returns its exit code.
func probe(t *testing.T, dir string, readOnly bool) int {
	t.Helper()
	cmd := childCmd("core-lock-probe", dir, readOnly)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run probe: %v", err)
	}
	code := cmd.ProcessState.ExitCode()
	if code == childFailed {
		t.Errorf("probe failed: %s", stderr.String())
	}
	return code
}

// lockHolderProc is a child process holding a database open.
type lockHolderProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startHolder starts a holder child and waits until it has opened dir.
func startHolder(t *testing.T, dir string, readOnly bool) *lockHolderProc {
	t.Helper()
	cmd := childCmd("core-lock-holder", dir, readOnly)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
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
	h := &lockHolderProc{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		h.stdin.Close()
		if h.cmd.ProcessState == nil {
			h.cmd.Process.Kill()
			h.cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		h.cmd.Wait()
		t.Fatalf("holder did not get ready: %q, %v; exit %d, stderr %s", line, err, cmd.ProcessState.ExitCode(), stderr.String())
	}
	return h
}

// stop closes the holder's input and waits for it to close the database.
func (h *lockHolderProc) stop(t *testing.T) {
	t.Helper()
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
}

// kill ends the holder with SIGKILL, as a crash would.
func (h *lockHolderProc) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
}

// tryOpen opens dir and closes the handle at once; it returns Open's
// error.
func tryOpen(dir string, readOnly bool) error {
	db, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: readOnly, SyncMode: minikv.SyncNever})
	if err != nil {
		return err
	}
	return db.Close()
}

// TestLock_SameProcess checks the lock between handles of one process.
func TestLock_SameProcess(t *testing.T) {
	dir := t.TempDir()
	writer, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		readOnly bool
		want     error
	}{
		{"second writer beside a writer", false, minikv.ErrLocked},
		{"reader beside a writer", true, minikv.ErrLocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tryOpen(dir, tt.readOnly); !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
		})
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}

	r1, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatalf("first reader: %v", err)
	}
	defer r1.Close()
	r2, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatalf("second reader beside the first: %v", err)
	}
	defer r2.Close()
	if err := tryOpen(dir, false); !errors.Is(err, minikv.ErrLocked) {
		t.Fatalf("writer beside two readers: Open = %v, want ErrLocked", err)
	}
	for i, r := range []*minikv.DB{r1, r2} {
		if v, err := r.Get("k"); err != nil || string(v) != "v" {
			t.Errorf("reader %d: Get = %q, %v", i+1, v, err)
		}
	}
	closeOK(t, r1)
	if err := tryOpen(dir, false); !errors.Is(err, minikv.ErrLocked) {
		t.Fatalf("writer beside one remaining reader: Open = %v, want ErrLocked", err)
	}
	closeOK(t, r2)
	if err := tryOpen(dir, false); err != nil {
		t.Fatalf("writer after every reader closed: %v", err)
	}
}

// TestLock_ChildProcess checks the lock between this process and a child,
// in both directions, and that a killed writer releases it.
func TestLock_ChildProcess(t *testing.T) {
	dir := t.TempDir()
	if code := probe(t, dir, false); code != childOpened {
		t.Fatalf("a child writer on a free directory exited %d", code)
	}

	t.Run("parent writer excludes child handles", func(t *testing.T) {
		db, err := minikv.Open(minikv.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, ro := range []bool{false, true} {
			if code := probe(t, dir, ro); code != childLocked {
				t.Errorf("child (read-only %v) beside the parent's writer exited %d, want %d (ErrLocked)", ro, code, childLocked)
			}
		}
		closeOK(t, db)
		if code := probe(t, dir, false); code != childOpened {
			t.Errorf("child writer after the parent closed exited %d", code)
		}
	})

	t.Run("parent reader shares with child readers only", func(t *testing.T) {
		db, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if code := probe(t, dir, true); code != childOpened {
			t.Errorf("child reader beside the parent's reader exited %d, want 0", code)
		}
		if code := probe(t, dir, false); code != childLocked {
			t.Errorf("child writer beside the parent's reader exited %d, want %d (ErrLocked)", code, childLocked)
		}
	})

	t.Run("child writer excludes the parent until it closes", func(t *testing.T) {
		h := startHolder(t, dir, false)
		holder := fmt.Sprintf("(held by pid %d host ", h.cmd.Process.Pid)
		for _, ro := range []bool{false, true} {
			err := tryOpen(dir, ro)
			if !errors.Is(err, minikv.ErrLocked) {
				t.Errorf("parent Open (read-only %v) beside the child's writer = %v, want ErrLocked", ro, err)
			} else if !strings.Contains(err.Error(), holder) {
				t.Errorf("parent Open (read-only %v) beside the child's writer: %q does not name the holder %q", ro, err, holder)
			}
		}
		h.stop(t)
		if err := tryOpen(dir, false); err != nil {
			t.Errorf("parent writer after the child closed: %v", err)
		}
	})

	t.Run("child reader shares with the parent's readers only", func(t *testing.T) {
		h := startHolder(t, dir, true)
		if err := tryOpen(dir, true); err != nil {
			t.Errorf("parent reader beside the child's reader: %v", err)
		}
		if err := tryOpen(dir, false); !errors.Is(err, minikv.ErrLocked) || !strings.HasSuffix(err.Error(), "(held by read-only handles)") {
			t.Errorf("parent writer beside the child's reader = %v, want ErrLocked held by read-only handles", err)
		}
		h.stop(t)
	})

	t.Run("a killed writer releases the lock", func(t *testing.T) {
		h := startHolder(t, dir, false)
		pid := h.cmd.Process.Pid
		h.kill(t)
		// The kernel releases the lock as the process ends, which may be
		// just after Kill returns.
		db, err := minikv.Open(minikv.Options{Dir: dir, LockTimeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("Open after the holder was killed: %v", err)
		}
		defer db.Close()
		if v, err := db.Get("holder"); err != nil || string(v) != fmt.Sprint(pid) {
			t.Errorf("the killed writer's acknowledged Set: Get = %q, %v; want %d", v, err, pid)
		}
	})
}

// TestOpen_LockTimeout: Open waits up to LockTimeout for the holder to
// let go, and says how long it waited when it gives up.
func TestOpen_LockTimeout(t *testing.T) {
	dir := t.TempDir()
	holder, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = minikv.Open(minikv.Options{Dir: dir, LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, minikv.ErrLocked) || !strings.HasSuffix(err.Error(), "; waited 100ms") {
		t.Fatalf("Open beside a writer with LockTimeout 100ms: %v; want ErrLocked saying it waited", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Fatalf("Open gave up after %v, before its LockTimeout", waited)
	}
	wantHolder := fmt.Sprintf("(held by pid %d host ", os.Getpid())
	if !strings.Contains(err.Error(), wantHolder) {
		t.Fatalf("%q does not name the holder %q", err, wantHolder)
	}

	released := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		holder.Close()
		close(released)
	}()
	db, err := minikv.Open(minikv.Options{Dir: dir, LockTimeout: time.Minute})
	<-released
	if err != nil {
		t.Fatalf("Open waiting for a holder that closes: %v", err)
	}
	closeOK(t, db)
	if b, err := os.ReadFile(filepath.Join(dir, "LOCK")); err != nil || len(b) != 0 {
		t.Fatalf("LOCK after the writer closed: %q, %v; want empty", b, err)
	}
}

// TestLockDir checks the lock tools take on a closed database: it
// conflicts with Open as Open's own lock does, and a shared lock on a
// directory no writer opened creates nothing.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	shared, err := minikv.LockDir(dir, false)
	if err != nil {
		t.Fatalf("shared LockDir of an empty directory: %v", err)
	}
	if err := shared.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "LOCK")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("shared LockDir created LOCK: %v", err)
	}

	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, exclusive := range []bool{false, true} {
		if _, err := minikv.LockDir(dir, exclusive); !errors.Is(err, minikv.ErrLocked) {
			t.Errorf("LockDir(exclusive=%v) while a writer is open: %v, want ErrLocked", exclusive, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	lock, err := minikv.LockDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := minikv.Open(minikv.Options{Dir: dir}); !errors.Is(err, minikv.ErrLocked) {
		t.Errorf("Open while LockDir holds the lock: %v, want ErrLocked", err)
	}
	if _, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true}); !errors.Is(err, minikv.ErrLocked) {
		t.Errorf("read-only Open while LockDir holds the lock: %v, want ErrLocked", err)
	}
	if err := lock.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open after the lock was released: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
