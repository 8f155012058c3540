package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/minikv/minikv"
)

// A command that fails leaves nothing it created behind. A command that
// is about to create a store, or a copy of one, records the directory
// first with willFill; when it fails, run removes what appeared there, and
// the directories that were missing. Once the result is complete, keep
// ends the watch, so that a failure after it (of the output, say) leaves
// the result in place.

// willFill records that the command is about to create files in dir, a
// directory that may be missing, so that run removes them if the command
// fails (see newDir). With mustBeEmpty it first refuses a dir that holds
// anything, with an error that lists what and goes on with advice.
func (c *cmdCtx) willFill(dir string, mustBeEmpty bool, advice string) (*newDir, error) {
	d, err := recordNewDir(dir)
	if err != nil {
		return nil, err
	}
	if mustBeEmpty && len(d.before) > 0 {
		return nil, notEmptyError(dir, slices.Sorted(maps.Keys(d.before)), advice)
	}
	c.made = append(c.made, d)
	return d, nil
}

// keep tells run that what the command created is complete: a failure
// after it (of the output, say) leaves it in place.
func (c *cmdCtx) keep() { c.made = nil }

// notEmptyError says that dir holds names (the first three of them), then
// advice: "DIR is not empty (found a, b, c and 2 more)" + advice.
func notEmptyError(dir string, names []string, advice string) error {
	found := strings.Join(names[:min(len(names), 3)], ", ")
	if len(names) > 3 {
		found += fmt.Sprintf(" and %d more", len(names)-3)
	}
	return fmt.Errorf("%s is not empty (found %s)%s", dir, found, advice)
}

// undoOnFailure removes, when err is a failure, what the command created
// in the directories it recorded with willFill, and adds the failures of
// that cleanup to err.
func (c *cmdCtx) undoOnFailure(err error) error {
	if err == nil || errors.Is(err, errHelp) {
		return err
	}
	for i := len(c.made) - 1; i >= 0; i-- {
		if uerr := c.made[i].undo(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("could not remove what was created in %s: %w", c.made[i].dir, uerr))
		}
	}
	return err
}

// newDir is a directory that a command is about to fill: a store it
// creates, or the target of a backup or restore. undo takes it back to
// how it was.
//
// The files are removed only when they are the command's own (mine): an
// open that failed with minikv.ErrLocked met a store that another process
// is creating, and undo then removes only the directories it would have
// made, if they are still empty. undo runs after the command closed the
// store; it takes the store's lock again first and leaves the files alone
// when another process has opened the store in between.
type newDir struct {
	dir     string
	before  map[string]bool // the entries dir held
	created []string        // dir and the parents that did not exist, outermost first
	mine    bool            // the files created in dir are the command's
}

// recordNewDir notes what dir holds now, or which directories creating it
// would make. The files that will appear in it count as the command's
// own until opened says otherwise.
func recordNewDir(dir string) (*newDir, error) {
	d := &newDir{dir: dir, before: map[string]bool{}, mine: true}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				break
			}
			d.created = append([]string{p}, d.created...)
			if filepath.Dir(p) == p {
				break
			}
		}
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		d.before[e.Name()] = true
	}
	return d, nil
}

// opened records the outcome of the minikv.Open that creates the store in
// d: one refused with minikv.ErrLocked created no file of its own.
func (d *newDir) opened(err error) {
	if errors.Is(err, minikv.ErrLocked) {
		d.mine = false
	}
}

// undo removes the entries of dir that it did not hold before, when they
// are the command's own, then the directories that did not exist,
// innermost first, when they are empty.
func (d *newDir) undo() error {
	var errs []error
	if d.mine {
		errs = append(errs, d.removeNew())
	}
	for i := len(d.created) - 1; i >= 0; i-- {
		err := os.Remove(d.created[i])
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeNew removes the entries of dir that it did not hold before, under
// the store's exclusive lock when dir has a LOCK file.
func (d *newDir) removeNew() error {
	if _, err := os.Lstat(filepath.Join(d.dir, "LOCK")); err == nil {
		lock, err := minikv.LockDir(d.dir, true)
		if errors.Is(err, minikv.ErrLocked) {
			return nil // another process has the store now
		}
		if err != nil {
			return err
		}
		defer lock.Close()
	}
	entries, err := os.ReadDir(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !d.before[e.Name()] {
			errs = append(errs, os.RemoveAll(filepath.Join(d.dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}
