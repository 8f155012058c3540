package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/minikv/minikv"
)

const seg1 = "0000000000000001.wal"

// recordEnds writes the keys to a new store, one record each, and returns
// the store and the WAL offset at which each record ends.
func recordEnds(t *testing.T, keys ...string) (string, []int64) {
	t.Helper()
	dir := newStore(t)
	db := openStoreNoCleanup(t, dir)
	var ends []int64
	for _, k := range keys {
		if err := db.Set(k, []byte("value of "+k)); err != nil {
			t.Fatal(err)
		}
		// The open segment may be preallocated (zeros after its
		// records), so its records end at the WAL size, not the file's.
		ends = append(ends, db.Stats().WALSize)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Close appends a record that marks the writes durable; cut it, as a
	// writer killed after its last write would have left the segment, so
	// that the records end at ends.
	if err := os.Truncate(filepath.Join(dir, seg1), ends[len(ends)-1]); err != nil {
		t.Fatal(err)
	}
	return dir, ends
}

func openStoreNoCleanup(t *testing.T, dir string) *minikv.DB {
	t.Helper()
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestRepairCutsATornTail(t *testing.T) {
	dir, ends := recordEnds(t, "a", "b")
	wal := filepath.Join(dir, seg1)
	f, err := os.OpenFile(wal, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0xde, 0xad, 0xbe})
	f.Close()
	damaged, _ := os.ReadFile(wal)

	calls := 0
	withVerifier(t, scripted(&calls, []problem{{seg1, ends[1], "truncated record", tornTail}}))
	backup := filepath.Join(t.TempDir(), "saved")
	r := mustRun(t, 0, "repair", "-dir", dir, "-backup", backup)
	for _, want := range []string{
		seg1 + ": torn tail at offset " + itoa(ends[1]),
		"dropped " + seg1 + ": cut at offset " + itoa(ends[1]) + ", 3 bytes removed",
		"dropped 3 bytes in all",
		"repaired " + dir,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("repair output lacks %q:\n%s", want, r.stdout)
		}
	}
	if saved, _ := os.ReadFile(filepath.Join(backup, seg1)); !bytes.Equal(saved, damaged) {
		t.Error("the backup does not hold the damaged segment as it was")
	}
	if _, err := os.Stat(filepath.Join(backup, "MANIFEST")); err != nil {
		t.Errorf("the backup lacks the MANIFEST: %v", err)
	}
	if r := mustRun(t, 0, "scan", "-dir", dir, "-keys"); r.stdout != "a\nb\n" {
		t.Errorf("after repair the store holds %q", r.stdout)
	}
	if calls != 2 {
		t.Errorf("verifier ran %d times, want 2 (before and after)", calls)
	}
}

func TestRepairSalvagesBeforeMidLogDamage(t *testing.T) {
	dir, ends := recordEnds(t, "a", "b", "c")
	wal := filepath.Join(dir, seg1)
	data, _ := os.ReadFile(wal)
	data[ends[0]+6] ^= 0xff // inside record b; record c stays valid
	if err := os.WriteFile(wal, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true}); !errors.Is(err, minikv.ErrCorrupt) {
		t.Fatalf("the damaged store opened: %v", err)
	}
	calls := 0
	withVerifier(t, scripted(&calls, []problem{{seg1, ends[0], "bad checksum", midLog}}))
	backup := filepath.Join(t.TempDir(), "saved")
	r := mustRun(t, 0, "repair", "-dir", dir, "-backup", backup)
	dropped := ends[2] - ends[0]
	if want := "dropped " + seg1 + ": cut at offset " + itoa(ends[0]) + ", " + itoa(dropped) + " bytes removed"; !strings.Contains(r.stdout, want) {
		t.Errorf("repair output lacks %q:\n%s", want, r.stdout)
	}
	if r := mustRun(t, 0, "scan", "-dir", dir, "-keys"); r.stdout != "a\n" {
		t.Errorf("after repair the store holds %q, want only a", r.stdout)
	}
	if saved, _ := os.ReadFile(filepath.Join(backup, seg1)); !bytes.Equal(saved, data) {
		t.Error("the backup does not hold the damaged segment as it was")
	}
}

func TestRepairRefusesUnrepairableDamage(t *testing.T) {
	dir, _ := recordEnds(t, "a")
	before, _ := os.ReadFile(filepath.Join(dir, seg1))
	calls := 0
	withVerifier(t, scripted(&calls, []problem{{"MANIFEST", -1, "checksum mismatch", fatal}}))
	backup := filepath.Join(t.TempDir(), "saved")
	r := mustRun(t, exitFailure, "repair", "-dir", dir, "-backup", backup)
	if !strings.Contains(r.stderr, "cannot be repaired") || !strings.Contains(r.stderr, "restore") {
		t.Errorf("stderr = %q", r.stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, seg1)); !bytes.Equal(after, before) {
		t.Error("repair changed a store it could not repair")
	}
	if _, err := os.Stat(backup); !os.IsNotExist(err) {
		t.Errorf("repair made a backup for nothing: %v", err)
	}
}

