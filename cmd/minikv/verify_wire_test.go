package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikv/minikv"
)

// These tests run check and repair with the library's own verifier.

func TestLibraryVerifierTornTail(t *testing.T) {
	withVerifier(t, libraryVerifier)
	dir, ends := recordEnds(t, "a", "b")
	f, err := os.OpenFile(filepath.Join(dir, seg1), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0xde, 0xad, 0xbe})
	f.Close()
	r := mustRun(t, 0, "check", "-dir", dir)
	if !strings.Contains(r.stdout, seg1+": torn tail at offset "+itoa(ends[1])) {
		t.Errorf("check: %q", r.stdout)
	}
	r = mustRun(t, 0, "repair", "-dir", dir, "-backup", filepath.Join(t.TempDir(), "saved"))
	if !strings.Contains(r.stdout, "cut at offset "+itoa(ends[1])+", 3 bytes removed") {
		t.Errorf("repair: %q", r.stdout)
	}
	if r := mustRun(t, 0, "check", "-dir", dir); !strings.HasSuffix(r.stdout, "\nok\n") {
		t.Errorf("check after repair: %q", r.stdout)
	}
}

func TestLibraryVerifierMidLog(t *testing.T) {
	withVerifier(t, libraryVerifier)
	dir, ends := recordEnds(t, "a", "b", "c")
	wal := filepath.Join(dir, seg1)
	data, _ := os.ReadFile(wal)
	data[ends[0]+6] ^= 0xff
	os.WriteFile(wal, data, 0o600)
	r := mustRun(t, exitDamage, "check", "-dir", dir)
	if !strings.Contains(r.stdout, "mid-log damage at offset "+itoa(ends[0])) {
		t.Errorf("check: %q", r.stdout)
	}
	r = mustRun(t, 0, "repair", "-dir", dir, "-backup", filepath.Join(t.TempDir(), "saved"))
	if !strings.Contains(r.stdout, "cut at offset "+itoa(ends[0])) {
		t.Errorf("repair: %q", r.stdout)
	}
	if r := mustRun(t, 0, "keys", "-dir", dir); r.stdout != "a\n" {
		t.Errorf("after repair: %q", r.stdout)
	}
}

func TestLibraryVerifierDamagedSnapshot(t *testing.T) {
	withVerifier(t, libraryVerifier)
	dir := newStore(t, "a", "1")
	mustRun(t, 0, "compact", "-dir", dir)
	snap := filepath.Join(dir, "0000000000000002.snap")
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	data[30] ^= 1
	os.WriteFile(snap, data, 0o600)
	if r := mustRun(t, exitDamage, "check", "-dir", dir); !strings.Contains(r.stdout, "unrepairable") {
		t.Errorf("check: %q", r.stdout)
	}
	mustRun(t, exitFailure, "repair", "-dir", dir)
}

// TestLibraryVerifierSealedSegment: damage in a sealed segment, with a
// later segment after it, is salvaged like mid-log damage: every record
// before it is kept.
func TestLibraryVerifierSealedSegment(t *testing.T) {
	withVerifier(t, libraryVerifier)
	dir := filepath.Join(t.TempDir(), "store")
	db, err := minikv.Open(minikv.Options{Dir: dir, SegmentSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := db.Set(k, []byte(strings.Repeat(k, 60))); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, seg1)
	data, _ := os.ReadFile(wal)
	data[len(data)-5] ^= 0xff // in the last record of the first, sealed, segment
	os.WriteFile(wal, data, 0o600)
	r := mustRun(t, exitDamage, "check", "-dir", dir)
	if !strings.Contains(r.stdout, "mid-log damage") {
		t.Errorf("check: %q", r.stdout)
	}
	mustRun(t, 0, "repair", "-dir", dir, "-backup", filepath.Join(t.TempDir(), "saved"))
	if r := mustRun(t, 0, "keys", "-dir", dir); !strings.HasPrefix(r.stdout, "a\n") {
		t.Errorf("after repair: %q", r.stdout)
	}
}
