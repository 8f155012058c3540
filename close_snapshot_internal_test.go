package minikv

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/minikv/minikv/internal/vfs"
	"github.com/minikv/minikv/internal/vfstest"
)

// closeSnapshotOptions makes the WAL threshold of snapshotAtClose small:
// 16 KiB of WAL, a quarter of MaxWALSize, makes Close write a snapshot.
func closeSnapshotOptions(fsys vfs.FS, clk *FakeClock) Options {
	o := crashOptions(fsys, clk, SyncAlways)
	o.MaxWALSize = 64 << 10
	o.DisableAutoCompaction = false
	return o
}

// TestClose_SnapshotFaults fails each file operation of a Close that
// writes a snapshot, once and from there on, and checks that Close reports
// the failure, releases every file, and that every acknowledged write is
// there after a reopen and after a power cut. Under -short it fails every
// 7th operation (crashStride), and the last.
func TestClose_SnapshotFaults(t *testing.T) {
	value := strings.Repeat("v", 100)
	stride := crashStride()
	for _, every := range []bool{false, true} {
		tried := -1 // the last operation failed
		for i := 0; ; i += stride {
			mfs := vfstest.NewMemFS(crashDir)
			ffs := vfstest.NewFaultFS(mfs, -1, every)
			clk := NewFakeClock()
			db, err := Open(closeSnapshotOptions(ffs, clk))
			if err != nil {
				t.Fatal(err)
			}
			const n = 200 // about 23 KiB of WAL
			for k := range n {
				if err := db.Set(fmt.Sprintf("k%03d", k), []byte(value)); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := ffs.Count()
			ffs.FailAt(before + i)
			err = db.Close()
			if ops, injected := ffs.Count(); injected == 0 {
				if err != nil {
					t.Fatalf("Close without a fault: %v", err)
				}
				if i == 0 {
					t.Fatal("Close did no file operation")
				}
				db, err := Open(closeSnapshotOptions(mfs, clk))
				if err != nil {
					t.Fatal(err)
				}
				st := db.Stats()
				if st.RecoveredRecords != 0 || st.RecoveredKeys != n {
					t.Fatalf("after a Close without a fault: %d records replayed, %d keys loaded; want 0 and %d", st.RecoveredRecords, st.RecoveredKeys, n)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if last := ops - before - 1; last > tried {
					// Skipped by the stride of -short: fail the
					// last operation of Close too.
					i = last - stride
					continue
				}
				break // past the last operation of Close
			}
			tried = i
			// Some failures are not errors: removing an obsolete file (the
			// next Open removes it), and preallocating or mapping a new
			// segment (the WAL then writes it with write(2)).
			_, injected := ffs.Count()
			kinds := ffs.InjectedKinds()
			tolerated := kinds["remove"]+kinds["allocate"]+kinds["map"] == injected
			if !errors.Is(err, vfstest.ErrInjected) && !(err == nil && tolerated) {
				t.Fatalf("every=%v, fault %d: Close = %v, want the injected error (injected: %v)", every, i, err, kinds)
			}
			if err := crashCheckReleased(mfs); err != nil {
				t.Fatalf("every=%v, fault %d: %v", every, i, err)
			}
			for _, fsys := range []vfs.FS{mfs, mfs.Crash(0, nil)} {
				db, err := Open(closeSnapshotOptions(fsys, clk))
				if err != nil {
					t.Fatalf("every=%v, fault %d: reopen: %v", every, i, err)
				}
				for k := range n {
					if v, err := db.Get(fmt.Sprintf("k%03d", k)); err != nil || string(v) != value {
						t.Fatalf("every=%v, fault %d: k%03d = %q, %v", every, i, k, v, err)
					}
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
