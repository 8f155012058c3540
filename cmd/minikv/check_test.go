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
func scripted(calls *int, reports ...[]problem) verifier {
	return func(string) (*verifyReport, error) {
		*calls++
		r := &verifyReport{Segments: 1, Records: 2}
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
	head := "checked " + dir + ": MANIFEST, no snapshot, 1 WAL segments with 2 records\n"
	tests := []struct {
		name     string
		problems []problem
		code     int
		want     string
	}{
		{"clean", nil, 0, head + "ok\n"},
		{"torn tail", []problem{{"0000000000000001.wal", 120, "torn tail of 3 bytes", tornTail}}, 0,
			head + "0000000000000001.wal: torn tail at offset 120: torn tail of 3 bytes\n" +
				"ok: only a torn tail, which the next writable open cuts off\n"},
		{"several", []problem{
			{"0000000000000001.snap", -1, "bad magic", fatal},
			{"0000000000000002.wal", 64, "damaged record followed by valid records", midLog},
		}, exitDamage, head + "0000000000000001.snap: unrepairable at whole file: bad magic\n" +
			"0000000000000002.wal: mid-log damage at offset 64: damaged record followed by valid records\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			withVerifier(t, scripted(&calls, tt.problems))
			r := mustRun(t, tt.code, "check", "-dir", dir)
			if r.stdout != tt.want {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.want)
			}
		})
	}
}

func TestCheckListsStaleFiles(t *testing.T) {
	withVerifier(t, func(string) (*verifyReport, error) {
		return &verifyReport{Snapshot: "0000000000000002.snap", SnapshotEntries: 5, Stale: []string{"0000000000000001.wal", "x.tmp"}}, nil
	})
	r := mustRun(t, 0, "check", "-dir", newStore(t))
	if !strings.Contains(r.stdout, "snapshot 0000000000000002.snap with 5 entries") ||
		!strings.Contains(r.stdout, "next writable open deletes: 0000000000000001.wal x.tmp\n") {
		t.Errorf("stdout = %q", r.stdout)
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
