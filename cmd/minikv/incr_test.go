package main

import "testing"

func TestIncr(t *testing.T) {
	dir := newStore(t, "word", "hello")
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
	r := mustRun(t, exitFailure, "incr", "-dir", dir, "word")
	if r.stderr != "minikv incr: value is not an integer or would overflow\n" {
		t.Errorf("incr of a word: %q", r.stderr)
	}
	if r := mustRun(t, 0, "get", "-dir", dir, "word"); r.stdout != "hello\n" {
		t.Errorf("a failed incr changed the value to %q", r.stdout)
	}
}
