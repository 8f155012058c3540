package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestBench(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	r := mustRun(t, 0, "bench", "-dir", dir, "-n", "300", "-c", "3", "-sync", "never", "-value", "10", "-progress", "0")
	for _, op := range []string{"set", "get", "scan", "del"} {
		row := regexp.MustCompile(`(?m)^ +` + op + ` +300 +\S+ +\d+ +\S+ +\S+$`)
		if !row.MatchString(r.stdout) {
			t.Errorf("no %s row in\n%s", op, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Errorf("bench did not keep the -dir store: %v", err)
	}
	r = mustRun(t, exitFailure, "bench", "-dir", dir, "-n", "10")
	if !strings.Contains(r.stderr, "not empty") {
		t.Errorf("bench on a used directory: %q", r.stderr)
	}
}

func TestBenchProgressAndTempDir(t *testing.T) {
	r := mustRun(t, 0, "bench", "-n", "20000", "-c", "2", "-ops", "set", "-sync", "never", "-progress", "1ms")
	if !regexp.MustCompile(`(?m)^set: \d+/20000 ops \(\d+%\) after \S+, \d+ ops/s$`).MatchString(r.stderr) {
		t.Errorf("no progress line in %q", r.stderr)
	}
	m := regexp.MustCompile(`in (\S+)\n`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no directory in %q", r.stdout)
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("bench left its temporary directory %s: %v", m[1], err)
	}
}

func TestBenchUsage(t *testing.T) {
	mustRun(t, exitUsage, "bench", "-ops", "set,fly")
	mustRun(t, exitUsage, "bench", "-sync", "sometimes")
	mustRun(t, exitUsage, "bench", "-n", "0")
}

func TestFmtLatency(t *testing.T) {
	for in, want := range map[int64]string{999: "999ns", 1500: "1.50µs", 25_300: "25.3µs", 999_000: "999µs", 15_625_600: "15.6ms", 2_500_000_000: "2.50s"} {
		if got := fmtLatency(time.Duration(in)); got != want {
			t.Errorf("fmtLatency(%d) = %q, want %q", in, got, want)
		}
	}
}

// TestBench_CountsOutOfRange: each count flag names the value it refuses.
func TestBench_CountsOutOfRange(t *testing.T) {
	tests := []struct{ flag, value, want string }{
		{"-n", "0", "must be 1 or more"},
		{"-c", "-2", "must be 1 or more"},
		{"-keys", "-1", "must be 0 or more"},
		{"-value", "99999999", "must be between 0 and 16777216"},
		{"-progress", "-1s", "must be 0 or more"},
	}
	for _, tt := range tests {
		r := mustRun(t, exitUsage, "bench", tt.flag, tt.value)
		if want := "minikv bench: invalid value \"" + tt.value + "\" for flag " + tt.flag + ": " + tt.want + "\n"; !strings.HasPrefix(r.stderr, want) {
			t.Errorf("bench %s %s: %q, want %q", tt.flag, tt.value, r.stderr, want)
		}
	}
}
