package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/minikv/minikv"
)

// Exit codes, the same for every subcommand.
const (
	exitOK       = 0 // success
	exitNotFound = 1 // the key is missing or expired
	exitUsage    = 2 // bad flags or arguments, or an invalid key, value, TTL, pattern or count
	exitFailure  = 3 // anything else: no store, store in use or damaged, I/O error
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
	noStore bool   // the command works on no store and takes no -dir
	run     func(c *cmdCtx, args []string) error
}

// commands lists the subcommands in the order "minikv help" shows them.
// It is filled in init because the help command reads it.
var commands []*command

// init fills commands; see there.
func init() {
	commands = []*command{
		getCmd, setCmd, delCmd, ttlCmd, incrCmd,
		scanCmd, keysCmd, countCmd, dumpCmd, statsCmd,
		compactCmd, checkCmd, repairCmd, backupCmd, restoreCmd,
		benchCmd, versionCmd, helpCmd,
	}
}

// lookup returns the subcommand called name, or nil.
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
	return c.exit(c.undoOnFailure(cmd.run(c, args[1:])))
}

// cmdCtx is the state of one subcommand run: its flags and the store
// directory they name.
type cmdCtx struct {
	*env
	cmd  *command
	fs   *flag.FlagSet
	dir  string    // the -dir flag as given
	init bool      // the -init flag of commands that create a store
	made []*newDir // directories the command is filling; emptied again if it fails
}

// newCtx returns the context of one run of cmd, with the -dir flag defined
// unless the command takes no store.
func newCtx(e *env, cmd *command) *cmdCtx {
	c := &cmdCtx{env: e, cmd: cmd}
	c.fs = flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	c.fs.SetOutput(io.Discard)
	c.fs.Usage = func() {}
	if !cmd.noStore {
		c.fs.StringVar(&c.dir, "dir", "", "the database directory (default $MINIKV_DIR)")
	}
	return c
}

// initFlag defines -init, for the commands that create a store.
func (c *cmdCtx) initFlag() {
	c.fs.BoolVar(&c.init, "init", false, "create a store even in a non-empty directory that holds none")
}

// count defines an int flag that refuses values below min or above max,
// so that a negative count is a usage error that names it instead of
// meaning "no limit". It returns the flag's variable.
func (c *cmdCtx) count(name string, value, min, max int, usage string) *int {
	v := &countValue{n: value, min: min, max: max}
	c.fs.Var(v, name, usage)
	return &v.n
}

// countValue is the flag.Value of count.
type countValue struct{ n, min, max int }

// String returns the value for the flag package's defaults.
func (v *countValue) String() string {
	if v == nil {
		return "0"
	}
	return strconv.Itoa(v.n)
}

// Set parses s; the flag package puts the error after
// `invalid value "S" for flag -NAME: `.
func (v *countValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	switch {
	case err != nil:
		return errors.New("not an integer")
	case v.max != math.MaxInt && (n < int64(v.min) || n > int64(v.max)):
		return fmt.Errorf("must be between %d and %d", v.min, v.max)
	case n < int64(v.min):
		return fmt.Errorf("must be %d or more", v.min)
	}
	v.n = int(n)
	return nil
}

// errHelp reports that -h was given and the usage has been printed.
var errHelp = errors.New("help shown")

// usageError is a mistake in the command line; it exits with exitUsage.
type usageError struct{ msg string }

// Error returns the message.
func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError with the formatted message.
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

// Error says how many problems check found.
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

// storeDir returns the directory to work on: -dir, or $MINIKV_DIR. It
// fails when that path, or one above it, is a file (see checkDir).
func (c *cmdCtx) storeDir() (string, error) {
	if c.dir == "" {
		c.dir = c.getenv("MINIKV_DIR")
	}
	if c.dir == "" {
		return "", usagef("no database directory: give -dir DIR or set MINIKV_DIR")
	}
	return c.dir, checkDir(c.dir)
}

// checkDir returns an error saying "X is not a directory" when path, or
// the first of its parents that exists, is something else; the same
// message for every command. A missing path is not an error.
func checkDir(path string) error {
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			return nil
		case err == nil && p == filepath.Clean(path):
			return fmt.Errorf("%s is not a directory", path)
		case err == nil:
			return fmt.Errorf("%s is not a directory, so %s cannot be one", p, path)
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return nil // unreadable: the open that follows says why
		}
		if filepath.Dir(p) == p {
			return nil
		}
	}
}

// requireStore returns an error unless dir holds a database, so that a
// mistyped path is not taken for an empty store: "no database at DIR" when
// the directory is missing, "no database in DIR" when it has no MANIFEST.
func requireStore(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no database at %s: the directory does not exist", dir)
	}
	return fmt.Errorf("no database in %s: it has no MANIFEST file", dir)
}

