package minikv_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	randv2 "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/minikv/minikv"
)

// Property tests of the core engine (issue 2), run with gopter.
//
// Every property runs 100 times by default, and shortPropIters (20) times
// under go test -short. For a longer run, set MINIKV_PROP_ITERS:
//
//	MINIKV_PROP_ITERS=1000 go test -run 'TestProp' .
//
// A failing property prints its initial seed ("failed with initial seed:
// N"); MINIKV_SEED=N go test -run <that test> replays the same inputs.

// propParams returns the gopter parameters shared by the core properties:
// at least propIters() successful runs (100, or 20 under -short), or
// MINIKV_PROP_ITERS when it is larger, and the seed MINIKV_SEED when it is
// set.
func propParams() *gopter.TestParameters {
	p := gopter.DefaultTestParameters()
	if s := os.Getenv("MINIKV_SEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			panic("MINIKV_SEED must be an integer: " + err.Error())
		}
		p = gopter.DefaultTestParametersWithSeed(seed)
	}
	p.MinSuccessfulTests = propIters()
	if s := os.Getenv("MINIKV_PROP_ITERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			panic("MINIKV_PROP_ITERS must be an integer: " + err.Error())
		}
		p.MinSuccessfulTests = max(p.MinSuccessfulTests, n)
	}
	return p
}

// genBytes generates slices of minLen to maxLen random bytes. It does
// not shrink: the values are inputs, not the subject of the property.
func genBytes(minLen, maxLen int) gopter.Gen {
	return func(p *gopter.GenParameters) *gopter.GenResult {
		b := make([]byte, minLen+p.Rng.Intn(maxLen-minLen+1))
		// One draw from gopter's (locked) source seeds a local one, so
		// that large values cost one lock, not one per eight bytes.
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], p.Rng.Uint64())
		randv2.NewChaCha8(seed).Read(b)
		return gopter.NewGenResult(b, gopter.NoShrinker)
	}
}

func bytesToString(b []byte) string { return string(b) }

// genKey generates valid keys: mostly from a small set, so that a
// sequence overwrites and deletes the same keys, and otherwise arbitrary
// bytes.
func genKey() gopter.Gen {
	return gen.Weighted([]gen.WeightedGen{
		{Weight: 6, Gen: gen.IntRange(0, 11).Map(func(i int) string { return fmt.Sprintf("key-%02d", i) })},
		{Weight: 3, Gen: genBytes(1, 24).Map(bytesToString)},
		{Weight: 1, Gen: gen.Identifier()},
	})
}

// genWideKey generates valid keys that include the extremes: one byte,
// MaxKeySize bytes, and arbitrary binary.
func genWideKey() gopter.Gen {
	return gen.Weighted([]gen.WeightedGen{
		{Weight: 4, Gen: gen.IntRange(0, 7).Map(func(i int) string { return fmt.Sprintf("key-%d", i) })},
		{Weight: 4, Gen: genBytes(1, 40).Map(bytesToString)},
		{Weight: 1, Gen: genBytes(1, 1).Map(bytesToString)},
		{Weight: 1, Gen: genBytes(minikv.MaxKeySize, minikv.MaxKeySize).Map(bytesToString)},
	})
}

// genValue generates values: short binary, empty, and a few KiB.
func genValue() gopter.Gen {
	return gen.Weighted([]gen.WeightedGen{
		{Weight: 6, Gen: genBytes(1, 64)},
		{Weight: 2, Gen: gen.Const([]byte{})},
		{Weight: 1, Gen: genBytes(200, 4000)},
	})
}

// genWideValue generates values that include large ones, past the
// size at which the index stores a record on its own.
func genWideValue() gopter.Gen {
	return gen.Weighted([]gen.WeightedGen{
		{Weight: 12, Gen: genBytes(1, 64)},
		{Weight: 4, Gen: gen.Const([]byte{})},
		{Weight: 3, Gen: genBytes(1000, 70000)},
		{Weight: 1, Gen: genBytes(256<<10+1, 300<<10)},
	})
}

func genOpFrom(keys, values gopter.Gen) gopter.Gen {
	return gopter.CombineGens(gen.IntRange(0, 4), keys, values).Map(func(v []any) dbOp {
		return dbOp{Del: v[0].(int) == 0, Key: v[1].(string), Value: v[2].([]byte)}
	})
}

// genOps generates sequences of writes, one in five a Delete.
func genOps() gopter.Gen { return gen.SliceOf(genOpFrom(genKey(), genValue())) }

// genWideOps generates sequences of writes with extreme keys and values.
func genWideOps() gopter.Gen {
	return gen.SliceOf(genOpFrom(genWideKey(), genWideValue()))
}

// session is a database that a property opens, reopens and closes.
type session struct {
	opts minikv.Options
	db   *minikv.DB
}

// startSession opens a database in a new directory.
func startSession(t *testing.T, opts minikv.Options) (*session, error) {
	opts.Dir = filepath.Join(t.TempDir(), "db")
	db, err := minikv.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("Open: %w", err)
	}
	return &session{opts: opts, db: db}, nil
}

