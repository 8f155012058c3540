package minikv

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/minikv/minikv/internal/vfs"
)

// laterReadFailFS fails every open for reading of one file name.
type laterReadFailFS struct {
	osFS
	name string
}

func (f laterReadFailFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if filepath.Base(name) == f.name && flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return nil, errors.New("injected read error")
	}
	return f.osFS.OpenFile(name, flag, perm)
}

// TestRecovery_TornTailCheckDoesNotIgnoreReadErrors: deciding that damage is a torn
// tail means proving that no later segment holds a record. A later segment
// that cannot be read proves nothing; Open must fail rather than delete it.
func TestRecovery_TornTailCheckDoesNotIgnoreReadErrors(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, SegmentSize: 1, DisableAutoCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} { // one record per segment
		if err := db.Set(k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, segmentName(2))
	f, err := os.OpenFile(second, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0xde, 0xad}) // damage at the end of segment 2
	f.Close()

	db, err = Open(Options{Dir: dir, fs: laterReadFailFS{name: segmentName(3)}})
	if err == nil {
		db.Close()
		t.Error("Open succeeded although a later segment could not be read")
	}
	if _, statErr := os.Stat(filepath.Join(dir, segmentName(3))); statErr != nil {
		t.Fatalf("Open deleted the unreadable segment 3: %v", statErr)
	}
	if _, err = Open(Options{Dir: dir, ReadOnly: true}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reopen without the fault = %v, want ErrCorrupt (mid-log damage)", err)
	}
}
