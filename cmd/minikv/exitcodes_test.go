package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikv/minikv"
)

// lockedDetail returns what the library says after its ErrLocked text for
// dir, which a handle of the test holds.
func lockedDetail(t *testing.T, dir string, readOnly bool) string {
	t.Helper()
	_, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: readOnly})
	if !errors.Is(err, minikv.ErrLocked) {
		t.Fatalf("Open of a held store = %v, want ErrLocked", err)
	}
	_, detail, _ := strings.Cut(err.Error(), minikv.ErrLocked.Error()+": ")
	detail, _, _ = strings.Cut(detail, "\n")
	return detail
}

// TestRun_ExitCodes runs every kind of error end to end and checks the
// exit code, the exact first line of standard error and, for usage
// errors, the hint that follows, as the exit-code table of "minikv help"
// describes them. No message may name minikv twice.
func TestRun_ExitCodes(t *testing.T) {
	store := newStore(t, "k", "v", "word", "hello")
	tmp := t.TempDir()
	file := filepath.Join(tmp, "afile")
	notes := filepath.Join(tmp, "notes")
	for _, f := range []string{file, filepath.Join(notes, "notes.txt")} {
		os.MkdirAll(filepath.Dir(f), 0o700)
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := newStore(t, "k", "v")
	if err := os.WriteFile(filepath.Join(corrupt, "MANIFEST"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	held := newStore(t, "k", "v")
	openStore(t, held)
	inUse := held + " is in use by another process: " + lockedDetail(t, held, true)
	bigKey := strings.Repeat("k", minikv.MaxKeySize+1)
	bigValue := strings.Repeat("v", minikv.MaxValueSize+1)

	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string // the first line of stderr
	}{
		{"not found", "", []string{"get", "-dir", store, "nope"}, exitNotFound,
			"minikv get: key nope not found"},
		{"not found by ttl", "", []string{"ttl", "-dir", store, "nope"}, exitNotFound,
			"minikv ttl: key nope not found"},

		{"unknown command", "", []string{"frobnicate"}, exitUsage,
			`minikv: unknown command "frobnicate"`},
		{"bad flag", "", []string{"get", "-dir", store, "-nosuchflag", "k"}, exitUsage,
			"minikv get: flag provided but not defined: -nosuchflag"},
		{"bad flag value", "", []string{"incr", "-dir", store, "-by", "x", "n"}, exitUsage,
			`minikv incr: invalid value "x" for flag -by: parse error`},
		{"missing args", "", []string{"get", "-dir", store}, exitUsage,
			"minikv get: missing arguments: want KEY"},
		{"extra args", "", []string{"get", "-dir", store, "a", "b"}, exitUsage,
			"minikv get: too many arguments: b"},
		{"no directory", "", []string{"get", "k"}, exitUsage,
			"minikv get: no database directory: give -dir DIR or set MINIKV_DIR"},
		{"empty key", "", []string{"set", "-dir", store, "", "v"}, exitUsage,
			"minikv set: empty key"},
		{"key too large", "", []string{"get", "-dir", store, bigKey}, exitUsage,
			"minikv get: key too large: 32769 bytes, over the limit of 32768"},
		{"value too large", "", []string{"set", "-dir", store, "k", bigValue}, exitUsage,
			"minikv set: value too large: 16777217 bytes, over the limit of 16777216"},
		{"value too large on stdin", bigValue, []string{"set", "-dir", store, "k", "-"}, exitUsage,
			"minikv set: value too large: standard input holds more than the limit of 16777216 bytes"},
		{"invalid ttl", "", []string{"set", "-dir", store, "k", "v", "-ttl", "-5s"}, exitUsage,
			"minikv set: invalid ttl: -5s, -ttl must be positive, or 0 for no expiry"},
		{"negative limit", "", []string{"scan", "-dir", store, "-limit", "-3"}, exitUsage,
			`minikv scan: invalid value "-3" for flag -limit: must be 0 or more`},
		{"count out of range", "", []string{"bench", "-value", "-1"}, exitUsage,
			`minikv bench: invalid value "-1" for flag -value: must be between 0 and 16777216`},
		{"bad pattern", "", []string{"keys", "-dir", store, "[abc"}, exitUsage,
			`minikv keys: malformed pattern: unterminated [ in "[abc"`},
		{"incr on non-integer", "", []string{"incr", "-dir", store, "word"}, exitUsage,
			`minikv incr: value is not an integer or would overflow: key "word" holds "hello", not a base-10 int64`},

		{"store in use", "", []string{"get", "-dir", held, "k"}, exitFailure,
			"minikv get: " + inUse + "; commands that only read can share a store with other readers, not with a writer"},
		{"not a directory", "", []string{"get", "-dir", file, "k"}, exitFailure,
			"minikv get: " + file + " is not a directory"},
		{"under a file", "", []string{"set", "-dir", filepath.Join(file, "sub"), "k", "v"}, exitFailure,
			"minikv set: " + file + " is not a directory, so " + filepath.Join(file, "sub") + " cannot be one"},
		{"no database", "", []string{"get", "-dir", notes, "k"}, exitFailure,
			"minikv get: no database in " + notes + ": it has no MANIFEST file"},
		{"no directory at all", "", []string{"del", "-dir", filepath.Join(tmp, "nope"), "k"}, exitFailure,
			"minikv del: no database at " + filepath.Join(tmp, "nope") + ": the directory does not exist"},
		{"corrupt store", "", []string{"get", "-dir", corrupt, "k"}, exitFailure,
			"minikv get: corrupt database file MANIFEST: missing crc line"},
		{"non-empty dir without -init", "", []string{"set", "-dir", notes, "k", "v"}, exitFailure,
			"minikv set: " + notes + " is not empty (found notes.txt) and holds no database; give -init to create a store in it anyway"},
		{"restore of garbage", "garbage", []string{"restore", "-dir", filepath.Join(tmp, "restored"), "-"}, exitFailure,
			"minikv restore: corrupt database file backup stream: file too short"},

		{"check finds damage", "", []string{"check", "-dir", corrupt}, exitDamage,
			"minikv check: found 1 problem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.stdin, tt.args...)
			first, rest, _ := strings.Cut(r.stderr, "\n")
			if r.code != tt.code || first != tt.want {
				t.Errorf("exit %d, first line %.300q\nwant exit %d, %.300q", r.code, first, tt.code, tt.want)
			}
			if hint := "Run 'minikv " + tt.args[0] + " -h' for usage.\n"; tt.code == exitUsage && tt.args[0] != "frobnicate" && rest != hint {
				t.Errorf("after the message: %q, want %q", rest, hint)
			}
			if strings.Count(r.stderr, "minikv:")+strings.Count(r.stderr, "minikv "+tt.args[0]+":") > 1 {
				t.Errorf("the prefix appears twice in %.300q", r.stderr)
			}
		})
	}
}

// TestHelp_ExitCodes: the overview's table names every class of error that
// TestRun_ExitCodes runs.
func TestHelp_ExitCodes(t *testing.T) {
	r := mustRun(t, 0, "help")
	_, table, ok := strings.Cut(r.stdout, "Exit codes:")
	if !ok {
		t.Fatal("the overview has no exit-code table")
	}
	table = strings.Join(strings.Fields(table), " ")
	for _, want := range []string{
		"0 success", "1 not found", "2 usage error", "unknown command or flag", "out of range",
		"a negative -limit", "missing or extra arguments", "an empty key", "a key or value over its size limit",
		"an invalid TTL", "a malformed pattern", "incr of a value that is not an integer",
		"3 failure", "no database at -dir", "is not a directory", "in use", "damaged", "is not empty", "I/O error",
		"4 check found damage",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the exit-code table lacks %q", want)
		}
	}
}