// close closes the database if it is open.
func (s *session) close() error {
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("Close: %w", err)
	}
	return nil
}

// reopen closes the database and opens it again with s.opts.
func (s *session) reopen() error {
	if err := s.close(); err != nil {
		return err
	}
	db, err := minikv.Open(s.opts)
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	s.db = db
	return nil
}

// failMsg formats a property failure.
func failMsg(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// errText turns an error into a property failure ("" for nil).
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Feature: minikv-embedded-database, Property 1: Set-Get round trip
func TestProp01_SetGetRoundTrip(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever})
	props := gopter.NewProperties(propParams())
	props.Property("Get returns a copy of what the last Set stored", prop.ForAll(
		func(key string, first, second []byte) string {
			for _, v := range [][]byte{first, second} {
				if err := db.Set(key, v); err != nil {
					return failMsg("Set(%q): %v", key, err)
				}
				got, err := db.Get(key)
				if err != nil || !bytes.Equal(got, v) {
					return failMsg("Get(%q) = %x, %v; want %x", key, got, err, v)
				}
			}
			return ""
		},
		genKey(), genValue(), genValue()))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 2: Get non-existent key
func TestProp02_GetNonExistentKey(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("a key never written, or deleted last, is ErrNotFound", prop.ForAll(
		func(ops []dbOp, probes []string) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			if err := applyAll(s.db, model, ops); err != nil {
				return err.Error()
			}
			for _, op := range ops {
				probes = append(probes, op.Key)
			}
			checked := 0
			for _, k := range probes {
				if _, ok := model[k]; ok {
					continue
				}
				checked++
				v, err := s.db.Get(k)
				if !errors.Is(err, minikv.ErrNotFound) || v != nil {
					return failMsg("Get(%s) = %q, %v; want nil, ErrNotFound", shortString(k), v, err)
				}
				err = s.db.View(k, func([]byte) error { return errors.New("View called fn for a missing key") })
				if !errors.Is(err, minikv.ErrNotFound) {
					return failMsg("View(%s) = %v; want ErrNotFound", shortString(k), err)
				}
			}
			return errText(s.close())
		},
		genOps(), gen.SliceOf(genKey())))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 3: Delete makes key non-existent
func TestProp03_DeleteMakesKeyNonExistent(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("after Delete, Get is ErrNotFound, before and after reopen, and other keys stay", prop.ForAll(
		func(ops []dbOp, key string, value []byte) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			if err := applyAll(s.db, model, ops); err != nil {
				return err.Error()
			}
			if err := s.db.Set(key, value); err != nil {
				return failMsg("Set: %v", err)
			}
			if err := s.db.Delete(key); err != nil {
				return failMsg("Delete: %v", err)
			}
			delete(model, key)
			for round := range 2 {
				if _, err := s.db.Get(key); !errors.Is(err, minikv.ErrNotFound) {
					return failMsg("round %d: Get after Delete = %v, want ErrNotFound", round, err)
				}
				if msg := checkContents(s.db, model); msg != "" {
					return failMsg("round %d: %s", round, msg)
				}
				if err := s.reopen(); err != nil {
					return err.Error()
				}
			}
			return errText(s.close())
		},
		genOps(), genKey(), genValue()))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 4: Delete idempotence
func TestProp04_DeleteIdempotence(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("deleting a key again succeeds and changes nothing", prop.ForAll(
		func(ops []dbOp, key string, times int) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			if err := applyAll(s.db, model, ops); err != nil {
				return err.Error()
			}
			delete(model, key)
			for i := range times {
				if err := s.db.Delete(key); err != nil {
					return failMsg("Delete #%d: %v", i+1, err)
				}
				if msg := checkContents(s.db, model); msg != "" {
					return failMsg("after Delete #%d: %s", i+1, msg)
				}
			}
			if err := s.reopen(); err != nil {
				return err.Error()
			}
			if msg := checkContents(s.db, model); msg != "" {
				return failMsg("after reopen: %s", msg)
			}
			return errText(s.close())
		},
		genOps(), genKey(), gen.IntRange(1, 5)))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 5: Exists reflects key state
func TestProp05_ExistsReflectsState(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("Exists is true exactly for the keys set and not deleted since", prop.ForAll(
		func(ops []dbOp, probes []string) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			for i, op := range ops {
				if err := apply(s.db, model, op); err != nil {
					return failMsg("op %d: %v", i, err)
				}
				_, want := model[op.Key]
				if got, err := s.db.Exists(op.Key); got != want || err != nil {
					return failMsg("op %d (delete=%v): Exists(%s) = %v, %v; want %v", i, op.Del, shortString(op.Key), got, err, want)
				}
			}
			for _, k := range probes {
				_, want := model[k]
				if got, err := s.db.Exists(k); got != want || err != nil {
					return failMsg("Exists(%s) = %v, %v; want %v", shortString(k), got, err, want)
				}
			}
			return errText(s.close())
		},
		genOps(), gen.SliceOf(genKey())))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 6: Key size validation
