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

A missing or damaged MANIFEST is rebuilt from the files themselves, each
of which carries its own checksums and names its place in the sequence:
the newest snapshot that passes its checks, then the WAL segments after it
in order. Repair saves the damaged MANIFEST and every file the rebuilt one
leaves out (a damaged snapshot, say) into the -backup directory first, and
prints what the new MANIFEST names.

Repair cannot fix a damaged snapshot that the MANIFEST names, a missing
segment, or a MANIFEST that cannot be rebuilt without losing writes; it
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
	victims, rebuild, err := saveDamaged(c, dir, *backup)
	if err != nil || victims == nil {
		return err
	}
	if rebuild {
		plan, err := minikv.RebuildManifest(dir)
		if err != nil {
			return fmt.Errorf("rebuild the MANIFEST failed, the damaged files are saved in %s: %w", *backup, err)
		}
		fmt.Fprintf(c.stdout, "rebuilt MANIFEST: %s\n", plan)
	}
	db, err := minikv.Open(minikv.Options{Dir: dir, SalvageCorruptWAL: true})
	if err != nil {
		return fmt.Errorf("salvage failed, the damaged files are saved in %s: %w", *backup, err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	if len(victims) > 0 {
		if err := reportDropped(c.stdout, dir, victims); err != nil {
			return err
		}
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

// saveDamaged verifies dir under its exclusive lock and, when the damage
// is of a kind repair can fix, copies into backup the MANIFEST (when there
// is one), the damaged WAL segment and every later one, and the files a
// rebuilt MANIFEST leaves out. It returns the files the repair may change
// or remove, or nil when there is nothing to repair, and whether the
// MANIFEST must be rebuilt.
//
// The lock is released before the repair, which takes it again
// (minikv.RebuildManifest, minikv.Open): a writer that slips in between
// makes it fail with ErrLocked, after the copies are made and before
// anything changed.
func saveDamaged(c *cmdCtx, dir, backup string) (victims []fileSize, rebuild bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); errors.Is(err, fs.ErrNotExist) {
		if files, err := listFiles(dir); err != nil || !slices.ContainsFunc(files, isStoreData) {
			return nil, false, errors.Join(fmt.Errorf("no database in %s: it has no MANIFEST file", dir), err)
		}
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
			return nil, false, err
		}
	}
	lock, err := lockStore(dir, true)
	if err != nil {
		return nil, false, err
	}
	defer lock.Close()
	report, err := storeVerifier(dir)
	if err != nil {
		return nil, false, err
	}
	if len(report.Problems) == 0 {
		_, err = fmt.Fprintf(c.stdout, "nothing to repair in %s: %s\n", dir, report.summary())
		return nil, false, err
	}
	printProblems(c, report.Problems)
	if report.Rebuild != "" {
		fmt.Fprintf(c.stdout, "a rebuilt MANIFEST would name: %s\n", report.Rebuild)
	}
	first := ""
	var leftOut []string
	for _, p := range report.Problems {
		switch {
		case p.Kind == fatal && report.Lost != "":
			return nil, false, fmt.Errorf("%s cannot be repaired (%s), and a rebuilt MANIFEST would lose writes (%s); nothing was changed: restore the store from a backup", p.File, p.Reason, report.Lost)
		case p.Kind == fatal:
			return nil, false, fmt.Errorf("%s cannot be repaired (%s); nothing was changed: restore the store from a backup", p.File, p.Reason)
		case p.Kind == rebuildable:
			rebuild = true
			if p.File != "MANIFEST" {
				leftOut = append(leftOut, p.File)
			}
		case !strings.HasSuffix(p.File, ".wal"):
			return nil, false, fmt.Errorf("%s cannot be repaired (%s); nothing was changed: restore the store from a backup", p.File, p.Reason)
		case first == "" || p.File < first:
			first = p.File
		}
	}
	if first != "" {
		if victims, err = segmentsFrom(dir, first); err != nil {
			return nil, false, err
		}
	}
	for _, name := range leftOut {
		if !slices.ContainsFunc(victims, func(f fileSize) bool { return f.name == name }) {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				return nil, false, err
			}
			victims = append(victims, fileSize{name, fi.Size()})
		}
	}
	// A failed copy leaves no partial backup behind; once complete, the
	// copies stay whatever happens next.
	if _, err := c.willFill(backup, true, "; repair saves the damaged files only into a missing or empty directory"); err != nil {
		return nil, false, err
	}
	if err := copyFiles(dir, backup, victims); err != nil {
		return nil, false, fmt.Errorf("back up the damaged files (nothing was changed): %w", err)
	}
	c.keep()
	if victims == nil {
		victims = []fileSize{} // only the MANIFEST changes
	}
	return victims, rebuild, nil
}

// isStoreData reports whether f is a snapshot or a WAL segment, the files
// a MANIFEST can be rebuilt from.
func isStoreData(f fileInfo) bool {
	return strings.HasSuffix(f.Name, ".snap") || strings.HasSuffix(f.Name, ".wal")
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
	for i, name := range names {
		err := copyFile(filepath.Join(dir, name), filepath.Join(backup, name))
		if i == 0 && errors.Is(err, fs.ErrNotExist) {
			continue // a missing MANIFEST, to be rebuilt
		}
		if err != nil {
			return err
		}
	}
	d, err := os.Open(backup)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// copyFile copies the regular file src to the new file dst. Anything else
// in the store's place of a file (a link, a FIFO, a directory) is not a
// file of the store: it is neither followed nor read, and nothing is
// copied for it.
func copyFile(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi2, err := in.Stat(); err != nil || !os.SameFile(fi, fi2) {
		return errors.Join(err, fmt.Errorf("%s changed while it was copied", src))
	}
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
			fmt.Fprintf(w, "dropped %s: removed the whole file, %d bytes\n", f.name, f.size)
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
