// Package examples_test runs every example program and every shell command
// of the README, as a user would after a fresh clone.
package examples_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repoRoot is where the README's commands run.
const repoRoot = ".."

// want lists lines each example must print.
var want = map[string][]string{
	"basic":  {"get user:2 = grace", "get user:3 after delete: minikv: key not found", "scan user:1 = ada", "after reopen: 3 keys, user:1 = ada"},
	"cache":  {`ada    -> "profile of ada" (hit)`, "hits 3, misses 3", "after the TTL:", "hits 3, misses 4", "bounded cache: 200000 lookups", "memory within the limit: true"},
	"batch":  {"total 1000", "saw a half-applied transfer 0 times", "invalid batch: minikv: empty key", "after reopening: alice"},
	"search": {"indexed 5 documents, 35 postings", `"quick fox"        -> 2 match(es)`, "words of doc 3: and animals are clever foxes quick", `"sun"              -> 0 match(es)`},
}

func goTool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	return path
}

// runShell runs one command line with sh in the repository root and
// returns its combined output and exit code.
func runShell(t *testing.T, line string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = repoRoot
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s: timed out", line)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return out.String(), code
}

func TestExamples(t *testing.T) {
	goTool(t)
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lines, ok := want[name]
			if !ok {
				t.Fatalf("examples/%s has no expected output in examples_test.go", name)
			}
			out, code := runShell(t, "go run ./examples/"+name)
			if code != 0 {
				t.Fatalf("go run ./examples/%s: exit %d\n%s", name, code, out)
			}
			for _, l := range lines {
				if !strings.Contains(out, l) {
					t.Errorf("examples/%s did not print %q; it printed:\n%s", name, l, out)
				}
			}
		})
	}
}

// readmeCommands returns the command lines of the README's sh blocks, with
// comments and blank lines dropped.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	inSh := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
		case strings.HasPrefix(line, "```"):
			inSh = false
		case inSh && strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "#"):
			cmds = append(cmds, strings.TrimSpace(line))
		}
	}
	return cmds
}

// wantExit returns the exit code a README line announces with a trailing
// "# exit N" comment, or 0.
func wantExit(line string) int {
	i := strings.LastIndex(line, "# exit ")
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(strings.Fields(line[i+len("# exit "):])[0])
	if err != nil {
		return -1
	}
	return n
}

// TestREADMECommands runs every command of the README's sh blocks, in
// order, the way a user copying them would: "go run ./examples/..." as it
// is, and "go run ./cmd/minikv ..." through a binary built once, with the
// demo directory moved into a temporary one. "go get" and "go install"
// need the network or change the machine, and "go test ./..." is what runs
// this test; those are only checked to be there.
func TestREADMECommands(t *testing.T) {
	goTool(t)
	cmds := readmeCommands(t)
	if len(cmds) == 0 {
		t.Fatal("no sh commands found in README.md")
	}
	bin := filepath.Join(t.TempDir(), "minikv")
	if out, code := runShell(t, "go build -o "+bin+" ./cmd/minikv"); code != 0 {
		t.Fatalf("go build ./cmd/minikv: %s", out)
	}
	demo := filepath.Join(t.TempDir(), "demo")
	seen := map[string]bool{}
	for _, line := range cmds {
		switch {
		case strings.HasPrefix(line, "go get "), strings.HasPrefix(line, "go install "), strings.HasPrefix(line, "go test "):
			seen[strings.Fields(line)[1]] = true
			continue
		case strings.HasPrefix(line, "go run ./examples/"):
		case strings.Contains(line, "go run ./cmd/minikv"):
			line = strings.ReplaceAll(line, "go run ./cmd/minikv", bin)
			line = strings.ReplaceAll(line, "/tmp/minikv-demo", demo)
		default:
			t.Errorf("README command %q is of a kind this test does not know how to check", line)
			continue
		}
		out, code := runShell(t, line)
		if want := wantExit(line); code != want {
			t.Errorf("README command %q: exit %d, want %d\n%s", line, code, want, out)
		}
	}
	for _, sub := range []string{"get", "test"} {
		if !seen[sub] {
			t.Errorf("README lacks its go %s command", sub)
		}
	}
}

// readmeProgram returns the README's Go block that holds a whole program.
func readmeProgram(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(data), "```go\n")[1:] {
		code, _, ok := strings.Cut(block, "```")
		if ok && strings.HasPrefix(code, "package main\n") {
			return code
		}
	}
	t.Fatal("README.md has no Go block holding a whole program (package main)")
	return ""
}

// TestREADMEProgram builds the program the README shows, exactly as it is
// written there, against this checkout, and runs it in an empty directory:
// the first code a user pastes must compile and work.
func TestREADMEProgram(t *testing.T) {
	goTool(t)
	// A directory of the module, so that the program builds against this
	// checkout; its leading dot keeps it out of "./..." patterns.
	src, err := os.MkdirTemp(repoRoot, ".readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(src) })
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(readmeProgram(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "readme")
	if out, code := runShell(t, "go vet ./"+filepath.Base(src)+" && go build -o "+bin+" ./"+filepath.Base(src)); code != 0 {
		t.Fatalf("the README's program does not build:\n%s", out)
	}
	run := exec.Command(bin)
	run.Dir = t.TempDir()
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's program failed: %v\n%s", err, out)
	}
	for _, line := range []string{"user:1 = ada", "scan: user:1 = ada"} {
		if !strings.Contains(string(out), line) {
			t.Errorf("the README's program did not print %q; it printed:\n%s", line, out)
		}
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "data", "MANIFEST")); err != nil {
		t.Errorf("the README's program left no store in ./data: %v", err)
	}
}
