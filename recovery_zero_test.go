package minikv_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/minikv/minikv"
)

// A tail of zero bytes after the last record is cut at a writable open and
// counted in TornBytes, like any torn tail. A record's first byte (a CRC
// byte) is zero one time in 256, so a crash that kept only that byte of a
// record leaves exactly this.
func TestRecovery_ZeroTailIsCutAndCounted(t *testing.T) {
	for _, n := range []int{1, 7, 4096} {
		dir := t.TempDir()
		db, err := minikv.Open(minikv.Options{Dir: dir, SyncMode: minikv.SyncNever})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Set("k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		wals, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
		seg := wals[len(wals)-1]
		before, _ := os.Stat(seg)
		f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(make([]byte, n))
		f.Close()

		db, err = minikv.Open(minikv.Options{Dir: dir})
		if err != nil {
			t.Fatalf("%d zero bytes: Open: %v", n, err)
		}
		if got := db.Stats().TornBytes; got != int64(n) {
			t.Errorf("%d zero bytes: TornBytes = %d", n, got)
		}
		if v, err := db.Get("k"); err != nil || string(v) != "v" {
			t.Errorf("%d zero bytes: Get = %q, %v", n, v, err)
		}
		// While open, the last segment may be preallocated again (zeros
		// after its records); Close cuts it to its records.
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.Stat(seg); after.Size() != before.Size() {
			t.Errorf("%d zero bytes: segment is %d bytes after Open and Close, want %d", n, after.Size(), before.Size())
		}
	}
}