func TestRepairWithNothingToDo(t *testing.T) {
	dir, _ := recordEnds(t, "a")
	calls := 0
	withVerifier(t, scripted(&calls))
	if r := mustRun(t, 0, "repair", "-dir", dir); !strings.HasPrefix(r.stdout, "nothing to repair in "+dir) {
		t.Errorf("stdout = %q", r.stdout)
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("repair with nothing to do left files beside the store: %v", entries)
	}
}

func TestRepairReportsRemainingDamage(t *testing.T) {
	dir, ends := recordEnds(t, "a", "b")
	p := []problem{{seg1, ends[0], "bad checksum", midLog}}
	calls := 0
	withVerifier(t, scripted(&calls, p, p))
	r := mustRun(t, exitFailure, "repair", "-dir", dir, "-backup", filepath.Join(t.TempDir(), "saved"))
	if !strings.Contains(r.stderr, "damage remains") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRepairRefusesABackupInsideTheStore: the default backup of "-dir ."
// and an explicit -backup under the store would put copies inside it.
func TestRepairRefusesABackupInsideTheStore(t *testing.T) {
	dir, _ := recordEnds(t, "a")
	r := mustRun(t, exitUsage, "repair", "-dir", dir, "-backup", filepath.Join(dir, "saved"))
	if !strings.Contains(r.stderr, "lies inside the store") {
		t.Errorf("stderr = %q", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "saved")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused backup directory was created: %v", err)
	}
	// The default backup of a relative -dir lies beside the store.
	t.Chdir(dir)
	r = mustRun(t, 0, "repair", "-dir", ".")
	if !strings.Contains(r.stdout, "nothing to repair") {
		t.Errorf("repair -dir . = %q", r.stdout)
	}
}

// TestRepairLeavesAHealthyStoreAsItWas: with nothing to repair, repair
// creates nothing, not even LOCK.
func TestRepairLeavesAHealthyStoreAsItWas(t *testing.T) {
	dir, _ := recordEnds(t, "a", "b")
	if err := os.Remove(filepath.Join(dir, "LOCK")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(dir)
	r := mustRun(t, 0, "repair", "-dir", dir, "-backup", filepath.Join(t.TempDir(), "saved"))
	if !strings.Contains(r.stdout, "nothing to repair") {
		t.Errorf("repair = %q", r.stdout)
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Errorf("repair changed the directory: %v, then %v", before, after)
	}
}

// TestRepairRebuildsTheManifest: with a garbage or missing MANIFEST, get
// suggests repair, check reports the files on disk and what a rebuilt
// MANIFEST would name, and repair saves the damaged MANIFEST, rebuilds it
// and brings every key back.
func TestRepairRebuildsTheManifest(t *testing.T) {
	for _, damage := range []string{"garbage", "missing"} {
		t.Run(damage, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			db, err := minikv.Open(minikv.Options{Dir: dir, DisableAutoCompaction: true})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range 40 {
				k := fmt.Sprintf("k%02d", i)
				if err := db.Set(k, []byte("v")); err != nil {
					t.Fatal(err)
				}
				want = append(want, k)
				if i == 19 {
					if err := db.Compact(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			manifest := filepath.Join(dir, "MANIFEST")
			if damage == "garbage" {
				err = os.WriteFile(manifest, []byte("garbage\n"), 0o600)
			} else {
				err = os.Remove(manifest)
			}
			if err != nil {
				t.Fatal(err)
			}
			if damage == "garbage" {
				if r := mustRun(t, exitFailure, "get", "-dir", dir, "k00"); !strings.Contains(r.stderr, "minikv repair") {
					t.Errorf("get on a garbage MANIFEST does not suggest repair: %s", r.stderr)
				}
			}
			r := mustRun(t, exitDamage, "check", "-dir", dir)
			for _, line := range []string{
				"checked " + dir + ": no readable MANIFEST; the files a rebuilt one would name, snapshot ",
				"a rebuilt MANIFEST would name: snapshot ",
				"MANIFEST: rebuildable at whole file: ",
			} {
				if !strings.Contains(r.stdout, line) {
					t.Errorf("check output lacks %q:\n%s", line, r.stdout)
				}
			}
			backup := filepath.Join(t.TempDir(), "saved")
			r = mustRun(t, 0, "repair", "-dir", dir, "-backup", backup)
			if !strings.Contains(r.stdout, "rebuilt MANIFEST: snapshot ") || !strings.Contains(r.stdout, "repaired "+dir) {
				t.Errorf("repair output:\n%s", r.stdout)
			}
			saved, err := os.ReadFile(filepath.Join(backup, "MANIFEST"))
			if damage == "garbage" && (err != nil || string(saved) != "garbage\n") {
				t.Errorf("the backup does not hold the damaged MANIFEST: %q, %v", saved, err)
			}
			if r := mustRun(t, 0, "scan", "-dir", dir, "-keys"); r.stdout != strings.Join(want, "\n")+"\n" {
				t.Errorf("after repair the store holds %q", r.stdout)
			}
			mustRun(t, 0, "check", "-dir", dir)
		})
	}
}
