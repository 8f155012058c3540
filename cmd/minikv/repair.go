package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minikv/minikv"
)

var repairCmd = &command{
	name:    "repair",
	args:    "",
	summary: "cut a torn WAL tail or salvage the records before mid-log damage",
	doc: `Repair checks the store as "minikv check" does and, when its WAL is
damaged, keeps every record before the first damage and drops the rest: a
torn tail is cut, and after mid-log damage the rest of that segment and
every later segment are dropped, valid records included. Before it changes
anything it copies the damaged segment, every later segment and the MANIFEST
into the -backup directory. Then it prints exactly what it dropped: each
file, the offset it was cut at and the bytes removed.

Damage in a sealed segment (one with later segments after it) is salvaged
the same way. The -backup directory must lie outside the store; by default
it is DIR.damaged-TIME beside it. A store with nothing to repair is left
exactly as it was, without even a LOCK file created.

Repair cannot fix a damaged snapshot or MANIFEST, or a missing segment; it
says so, changes nothing and exits 3: restore such a store from a backup.

Repair needs the store to itself: it fails while another process has it
open.`,
	run: runRepair,
}

// fileSize is a file of the store and its size before the repair.
type fileSize struct {
	name string
	size int64
}

func runRepair(c *cmdCtx, args []string) error {
	backup := c.fs.String("backup", "", "`directory` for copies of the damaged files (default: DIR.damaged-TIME beside DIR)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	dir, err := c.storeDir()
	if err != nil {
		return err
	}
	if storeVerifier == nil {
		return errNoVerifier
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if *backup == "" {
		*backup = abs + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
	}
	if err := outsideStore(abs, *backup); err != nil {
		return err
	}
	victims, err := saveDamaged(c, dir, *backup)
	if err != nil || victims == nil {
		return err
	}
	db, err := minikv.Open(minikv.Options{Dir: dir, SalvageCorruptWAL: true})
	if err != nil {
		return fmt.Errorf("salvage failed, the damaged files are saved in %s: %w", *backup, err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	if err := reportDropped(c.stdout, dir, victims); err != nil {
		return err
	}
	report, err := storeVerifier(dir)
	if err != nil {
		return err
	}
	if len(report.Problems) > 0 {
		printProblems(c, report.Problems)
		return fmt.Errorf("damage remains after the repair; the damaged files are saved in %s", *backup)
	}
	_, err = fmt.Fprintf(c.stdout, "repaired %s; copies of the files as they were are in %s\n", dir, *backup)
	return err
}

// saveDamaged verifies dir under its exclusive lock and, when the WAL is
// damaged in a way repair can fix, copies the damaged segment, the later
// ones and the MANIFEST into backup. It returns the segments the salvage
// may change, or nil when there is nothing to repair.
//
// The lock is released before the salvage, which takes it again through
// minikv.Open: a writer that slips in between makes that Open fail with
// ErrLocked, after the copies are made and before anything changed.
func saveDamaged(c *cmdCtx, dir, backup string) ([]fileSize, error) {
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no database in %s: it has no MANIFEST file", dir)
	}
	// Without a LOCK file, a first look under the shared lock, which
	// creates none: a store with nothing to repair is left exactly as it
	// was. The exclusive lock below creates it.
	if _, err := os.Lstat(filepath.Join(dir, "LOCK")); errors.Is(err, fs.ErrNotExist) {
		report, err := verifyLocked(dir, false)
		if err != nil || len(report.Problems) == 0 {
			if err == nil {
				_, err = fmt.Fprintf(c.stdout, "nothing to repair in %s: %s\n", dir, report.summary())
			}
			return nil, err
		}
	}
	lock, err := lockStore(dir, true)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	report, err := storeVerifier(dir)
	if err != nil {
		return nil, err
	}
	if len(report.Problems) == 0 {
		_, err = fmt.Fprintf(c.stdout, "nothing to repair in %s: %s\n", dir, report.summary())
		return nil, err
	}
	printProblems(c, report.Problems)
	first := ""
	for _, p := range report.Problems {
		if p.Kind == fatal || !strings.HasSuffix(p.File, ".wal") {
			return nil, fmt.Errorf("%s cannot be repaired (%s); nothing was changed: restore the store from a backup", p.File, p.Reason)
		}
		if first == "" || p.File < first {
			first = p.File
		}
	}
	victims, err := segmentsFrom(dir, first)
	if err != nil {
		return nil, err
	}
	if err := copyFiles(dir, backup, victims); err != nil {
		return nil, fmt.Errorf("back up the damaged files (nothing was changed): %w", err)
	}
	return victims, nil
}

// verifyLocked runs the verifier on dir under its lock, shared or
// exclusive.
func verifyLocked(dir string, exclusive bool) (*verifyReport, error) {
	lock, err := lockStore(dir, exclusive)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	return storeVerifier(dir)
}

// outsideStore returns an error when backup lies inside the store dir (an
// absolute path): copies kept there would be taken for files of the store,
// or deleted with it.
func outsideStore(dir, backup string) error {
	b, err := filepath.Abs(backup)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(dir, b); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return usagef("the backup directory %s lies inside the store %s; choose one outside it", backup, dir)
	}
	return nil
}

// segmentsFrom returns the WAL segment first and every later one. Segment
// names are fixed-width hex, so name order is sequence order.
func segmentsFrom(dir, first string) ([]fileSize, error) {
	files, err := listFiles(dir)
	if err != nil {
		return nil, err
	}
	var out []fileSize
	for _, f := range files {
		if strings.HasSuffix(f.Name, ".wal") && f.Name >= first {
			out = append(out, fileSize{f.Name, f.Size})
		}
	}
	slices.SortFunc(out, func(a, b fileSize) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// copyFiles copies the files and the MANIFEST of dir into backup, which
// must be missing or empty, and makes the copies durable.
func copyFiles(dir, backup string, files []fileSize) error {
	if entries, err := os.ReadDir(backup); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty", backup)
	}
	if err := os.MkdirAll(backup, 0o700); err != nil {
		return err
	}
	names := []string{"MANIFEST"}
	for _, f := range files {
		names = append(names, f.name)
	}
	for _, name := range names {
		if err := copyFile(filepath.Join(dir, name), filepath.Join(backup, name)); err != nil {
			return err
		}
	}
	d, err := os.Open(backup)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	return errors.Join(err, out.Close())
}

// reportDropped compares the segments with their sizes before the salvage
// and prints what was cut or removed.
func reportDropped(w io.Writer, dir string, before []fileSize) error {
	var total int64
	for _, f := range before {
		fi, err := os.Stat(filepath.Join(dir, f.name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(w, "dropped %s: removed the whole segment, %d bytes\n", f.name, f.size)
			total += f.size
		case err != nil:
			return err
		case fi.Size() < f.size:
			fmt.Fprintf(w, "dropped %s: cut at offset %d, %d bytes removed\n", f.name, fi.Size(), f.size-fi.Size())
			total += f.size - fi.Size()
		}
	}
	_, err := fmt.Fprintf(w, "dropped %d bytes in all; every record before the first damage is kept\n", total)
	return err
}
