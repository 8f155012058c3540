package minikv_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/minikv/minikv"
)

// genTTL generates a TTL from 1ms to 1h, in milliseconds.
func genTTL() gopter.Gen { return gen.Int64Range(1, 3_600_000) }

// Feature: minikv-embedded-database, Property 22: TTL expiration
func TestProp22_TTLExpiration(t *testing.T) {
	db, clock, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "a key set with a TTL is readable until the TTL passes, then missing", prop.ForAll(
		func(ttlMs, offsetMs int64, value []byte) string {
			k := ns.next()
			ttl := time.Duration(ttlMs) * time.Millisecond
			// The clock ends between 0 and 2*ttl after the write, at ttl
			// exactly for offset 0.
			elapsed := ttl + time.Duration(offsetMs%(ttlMs+1))*time.Millisecond
			if offsetMs < 0 {
				elapsed = ttl - time.Duration((-offsetMs)%(ttlMs+1))*time.Millisecond
			}
			if err := db.SetWithTTL(k, value, ttl); err != nil {
				return err.Error()
			}
			clock.Advance(elapsed)
			alive := elapsed < ttl
			v, err := db.Get(k)
			if alive && (err != nil || !bytes.Equal(v, value)) {
				return fmt.Sprintf("Get after %v of %v = %q, %v; want the value", elapsed, ttl, v, err)
			}
			if !alive && !errors.Is(err, minikv.ErrNotFound) {
				return fmt.Sprintf("Get after %v of %v = %q, %v; want ErrNotFound", elapsed, ttl, v, err)
			}
			if ok, err := db.Exists(k); err != nil || ok != alive {
				return fmt.Sprintf("Exists after %v of %v = %v, %v", elapsed, ttl, ok, err)
			}
			return ""
		},
		genTTL(), gen.OneGenOf(gen.Const(int64(0)), gen.Int64Range(-3_600_000, 3_600_000)), genModelValue()))
}

// Feature: minikv-embedded-database, Property 23: TTL query returns remaining duration
func TestProp23_TTLRemaining(t *testing.T) {
	db, clock, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "TTL returns exactly the time left, a negative duration without expiry, ErrNotFound when missing", prop.ForAll(
		func(ttlMs, elapsedMs int64) string {
			k := ns.next()
			ttl := time.Duration(ttlMs) * time.Millisecond
			elapsed := time.Duration(elapsedMs%ttlMs) * time.Millisecond // < ttl
			if err := db.SetWithTTL(k+"t", []byte("v"), ttl); err != nil {
				return err.Error()
			}
			if err := db.Set(k+"p", []byte("v")); err != nil {
				return err.Error()
			}
			clock.Advance(elapsed)
			if d, err := db.TTL(k + "t"); err != nil || d != ttl-elapsed {
				return fmt.Sprintf("TTL after %v of %v = %v, %v; want %v", elapsed, ttl, d, err, ttl-elapsed)
			}
			if d, err := db.TTL(k + "p"); err != nil || d >= 0 {
				return fmt.Sprintf("TTL of a key without expiry = %v, %v; want < 0", d, err)
			}
			if d, err := db.TTL(k + "missing"); !errors.Is(err, minikv.ErrNotFound) {
				return fmt.Sprintf("TTL of a missing key = %v, %v; want ErrNotFound", d, err)
			}
			clock.Advance(ttl - elapsed)
			if d, err := db.TTL(k + "t"); !errors.Is(err, minikv.ErrNotFound) {
				return fmt.Sprintf("TTL of an expired key = %v, %v; want ErrNotFound", d, err)
			}
			return ""
		},
		genTTL(), gen.Int64Range(0, 1<<40)))
}

