package main

import "testing"

func TestCount(t *testing.T) {
	if r := mustRun(t, 0, "count", "-dir", newStore(t)); r.stdout != "0\n" {
		t.Errorf("count of an empty store = %q", r.stdout)
	}
	if r := mustRun(t, 0, "count", "-dir", newStore(t, "a", "1", "b", "2")); r.stdout != "2\n" {
		t.Errorf("count = %q", r.stdout)
	}
}