// openRead opens the store read-only. Unlike minikv.Open, it refuses a
// directory that holds no database (see requireStore).
func (c *cmdCtx) openRead() (*minikv.DB, error) {
	return c.openExisting(true)
}

// openWrite opens an existing store for writing, for the commands that
// change a store but never create one (del, compact).
func (c *cmdCtx) openWrite() (*minikv.DB, error) {
	return c.openExisting(false)
}

// openExisting opens the store in the -dir directory, which must hold
// one, read-only or for writing.
func (c *cmdCtx) openExisting(readOnly bool) (*minikv.DB, error) {
	dir, err := c.storeDir()
	if err != nil {
		return nil, err
	}
	if err := requireStore(dir); err != nil {
		return nil, err
	}
	db, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: readOnly})
	return db, openError(dir, err, readOnly)
}

// openCreate opens the store for writing, creating it when the directory
// holds none (set, incr). It refuses a non-empty directory without a
// store unless -init was given, and when the command then fails, run
// removes the new store again.
func (c *cmdCtx) openCreate() (*minikv.DB, error) {
	dir, err := c.storeDir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); !errors.Is(err, fs.ErrNotExist) {
		db, err := minikv.Open(minikv.Options{Dir: dir})
		return db, openError(dir, err, false)
	}
	d, err := c.willFill(dir, !c.init, " and holds no database; give -init to create a store in it anyway")
	if err != nil {
		return nil, err
	}
	db, err := minikv.Open(minikv.Options{Dir: dir})
	d.opened(err)
	if err == nil && !isEmpty(db) {
		// Another process created the store between the look above and
		// this open: it is not ours to remove.
		d.mine = false
	}
	return db, openError(dir, err, false)
}

// isEmpty reports whether db holds nothing and recovered nothing: a store
// just created.
func isEmpty(db *minikv.DB) bool {
	s := db.Stats()
	return s.KeyCount == 0 && s.RecoveredKeys == 0 && s.RecoveredRecords == 0
}

// openError explains the failures of Open that a user can act on.
func openError(dir string, err error, readOnly bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, minikv.ErrLocked):
		return inUseError(dir, err, readOnly)
	case errors.Is(err, minikv.ErrCorrupt):
		return fmt.Errorf("%w\nRun 'minikv check -dir %s' for a full report and 'minikv repair -dir %s' to salvage what is valid.", err, dir, dir)
	}
	return err
}

// inUseError is the one message of every command for a store that another
// process holds: err is the minikv.ErrLocked error of minikv.Open or
// minikv.LockDir, and readOnly tells whether the command wanted the shared
// lock of a reader or the exclusive one of a writer. The detail the
// library gives after the sentinel's text (the LOCK file and who holds it)
// is kept. The result matches err with errors.Is.
func inUseError(dir string, err error, readOnly bool) error {
	msg := dir + " is in use by another process"
	sentinel := strings.TrimPrefix(minikv.ErrLocked.Error(), "minikv: ")
	if _, detail, ok := strings.Cut(err.Error(), sentinel+": "); ok && detail != "" {
		detail, _, _ = strings.Cut(detail, "\n")
		msg += ": " + detail
	}
	if readOnly {
		msg += "; commands that only read can share a store with other readers, not with a writer"
	} else {
		msg += "; commands that write need the store to themselves"
	}
	return &explained{msg, err}
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
		errors.Is(err, minikv.ErrValueTooLarge), errors.Is(err, minikv.ErrBatchTooLarge),
		errors.Is(err, minikv.ErrInvalidTTL), errors.Is(err, minikv.ErrBadPattern),
		errors.Is(err, minikv.ErrInvalidValue):
		code = exitUsage
	case errors.Is(err, minikv.ErrNotFound):
		code = exitNotFound
	case errors.As(err, &de):
		code = exitDamage
	}
	fmt.Fprintf(c.stderr, "minikv %s: %s\n", c.cmd.name, c.message(err))
	if code == exitUsage {
		fmt.Fprintf(c.stderr, "Run 'minikv %s -h' for usage.\n", c.cmd.name)
	}
	return code
}

// message returns the text of err for "minikv CMD: " to precede: without
// the library's "minikv: " at the start of a line or after a colon, where
// wrapping left it, nor the command's name repeated at the front
// ("restore: ..." under "minikv restore: "), so that no line names minikv
// or the command twice.
func (c *cmdCtx) message(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		l = strings.TrimPrefix(l, "minikv: ")
		lines[i] = strings.ReplaceAll(l, ": minikv: ", ": ")
	}
	lines[0] = strings.TrimPrefix(lines[0], c.cmd.name+": ")
	return strings.Join(lines, "\n")
}

// closeDB closes db and adds the failure, if any, to err.
func closeDB(db *minikv.DB, err error) error {
	return errors.Join(err, db.Close())
}
