package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestStatsText(t *testing.T) {
	dir := newStore(t, "a", "1", "b", "2")
	r := mustRun(t, 0, "stats", "-dir", dir)
	for _, re := range []string{`(?m)^keys +2$`, `(?m)^snapshots +0$`, `(?m)^recovered +0 keys from the snapshot, 2 WAL records replayed$`, `(?m)^  MANIFEST +\d+ B$`, `(?m)^  0+1\.wal +\d+ B$`} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("stats output lacks %s:\n%s", re, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Reads") {
		t.Error("the text form shows per-handle counters")
	}
}

func TestStatsJSON(t *testing.T) {
	dir := newStore(t, "a", "1", "b", "2")
	mustRun(t, 0, "compact", "-dir", dir)
	r := mustRun(t, 0, "stats", "-dir", dir, "-json")
	var got struct {
		Dir   string
		Stats map[string]int64
		Files []fileInfo
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stats -json is not JSON: %v\n%s", err, r.stdout)
	}
	if got.Dir != dir || got.Stats["KeyCount"] != 2 || got.Stats["SnapshotCount"] != 1 || got.Stats["RecoveredKeys"] != 2 {
		t.Errorf("stats -json = %+v", got)
	}
	names := ""
	for _, f := range got.Files {
		names += f.Name + " "
	}
	if !strings.Contains(names, ".snap") || !strings.Contains(names, "MANIFEST") {
		t.Errorf("files = %s", names)
	}
}