func TestProp06_KeySizeValidation(t *testing.T) {
	opts := minikv.Options{SyncMode: minikv.SyncNever}
	db, dir := openTestDB(t, opts)
	opts.Dir = dir
	model := map[string]string{}
	props := gopter.NewProperties(propParams())
	props.Property("keys of 1..MaxKeySize bytes work; others fail with the right error and write nothing", prop.ForAll(
		func(n int, seed int64) string {
			key := keyOfLen(n, seed)
			var want error
			switch {
			case n == 0:
				want = minikv.ErrEmptyKey
			case n > minikv.MaxKeySize:
				want = minikv.ErrKeyTooLarge
			}
			walBefore := minikv.WALBytes(db)
			countBefore, _ := db.Count()
			value := []byte(strconv.Itoa(n))
			if err := db.Set(key, value); !errors.Is(err, want) {
				return failMsg("Set with a %d-byte key = %v, want %v", n, err, want)
			}
			if want == nil {
				model[key] = string(value)
				got, err := db.Get(key)
				if err != nil || !bytes.Equal(got, value) {
					return failMsg("Get of a %d-byte key = %q, %v", n, got, err)
				}
				return ""
			}
			if _, err := db.Get(key); !errors.Is(err, want) {
				return failMsg("Get with a %d-byte key = %v, want %v", n, err, want)
			}
			if _, err := db.Exists(key); !errors.Is(err, want) {
				return failMsg("Exists with a %d-byte key = %v, want %v", n, err, want)
			}
			if err := db.Delete(key); !errors.Is(err, want) {
				return failMsg("Delete with a %d-byte key = %v, want %v", n, err, want)
			}
			if w := minikv.WALBytes(db); w != walBefore {
				return failMsg("a rejected %d-byte key grew the WAL from %d to %d bytes", n, walBefore, w)
			}
			if c, _ := db.Count(); c != countBefore {
				return failMsg("a rejected %d-byte key changed Count from %d to %d", n, countBefore, c)
			}
			return ""
		},
		gen.Weighted([]gen.WeightedGen{
			{Weight: 3, Gen: gen.IntRange(minikv.MaxKeySize-3, minikv.MaxKeySize+3)},
			{Weight: 1, Gen: gen.Const(0)},
			{Weight: 2, Gen: gen.IntRange(1, 64)},
			{Weight: 2, Gen: gen.IntRange(minikv.MaxKeySize+4, 4*minikv.MaxKeySize)},
		}),
		gen.Int64()))
	props.TestingRun(t)
	db = reopen(t, db, opts)
	if msg := checkContents(db, model); msg != "" {
		t.Errorf("after reopen: %s", msg)
	}
}

// Feature: minikv-embedded-database, Property 7: Value size validation
func TestProp07_ValueSizeValidation(t *testing.T) {
	opts := minikv.Options{SyncMode: minikv.SyncNever}
	db, dir := openTestDB(t, opts)
	opts.Dir = dir
	buf := make([]byte, minikv.MaxValueSize+64)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	const key = "value"
	var wantSum [32]byte
	wantLen, round := -1, 0
	props := gopter.NewProperties(propParams())
	props.Property("values of 0..MaxValueSize bytes work; larger ones fail with ErrValueTooLarge and write nothing", prop.ForAll(
		func(n int) string {
			round++
			value := buf[:n]
			if n > 0 {
				value[0], value[n-1] = byte(round), byte(round>>8)
			}
			walBefore := minikv.WALBytes(db)
			err := db.Set(key, value)
			if n > minikv.MaxValueSize {
				if !errors.Is(err, minikv.ErrValueTooLarge) {
					return failMsg("Set of %d bytes = %v, want ErrValueTooLarge", n, err)
				}
				if w := minikv.WALBytes(db); w != walBefore {
					return failMsg("a rejected %d-byte value grew the WAL from %d to %d bytes", n, walBefore, w)
				}
			} else {
				if err != nil {
					return failMsg("Set of %d bytes: %v", n, err)
				}
				wantSum, wantLen = sha256.Sum256(value), n
			}
			got, err := db.Get(key)
			if wantLen < 0 {
				if !errors.Is(err, minikv.ErrNotFound) {
					return failMsg("Get after only rejected values = %d bytes, %v", len(got), err)
				}
				return ""
			}
			if err != nil || len(got) != wantLen || sha256.Sum256(got) != wantSum {
				return failMsg("Get = %d bytes, %v; want the %d bytes last accepted", len(got), err, wantLen)
			}
			return ""
		},
		gen.Weighted([]gen.WeightedGen{
			{Weight: 4, Gen: gen.IntRange(0, 4096)},
			{Weight: 1, Gen: gen.IntRange(minikv.MaxValueSize-4, minikv.MaxValueSize)},
			{Weight: 3, Gen: gen.IntRange(minikv.MaxValueSize+1, minikv.MaxValueSize+64)},
		})))
	props.TestingRun(t)
	db = reopen(t, db, opts)
	got, err := db.Get(key)
	if wantLen >= 0 && (err != nil || len(got) != wantLen || sha256.Sum256(got) != wantSum) {
		t.Errorf("after reopen: Get = %d bytes, %v; want the %d bytes last accepted", len(got), err, wantLen)
	}
}

