package main

import (
	"testing"
	"time"

	"github.com/minikv/minikv"
)

func TestTTL(t *testing.T) {
	dir := newStore(t, "plain", "v")
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetWithTTL("session", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if r := mustRun(t, 0, "ttl", "-dir", dir, "plain"); r.stdout != "none\n" {
		t.Errorf("ttl plain = %q", r.stdout)
	}
	r := mustRun(t, 0, "ttl", "-dir", dir, "session")
	d, err := time.ParseDuration(r.stdout[:len(r.stdout)-1])
	if err != nil || d <= 59*time.Minute || d > time.Hour {
		t.Errorf("ttl session = %q (%v)", r.stdout, err)
	}
	mustRun(t, exitNotFound, "ttl", "-dir", dir, "nope")
}
