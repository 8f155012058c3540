package main

import "testing"

func TestKeys(t *testing.T) {
	dir := newStore(t, "user:1", "a", "user:22", "b", "city:1", "c", "a b", "d")
	tests := []struct {
		args []string
		want string
	}{
		{nil, "\"a b\"\ncity:1\nuser:1\nuser:22\n"},
		{[]string{"user:*"}, "user:1\nuser:22\n"},
		{[]string{"user:?"}, "user:1\n"},
		{[]string{"[cu]*:1"}, "city:1\nuser:1\n"},
		{[]string{"nothing*"}, ""},
	}
	for _, tt := range tests {
		if r := mustRun(t, 0, append([]string{"keys", "-dir", dir}, tt.args...)...); r.stdout != tt.want {
			t.Errorf("keys %q = %q, want %q", tt.args, r.stdout, tt.want)
		}
	}
	mustRun(t, exitUsage, "keys", "-dir", dir, "a", "b")
}