// Feature: minikv-embedded-database, Property 9: Exclusive file lock
func TestProp09_ExclusiveFileLock(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("while a writer is open, every other open gets ErrLocked and changes nothing", prop.ForAll(
		func(ops []dbOp) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			if err := applyAll(s.db, model, ops); err != nil {
				return err.Error()
			}
			before, err := fingerprint(s.opts.Dir)
			if err != nil {
				return err.Error()
			}
			for _, ro := range []bool{false, true, false} {
				db2, err := minikv.Open(minikv.Options{Dir: s.opts.Dir, ReadOnly: ro})
				if db2 != nil {
					db2.Close()
				}
				if !errors.Is(err, minikv.ErrLocked) || db2 != nil {
					return failMsg("second Open (read-only %v) beside a writer = %v, %v; want nil, ErrLocked", ro, db2, err)
				}
			}
			after, err := fingerprint(s.opts.Dir)
			if err != nil {
				return err.Error()
			}
			if d := diffFingerprints(before, after); d != "" {
				return failMsg("a refused Open changed the directory: %s", d)
			}
			if msg := checkContents(s.db, model); msg != "" {
				return failMsg("the writer after refused opens: %s", msg)
			}
			if err := s.db.Set("still-writable", nil); err != nil {
				return failMsg("the writer after refused opens: Set: %v", err)
			}
			return errText(s.close())
		},
		genOps()))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 10: Open-close-reopen preserves data
func TestProp10_ReopenPreservesData(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("the contents after any number of reopens equal the model", prop.ForAll(
		func(ops []dbOp, reopenAt []int, mode minikv.SyncMode, segSize int64) string {
			s, err := startSession(t, minikv.Options{SyncMode: mode, SegmentSize: segSize})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			for i, op := range ops {
				if err := apply(s.db, model, op); err != nil {
					return failMsg("op %d: %v", i, err)
				}
				if slices.Contains(reopenAt, i) {
					if err := s.reopen(); err != nil {
						return failMsg("after op %d: %v", i, err)
					}
					if msg := checkContents(s.db, model); msg != "" {
						return failMsg("reopen after op %d: %s", i, msg)
					}
				}
			}
			if err := s.reopen(); err != nil {
				return err.Error()
			}
			if msg := checkContents(s.db, model); msg != "" {
				return failMsg("final reopen: %s", msg)
			}
			return errText(s.close())
		},
		genOps(),
		gen.SliceOfN(3, gen.IntRange(0, 99)),
		gen.OneConstOf(minikv.SyncNever, minikv.SyncPeriodic),
		gen.OneConstOf(int64(0), int64(256), int64(4096))))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 11: Close releases lock
func TestProp11_CloseReleasesLock(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("after Close, a writer or readers can open the directory at once", prop.ForAll(
		func(ops []dbOp, rounds int) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			for r := range rounds {
				chunk := ops[r*len(ops)/rounds : (r+1)*len(ops)/rounds]
				if err := applyAll(s.db, model, chunk); err != nil {
					return err.Error()
				}
				if err := s.close(); err != nil {
					return err.Error()
				}
				ro1, err := minikv.Open(minikv.Options{Dir: s.opts.Dir, ReadOnly: true})
				if err != nil {
					return failMsg("round %d: read-only Open after Close: %v", r, err)
				}
				ro2, err := minikv.Open(minikv.Options{Dir: s.opts.Dir, ReadOnly: true})
				if err != nil {
					ro1.Close()
					return failMsg("round %d: second read-only Open: %v", r, err)
				}
				w, err := minikv.Open(s.opts)
				if w != nil {
					w.Close()
				}
				msg := checkContents(ro2, model)
				if err := errors.Join(ro1.Close(), ro2.Close()); err != nil {
					return failMsg("round %d: closing readers: %v", r, err)
				}
				if !errors.Is(err, minikv.ErrLocked) {
					return failMsg("round %d: writer Open beside readers = %v, want ErrLocked", r, err)
				}
				if msg != "" {
					return failMsg("round %d: reader: %s", r, msg)
				}
				if s.db, err = minikv.Open(s.opts); err != nil {
					return failMsg("round %d: writer Open after the readers closed: %v", r, err)
				}
				if msg := checkContents(s.db, model); msg != "" {
					return failMsg("round %d: writer: %s", r, msg)
				}
			}
			return errText(s.close())
		},
		genOps(), gen.IntRange(1, 4)))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 12: Read-only mode prevents writes
func TestProp12_ReadOnlyPreventsWrites(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("a read-only handle refuses every write, serves the data and changes no file", prop.ForAll(
		func(ops []dbOp, compactAt int, torn []byte) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			for i, op := range ops {
				if i == compactAt {
					if err := s.db.Compact(); err != nil {
						return failMsg("Compact: %v", err)
					}
				}
				if err := apply(s.db, model, op); err != nil {
					return failMsg("op %d: %v", i, err)
				}
			}
			if err := s.close(); err != nil {
				return err.Error()
			}
			if len(torn) > 0 {
				wals, _ := listWithExt(s.opts.Dir, ".wal")
				f, err := os.OpenFile(filepath.Join(s.opts.Dir, wals[len(wals)-1]), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					return err.Error()
				}
				_, err = f.Write(torn)
				if err := errors.Join(err, f.Close()); err != nil {
					return err.Error()
				}
			}
			before, err := fingerprint(s.opts.Dir)
			if err != nil {
				return err.Error()
			}
			db, err := minikv.Open(minikv.Options{Dir: s.opts.Dir, ReadOnly: true})
			if err != nil {
				return failMsg("read-only Open: %v", err)
			}
			defer db.Close()
			for _, c := range writeCalls() {
				if err := c.call(db); !errors.Is(err, minikv.ErrReadOnly) {
					return failMsg("%s on a read-only handle = %v, want ErrReadOnly", c.name, err)
				}
			}
			for k := range model {
				if err := db.Set(k, []byte("x")); !errors.Is(err, minikv.ErrReadOnly) {
					return failMsg("Set(%s) on a read-only handle = %v", shortString(k), err)
				}
				if err := db.Delete(k); !errors.Is(err, minikv.ErrReadOnly) {
					return failMsg("Delete(%s) on a read-only handle = %v", shortString(k), err)
				}
			}
			if msg := checkContents(db, model); msg != "" {
				return msg
			}
			if err := db.Close(); err != nil {
				return failMsg("Close: %v", err)
			}
			after, err := fingerprint(s.opts.Dir)
			if err != nil {
				return err.Error()
			}
			if d := diffFingerprints(before, after); d != "" {
				return failMsg("the read-only handle changed the directory: %s", d)
			}
			return ""
		},
		genOps(), gen.IntRange(0, 99),
		gen.Weighted([]gen.WeightedGen{
			{Weight: 2, Gen: gen.Const([]byte(nil))},
			{Weight: 1, Gen: genBytes(1, 30)},
		})))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 13: WAL encoding round trip
func TestProp13_WALRoundTrip(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("any writes, binary, empty and maximal, come back byte-exact from the WAL", prop.ForAll(
		func(ops []dbOp) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever, DisableAutoCompaction: true})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			if err := applyAll(s.db, model, ops); err != nil {
				return err.Error()
			}
			if err := s.reopen(); err != nil {
				return err.Error()
			}
			if msg := checkContents(s.db, model); msg != "" {
				return msg
			}
			st := s.db.Stats()
			if st.RecoveredRecords != int64(len(ops)) || st.RecoveredKeys != 0 || st.TornBytes != 0 {
				return failMsg("Stats after reopen: %d records, %d snapshot keys, %d torn bytes; want %d, 0, 0",
					st.RecoveredRecords, st.RecoveredKeys, st.TornBytes, len(ops))
			}
			return errText(s.close())
		},
		genWideOps()))
	props.TestingRun(t)
}

