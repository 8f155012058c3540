package minikv_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// TestCommit_ConcurrentWriters runs 256 goroutines that write at once in
// every form (Set, a batch, Incr on shared counters, Delete, CompareAndSwap
// on a shared key, and SetWithContext with deadlines short enough that some
// give up), with compactions going on, in each sync mode. Every goroutine
// must finish; the store must then hold every acknowledged write and none
// that gave up, with the counters equal to the number of acknowledged
// increments, both before and after a reopen.
func TestCommit_ConcurrentWriters(t *testing.T) {
	const (
		writers  = 256
		counters = 8
	)
	rounds := 40
	if testing.Short() {
		rounds = 4
	}
	for _, mode := range []minikv.SyncMode{minikv.SyncNever, minikv.SyncAlways} {
		t.Run("sync="+mode.String(), func(t *testing.T) {
			opts := minikv.Options{Dir: t.TempDir(), SyncMode: mode, MaxWALSize: 256 << 10, SegmentSize: 64 << 10}
			db, _ := openTestDB(t, opts)
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				want     = map[string]string{} // acknowledged, and still there
				gone     = map[string]bool{}   // deleted, or never written
				incrs    [counters]int64
				swaps    int64
				failures = make(chan error, writers)
			)
			if err := db.Set("cas", []byte("0")); err != nil {
				t.Fatal(err)
			}
			for g := range writers {
				wg.Go(func() {
					if err := concurrentWriter(db, mode, g, rounds, counters, &mu, want, gone, &incrs, &swaps); err != nil {
						failures <- fmt.Errorf("writer %d: %w", g, err)
					}
				})
			}
			finished := make(chan struct{})
			go func() { wg.Wait(); close(finished) }()
			select {
			case <-finished:
			case <-time.After(2 * time.Minute):
				t.Fatal("writers still running after 2 minutes")
			}
			close(failures)
			for err := range failures {
				t.Error(err)
			}
			check := func(db *minikv.DB, when string) {
				t.Helper()
				for k, v := range want {
					if got, err := db.Get(k); err != nil || string(got) != v {
						t.Fatalf("%s: Get(%s) = %q, %v; want %q", when, k, got, err, v)
					}
				}
				for k := range gone {
					if ok, err := db.Exists(k); ok || err != nil {
						t.Fatalf("%s: %s exists (%v), but was deleted or given up", when, k, err)
					}
				}
				for c, n := range incrs {
					key := "counter/" + strconv.Itoa(c)
					if got, err := db.Get(key); err != nil || string(got) != strconv.FormatInt(n, 10) {
						t.Fatalf("%s: %s = %q, %v; want %d", when, key, got, err, n)
					}
				}
				if got, err := db.Get("cas"); err != nil || string(got) != strconv.FormatInt(swaps, 10) {
					t.Fatalf("%s: cas = %q, %v; want %d swaps", when, got, err, swaps)
				}
			}
			check(db, "before reopen")
			check(reopen(t, db, opts), "after reopen")
		})
	}
}

// concurrentWriter is one goroutine of TestCommit_ConcurrentWriters. It
// records under mu what the store must hold once every writer is done.
func concurrentWriter(db *minikv.DB, mode minikv.SyncMode, g, rounds, counters int, mu *sync.Mutex, want map[string]string, gone map[string]bool, incrs *[8]int64, swaps *int64) error {
	for i := range rounds {
		k := fmt.Sprintf("set/%d/%d", g, i)
		v := fmt.Sprintf("%d.%d", g, i)
		if err := db.Set(k, []byte(v)); err != nil {
			return err
		}
		b := db.NewBatch()
		bk := fmt.Sprintf("batch/%d/%d/", g, i)
		for j := range 3 {
			b.Set(bk+strconv.Itoa(j), []byte(v))
		}
		b.Delete(k)
		if err := b.Write(); err != nil {
			return err
		}
		c := (g + i) % counters
		if _, err := db.Incr("counter/" + strconv.Itoa(c)); err != nil {
			return err
		}
		// A swap from the current value to the next one; it may lose
		// the race, which is fine.
		cur, err := db.Get("cas")
		if err != nil {
			return err
		}
		n, _ := strconv.ParseInt(string(cur), 10, 64)
		swapped, err := db.CompareAndSwap("cas", cur, []byte(strconv.FormatInt(n+1, 10)))
		if err != nil {
			return err
		}
		ck := fmt.Sprintf("ctx/%d/%d", g, i)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%4)*20*time.Microsecond)
		cerr := db.SetWithContext(ctx, ck, []byte(v))
		cancel()
		if cerr != nil && !errors.Is(cerr, context.DeadlineExceeded) {
			return cerr
		}
		mu.Lock()
		gone[k] = true
		for j := range 3 {
			want[bk+strconv.Itoa(j)] = v
		}
		incrs[c]++
		if swapped {
			*swaps++
		}
		if cerr == nil {
			want[ck] = v
		} else if mode != minikv.SyncAlways {
			// A write that gave up before the writer lock wrote nothing.
			// (With SyncAlways it may also give up while waiting for its
			// fsync, after it was applied.)
			gone[ck] = true
		}
		mu.Unlock()
	}
	return nil
}
