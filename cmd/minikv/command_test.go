package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minikv/minikv"
)

func TestNoArgumentsPrintsOverview(t *testing.T) {
	r := runCLI(t, "")
	if r.code != exitUsage || !strings.Contains(r.stderr, "Commands:") {
		t.Errorf("minikv: exit %d, stderr %q; want 2 and the overview", r.code, r.stderr)
	}
}

func TestUnknownCommand(t *testing.T) {
	r := runCLI(t, "", "frobnicate")
	if r.code != exitUsage || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestParseMixesFlagsAndArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
		ttl  string
	}{
		{"flags first", []string{"-ttl", "5s", "k", "v"}, []string{"k", "v"}, "5s"},
		{"flags last", []string{"k", "v", "-ttl", "5s"}, []string{"k", "v"}, "5s"},
		{"flags between", []string{"k", "--ttl=5s", "v"}, []string{"k", "v"}, "5s"},
		{"double dash", []string{"-ttl", "5s", "--", "-k", "-v"}, []string{"-k", "-v"}, "5s"},
		{"dash is an argument", []string{"k", "-"}, []string{"k", "-"}, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCtx(&env{getenv: os.Getenv}, setCmd)
			ttl := c.fs.Duration("ttl", 0, "")
			got, err := c.parse(tt.args, 2, 2)
			if err != nil || !slices.Equal(got, tt.want) || ttl.String() != tt.ttl {
				t.Errorf("parse(%q) = %q, ttl %v, %v; want %q, ttl %s", tt.args, got, ttl, err, tt.want, tt.ttl)
			}
		})
	}
}

func TestDirFromEnvironment(t *testing.T) {
	dir := newStore(t, "k", "from env")
	r := runCLIEnv(t, "", map[string]string{"MINIKV_DIR": dir}, "get", "k")
	if r.code != 0 || r.stdout != "from env\n" {
		t.Errorf("get with MINIKV_DIR: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "", "get", "k")
	if r.code != exitUsage || !strings.Contains(r.stderr, "-dir") {
		t.Errorf("get without a directory: exit %d, %q", r.code, r.stderr)
	}
}

func TestLockedStoreGetsAClearMessage(t *testing.T) {
	dir := newStore(t, "k", "v")
	openStore(t, dir) // a writer holds the store
	for _, args := range [][]string{{"get", "k"}, {"set", "k", "v2"}, {"count"}} {
		r := runCLI(t, "", append(args, "-dir", dir)...)
		if r.code != exitFailure || !strings.Contains(r.stderr, "is in use") || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("%s on a locked store: exit %d, stderr %q", args[0], r.code, r.stderr)
		}
	}
}

func TestReadersShareAStore(t *testing.T) {
	dir := newStore(t, "k", "v")
	ro, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if r := mustRun(t, 0, "get", "-dir", dir, "k"); r.stdout != "v\n" {
		t.Errorf("get beside a reader = %q", r.stdout)
	}
}

func TestMissingOrDamagedStore(t *testing.T) {
	empty := t.TempDir()
	r := mustRun(t, exitFailure, "count", "-dir", filepath.Join(empty, "nope"))
	if !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("missing directory: %q", r.stderr)
	}
	r = mustRun(t, exitFailure, "count", "-dir", empty)
	if !strings.Contains(r.stderr, "no MANIFEST") {
		t.Errorf("directory without a store: %q", r.stderr)
	}
	dir := newStore(t, "k", "v")
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, exitFailure, "get", "-dir", dir, "k")
	if !strings.Contains(r.stderr, "corrupt") || !strings.Contains(r.stderr, "minikv check") {
		t.Errorf("damaged store: %q", r.stderr)
	}
}

func TestInvalidInputIsAUsageError(t *testing.T) {
	dir := newStore(t)
	for _, args := range [][]string{
		{"get"}, {"get", "a", "b"}, {"set", "k"}, {"get", "-nosuchflag", "k"},
		{"set", "k", "v", "-ttl", "-1s"}, {"set", "", "v"}, {"get", strings.Repeat("k", minikv.MaxKeySize+1)},
		{"keys", "[abc"}, {"incr", "k", "-by", "x"},
	} {
		r := runCLI(t, "", append(args, "-dir", dir)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "-h' for usage") {
			t.Errorf("minikv %.40q: exit %d, stderr %q; want 2", args, r.code, r.stderr)
		}
	}
}