// corruptCase is the input of Property 15.
type corruptCase struct {
	ops    []dbOp
	last   bool  // damage the last record instead of an earlier one
	target int   // which earlier record, modulo their number
	pos    int   // which byte of the record, modulo its length
	mask   uint8 // XORed into the byte; zero is replaced by 0x80
}

// Feature: minikv-embedded-database, Property 15: Checksum detects corruption
func TestProp15_ChecksumDetectsCorruption(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("in a closed WAL a damaged record is ErrCorrupt; the damaged last record of a killed writer's WAL is a torn tail", prop.ForAll(
		func(ops []dbOp, last bool, target, pos int, mask uint8) string {
			return checkCorruption(t, corruptCase{ops, last, target, pos, mask})
		},
		genOps(), gen.Bool(), gen.IntRange(0, 1<<20), gen.IntRange(0, 1<<20), gen.UInt8()))
	props.TestingRun(t)
}

func checkCorruption(t *testing.T, c corruptCase) string {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	ops := append([]dbOp{{Key: "head-0", Value: []byte("first")}, {Key: "head-1", Value: []byte("second")}}, c.ops...)
	ends, models, err := writeWAL(src, minikv.Options{SyncMode: minikv.SyncNever}, ops)
	if err != nil {
		return err.Error()
	}
	wals, _ := listWithExt(src, ".wal")
	if len(wals) != 1 {
		return failMsg("want one WAL segment, have %v", wals)
	}
	seg := filepath.Join(src, wals[0])
	data, err := os.ReadFile(seg)
	if err != nil {
		return err.Error()
	}
	var closeMark []byte
	if c.last {
		// As a writer killed after its last write left the segment: the
		// close mark, which would prove the last record durable, is not
		// there.
		data = minikv.CutCloseMark(data)
	} else if n := int64(len(data)) - ends[len(ends)-1]; n != minikv.CloseMarkSize(ends[len(ends)-1]) {
		return failMsg("the closed segment ends in %d bytes after the writes, want the close mark", n)
	} else {
		data, closeMark = data[:ends[len(ends)-1]], data[ends[len(ends)-1]:]
	}
	if int64(len(data)) != ends[len(ends)-1] {
		return failMsg("the segment holds %d bytes, but the writes reported %d", len(data), ends[len(ends)-1])
	}
	rec := len(ops) - 1
	if !c.last {
		rec = c.target % (len(ops) - 1)
	}
	start := int64(0)
	if rec > 0 {
		start = ends[rec-1]
	}
	at := start + int64(c.pos)%(ends[rec]-start)
	mask := c.mask
	if mask == 0 {
		mask = 0x80
	}
	data[at] ^= mask
	if !c.last {
		// With the close mark after them, the records are proven durable.
		data = append(data, closeMark...)
	}
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		return err.Error()
	}
	opts := minikv.Options{Dir: src, SyncMode: minikv.SyncNever}
	if !c.last {
		before, err := fingerprint(src)
		if err != nil {
			return err.Error()
		}
		db, err := minikv.Open(opts)
		if err == nil {
			db.Close()
			return failMsg("Open succeeded with record %d of %d damaged at byte %d", rec, len(ops), at)
		}
		offset := strconv.FormatInt(start, 10)
		if !errors.Is(err, minikv.ErrCorrupt) || !strings.Contains(err.Error(), wals[0]) || !strings.Contains(err.Error(), offset) {
			return failMsg("Open error = %v; want ErrCorrupt naming %s and offset %s", err, wals[0], offset)
		}
		after, err := fingerprint(src)
		if err != nil {
			return err.Error()
		}
		if d := diffFingerprints(before, after); d != "" {
			return failMsg("a refused Open changed the directory: %s", d)
		}
		opts.SalvageCorruptWAL = true
	}
	db, err := minikv.Open(opts)
	if err != nil {
		return failMsg("Open (salvage %v) with record %d of %d damaged: %v", opts.SalvageCorruptWAL, rec, len(ops), err)
	}
	defer db.Close()
	if msg := checkContents(db, models[rec]); msg != "" {
		return failMsg("record %d of %d damaged, salvage %v: %s", rec, len(ops), opts.SalvageCorruptWAL, msg)
	}
	if got, want := db.Stats().TornBytes, int64(len(data))-start; got != want {
		return failMsg("TornBytes = %d, want %d", got, want)
	}
	if err := db.Set("after-damage", []byte("survives")); err != nil {
		return failMsg("Set after the salvaged open: %v", err)
	}
	if err := db.Close(); err != nil {
		return failMsg("Close: %v", err)
	}
	opts.SalvageCorruptWAL = false
	db2, err := minikv.Open(opts)
	if err != nil {
		return failMsg("Open after the damage was cut: %v", err)
	}
	defer db2.Close()
	want := maps.Clone(models[rec])
	want["after-damage"] = "survives"
	if msg := checkContents(db2, want); msg != "" {
		return failMsg("after the damage was cut and a write made: %s", msg)
	}
	return errText(db2.Close())
}

