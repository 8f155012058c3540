package minikv_test

import (
	"os"
	"testing"

	"github.com/minikv/minikv"
	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: every
// background worker must be stopped by Close.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

// childEnv names the environment variable that turns the test binary into
// a child process for lock and kill tests; runChild dispatches on it.
const childEnv = "MINIKV_TEST_CHILD"

// children maps a child role to its main function. Tests register roles in
// init functions of their own files.
var children = map[string]func() int{}

func runChild() int {
	f, ok := children[os.Getenv(childEnv)]
	if !ok {
		return 3
	}
	return f()
}

// openTestDB opens a database with opts (in a new temporary directory when
// opts.Dir is empty), closes it when the test ends, and returns it with its
// directory. Most black-box tests open their store with it (openModelDB
// chooses the options of the property tests for it).
func openTestDB(t testing.TB, opts minikv.Options) (*minikv.DB, string) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	db, err := minikv.Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", opts.Dir, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db, opts.Dir
}

// reopen closes db and opens its directory again with opts.
func reopen(t testing.TB, db *minikv.DB, opts minikv.Options) *minikv.DB {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db2, err := minikv.Open(opts)
	if err != nil {
		t.Fatalf("reopen %s: %v", opts.Dir, err)
	}
	t.Cleanup(func() { db2.Close() })
	return db2
}
