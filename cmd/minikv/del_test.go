package main

import (
	"errors"
	"testing"

	"github.com/minikv/minikv"
)

func TestDel(t *testing.T) {
	dir := newStore(t, "a", "1", "b", "2", "c", "3")
	mustRun(t, 0, "del", "-dir", dir, "a")
	mustRun(t, 0, "del", "-dir", dir, "b", "c", "missing")
	mustRun(t, 0, "del", "-dir", dir, "never-there")
	n, err := openStore(t, dir).Count()
	if err != nil || n != 0 {
		t.Errorf("Count after del = %d, %v", n, err)
	}
}

func TestDelNeedsAKey(t *testing.T) {
	dir := newStore(t, "a", "1")
	mustRun(t, exitUsage, "del", "-dir", dir)
	if _, err := openStore(t, dir).Get("a"); errors.Is(err, minikv.ErrNotFound) {
		t.Error("del without keys deleted something")
	}
}
