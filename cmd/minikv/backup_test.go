package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBackupToDirectory(t *testing.T) {
	dir := newStore(t, "a", "1", "b", "2")
	dest := filepath.Join(t.TempDir(), "copy")
	r := mustRun(t, 0, "backup", "-dir", dir, dest)
	if r.stdout != "backed up 2 keys from "+dir+" to "+dest+"\n" {
		t.Errorf("backup printed %q", r.stdout)
	}
	if r := mustRun(t, 0, "scan", "-dir", dest); r.stdout != "a 1\nb 2\n" {
		t.Errorf("the copy holds %q", r.stdout)
	}
	r = mustRun(t, exitFailure, "backup", "-dir", dir, dest)
	if !strings.Contains(r.stderr, "not empty") {
		t.Errorf("backup over a copy: %q", r.stderr)
	}
}

func TestBackupStreamThroughAFile(t *testing.T) {
	dir := newStore(t, "a", "1", "b", "\x00")
	file := filepath.Join(t.TempDir(), "backup.snap")
	if r := mustRun(t, 0, "backup", "-dir", dir, "-stream", file); r.stdout != "" {
		t.Errorf("backup -stream printed %q", r.stdout)
	}
	mustRun(t, exitFailure, "backup", "-dir", dir, "-stream", file) // never overwrites
	dest := filepath.Join(t.TempDir(), "restored")
	if r := mustRun(t, 0, "restore", "-dir", dest, file); r.stdout != "restored 2 keys into "+dest+"\n" {
		t.Errorf("restore printed %q", r.stdout)
	}
	if r := mustRun(t, 0, "scan", "-dir", dest); r.stdout != "a 1\nb \"\\x00\"\n" {
		t.Errorf("the restored store holds %q", r.stdout)
	}
}

func TestBackupStreamThroughPipes(t *testing.T) {
	dir := newStore(t, "k", "v")
	stream := mustRun(t, 0, "backup", "-dir", dir, "-stream", "-").stdout
	if !strings.HasPrefix(stream, "MINIKVSN") {
		t.Fatalf("the stream starts with %.8q", stream)
	}
	dest := filepath.Join(t.TempDir(), "restored")
	if r := runCLI(t, stream, "restore", "-dir", dest, "-"); r.code != 0 {
		t.Fatalf("restore from stdin: exit %d, %s", r.code, r.stderr)
	}
	if r := mustRun(t, 0, "get", "-dir", dest, "k"); r.stdout != "v\n" {
		t.Errorf("get from the restored store = %q", r.stdout)
	}
}

// TestBackup_Targets: backup refuses a target that is a file or holds
// files, with the messages every command uses, and never overwrites a
// stream file.
func TestBackup_Targets(t *testing.T) {
	dir := newStore(t, "k", "v")
	tmp := t.TempDir()
	writeFile(t, tmp, "afile")
	file := filepath.Join(tmp, "afile")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a file", []string{file}, file + " is not a directory"},
		{"not empty", []string{tmp}, tmp + " is not empty (found afile); backup copies only into a missing or empty directory"},
		{"existing stream file", []string{"-stream", file}, file + " already exists: backup -stream writes only a new file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, exitFailure, append([]string{"backup", "-dir", dir}, tt.args...)...)
			if r.stderr != "minikv backup: "+tt.want+"\n" {
				t.Errorf("stderr %q, want %q", r.stderr, tt.want)
			}
		})
	}
	if b, _ := os.ReadFile(file); string(b) != "mine" {
		t.Errorf("backup changed %s to %q", file, b)
	}
}
