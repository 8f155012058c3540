package main

import (
	"errors"
	"strings"
	"testing"
)

// withVerifier installs v as the verifier for one test.
func withVerifier(t *testing.T, v verifier) {
	t.Helper()
	old := storeVerifier
	storeVerifier = v
	t.Cleanup(func() { storeVerifier = old })
}

// scripted returns a verifier that reports the problems of each call in
// turn, then none, and counts its calls.
func scripted(calls *int, files []string, reports ...[]problem) verifier {
	return func(string) (*verifyReport, error) {
		*calls++
		r := &verifyReport{Files: files}
		if *calls <= len(reports) {
			r.Problems = reports[*calls-1]
		}
		return r, nil
	}
}

func TestCheckUnavailableWithoutVerifier(t *testing.T) {
	withVerifier(t, nil)
	dir := newStore(t, "k", "v")
	for _, cmd := range []string{"check", "repair"} {
		r := mustRun(t, exitFailure, cmd, "-dir", dir)
		if !strings.Contains(r.stderr, "unavailable") || r.stdout != "" {
			t.Errorf("%s without a verifier: %q %q", cmd, r.stdout, r.stderr)
		}
	}
}

func TestCheck(t *testing.T) {
	dir := newStore(t, "k", "v")
	files := []string{"MANIFEST", "0000000000000001.wal"}
	tests := []struct {
		name     string
		problems []problem
		code     int
		want     string
	}{
		{"clean", nil, 0, "ok: 2 files checked in " + dir + "\n"},
		{"torn tail", []problem{{"0000000000000001.wal", 120, "bad checksum", tornTail}}, exitDamage,
			"0000000000000001.wal: torn tail at offset 120: bad checksum\n"},
		{"several", []problem{
			{"0000000000000001.snap", -1, "bad magic", fatal},
			{"0000000000000002.wal", 64, "bad checksum", midLog},
		}, exitDamage, "0000000000000001.snap: unrepairable at whole file: bad magic\n" +
			"0000000000000002.wal: mid-log damage at offset 64: bad checksum\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			withVerifier(t, scripted(&calls, files, tt.problems))
			r := mustRun(t, tt.code, "check", "-dir", dir)
			if r.stdout != tt.want {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.want)
			}
		})
	}
}

func TestCheckFailures(t *testing.T) {
	withVerifier(t, func(string) (*verifyReport, error) { return nil, errors.New("read error") })
	dir := newStore(t, "k", "v")
	if r := mustRun(t, exitFailure, "check", "-dir", dir); !strings.Contains(r.stderr, "read error") {
		t.Errorf("verifier error: %q", r.stderr)
	}
	mustRun(t, exitFailure, "check", "-dir", dir+"-missing")
	openStore(t, dir)
	if r := mustRun(t, exitFailure, "check", "-dir", dir); !strings.Contains(r.stderr, "in use") {
		t.Errorf("check of a store in use: %q", r.stderr)
	}
}