// Feature: minikv-embedded-database, Property 16: WAL replay idempotence
func TestProp16_ReplayIdempotence(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("replaying the same log again gives the same state", prop.ForAll(
		func(ops []dbOp, crashCopy bool) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever, DisableAutoCompaction: true, SegmentSize: 512})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			if err := applyAll(s.db, model, ops); err != nil {
				return err.Error()
			}
			dir := s.opts.Dir
			if crashCopy {
				// A copy taken while the writer is open is what a crash
				// leaves: the log never closed cleanly.
				dir = filepath.Join(filepath.Dir(s.opts.Dir), "copy")
				if err := copyDir(s.opts.Dir, dir); err != nil {
					return err.Error()
				}
			}
			if err := s.close(); err != nil {
				return err.Error()
			}
			var first minikv.Stats
			for round := range 3 {
				db, err := minikv.Open(minikv.Options{Dir: dir, SyncMode: minikv.SyncNever, ReadOnly: round == 2})
				if err != nil {
					return failMsg("replay %d: %v", round, err)
				}
				msg := checkContents(db, model)
				st := db.Stats()
				if err := db.Close(); err != nil {
					return failMsg("replay %d: Close: %v", round, err)
				}
				if msg != "" {
					return failMsg("replay %d: %s", round, msg)
				}
				if round == 0 {
					first = st
				} else if st.RecoveredRecords != first.RecoveredRecords || st.KeyCount != first.KeyCount {
					return failMsg("replay %d: %d records, %d keys; the first replay found %d, %d",
						round, st.RecoveredRecords, st.KeyCount, first.RecoveredRecords, first.KeyCount)
				}
			}
			return ""
		},
		genOps(), gen.Bool()))
	props.TestingRun(t)
}

