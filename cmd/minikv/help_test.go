package main

import (
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	r := mustRun(t, 0, "help")
	for _, want := range []string{"Exit codes:", "MINIKV_DIR", "-raw", "read-only", "not an integer", "-init"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	if r2 := mustRun(t, 0, "--help"); r2.stdout != r.stdout {
		t.Error("--help differs from help")
	}
	mustRun(t, exitUsage, "help", "nosuch")
	mustRun(t, exitUsage, "help", "get", "set")
}