func TestEveryCommandDocumentsItself(t *testing.T) {
	for _, cmd := range commands {
		t.Run(cmd.name, func(t *testing.T) {
			r := mustRun(t, 0, cmd.name, "-h")
			if !strings.HasPrefix(r.stdout, "usage: minikv "+cmd.name) || len(r.stdout) < 100 {
				t.Errorf("%s -h printed %q", cmd.name, r.stdout)
			}
			if !cmd.noStore && !strings.Contains(r.stdout, "-dir") {
				t.Errorf("%s -h does not document -dir", cmd.name)
			}
			if h := mustRun(t, 0, "help", cmd.name); h.stdout != r.stdout {
				t.Errorf("help %s differs from %s -h", cmd.name, cmd.name)
			}
			if !strings.Contains(mustRun(t, 0, "help").stdout, cmd.summary) {
				t.Errorf("the overview lacks %s", cmd.name)
			}
		})
	}
}

// TestInUseError: one message for every command, with the library's
// detail after the sentinel's text when there is one.
func TestInUseError(t *testing.T) {
	const (
		reader = "; commands that only read can share a store with other readers, not with a writer"
		writer = "; commands that write need the store to themselves"
	)
	holder := fmt.Errorf("%w: /d/LOCK (held by pid 1234 on host h since 2026-12-07T12:00:00Z)", minikv.ErrLocked)
	tests := []struct {
		name     string
		err      error
		readOnly bool
		want     string
	}{
		{"holder, writer", holder, false, "/d is in use by another process: /d/LOCK (held by pid 1234 on host h since 2026-12-07T12:00:00Z)" + writer},
		{"holder, reader", holder, true, "/d is in use by another process: /d/LOCK (held by pid 1234 on host h since 2026-12-07T12:00:00Z)" + reader},
		{"readers", fmt.Errorf("%w: /d/LOCK (held by read-only handles)", minikv.ErrLocked), false, "/d is in use by another process: /d/LOCK (held by read-only handles)" + writer},
		{"bare sentinel", minikv.ErrLocked, false, "/d is in use by another process" + writer},
		{"wrapped and joined", errors.Join(fmt.Errorf("minikv: lock: %w: /d/LOCK", minikv.ErrLocked), errors.New("close failed")), true, "/d is in use by another process: /d/LOCK" + reader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := inUseError("/d", tt.err, tt.readOnly)
			if err.Error() != tt.want {
				t.Errorf("message %q\nwant    %q", err, tt.want)
			}
			if !errors.Is(err, minikv.ErrLocked) {
				t.Error("the error does not match minikv.ErrLocked")
			}
		})
	}
}

// TestCmdCtx_Message: the library's "minikv: " and the command's name
// appear once, however the error was wrapped.
func TestCmdCtx_Message(t *testing.T) {
	c := newCtx(&env{}, restoreCmd)
	tests := []struct{ in, want string }{
		{"minikv: restore: corrupt database file x: bad", "corrupt database file x: bad"},
		{"restore: minikv: corrupt database file x: bad", "corrupt database file x: bad"},
		{"salvage failed: minikv: corrupt", "salvage failed: corrupt"},
		{"minikv: a\nminikv: b", "a\nb"},
		{`key "minikv:x" not found`, `key "minikv:x" not found`},
	}
	for _, tt := range tests {
		if got := c.message(errors.New(tt.in)); got != tt.want {
			t.Errorf("message(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestCheckDir: a file as -dir, or above it, is named once, the same way
// in every command; a missing directory is fine.
func TestCheckDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "afile")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{tmp, ""},
		{filepath.Join(tmp, "missing", "deeper"), ""},
		{file, file + " is not a directory"},
		{filepath.Join(file, "sub", "x"), file + " is not a directory, so " + filepath.Join(file, "sub", "x") + " cannot be one"},
	}
	for _, tt := range tests {
		err := checkDir(tt.path)
		if got := fmt.Sprint(err); (err == nil) != (tt.want == "") || err != nil && got != tt.want {
			t.Errorf("checkDir(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
	args := map[string][]string{"get": {"k"}, "set": {"k", "v"}, "del": {"k"}, "ttl": {"k"}, "incr": {"k"}, "restore": {"-"}, "backup": {"x"}}
	for _, cmd := range commands {
		if cmd.noStore {
			continue
		}
		r := runCLI(t, "", append([]string{cmd.name, "-dir", file}, args[cmd.name]...)...)
		if want := "minikv " + cmd.name + ": " + file + " is not a directory\n"; r.code != exitFailure || r.stderr != want {
			t.Errorf("%s -dir FILE: exit %d, %q", cmd.name, r.code, r.stderr)
		}
	}
}