// ttlChoices are the TTLs Property 17 draws from; 0 means none.
var ttlChoices = []time.Duration{0, time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour}

// Feature: minikv-embedded-database, Property 17: Snapshot contains all non-expired keys
func TestProp17_SnapshotHoldsLiveKeys(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("after Compact and reopen, exactly the keys live at compaction are there", prop.ForAll(
		func(ops []dbOp, ttls []int, advanceMin int) string {
			clock := minikv.NewFakeClock()
			start := clock.Now()
			opts := minikv.WithClock(minikv.Options{SyncMode: minikv.SyncNever, TTLCleanInterval: -1}, clock)
			s, err := startSession(t, opts)
			if err != nil {
				return err.Error()
			}
			defer s.close()
			type entry struct {
				value string
				exp   int64 // absolute, 0 for none
			}
			model := map[string]entry{}
			for i, op := range ops {
				var ttl time.Duration
				if len(ttls) > 0 {
					ttl = ttlChoices[ttls[i%len(ttls)]]
				}
				switch {
				case op.Del:
					err = s.db.Delete(op.Key)
					delete(model, op.Key)
				case ttl == 0:
					err = s.db.Set(op.Key, op.Value)
					model[op.Key] = entry{string(op.Value), 0}
				default:
					err = s.db.SetWithTTL(op.Key, op.Value, ttl)
					model[op.Key] = entry{string(op.Value), start + int64(ttl)}
				}
				if err != nil {
					return failMsg("op %d: %v", i, err)
				}
			}
			clock.Advance(time.Duration(advanceMin) * time.Minute)
			live := map[string]string{}
			for k, e := range model {
				if e.exp == 0 || e.exp > clock.Now() {
					live[k] = e.value
				}
			}
			if msg := checkContents(s.db, live); msg != "" {
				return failMsg("before Compact: %s", msg)
			}
			if err := s.db.Compact(); err != nil {
				return failMsg("Compact: %v", err)
			}
			if err := s.close(); err != nil {
				return err.Error()
			}
			// Reopen with the clock back at the start: a key that expired
			// before the compaction is absent only if the snapshot left it
			// out, since by the rewound clock it would still be live.
			s.opts = minikv.WithClock(s.opts, minikv.NewFakeClock())
			if err := s.reopen(); err != nil {
				return err.Error()
			}
			if msg := checkContents(s.db, live); msg != "" {
				return failMsg("after Compact and reopen: %s", msg)
			}
			if st := s.db.Stats(); st.RecoveredKeys != int64(len(live)) || st.RecoveredRecords != 0 {
				return failMsg("the reopen loaded %d keys from the snapshot and replayed %d records; want %d and 0",
					st.RecoveredKeys, st.RecoveredRecords, len(live))
			}
			return errText(s.close())
		},
		genOps(), gen.SliceOf(gen.IntRange(0, len(ttlChoices)-1)), gen.IntRange(0, 240)))
	props.TestingRun(t)
}

// Feature: minikv-embedded-database, Property 18: Snapshot round trip
func TestProp18_SnapshotRoundTrip(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("what a snapshot holds comes back byte-exact, alone or under a WAL", prop.ForAll(
		func(before, after []dbOp) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever, DisableAutoCompaction: true})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			if err := applyAll(s.db, model, before); err != nil {
				return err.Error()
			}
			if err := s.db.Compact(); err != nil {
				return failMsg("Compact: %v", err)
			}
			if msg := checkSnapshotMagic(s.opts.Dir); msg != "" {
				return msg
			}
			if err := s.reopen(); err != nil {
				return err.Error()
			}
			if msg := checkContents(s.db, model); msg != "" {
				return failMsg("snapshot alone: %s", msg)
			}
			inSnapshot := len(model)
			if st := s.db.Stats(); st.RecoveredKeys != int64(inSnapshot) || st.RecoveredRecords != 0 {
				return failMsg("snapshot alone: loaded %d keys and %d records, want %d and 0",
					st.RecoveredKeys, st.RecoveredRecords, inSnapshot)
			}
			if err := applyAll(s.db, model, after); err != nil {
				return err.Error()
			}
			if err := s.reopen(); err != nil {
				return err.Error()
			}
			if msg := checkContents(s.db, model); msg != "" {
				return failMsg("snapshot and WAL: %s", msg)
			}
			if st := s.db.Stats(); st.RecoveredKeys != int64(inSnapshot) || st.RecoveredRecords != int64(len(after)) {
				return failMsg("snapshot and WAL: loaded %d keys and %d records, want %d and %d",
					st.RecoveredKeys, st.RecoveredRecords, inSnapshot, len(after))
			}
			return errText(s.close())
		},
		genWideOps(), genOps()))
	props.TestingRun(t)
}

