package main

import (
	"strings"
	"testing"
)

func TestIncr(t *testing.T) {
	dir := newStore(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"n"}, "1\n"},
		{[]string{"n", "-by", "10"}, "11\n"},
		{[]string{"-by", "-20", "n"}, "-9\n"},
	}
	for _, tt := range tests {
		if r := mustRun(t, 0, append([]string{"incr", "-dir", dir}, tt.args...)...); r.stdout != tt.want {
			t.Errorf("incr %q = %q, want %q", tt.args, r.stdout, tt.want)
		}
	}
}

// TestIncr_NotAnInteger: incr of a text value is a usage error that names
// the key and the value, and changes nothing.
func TestIncr_NotAnInteger(t *testing.T) {
	dir := newStore(t, "word", "hello", "max", "9223372036854775807")
	r := mustRun(t, exitUsage, "incr", "-dir", dir, "word")
	if want := "minikv incr: value is not an integer or would overflow: key \"word\" holds \"hello\", not a base-10 int64\n" +
		"Run 'minikv incr -h' for usage.\n"; r.stderr != want {
		t.Errorf("incr of a word: %q\nwant %q", r.stderr, want)
	}
	if r := mustRun(t, 0, "get", "-dir", dir, "word"); r.stdout != "hello\n" {
		t.Errorf("a failed incr changed the value to %q", r.stdout)
	}
	r = mustRun(t, exitUsage, "incr", "-dir", dir, "max")
	if want := "minikv incr: value is not an integer or would overflow: key \"max\" holds 9223372036854775807, and adding 1 overflows an int64\n"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("incr past MaxInt64: %q", r.stderr)
	}
}

// TestIncr_CreatesTheStore: incr creates a store as set does, and refuses
// a directory with other files in it without -init.
func TestIncr_CreatesTheStore(t *testing.T) {
	dir := t.TempDir() + "/new"
	if r := mustRun(t, 0, "incr", "-dir", dir, "n"); r.stdout != "1\n" {
		t.Errorf("incr in a new store = %q", r.stdout)
	}
	notes := t.TempDir()
	writeFile(t, notes, "notes.txt")
	mustRun(t, exitFailure, "incr", "-dir", notes, "n")
	mustRun(t, 0, "incr", "-dir", notes, "-init", "n")
}
