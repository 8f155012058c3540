//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRepairRebuildsAManifestThatIsAFIFO: a FIFO in place of the MANIFEST is
// neither opened nor copied (an open would wait for a writer forever); the
// MANIFEST is rebuilt from the files, and the link or FIFO replaced.
func TestRepairRebuildsAManifestThatIsAFIFO(t *testing.T) {
	for _, kind := range []string{"FIFO", "symlink"} {
		t.Run(kind, func(t *testing.T) {
			dir := newStore(t, "a", "1")
			manifest := filepath.Join(dir, "MANIFEST")
			outside := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(outside, []byte("not the store's"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(manifest); err != nil {
				t.Fatal(err)
			}
			var err error
			if kind == "FIFO" {
				err = syscall.Mkfifo(manifest, 0o600)
			} else {
				err = os.Symlink(outside, manifest)
			}
			if err != nil {
				t.Fatal(err)
			}
			backup := filepath.Join(t.TempDir(), "saved")
			r := mustRun(t, 0, "repair", "-dir", dir, "-backup", backup)
			if !strings.Contains(r.stdout, "rebuilt MANIFEST: no snapshot, WAL segment ") {
				t.Errorf("repair output:\n%s", r.stdout)
			}
			if _, err := os.Stat(filepath.Join(backup, "MANIFEST")); !os.IsNotExist(err) {
				t.Errorf("repair copied what stood in place of the MANIFEST: %v", err)
			}
			if b, _ := os.ReadFile(outside); string(b) != "not the store's" {
				t.Errorf("the file outside now holds %q", b)
			}
			if r := mustRun(t, 0, "get", "-dir", dir, "a"); r.stdout != "1\n" {
				t.Errorf("get a = %q after the repair", r.stdout)
			}
		})
	}
}
