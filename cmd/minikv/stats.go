package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/minikv/minikv"
)

// statsCmd is "minikv stats".
var statsCmd = &command{
	name:    "stats",
	args:    "",
	summary: "print the store's size, files and recovery figures",
	doc: `Stats opens the store read-only and prints what it holds: live keys, WAL
bytes, snapshot files, the memory its index takes, what the open had to
recover (snapshot keys loaded, WAL records replayed, torn tail bytes found,
time taken), and the files of the directory with their sizes.

The operation counters and latencies of minikv.Stats describe one handle
since it opened, so they are about the service that uses the store, not
about this command; stats leaves them out of the text form. -json prints
everything, with the counters, as one JSON object: "dir", "stats" (the
fields of minikv.Stats) and "files" (each with "name" and "size"). Every
name is in snake_case ("key_count", "wal_size"); sizes are in bytes, and
durations are integers of nanoseconds whose names end in "_ns"
("get_p99_ns", "recovery_time_ns").`,
	run: runStats,
}

// fileInfo is one file of a database directory.
type fileInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"` // bytes
}

// statsJSON is minikv.Stats as "stats -json" prints it: snake_case names,
// sizes in bytes, durations in nanoseconds with names ending in "_ns". It
// spells out every field so that the output keeps its names when the
// library's change.
type statsJSON struct {
	KeyCount         int64 `json:"key_count"`
	WALSize          int64 `json:"wal_size"`
	SnapshotCount    int64 `json:"snapshot_count"`
	MemoryUsage      int64 `json:"memory_usage"`
	Reads            int64 `json:"reads"`
	Writes           int64 `json:"writes"`
	Deletes          int64 `json:"deletes"`
	Scans            int64 `json:"scans"`
	Expired          int64 `json:"expired"`
	Evicted          int64 `json:"evicted"`
	Compactions      int64 `json:"compactions"`
	GetP50           int64 `json:"get_p50_ns"`
	GetP95           int64 `json:"get_p95_ns"`
	GetP99           int64 `json:"get_p99_ns"`
	SetP50           int64 `json:"set_p50_ns"`
	SetP95           int64 `json:"set_p95_ns"`
	SetP99           int64 `json:"set_p99_ns"`
	RecoveredRecords int64 `json:"recovered_records"`
	RecoveredKeys    int64 `json:"recovered_keys"`
	TornBytes        int64 `json:"torn_bytes"`
	TornRecords      int64 `json:"torn_records"`
	RecoveryTime     int64 `json:"recovery_time_ns"`
}

// newStatsJSON converts s for "stats -json".
func newStatsJSON(s minikv.Stats) statsJSON {
	return statsJSON{
		KeyCount: s.KeyCount, WALSize: s.WALSize, SnapshotCount: s.SnapshotCount, MemoryUsage: s.MemoryUsage,
		Reads: s.Reads, Writes: s.Writes, Deletes: s.Deletes, Scans: s.Scans,
		Expired: s.Expired, Evicted: s.Evicted, Compactions: s.Compactions,
		GetP50: s.GetP50.Nanoseconds(), GetP95: s.GetP95.Nanoseconds(), GetP99: s.GetP99.Nanoseconds(),
		SetP50: s.SetP50.Nanoseconds(), SetP95: s.SetP95.Nanoseconds(), SetP99: s.SetP99.Nanoseconds(),
		RecoveredRecords: s.RecoveredRecords, RecoveredKeys: s.RecoveredKeys,
		TornBytes: s.TornBytes, TornRecords: s.TornRecords, RecoveryTime: s.RecoveryTime.Nanoseconds(),
	}
}

// runStats prints the figures of the store, as text or JSON.
func runStats(c *cmdCtx, args []string) error {
	asJSON := c.fs.Bool("json", false, "print one JSON object")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	db, err := c.openRead()
	if err != nil {
		return err
	}
	s := db.Stats()
	if err := db.Close(); err != nil {
		return err
	}
	files, err := listFiles(c.dir)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Dir   string     `json:"dir"`
			Stats statsJSON  `json:"stats"`
			Files []fileInfo `json:"files"`
		}{c.dir, newStatsJSON(s), files})
	}
	return printStats(c.stdout, c.dir, s, files)
}

// printStats writes the text form of stats.
func printStats(w io.Writer, dir string, s minikv.Stats, files []fileInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "directory\t%s\n", dir)
	fmt.Fprintf(tw, "keys\t%d\n", s.KeyCount)
	fmt.Fprintf(tw, "wal\t%s\n", humanBytes(s.WALSize))
	fmt.Fprintf(tw, "snapshots\t%d\n", s.SnapshotCount)
	fmt.Fprintf(tw, "index memory\t%s\n", humanBytes(s.MemoryUsage))
	fmt.Fprintf(tw, "recovered\t%d keys from the snapshot, %d WAL records replayed\n", s.RecoveredKeys, s.RecoveredRecords)
	fmt.Fprintf(tw, "torn tail\t%d bytes\n", s.TornBytes)
	fmt.Fprintf(tw, "open took\t%s\n", s.RecoveryTime.Round(time.Microsecond))
	fmt.Fprintf(tw, "files\t%d\n", len(files))
	for _, f := range files {
		fmt.Fprintf(tw, "  %s\t%s\n", f.Name, humanBytes(f.Size))
	}
	return tw.Flush()
}

// listFiles returns the regular files of dir, sorted by name.
func listFiles(dir string) ([]fileInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := []fileInfo{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files = append(files, fileInfo{e.Name(), fi.Size()})
	}
	return files, nil
}
