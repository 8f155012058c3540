package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/minikv/minikv"
)

// Exit codes, the same for every subcommand.
const (
	exitOK       = 0 // success
	exitNotFound = 1 // the key is missing or expired
	exitUsage    = 2 // bad flags or arguments, or an invalid key, value, TTL or pattern
	exitFailure  = 3 // anything else: store locked, damaged or unreadable, I/O error
	exitDamage   = 4 // check found damage
)

// env is the outside world of a run: standard streams and the environment.
// Tests replace all of it.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// command is one subcommand. Each lives in a file named after it.
type command struct {
	name    string
	args    string // synopsis of the positional arguments
	summary string // one line for "minikv help"
	doc     string // the description shown by "minikv help NAME" and -h
	run     func(c *cmdCtx, args []string) error
}

// commands lists the subcommands in the order "minikv help" shows them.
// It is filled in init because the help command reads it.
var commands []*command

func init() {
	commands = []*command{
		getCmd, setCmd, delCmd, ttlCmd, incrCmd,
		scanCmd, keysCmd, countCmd, dumpCmd, statsCmd,
		compactCmd, checkCmd, repairCmd, backupCmd, restoreCmd,
		benchCmd, helpCmd,
	}
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run executes the command line args (without the program name) and
// returns the exit code.
func run(args []string, e *env) int {
	if len(args) == 0 {
		printOverview(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(e.stderr, "minikv: unknown command %q\nRun 'minikv help' for the list of commands.\n", name)
		return exitUsage
	}
	c := newCtx(e, cmd)
	return c.exit(cmd.run(c, args[1:]))
}

// cmdCtx is the state of one subcommand run: its flags and the store
// directory they name.
type cmdCtx struct {
	*env
	cmd *command
	fs  *flag.FlagSet
	dir string // the -dir flag as given
}

func newCtx(e *env, cmd *command) *cmdCtx {
	c := &cmdCtx{env: e, cmd: cmd}
	c.fs = flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	c.fs.SetOutput(io.Discard)
	c.fs.Usage = func() {}
	if cmd.name != "help" {
		c.fs.StringVar(&c.dir, "dir", "", "the database directory (default $MINIKV_DIR)")
	}
	return c
}

// errHelp reports that -h was given and the usage has been printed.
var errHelp = errors.New("help shown")

// usageError is a mistake in the command line; it exits with exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// notFoundError names the missing key; it matches minikv.ErrNotFound.
type notFoundError struct{ key string }

func (e *notFoundError) Error() string        { return "key " + quoteKey(e.key) + " not found" }
func (e *notFoundError) Is(target error) bool { return target == minikv.ErrNotFound }

// notFound turns minikv.ErrNotFound into an error naming key.
func notFound(key string, err error) error {
	if errors.Is(err, minikv.ErrNotFound) {
		return &notFoundError{key}
	}
	return err
}

// explained replaces the message of an error with one a user can act on,
// keeping the error for errors.Is.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// damageError reports that check found damage; it exits with exitDamage.
type damageError struct{ n int }

func (e *damageError) Error() string {
	if e.n == 1 {
		return "found 1 problem"
	}
	return fmt.Sprintf("found %d problems", e.n)
}

// parse parses args, in which flags and positional arguments may be mixed
// ("set KEY VALUE -ttl 10s"; "--" ends the flags), and checks that there
// are between min and max positional arguments (max < 0: no limit).
func (c *cmdCtx) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printUsage(c.stdout)
				return nil, errHelp
			}
			return nil, &usageError{err.Error()}
		}
		rest := c.fs.Args()
		used := len(args) - len(rest)
		if used > 0 && args[used-1] == "--" || len(rest) == 0 {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < min:
		return nil, usagef("missing arguments: want %s", c.cmd.args)
	case max >= 0 && len(pos) > max:
		return nil, usagef("too many arguments: %s", strings.Join(pos[max:], " "))
	}
	return pos, nil
}

// printUsage writes the command's full help to w.
func (c *cmdCtx) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: minikv %s [flags]", c.cmd.name)
	if c.cmd.args != "" {
		fmt.Fprintf(w, " %s", c.cmd.args)
	}
	fmt.Fprintf(w, "\n\n%s\n", strings.TrimSpace(c.cmd.doc))
	hasFlags := false
	c.fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintf(w, "\nFlags:\n")
		c.fs.SetOutput(w)
		c.fs.PrintDefaults()
		c.fs.SetOutput(io.Discard)
	}
}

// storeDir returns the directory to work on: -dir, or $MINIKV_DIR.
func (c *cmdCtx) storeDir() (string, error) {
	if c.dir == "" {
		c.dir = c.getenv("MINIKV_DIR")
	}
	if c.dir == "" {
		return "", usagef("no database directory: give -dir DIR or set MINIKV_DIR")
	}
	return c.dir, nil
}

// openRead opens the store read-only. Unlike minikv.Open, it refuses a
// directory that holds no database, so that a mistyped path is not taken
// for an empty store.
func (c *cmdCtx) openRead() (*minikv.DB, error) {
	dir, err := c.storeDir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(dir); errors.Is(derr, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: the directory does not exist", dir)
		}
		return nil, fmt.Errorf("no database in %s: it has no MANIFEST file", dir)
	}
	db, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true})
	return db, c.openError(dir, err, true)
}

// openWrite opens the store for writing, creating it when missing.
func (c *cmdCtx) openWrite() (*minikv.DB, error) {
	dir, err := c.storeDir()
	if err != nil {
		return nil, err
	}
	db, err := minikv.Open(minikv.Options{Dir: dir})
	return db, c.openError(dir, err, false)
}

// openError explains the failures of Open that a user can act on.
func (c *cmdCtx) openError(dir string, err error, readOnly bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, minikv.ErrLocked) && readOnly:
		return &explained{dir + " is in use: another process has it open for writing, " +
			"and read-only commands can share a store only with other readers", err}
	case errors.Is(err, minikv.ErrLocked):
		return &explained{dir + " is in use: another process has it open, " +
			"and commands that write need the store to themselves", err}
	case errors.Is(err, minikv.ErrCorrupt):
		return fmt.Errorf("%w\nRun 'minikv check -dir %s' for a full report and 'minikv repair -dir %s' to salvage what is valid.", err, dir, dir)
	}
	return err
}

// exit prints err, if any, and returns the exit code it maps to.
func (c *cmdCtx) exit(err error) int {
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	var ue *usageError
	var de *damageError
	code := exitFailure
	switch {
	case errors.As(err, &ue), errors.Is(err, minikv.ErrEmptyKey), errors.Is(err, minikv.ErrKeyTooLarge),
		errors.Is(err, minikv.ErrValueTooLarge), errors.Is(err, minikv.ErrInvalidTTL),
		errors.Is(err, minikv.ErrBadPattern):
		code = exitUsage
	case errors.Is(err, minikv.ErrNotFound):
		code = exitNotFound
	case errors.As(err, &de):
		code = exitDamage
	}
	fmt.Fprintf(c.stderr, "minikv %s: %s\n", c.cmd.name, strings.TrimPrefix(err.Error(), "minikv: "))
	if code == exitUsage {
		fmt.Fprintf(c.stderr, "Run 'minikv %s -h' for usage.\n", c.cmd.name)
	}
	return code
}

// closeDB closes db and adds the failure, if any, to err.
func closeDB(db *minikv.DB, err error) error {
	return errors.Join(err, db.Close())
}
