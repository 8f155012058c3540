package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikv/minikv"
)

// result is the outcome of one command line.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs a command line with stdin and an empty environment.
func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runCLIEnv(t, stdin, map[string]string{}, args...)
}

func runCLIEnv(t *testing.T, stdin string, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }}
	code := run(args, e)
	return result{out.String(), errOut.String(), code}
}

// mustRun runs a command line and fails the test unless it exits with want.
func mustRun(t *testing.T, want int, args ...string) result {
	t.Helper()
	r := runCLI(t, "", args...)
	if r.code != want {
		t.Fatalf("minikv %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// newStore creates a closed store holding the key/value pairs.
func newStore(t *testing.T, pairs ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := db.Set(pairs[i], []byte(pairs[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// openStore opens dir for the test to inspect, and closes it at the end.
func openStore(t *testing.T, dir string) *minikv.DB {
	t.Helper()
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
