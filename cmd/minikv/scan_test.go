package main

import "testing"

func TestScan(t *testing.T) {
	dir := newStore(t, "user:1", "ada", "user:2", "grace", "user:3", "a\x00", "city:1", "paris", "my key", "v")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"all", nil, "city:1 paris\n\"my key\" v\nuser:1 ada\nuser:2 grace\nuser:3 \"a\\x00\"\n"},
		{"prefix", []string{"-prefix", "user:"}, "user:1 ada\nuser:2 grace\nuser:3 \"a\\x00\"\n"},
		{"range", []string{"-start", "user:", "-end", "user:3"}, "user:1 ada\nuser:2 grace\n"},
		{"open end", []string{"-start", "user:2"}, "user:2 grace\nuser:3 \"a\\x00\"\n"},
		{"limit", []string{"-prefix", "user:", "-limit", "1"}, "user:1 ada\n"},
		{"keys only", []string{"-keys", "-end", "n"}, "city:1\n\"my key\"\n"},
		{"nothing", []string{"-prefix", "zzz"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, 0, append([]string{"scan", "-dir", dir}, tt.args...)...)
			if r.stdout != tt.want {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.want)
			}
		})
	}
	mustRun(t, exitUsage, "scan", "-dir", dir, "-prefix", "a", "-start", "b")
	mustRun(t, exitUsage, "scan", "-dir", dir, "positional")
}

// TestScan_NegativeLimit: a negative -limit is a usage error naming the
// value, not "no limit".
func TestScan_NegativeLimit(t *testing.T) {
	r := mustRun(t, exitUsage, "scan", "-dir", newStore(t, "a", "1"), "-limit", "-3")
	if want := "minikv scan: invalid value \"-3\" for flag -limit: must be 0 or more\nRun 'minikv scan -h' for usage.\n"; r.stderr != want || r.stdout != "" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}
