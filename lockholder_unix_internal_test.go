//go:build unix

package minikv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockHolder_Line: a refused Open names the writer that the LOCK line
// names while it runs; a line of a process that ended, or a line no
// writer wrote, is not shown.
func TestLockHolder_Line(t *testing.T) {
	name := filepath.Join(t.TempDir(), lockName)
	l, err := osFS{}.Lock(name, true) // a writer still in its recovery
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	host, _ := os.Hostname()
	ended := exec.Command(os.Args[0], "-test.run=^$")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, line, want string
	}{
		{"running", fmt.Sprintf("pid %d host %s since 2026-12-07T12:00:00Z\n", os.Getpid(), host),
			fmt.Sprintf(" (held by pid %d host %s since 2026-12-07T12:00:00Z)", os.Getpid(), host)},
		{"ended", fmt.Sprintf("pid %d host %s since 2026-12-07T12:00:00Z\n", ended.Process.Pid, host), ""},
		{"other host", "pid 1 host elsewhere since 2026-12-07T12:00:00Z\n", " (held by pid 1 host elsewhere since 2026-12-07T12:00:00Z)"},
		{"garbage", "\x1b[2Jpid 1 host x since y\n", ""},
		{"not a holder line", "hello\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(name, []byte(tt.line), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := osFS{}.Lock(name, false)
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("shared lock beside an exclusive one: %v", err)
			}
			got := strings.TrimPrefix(err.Error(), ErrLocked.Error()+": "+name)
			if got != tt.want {
				t.Fatalf("holder %q; want %q", got, tt.want)
			}
		})
	}
}