// Feature: minikv-embedded-database, Property 24: Expire sets expiration
func TestProp24_Expire(t *testing.T) {
	db, clock, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "Expire gives an existing key a TTL; it fails on a missing key or a bad TTL", prop.ForAll(
		func(ttlMs int64, badTTL int64, hadTTL bool, value []byte) string {
			k := ns.next()
			ttl := time.Duration(ttlMs) * time.Millisecond
			var err error
			if hadTTL {
				err = db.SetWithTTL(k, value, 2*ttl)
			} else {
				err = db.Set(k, value)
			}
			if err != nil {
				return err.Error()
			}
			before, _ := db.TTL(k)
			if err := db.Expire(k, time.Duration(badTTL)); !errors.Is(err, minikv.ErrInvalidTTL) {
				return fmt.Sprintf("Expire(%v) = %v; want ErrInvalidTTL", time.Duration(badTTL), err)
			}
			if d, err := db.TTL(k); err != nil || d != before {
				return fmt.Sprintf("a refused Expire changed the TTL: %v, %v; was %v", d, err, before)
			}
			if err := db.Expire(k, ttl); err != nil {
				return "Expire: " + err.Error()
			}
			if d, err := db.TTL(k); err != nil || d != ttl {
				return fmt.Sprintf("TTL after Expire(%v) = %v, %v", ttl, d, err)
			}
			if v, err := db.Get(k); err != nil || !bytes.Equal(v, value) {
				return fmt.Sprintf("Expire changed the value: %q, %v", v, err)
			}
			if err := db.Expire(k+"missing", ttl); !errors.Is(err, minikv.ErrNotFound) {
				return fmt.Sprintf("Expire of a missing key = %v; want ErrNotFound", err)
			}
			if ok, _ := db.Exists(k + "missing"); ok {
				return "Expire created a missing key"
			}
			clock.Advance(ttl)
			if _, err := db.Get(k); !errors.Is(err, minikv.ErrNotFound) {
				return fmt.Sprintf("Get after the Expire TTL = %v; want ErrNotFound", err)
			}
			if err := db.Expire(k, ttl); !errors.Is(err, minikv.ErrNotFound) {
				return fmt.Sprintf("Expire of an expired key = %v; want ErrNotFound", err)
			}
			return ""
		},
		genTTL(), gen.Int64Range(-1<<40, 0), gen.Bool(), genModelValue()))
}

// Feature: minikv-embedded-database, Property 25: Persist removes expiration
func TestProp25_Persist(t *testing.T) {
	db, clock, opts := openModelDB(t)
	var ns namespace
	runs := 0
	checkProp(t, "Persist removes a key's expiry, also across reopen; it fails on a missing key", prop.ForAll(
		func(ttlMs int64, value []byte) string {
			k := ns.next()
			ttl := time.Duration(ttlMs) * time.Millisecond
			if err := db.SetWithTTL(k, value, ttl); err != nil {
				return err.Error()
			}
			if err := db.Persist(k); err != nil {
				return "Persist: " + err.Error()
			}
			if d, err := db.TTL(k); err != nil || d >= 0 {
				return fmt.Sprintf("TTL after Persist = %v, %v; want < 0", d, err)
			}
			if runs++; runs%10 == 0 {
				db = reopen(t, db, opts)
			}
			clock.Advance(2 * ttl)
			if v, err := db.Get(k); err != nil || !bytes.Equal(v, value) {
				return fmt.Sprintf("Get after Persist and 2*TTL = %q, %v", v, err)
			}
			if err := db.Persist(k + "missing"); !errors.Is(err, minikv.ErrNotFound) {
				return fmt.Sprintf("Persist of a missing key = %v; want ErrNotFound", err)
			}
			if err := db.SetWithTTL(k+"e", value, ttl); err != nil {
				return err.Error()
			}
			clock.Advance(ttl)
			if err := db.Persist(k + "e"); !errors.Is(err, minikv.ErrNotFound) {
				return fmt.Sprintf("Persist of an expired key = %v; want ErrNotFound", err)
			}
			if ok, _ := db.Exists(k + "e"); ok {
				return "Persist revived an expired key"
			}
			return ""
		},
		genTTL(), genModelValue()))
}

func TestTTL_Invalid(t *testing.T) {
	db, _, _ := openModelDB(t)
	for _, ttl := range []time.Duration{0, -1, -time.Hour} {
		if err := db.SetWithTTL("k", []byte("v"), ttl); !errors.Is(err, minikv.ErrInvalidTTL) {
			t.Errorf("SetWithTTL(%v) = %v; want ErrInvalidTTL", ttl, err)
		}
	}
	if ok, _ := db.Exists("k"); ok {
		t.Fatal("a refused SetWithTTL wrote the key")
	}
	if err := db.SetWithTTL("", []byte("v"), time.Second); !errors.Is(err, minikv.ErrEmptyKey) {
		t.Errorf("SetWithTTL with an empty key = %v", err)
	}
}

