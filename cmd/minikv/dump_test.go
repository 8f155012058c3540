package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

func TestDump(t *testing.T) {
	dir := newStore(t, "b", "12345", "a b", "")
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetWithTTL("c", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, 0, "dump", "-dir", dir)
	want := regexp.MustCompile(`^"a b" 0 -\nb 5 -\nc 1 \d{4}-\d\d-\d\dT[0-9:.]+Z\n$`)
	if !want.MatchString(r.stdout) {
		t.Errorf("dump = %q", r.stdout)
	}
}