// checkSnapshotMagic checks that dir holds one snapshot and that it
// starts with the magic the SPEC pins.
func checkSnapshotMagic(dir string) string {
	snaps, _ := listWithExt(dir, ".snap")
	if len(snaps) != 1 {
		return failMsg("snapshots after Compact: %v, want one", snaps)
	}
	data, err := os.ReadFile(filepath.Join(dir, snaps[0]))
	if err != nil {
		return err.Error()
	}
	if !bytes.HasPrefix(data, []byte("MINIKVSN")) {
		return failMsg("snapshot starts with %q, want the magic MINIKVSN", data[:min(8, len(data))])
	}
	return ""
}

// Feature: minikv-embedded-database, Property 48: Closed database returns ErrClosed
func TestProp48_ClosedReturnsErrClosed(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("after Close, every method in any order returns ErrClosed", prop.ForAll(
		func(ops []dbOp, readOnly bool, closes int, order int64) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			if err := applyAll(s.db, map[string]string{}, ops); err != nil {
				return err.Error()
			}
			if readOnly {
				if err := s.close(); err != nil {
					return err.Error()
				}
				s.opts.ReadOnly = true
				if s.db, err = minikv.Open(s.opts); err != nil {
					return failMsg("read-only Open: %v", err)
				}
			}
			db := s.db
			for i := range closes {
				if err := db.Close(); err != nil {
					return failMsg("Close #%d: %v", i+1, err)
				}
			}
			calls := append(writeCalls(), readCalls()...)
			for _, op := range ops {
				calls = append(calls,
					dbCall{"Get " + shortString(op.Key), func(db *minikv.DB) error { _, err := db.Get(op.Key); return err }},
					dbCall{"Set " + shortString(op.Key), func(db *minikv.DB) error { return db.Set(op.Key, op.Value) }})
			}
			rng := rand.New(rand.NewSource(order))
			rng.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
			for _, c := range calls {
				if err := c.call(db); !errors.Is(err, minikv.ErrClosed) {
					return failMsg("%s after Close = %v, want ErrClosed", c.name, err)
				}
			}
			return ""
		},
		genOps(), gen.Bool(), gen.IntRange(1, 3), gen.Int64()))
	props.TestingRun(t)
}

// manifestSnapshots returns the snapshot names a MANIFEST mentions.
func manifestSnapshots(dir string) ([]string, []byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, f := range strings.Fields(string(data)) {
		if strings.HasSuffix(f, ".snap") {
			names = append(names, f)
		}
	}
	return names, data, nil
}

// Feature: minikv-embedded-database, Property 51: MANIFEST tracks state
func TestProp51_ManifestTracksState(t *testing.T) {
	props := gopter.NewProperties(propParams())
	props.Property("after Compact the MANIFEST names the new snapshot and the old files are gone", prop.ForAll(
		func(ops []dbOp, rounds int) string {
			s, err := startSession(t, minikv.Options{SyncMode: minikv.SyncNever, DisableAutoCompaction: true, SegmentSize: 256})
			if err != nil {
				return err.Error()
			}
			defer s.close()
			model := map[string]string{}
			for r := range rounds {
				chunk := ops[r*len(ops)/rounds : (r+1)*len(ops)/rounds]
				if err := applyAll(s.db, model, chunk); err != nil {
					return err.Error()
				}
				oldWALs, _ := listWithExt(s.opts.Dir, ".wal")
				oldSnaps, _ := listWithExt(s.opts.Dir, ".snap")
				if err := s.db.Compact(); err != nil {
					return failMsg("round %d: Compact: %v", r, err)
				}
				named, text, err := manifestSnapshots(s.opts.Dir)
				if err != nil {
					return err.Error()
				}
				snaps, _ := listWithExt(s.opts.Dir, ".snap")
				if len(named) != 1 || !slices.Equal(snaps, named) || slices.Contains(oldSnaps, named[0]) {
					return failMsg("round %d: MANIFEST %q names %v; the directory holds %v, and held %v before Compact",
						r, text, named, snaps, oldSnaps)
				}
				wals, _ := listWithExt(s.opts.Dir, ".wal")
				for _, w := range oldWALs {
					if slices.Contains(wals, w) {
						return failMsg("round %d: WAL segment %s outlived the compaction that folded it (now %v)", r, w, wals)
					}
				}
				if len(wals) == 0 {
					return failMsg("round %d: no WAL segment left for new writes", r)
				}
			}
			_, text, _ := manifestSnapshots(s.opts.Dir)
			if err := s.reopen(); err != nil {
				return err.Error()
			}
			if msg := checkContents(s.db, model); msg != "" {
				return failMsg("after reopen: %s", msg)
			}
			if st := s.db.Stats(); st.RecoveredKeys != int64(len(model)) || st.SnapshotCount != 1 {
				return failMsg("after reopen: %d keys from the snapshot, %d snapshots; want %d and 1",
					st.RecoveredKeys, st.SnapshotCount, len(model))
			}
			if _, again, _ := manifestSnapshots(s.opts.Dir); !bytes.Equal(text, again) {
				return failMsg("a reopen without writes rewrote the MANIFEST from %q to %q", text, again)
			}
			return errText(s.close())
		},
		genOps(), gen.IntRange(1, 3)))
	props.TestingRun(t)
}
