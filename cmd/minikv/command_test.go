package main

import (
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
			if cmd.name != "help" && !strings.Contains(r.stdout, "-dir") {
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
