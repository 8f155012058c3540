package minikv

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minikv/minikv/internal/vfs"
	"github.com/minikv/minikv/internal/vfstest"
)

// This file holds the workload that the power-loss and fault-injection
// loops run, its model, and the checks of a recovered database.

// crashSoak reports whether the soak mode is on (MINIKV_SOAK=1): random
// seeds and a hundred times the iterations.
func crashSoak() bool { return os.Getenv("MINIKV_SOAK") == "1" }

// crashShortStride is the step between the crash or fault points the
// loops try under go test -short (the quick check): every 7th, starting
// at an offset that differs between sync modes, plus the last ones.
// Without -short (CI) and in soak mode they try every point.
const crashShortStride = 7

// crashStride returns the step between the crash or fault points a loop
// tries: 1, or crashShortStride under -short.
func crashStride() int {
	if testing.Short() && !crashSoak() {
		return crashShortStride
	}
	return 1
}

// crashPoints returns the crash points 0..total that a loop tries: all of
// them, or under -short every crashStride()th from off (mod the stride)
// and the last two, before the last file operation and after it.
func crashPoints(total, off int) []int {
	stride := crashStride()
	var ks []int
	for k := off % stride; k <= total; k += stride {
		ks = append(ks, k)
	}
	for _, k := range []int{total - 1, total} {
		if k >= 0 && (len(ks) == 0 || ks[len(ks)-1] < k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// crashVal is a key's value and absolute expiry (0 for none) in the model.
type crashVal struct {
	value string
	exp   int64
}

// crashState is the model: what the database should hold.
type crashState map[string]crashVal

// visible returns the keys of s not expired at now.
func (s crashState) visible(now int64) crashState {
	out := crashState{}
	for k, v := range s {
		if v.exp == 0 || v.exp > now {
			out[k] = v
		}
	}
	return out
}

// crashStep is one step of a workload: a call on the database, how it
// changes the model when it succeeds, and whether its success makes every
// earlier step durable in every sync mode (Compact, Close).
type crashStep struct {
	desc    string
	run     func(db *DB) error
	apply   func(s crashState) // nil for a step that changes no state
	barrier bool
	advance time.Duration // a clock step: no database call
}

// crashDir is the database directory in a MemFS.
const crashDir = "/db"

// crashWorkload generates a deterministic workload from seed, with n
// random steps plus two compactions. It covers sets of several sizes
// (some larger than a tiny segment, so the WAL rotates), deletes, batches
// mixing sets, TTL sets and deletes, SetWithTTL, Expire, Persist, expiry
// by the clock, and Compact. The generator keeps its own model so that
// Expire and Persist only name live keys.
func crashWorkload(seed uint64, n int, clk *FakeClock) []crashStep {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	model := crashState{}
	now := clk.Now()
	var steps []crashStep
	key := func() string { return fmt.Sprintf("k%02d", rng.IntN(24)) }
	val := func(i int, k string) string {
		size := []int{0, 3, 20, 90, 300}[rng.IntN(5)]
		return k + "=" + strconv.Itoa(i) + strings.Repeat("x", size)
	}
	liveKey := func() (string, bool) {
		keys := slices.Sorted(maps.Keys(model.visible(now)))
		if len(keys) == 0 {
			return "", false
		}
		return keys[rng.IntN(len(keys))], true
	}
	add := func(st crashStep) {
		if st.apply != nil {
			st.apply(model)
		}
		now += int64(st.advance)
		steps = append(steps, st)
	}
	for i := range n {
		if i == n/3 || i == 2*n/3 {
			add(crashStep{desc: "compact", run: (*DB).Compact, barrier: true})
		}
		switch r := rng.IntN(100); {
		case r < 35:
			k := key()
			v := val(i, k)
			add(crashStep{desc: "set " + k, run: func(db *DB) error { return db.Set(k, []byte(v)) },
				apply: func(s crashState) { s[k] = crashVal{value: v} }})
		case r < 47:
			k := key()
			add(crashStep{desc: "delete " + k, run: func(db *DB) error { return db.Delete(k) },
				apply: func(s crashState) { delete(s, k) }})
		case r < 62:
			add(crashBatchStep(rng, i, now, key, val))
		case r < 72:
			k := key()
			v := val(i, k)
			ttl := []time.Duration{time.Second, time.Hour}[rng.IntN(2)]
			exp := now + int64(ttl)
			add(crashStep{desc: "setttl " + k, run: func(db *DB) error { return db.SetWithTTL(k, []byte(v), ttl) },
				apply: func(s crashState) { s[k] = crashVal{value: v, exp: exp} }})
		case r < 80:
			k, ok := liveKey()
			if !ok {
				continue
			}
			exp := now + int64(time.Minute)
			add(crashStep{desc: "expire " + k, run: func(db *DB) error { return db.Expire(k, time.Minute) },
				apply: func(s crashState) { s[k] = crashVal{value: s[k].value, exp: exp} }})
		case r < 85:
			k, ok := liveKey()
			if !ok {
				continue
			}
			add(crashStep{desc: "persist " + k, run: func(db *DB) error { return db.Persist(k) },
				apply: func(s crashState) { s[k] = crashVal{value: s[k].value} }})
		case r < 90:
			add(crashStep{desc: "advance 2s", advance: 2 * time.Second})
		default:
			add(crashStep{desc: "compact", run: (*DB).Compact, barrier: true})
		}
	}
	return steps
}

// crashBatchStep returns a batch of two to five operations.
func crashBatchStep(rng *rand.Rand, i int, now int64, key func() string, val func(int, string) string) crashStep {
	type op struct {
		del bool
		k   string
		v   string
		ttl time.Duration
	}
	var ops []op
	for range 2 + rng.IntN(4) {
		k := key()
		switch rng.IntN(4) {
		case 0:
			ops = append(ops, op{del: true, k: k})
		case 1:
			ops = append(ops, op{k: k, v: val(i, k), ttl: time.Hour})
		default:
			ops = append(ops, op{k: k, v: val(i, k)})
		}
	}
	return crashStep{
		desc: fmt.Sprintf("batch of %d", len(ops)),
		run: func(db *DB) error {
			b := db.NewBatch()
			for _, o := range ops {
				switch {
				case o.del:
					b.Delete(o.k)
				case o.ttl > 0:
					b.SetWithTTL(o.k, []byte(o.v), o.ttl)
				default:
					b.Set(o.k, []byte(o.v))
				}
			}
			return b.Write()
		},
		apply: func(s crashState) {
			for _, o := range ops {
				switch {
				case o.del:
					delete(s, o.k)
				case o.ttl > 0:
					s[o.k] = crashVal{value: o.v, exp: now + int64(o.ttl)}
				default:
					s[o.k] = crashVal{value: o.v}
				}
			}
		},
	}
}

// crashOptions returns the options of a workload run on fsys: a tiny
// segment size so that the WAL rotates every few records, and no
// background work, so that the sequence of file operations is the same in
// every run.
func crashOptions(fsys vfs.FS, clk *FakeClock, mode SyncMode) Options {
	return crashOptionsSeg(fsys, clk, mode, 256)
}

// crashOptionsSeg is crashOptions with WAL segments of seg bytes.
func crashOptionsSeg(fsys vfs.FS, clk *FakeClock, mode SyncMode, seg int64) Options {
	return Options{
		Dir:                   crashDir,
		SyncMode:              mode,
		SyncInterval:          time.Hour,
		SegmentSize:           seg,
		MaxWALSize:            1 << 30,
		DisableAutoCompaction: true,
		TTLCleanInterval:      -1,
		fs:                    fsys,
		now:                   clk.Now,
	}
}

// crashRun records what a workload run got acknowledged.
type crashRun struct {
	openErr error
	applied []crashStep // state steps that succeeded, in order
	maybe   *crashStep  // the first state step that failed: it may be on disk
	durable int         // len(applied) at the last successful barrier
	errs    []error     // every error returned, Close's included
}

// runCrashWorkload opens a database with opts, runs steps and closes it.
// Failures are recorded, not fatal: after a crash or an injected fault,
// every step may fail.
func runCrashWorkload(opts Options, clk *FakeClock, steps []crashStep) crashRun {
	var r crashRun
	db, err := Open(opts)
	if err != nil {
		r.openErr = err
		r.errs = append(r.errs, err)
		for _, st := range steps {
			clk.Advance(st.advance)
		}
		return r
	}
	for i := range steps {
		st := &steps[i]
		if st.run == nil {
			clk.Advance(st.advance)
			continue
		}
		if err := st.run(db); err != nil {
			r.errs = append(r.errs, fmt.Errorf("step %q: %w", st.desc, err))
			if st.apply != nil && r.maybe == nil {
				r.maybe = st
			}
			continue
		}
		if st.apply != nil {
			r.applied = append(r.applied, *st)
		}
		if st.barrier {
			r.durable = len(r.applied)
		}
	}
	if err := db.Close(); err != nil {
		r.errs = append(r.errs, fmt.Errorf("close: %w", err))
	} else if r.maybe == nil {
		r.durable = len(r.applied)
	}
	return r
}

// crashDump reads the whole visible state of db through its public API.
func crashDump(db *DB) (crashState, error) {
	s := crashState{}
	it, err := db.Scan("", 0)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	now := db.now()
	for it.Next() {
		ttl, err := db.TTL(it.Key())
		if err != nil {
			return nil, fmt.Errorf("TTL(%q): %w", it.Key(), err)
		}
		v := crashVal{value: string(it.Value())}
		if ttl >= 0 {
			v.exp = now + int64(ttl)
		}
		s[it.Key()] = v
	}
	return s, it.Error()
}

// crashMatch reports which prefix of the run got acknowledged state equal
// to got: the number of applied steps, len(applied)+1 for the maybe step,
// or -1 when got is none of the allowed states, those with at least lo
// steps applied.
func crashMatch(r crashRun, lo int, got crashState, now int64) int {
	s := crashState{}
	for j := 0; ; j++ {
		if j >= lo && maps.Equal(s.visible(now), got) {
			return j
		}
		if j == len(r.applied) {
			break
		}
		r.applied[j].apply(s)
	}
	if r.maybe != nil {
		r.maybe.apply(s)
		if maps.Equal(s.visible(now), got) {
			return len(r.applied) + 1
		}
	}
	return -1
}

// crashDiff describes how got differs from the full acknowledged state.
func crashDiff(r crashRun, got crashState, now int64) string {
	s := crashState{}
	for _, st := range r.applied {
		st.apply(s)
	}
	want := s.visible(now)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			fmt.Fprintf(&b, "missing %s; ", k)
		} else if g != want[k] {
			fmt.Fprintf(&b, "%s: got %.20q exp %d, want %.20q exp %d; ", k, g.value, g.exp, want[k].value, want[k].exp)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "extra %s; ", k)
		}
	}
	return fmt.Sprintf("%d steps acknowledged, %d durable by barrier: %s", len(r.applied), r.durable, b.String())
}

