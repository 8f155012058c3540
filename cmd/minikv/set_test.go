package main

import (
	"strings"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

func TestSet(t *testing.T) {
	dir := newStore(t)
	mustRun(t, 0, "set", "-dir", dir, "k", "v1")
	mustRun(t, 0, "set", "k2", "v2", "--dir", dir, "-ttl", "1h")
	mustRun(t, 0, "set", "-dir", dir, "--", "-dash", "-value")
	if r := runCLI(t, "from\x00stdin", "set", "-dir", dir, "piped", "-"); r.code != 0 || r.stdout != "" {
		t.Fatalf("set from stdin: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	db := openStore(t, dir)
	for k, want := range map[string]string{"k": "v1", "k2": "v2", "-dash": "-value", "piped": "from\x00stdin"} {
		if v, err := db.Get(k); err != nil || string(v) != want {
			t.Errorf("Get(%q) = %q, %v; want %q", k, v, err, want)
		}
	}
	if ttl, err := db.TTL("k2"); err != nil || ttl < 59*time.Minute {
		t.Errorf("TTL(k2) = %v, %v", ttl, err)
	}
}

func TestSetCreatesTheStore(t *testing.T) {
	dir := t.TempDir() + "/new"
	mustRun(t, 0, "set", "-dir", dir, "k", "v")
	if r := mustRun(t, 0, "get", "-dir", dir, "k"); r.stdout != "v\n" {
		t.Errorf("get = %q", r.stdout)
	}
}

func TestSetRejectsTooLargeStdin(t *testing.T) {
	dir := newStore(t)
	r := runCLI(t, strings.Repeat("x", minikv.MaxValueSize+1), "set", "-dir", dir, "big", "-")
	if r.code != exitUsage || !strings.Contains(r.stderr, "value too large") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