func TestTTL_SurvivesReopen(t *testing.T) {
	db, clock, opts := openModelDB(t)
	if err := db.SetWithTTL("k", []byte("v"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Second)
	db = reopen(t, db, opts)
	if d, err := db.TTL("k"); err != nil || d != 6*time.Second {
		t.Fatalf("TTL after reopen = %v, %v; want 6s (expiry is absolute)", d, err)
	}
	// Through a snapshot too.
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	db = reopen(t, db, opts)
	if d, err := db.TTL("k"); err != nil || d != 5*time.Second {
		t.Fatalf("TTL after compaction and reopen = %v, %v; want 5s", d, err)
	}
	clock.Advance(5 * time.Second)
	if _, err := db.Get("k"); !errors.Is(err, minikv.ErrNotFound) {
		t.Fatalf("Get at expiry = %v; want ErrNotFound", err)
	}
}

func TestTTL_ExpiredWhileClosed(t *testing.T) {
	for _, viaSnapshot := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", viaSnapshot), func(t *testing.T) {
			db, clock, opts := openModelDB(t)
			if err := db.Set("k", []byte("old")); err != nil {
				t.Fatal(err)
			}
			if err := db.SetWithTTL("k", []byte("new"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := db.SetWithTTL("stays", []byte("v"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if viaSnapshot {
				if err := db.Compact(); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
			db2, err := minikv.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			if v, err := db2.Get("k"); !errors.Is(err, minikv.ErrNotFound) {
				t.Fatalf("Get of a key that expired while closed = %q, %v; want ErrNotFound (no older value)", v, err)
			}
			if n, err := db2.Count(); err != nil || n != 1 {
				t.Fatalf("Count = %d, %v; want 1", n, err)
			}
			if err := db2.Persist("k"); !errors.Is(err, minikv.ErrNotFound) {
				t.Fatalf("Persist of the expired key = %v", err)
			}
			if st := db2.Stats(); st.KeyCount != 1 {
				t.Fatalf("Stats().KeyCount = %d; want 1", st.KeyCount)
			}
		})
	}
}

func TestTTL_SetClearsExpiry(t *testing.T) {
	db, clock, opts := openModelDB(t)
	if err := db.SetWithTTL("k", []byte("a"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := db.Set("k", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWithTTL("b", []byte("a"), time.Second); err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	b.Set("b", []byte("b"))
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k", "b"} {
		if d, err := db.TTL(k); err != nil || d >= 0 {
			t.Fatalf("TTL(%s) after Set = %v, %v; want no expiry", k, d, err)
		}
	}
	clock.Advance(time.Hour)
	db = reopen(t, db, opts)
	for _, k := range []string{"k", "b"} {
		if v, err := db.Get(k); err != nil || string(v) != "b" {
			t.Fatalf("Get(%s) an hour after Set = %q, %v", k, v, err)
		}
	}
}

// fillTTL writes n keys with ttl and values of size bytes, in batches.
func fillTTL(t *testing.T, db *minikv.DB, prefix string, n, size int, ttl time.Duration) {
	t.Helper()
	v := bytes.Repeat([]byte("x"), size)
	for i := 0; i < n; i += 500 {
		b := db.NewBatch()
		for j := i; j < min(i+500, n); j++ {
			if ttl > 0 {
				b.SetWithTTL(fmt.Sprintf("%s%06d", prefix, j), v, ttl)
			} else {
				b.Set(fmt.Sprintf("%s%06d", prefix, j), v)
			}
		}
		if err := b.Write(); err != nil {
			t.Fatal(err)
		}
	}
}

// cleanUntil runs cleaning rounds until Stats().Expired reaches want.
// One round stops at its time budget, which a loaded machine may reach
// before it is done.
func cleanUntil(t *testing.T, db *minikv.DB, want int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for db.Stats().Expired < want {
		if time.Now().After(deadline) {
			t.Fatalf("cleaning removed %d of %d expired keys in a minute", db.Stats().Expired, want)
		}
		if err := minikv.CleanExpired(db); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCleaner_RemovesExpired checks the cleaner: it deletes expired keys
// nobody reads, returns their memory, and logs the deletions, so that a
// reopen with the clock set back (where the records would be alive again)
// does not bring them back.
func TestCleaner_RemovesExpired(t *testing.T) {
	db, clock, opts := openModelDB(t)
	const n = 20000
	fillTTL(t, db, "gone/", n, 100, time.Minute)
	fillTTL(t, db, "kept/", 10, 100, 0)
	full := db.Stats()
	clock.Advance(time.Minute)
	cleanUntil(t, db, n)
	st := db.Stats()
	if st.Expired != n {
		t.Fatalf("Stats().Expired = %d; want %d", st.Expired, n)
	}
	if st.KeyCount != 10 {
		t.Fatalf("Stats().KeyCount = %d; want 10", st.KeyCount)
	}
	for i := range 10 {
		// The index shrank under these keys: they must still be found.
		if _, err := db.Get(fmt.Sprintf("kept/%06d", i)); err != nil {
			t.Fatalf("Get(kept/%06d) after cleaning: %v", i, err)
		}
	}
	t.Logf("memory with %d expiring keys %d, after cleaning %d", n, full.MemoryUsage, st.MemoryUsage)
	if st.MemoryUsage > full.MemoryUsage/4 {
		t.Fatalf("memory after cleaning %d keys: %d of %d; want it mostly returned", n, st.MemoryUsage, full.MemoryUsage)
	}
	clock.Advance(-30 * time.Second) // the expired records would be alive again
	db = reopen(t, db, opts)
	if n, err := db.Count(); err != nil || n != 10 {
		t.Fatalf("Count after reopen with the clock set back = %d, %v; want 10: the deletions did not reach the WAL", n, err)
	}
	if _, err := db.Get("gone/000001"); !errors.Is(err, minikv.ErrNotFound) {
		t.Fatalf("Get of a cleaned key after reopen = %v", err)
	}
}

// TestCleaner_MixedMemory checks that memory of expired keys interleaved
// with live ones comes back once the cleaner and a compaction ran.
func TestCleaner_MixedMemory(t *testing.T) {
	db, clock, _ := openModelDB(t)
	v := bytes.Repeat([]byte("y"), 200)
	for i := range 20000 {
		var err error
		if i%4 == 0 {
			err = db.Set(fmt.Sprintf("k%06d", i), v)
		} else {
			err = db.SetWithTTL(fmt.Sprintf("k%06d", i), v, time.Second)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	full := db.Stats().MemoryUsage
	clock.Advance(time.Second)
	cleanUntil(t, db, 15000)
	cleaned := db.Stats().MemoryUsage
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	st := db.Stats()
	t.Logf("memory: full %d, after cleaning %d, after compaction %d", full, cleaned, st.MemoryUsage)
	if st.KeyCount != 5000 || st.Expired != 15000 {
		t.Fatalf("KeyCount %d, Expired %d; want 5000, 15000", st.KeyCount, st.Expired)
	}
	if st.MemoryUsage > full/2 {
		t.Fatalf("memory after cleaning 3/4 of the keys and compacting: %d of %d", st.MemoryUsage, full)
	}
}

// TestCleaner_Background checks that the background worker, not only a
// direct call, cleans: with a short interval, expired keys disappear from
// memory without any read.
func TestCleaner_Background(t *testing.T) {
	opts, clock := modelOptions(t)
	opts.TTLCleanInterval = 2 * time.Millisecond
	db, _ := openTestDB(t, opts)
	fillTTL(t, db, "t/", 300, 10, time.Second)
	if err := db.Set("keep", nil); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for db.Stats().Expired < 300 {
		if time.Now().After(deadline) {
			t.Fatalf("background cleaner removed %d of 300 expired keys in 20s", db.Stats().Expired)
		}
		time.Sleep(time.Millisecond)
	}
	if n, err := db.Count(); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v", n, err)
	}
}

// TestTTL_ExpiredIsMissingEverywhere checks every read path on an expired
// key that no cleaner has removed.
func TestTTL_ExpiredIsMissingEverywhere(t *testing.T) {
	db, clock, opts := openModelDB(t)
	for _, k := range []string{"a1", "a2", "b1"} {
		if err := db.Set(k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetWithTTL("a3", []byte("10"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWithTTL("a0", []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := db.Get("a3"); !errors.Is(err, minikv.ErrNotFound) {
		t.Errorf("Get: %v", err)
	}
	if ok, err := db.Exists("a3"); ok || err != nil {
		t.Errorf("Exists: %v, %v", ok, err)
	}
	if n, err := db.Count(); n != 3 || err != nil {
		t.Errorf("Count = %d, %v; want 3", n, err)
	}
	if keys, err := db.Keys("a*"); err != nil || !slices.Equal(keys, []string{"a1", "a2"}) {
		t.Errorf("Keys = %q, %v", keys, err)
	}
	it, _ := db.Scan("a", 0)
	if got, err := drain(it); err != nil || len(got) != 2 || got[0].Key != "a1" {
		t.Errorf("Scan = %q, %v", got, err)
	}
	it, _ = db.ScanRange("a0", "a4", 1)
	if got, err := drain(it); err != nil || len(got) != 1 || got[0].Key != "a1" {
		t.Errorf("ScanRange with limit 1 = %q, %v; the limit must count live keys only", got, err)
	}
	var dump bytes.Buffer
	if err := db.DumpKeys(&dump); err != nil || bytes.Contains(dump.Bytes(), []byte("a3")) {
		t.Errorf("DumpKeys = %q, %v", dump.String(), err)
	}
	if ok, err := db.CompareAndSwap("a0", []byte("x"), []byte("y")); ok || err != nil {
		t.Errorf("CompareAndSwap on an expired key = %v, %v; want false", ok, err)
	}
	if prev, err := db.GetAndSet("a0", []byte("z")); prev != nil || err != nil {
		t.Errorf("GetAndSet on an expired key = %q, %v; want nil", prev, err)
	}
	if n, err := db.Incr("a3"); n != 1 || err != nil {
		t.Errorf("Incr on an expired key = %d, %v; want 1", n, err)
	}
	if err := db.SetWithTTL("nx", []byte("old"), time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if ok, err := db.SetNX("nx", []byte("new")); !ok || err != nil {
		t.Errorf("SetNX on an expired key = %v, %v; want true", ok, err)
	}
	// Snapshots leave expired keys out: with the clock set back after a
	// compaction, the expired key stays gone.
	if err := db.SetWithTTL("snap", []byte("v"), time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(-time.Second)
	db = reopen(t, db, opts)
	if v, err := db.Get("snap"); !errors.Is(err, minikv.ErrNotFound) {
		t.Errorf("a key expired at compaction time came back: %q, %v", v, err)
	}
}

// TestTTL_Huge is the regression test of a TTL so long that now + ttl
// overflowed int64: SetWithTTL returned nil, the key read as expired at
// once (a negative expiry), and since the WAL decoder rejects negative
// expiries the next Open failed with ErrCorrupt. Expiries now saturate at
// the largest time the format holds.
func TestTTL_Huge(t *testing.T) {
	db, clock, opts := openModelDB(t)
	huge := []time.Duration{time.Duration(math.MaxInt64), time.Duration(math.MaxInt64 - clock.Now() + 1), 200 * 365 * 24 * time.Hour}
	for i, ttl := range huge {
		if err := db.SetWithTTL(fmt.Sprintf("set%d", i), []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
		if err := db.Set(fmt.Sprintf("exp%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := db.Expire(fmt.Sprintf("exp%d", i), ttl); err != nil {
			t.Fatal(err)
		}
		b := db.NewBatch()
		b.SetWithTTL(fmt.Sprintf("batch%d", i), []byte("v"), ttl)
		if err := b.Write(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		for _, p := range []string{"set", "exp", "batch"} {
			for i := range huge {
				k := fmt.Sprintf("%s%d", p, i)
				if d, err := db.TTL(k); err != nil || d < 100*365*24*time.Hour {
					t.Fatalf("%s: TTL(%s) = %v, %v; want centuries", when, k, d, err)
				}
			}
		}
	}
	check("after writing")
	db = reopen(t, db, opts)
	check("after reopen")
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, opts)
	check("after compaction and reopen")
	var dump bytes.Buffer
	if err := db.DumpKeys(&dump); err != nil {
		t.Fatal(err)
	}
	if _, err := parseDump(dump.String()); err != nil {
		t.Fatal(err)
	}
}