// checkRecovery opens the database in fsys, a file system as a crash or a
// fault left it, and checks it holds an allowed state: at least the first
// lo acknowledged steps, a prefix of the history, no part of a batch. It
// then checks that Verify finds nothing, that a new write survives a power
// cut (so any torn tail was cut before it), and that two more opens give
// the same state.
func checkRecovery(t *testing.T, fsys *vfstest.MemFS, clk *FakeClock, r crashRun, lo int) error {
	t.Helper()
	if rep, err := verifyFS(fsys, crashDir); err != nil {
		return fmt.Errorf("verify before recovery: %v (report %+v)", err, rep)
	}
	opts := crashOptions(fsys, clk, SyncAlways)
	db, err := Open(opts)
	if err != nil {
		return fmt.Errorf("open after crash: %w", err)
	}
	got, err := crashDump(db)
	if err != nil {
		db.Close()
		return fmt.Errorf("dump: %w", err)
	}
	if crashMatch(r, lo, got, clk.Now()) < 0 {
		db.Close()
		return fmt.Errorf("recovered state is not an allowed prefix: %s", crashDiff(r, got, clk.Now()))
	}
	err = db.Set("zz-after", []byte("after"))
	if err = errors.Join(err, db.Close()); err != nil {
		return fmt.Errorf("write after recovery: %w", err)
	}
	if rep, err := verifyFS(fsys, crashDir); err != nil || rep.TornTail != nil {
		return fmt.Errorf("verify after recovery: %v, torn tail %v", err, rep.TornTail)
	}
	if h := fsys.OpenHandles(); len(h) > 0 {
		return fmt.Errorf("files left open after Close: %v", h)
	}
	got["zz-after"] = crashVal{value: "after"}
	img := fsys.Crash(0, nil)
	for i := range 2 {
		db, err := Open(crashOptions(img, clk, SyncAlways))
		if err != nil {
			return fmt.Errorf("reopen %d: %w", i+1, err)
		}
		again, err := crashDump(db)
		err = errors.Join(err, db.Close())
		if err != nil {
			return fmt.Errorf("reopen %d: %w", i+1, err)
		}
		if !maps.Equal(got, again) {
			return fmt.Errorf("reopen %d gives another state", i+1)
		}
	}
	return nil
}

// crashCheckReleased checks that a closed database left no file open and
// no lock held, whatever failed.
func crashCheckReleased(m *vfstest.MemFS) error {
	if h := m.OpenHandles(); len(h) > 0 {
		return fmt.Errorf("files left open after Close: %v", h)
	}
	if m.Locked(crashDir + "/" + lockName) {
		return errors.New("lock still held after Close")
	}
	return nil
}
