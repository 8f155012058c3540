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
fields of minikv.Stats, durations in nanoseconds) and "files".`,
	run: runStats,
}

// fileInfo is one file of a database directory.
type fileInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

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
			Dir   string       `json:"dir"`
			Stats minikv.Stats `json:"stats"`
			Files []fileInfo   `json:"files"`
		}{c.dir, s, files})
	}
	return printStats(c.stdout, c.dir, s, files)
}

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
