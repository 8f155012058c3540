package main

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/minikv/minikv"
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
		Dir   string           `json:"dir"`
		Stats map[string]int64 `json:"stats"`
		Files []fileInfo       `json:"files"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stats -json is not JSON: %v\n%s", err, r.stdout)
	}
	if got.Dir != dir || got.Stats["key_count"] != 2 || got.Stats["snapshot_count"] != 1 || got.Stats["recovered_keys"] != 2 {
		t.Errorf("stats -json = %+v", got)
	}
	if _, ok := got.Stats["recovery_time_ns"]; !ok {
		t.Errorf("stats -json has no recovery_time_ns: %v", got.Stats)
	}
	names := ""
	for _, f := range got.Files {
		names += f.Name + " "
	}
	if !strings.Contains(names, ".snap") || !strings.Contains(names, "MANIFEST") {
		t.Errorf("files = %s", names)
	}
}

// TestStatsJSON_Names: "stats -json" has a field for every field of
// minikv.Stats, named in snake_case, with "_ns" after the durations, and
// the top-level and file names follow the same style.
func TestStatsJSON_Names(t *testing.T) {
	r := mustRun(t, 0, "stats", "-dir", newStore(t, "a", "1"), "-json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	stats, _ := got["stats"].(map[string]any)
	st := reflect.TypeFor[minikv.Stats]()
	if len(stats) != st.NumField() {
		t.Errorf("stats -json has %d stats, minikv.Stats %d fields", len(stats), st.NumField())
	}
	for f := range st.Fields() {
		name := snakeCase(f.Name)
		if f.Type == reflect.TypeFor[time.Duration]() {
			name += "_ns"
		}
		if _, ok := stats[name]; !ok {
			t.Errorf("stats -json lacks %s (for %s)", name, f.Name)
		}
	}
	files, _ := got["files"].([]any)
	for _, obj := range append([]any{got}, files...) {
		for k := range obj.(map[string]any) {
			if k != snakeCase(k) {
				t.Errorf("field %q is not snake_case", k)
			}
		}
	}
}

// snakeCase returns a Go field name in snake_case: "WALSize" -> "wal_size",
// "GetP50" -> "get_p50".
func snakeCase(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
