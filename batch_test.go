package minikv_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/minikv/minikv"
	"github.com/minikv/minikv/internal/testseed"
)

// TestBatch_SizeBoundsWAL is the regression test of a batch that passed
// the MaxBatchSize check but encoded to a WAL record larger than recovery
// accepts: Size counted only keys and values, while each operation also
// costs an op code, an expiry and two lengths in the record, up to 12
// times the counted bytes for one-byte keys. Such a batch made the next
// Open fail with ErrCorrupt. The WAL bytes of a written batch must stay
// within what Size reports, plus the record's framing.
func TestBatch_SizeBoundsWAL(t *testing.T) {
	db, _, opts := openModelDB(t)
	tests := []struct {
		name string
		fill func(minikv.Batch)
	}{
		{"one-byte keys, empty values", func(b minikv.Batch) {
			for range 2000 {
				b.Set("k", nil)
			}
		}},
		{"deletes", func(b minikv.Batch) {
			for i := range 2000 {
				b.Delete(fmt.Sprint(i % 10))
			}
		}},
		{"ttl sets", func(b minikv.Batch) {
			for i := range 2000 {
				b.SetWithTTL(fmt.Sprint(i%10), []byte("v"), 1e9)
			}
		}},
		{"mixed sizes", func(b minikv.Batch) {
			for i := range 300 {
				b.Set(fmt.Sprintf("key-%d", i), make([]byte, i*7))
				b.Delete("x")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := db.NewBatch()
			tt.fill(b)
			size := b.Size()
			before := minikv.WALBytes(db)
			if err := b.Write(); err != nil {
				t.Fatal(err)
			}
			// 4 CRC + 10 length + 9 type and time + 10 count.
			if grown := minikv.WALBytes(db) - before; grown > int64(size)+33 {
				t.Fatalf("a batch of Size %d took %d WAL bytes: Size does not bound the record", size, grown)
			}
		})
	}
	db = reopen(t, db, opts)
	if _, err := db.Get("k"); err != nil {
		t.Fatal(err)
	}
}

// TestBatch_ManyTinyOpsReopens writes the batch that first showed the
// bug: six million one-byte sets, 6 MB by the old count, a 72 MB record.
// Either Write refuses it or the database opens again with it. It needs
// about a gigabyte of memory and some seconds, so it runs only with
// MINIKV_SOAK=1.
func TestBatch_ManyTinyOpsReopens(t *testing.T) {
	if os.Getenv("MINIKV_SOAK") == "" {
		t.Skip("set MINIKV_SOAK=1 to run")
	}
	db, _, opts := openModelDB(t)
	b := db.NewBatch()
	for range 6_000_000 {
		b.Set("k", nil)
	}
	err := b.Write()
	if err != nil && !errors.Is(err, minikv.ErrBatchTooLarge) {
		t.Fatal(err)
	}
	if err := db.Set("after", []byte("1")); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, opts)
	if _, err := db.Get("after"); err != nil {
		t.Fatal(err)
	}
}

// batchOp is one buffered batch operation.
type batchOp struct {
	Key    string
	Value  string
	TTLms  int // 0: none
	Delete bool
}

func genBatchOps() gopter.Gen {
	return gen.SliceOf(genFunc(func(r *mrand.Rand, _ int) batchOp {
		op := batchOp{Key: randKey(r), Value: randString(r), Delete: r.Intn(4) == 0}
		if r.Intn(2) == 0 {
			op.TTLms = 1 + r.Intn(100000)
		}
		return op
	}))
}

// fillBatch buffers ops under prefix p into b and applies them, in
// order, to a copy of model whose expiries are computed at now.
func fillBatch(b minikv.Batch, p string, ops []batchOp, model kvModel, now int64) kvModel {
	next := maps.Clone(model)
	for _, op := range ops {
		k := p + op.Key
		switch {
		case op.Delete:
			b.Delete(k)
			delete(next, k)
		case op.TTLms > 0:
			ttl := time.Duration(op.TTLms) * time.Millisecond
			b.SetWithTTL(k, []byte(op.Value), ttl)
			next[k] = modelEntry{op.Value, now + int64(ttl)}
		default:
			b.Set(k, []byte(op.Value))
			next[k] = modelEntry{value: op.Value}
		}
	}
	return next
}

// checkPrefix compares the keys under prefix p with the model.
func checkPrefix(db *minikv.DB, p string, m kvModel, now int64) string {
	it, err := db.Scan(p, 0)
	if err != nil {
		return err.Error()
	}
	got, err := drain(it)
	if err != nil {
		return err.Error()
	}
	if want := m.want(m.liveKeys(now, func(k string) bool { return strings.HasPrefix(k, p) })); !sameKVs(got, want) {
		return fmt.Sprintf("keys under %q:\n got  %q\nwant %q", p, got, want)
	}
	return ""
}

// prefill writes kvs under p and returns their model.
func prefill(db *minikv.DB, p string, kvs map[string]string) (kvModel, error) {
	m := kvModel{}
	for k, v := range kvs {
		m[p+k] = modelEntry{value: v}
	}
	return m, putAll(db, p, kvs)
}

// Feature: minikv-embedded-database, Property 26: Batch operations are buffered
func TestProp26_BatchBuffered(t *testing.T) {
	db, clock, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "batch operations are invisible until Write, then all visible", prop.ForAll(
		func(kvs map[string]string, ops []batchOp) string {
			p := ns.next()
			before, err := prefill(db, p, kvs)
			if err != nil {
				return err.Error()
			}
			b := db.NewBatch()
			after := fillBatch(b, p, ops, before, clock.Now())
			if msg := checkPrefix(db, p, before, clock.Now()); msg != "" {
				return "before Write: " + msg
			}
			for _, op := range ops {
				if v, err := db.Get(p + op.Key); err == nil && string(v) != kvs[op.Key] {
					return fmt.Sprintf("before Write, Get(%q) = %q", op.Key, v)
				}
			}
			if err := b.Write(); err != nil {
				return "Write: " + err.Error()
			}
			return checkPrefix(db, p, after, clock.Now())
		},
		genKVs(), genBatchOps()))
}

// Feature: minikv-embedded-database, Property 27: Batch write is atomic
func TestProp27_BatchAtomic(t *testing.T) {
	db, clock, opts := openModelDB(t)
	var ns namespace
	bad := []func(minikv.Batch){
		func(b minikv.Batch) { b.Set("", []byte("v")) },
		func(b minikv.Batch) { b.Delete("") },
		func(b minikv.Batch) { b.Set(strings.Repeat("k", minikv.MaxKeySize+1), nil) },
		func(b minikv.Batch) { b.SetWithTTL("k", []byte("v"), 0) },
		func(b minikv.Batch) { b.SetWithTTL("k", []byte("v"), -time.Second) },
	}
	wantErr := []error{minikv.ErrEmptyKey, minikv.ErrEmptyKey, minikv.ErrKeyTooLarge, minikv.ErrInvalidTTL, minikv.ErrInvalidTTL}
	checkProp(t, "a batch applies all its operations, also after reopen, or none when one is invalid", prop.ForAll(
		func(kvs map[string]string, ops []batchOp, badAt, badKind int) string {
			p := ns.next()
			before, err := prefill(db, p, kvs)
			if err != nil {
				return err.Error()
			}
			b := db.NewBatch()
			invalid := badAt < len(ops)
			after := fillBatch(b, p, ops[:min(badAt, len(ops))], before, clock.Now())
			if invalid {
				bad[badKind](b)
				fillBatch(b, p, ops[badAt:], before, clock.Now())
			}
			err = b.Write()
			if invalid {
				if !errors.Is(err, wantErr[badKind]) {
					return fmt.Sprintf("Write with an invalid operation = %v; want %v", err, wantErr[badKind])
				}
				after = before
			} else if err != nil {
				return "Write: " + err.Error()
			}
			if msg := checkPrefix(db, p, after, clock.Now()); msg != "" {
				return msg
			}
			db = reopen(t, db, opts)
			if msg := checkPrefix(db, p, after, clock.Now()); msg != "" {
				return "after reopen: " + msg
			}
			return ""
		},
		genKVs(), genBatchOps(), gen.IntRange(0, 60), gen.IntRange(0, len(bad)-1)))
}

// Feature: minikv-embedded-database, Property 28: Batch discard abandons operations
func TestProp28_BatchDiscard(t *testing.T) {
	db, clock, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "a discarded batch writes nothing and cannot be written later", prop.ForAll(
		func(kvs map[string]string, ops, more []batchOp) string {
			p := ns.next()
			before, err := prefill(db, p, kvs)
			if err != nil {
				return err.Error()
			}
			b := db.NewBatch()
			fillBatch(b, p, ops, before, clock.Now())
			b.Discard()
			if b.Size() != 0 {
				return fmt.Sprintf("Size after Discard = %d", b.Size())
			}
			fillBatch(b, p, more, before, clock.Now())
			if err := b.Write(); !errors.Is(err, minikv.ErrBatchUsed) {
				return fmt.Sprintf("Write after Discard = %v; want ErrBatchUsed", err)
			}
			b.Discard()
			return checkPrefix(db, p, before, clock.Now())
		},
		genKVs(), genBatchOps(), genBatchOps()))
}

// oversized is a shared buffer for oversized batches; batches copy what
// they are given, so slicing it is safe.
var oversized = sync.OnceValue(func() []byte { return make([]byte, minikv.MaxValueSize+1) })

// Feature: minikv-embedded-database, Property 29: Batch size validation
func TestProp29_BatchSizeValidation(t *testing.T) {
	db, clock, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "Size grows with every operation; Write refuses a batch over MaxBatchSize or with an oversized value, writing nothing", prop.ForAll(
		func(ops []batchOp, big int, bigValue bool) string {
			p := ns.next()
			b := db.NewBatch()
			size := 0
			for _, op := range ops {
				fillBatch(b, p, []batchOp{op}, kvModel{}, clock.Now())
				min := len(p) + len(op.Key)
				if !op.Delete {
					min += len(op.Value)
				}
				if b.Size() < size+min {
					return fmt.Sprintf("Size grew by %d for an operation of %d key and value bytes", b.Size()-size, min)
				}
				size = b.Size()
			}
			for i := range big {
				b.Set(fmt.Sprintf("%sbig%d", p, i), oversized()[:minikv.MaxValueSize])
			}
			var want error
			if bigValue {
				b.Set(p+"huge", oversized())
				want = minikv.ErrValueTooLarge
			}
			if b.Size() > minikv.MaxBatchSize {
				want = minikv.ErrBatchTooLarge
			}
			before := minikv.WALBytes(db)
			err := b.Write()
			if want == nil {
				if err != nil {
					return "Write: " + err.Error()
				}
				return ""
			}
			if !errors.Is(err, want) {
				return fmt.Sprintf("Write of Size %d (big %d, huge %v) = %v; want %v", b.Size(), big, bigValue, err, want)
			}
			if grown := minikv.WALBytes(db) - before; grown != 0 {
				return fmt.Sprintf("a refused batch wrote %d WAL bytes", grown)
			}
			return checkPrefix(db, p, nil, clock.Now())
		},
		genBatchOps(),
		// Oversized batches copy 64 MiB or more; a few runs suffice.
		gen.Weighted([]gen.WeightedGen{{Weight: 24, Gen: gen.Const(0)}, {Weight: 1, Gen: gen.Const(4)}, {Weight: 1, Gen: gen.Const(5)}}),
		gen.Weighted([]gen.WeightedGen{{Weight: 20, Gen: gen.Const(false)}, {Weight: 1, Gen: gen.Const(true)}})))
}

// TestBatch_SizeLimitExact writes a batch of exactly MaxBatchSize bytes,
// which must be accepted and survive reopen, and one of a byte more, which
// must be refused.
func TestBatch_SizeLimitExact(t *testing.T) {
	opts, _ := modelOptions(t)
	opts.DisableAutoCompaction = true
	db, _ := openTestDB(t, opts)
	b := db.NewBatch()
	for i := range 4 {
		b.Set(fmt.Sprintf("b%d", i), oversized()[:64])
	}
	perOp := b.Size() / 4
	// Each value of n bytes costs n + (perOp - 64) + 3 more length bytes
	// once n needs a 4-byte varint.
	b.Discard()
	n := minikv.MaxBatchSize/4 - (perOp - 64) - 3
	b = db.NewBatch()
	for i := range 4 {
		b.Set(fmt.Sprintf("b%d", i), oversized()[:n])
	}
	if b.Size() != minikv.MaxBatchSize {
		t.Fatalf("test setup: Size = %d, want %d", b.Size(), minikv.MaxBatchSize)
	}
	over := db.NewBatch()
	for i := range 4 {
		over.Set(fmt.Sprintf("o%d", i), oversized()[:n])
	}
	over.Delete("x")
	if err := over.Write(); !errors.Is(err, minikv.ErrBatchTooLarge) {
		t.Fatalf("Write of Size %d = %v; want ErrBatchTooLarge", over.Size(), err)
	}
	if err := b.Write(); err != nil {
		t.Fatalf("Write of exactly MaxBatchSize: %v", err)
	}
	db = reopen(t, db, opts)
	for i := range 4 {
		v, err := db.Get(fmt.Sprintf("b%d", i))
		if err != nil || len(v) != n {
			t.Fatalf("after reopen: b%d has %d bytes, %v", i, len(v), err)
		}
	}
	if ok, _ := db.Exists("o0"); ok {
		t.Fatal("the refused batch wrote o0")
	}
}

func TestBatch_Semantics(t *testing.T) {
	db, _, _ := openModelDB(t)
	if err := db.Set("b", []byte("old")); err != nil {
		t.Fatal(err)
	}
	buf := []byte("1")
	b := db.NewBatch()
	b.Set("a", buf)
	buf[0] = '9' // the batch keeps its own copy
	b.Set("a", []byte("2"))
	b.Delete("b")
	b.Set("b", []byte("3"))
	b.Set("c", []byte("x"))
	b.Delete("c")
	b.Set("d", buf)
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "2", "b": "3", "d": "9"}
	for k, v := range want {
		if got, err := db.Get(k); err != nil || string(got) != v {
			t.Fatalf("Get(%s) = %q, %v; want %q (later operations win)", k, got, err, v)
		}
	}
	if ok, _ := db.Exists("c"); ok {
		t.Fatal("c was set then deleted in the batch, but exists")
	}
	if err := db.Set("a", []byte("after")); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(); !errors.Is(err, minikv.ErrBatchUsed) {
		t.Fatalf("second Write = %v; want ErrBatchUsed", err)
	}
	if v, _ := db.Get("a"); string(v) != "after" {
		t.Fatalf("a second Write applied the batch again: a = %q", v)
	}
	if err := db.NewBatch().Write(); err != nil {
		t.Fatalf("empty batch Write = %v", err)
	}
}

func TestBatch_ClosedAndReadOnly(t *testing.T) {
	opts, _ := modelOptions(t)
	db, err := minikv.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	b.Set("k2", []byte("v"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(); !errors.Is(err, minikv.ErrClosed) {
		t.Fatalf("Write after Close = %v; want ErrClosed", err)
	}
	ro := opts
	ro.ReadOnly = true
	rdb, _ := openTestDB(t, ro)
	b = rdb.NewBatch()
	b.Set("k3", []byte("v"))
	if err := b.Write(); !errors.Is(err, minikv.ErrReadOnly) {
		t.Fatalf("Write on a read-only DB = %v; want ErrReadOnly", err)
	}
	if ok, _ := rdb.Exists("k2"); ok {
		t.Fatal("a batch written after Close is on disk")
	}
}

// TestBatch_ReadersNeverSeeHalf runs batch writers that each replace a
// whole group of keys while readers check, through snapshots (iterators),
// Count and Keys, that every group they see is whole.
func TestBatch_ReadersNeverSeeHalf(t *testing.T) {
	db, _, _ := openModelDB(t)
	const group = 16
	write := func(id int) error {
		b := db.NewBatch()
		for j := range group {
			if id > 0 {
				b.Delete(fmt.Sprintf("g/%06d/%02d", id-1, j))
			}
			b.Set(fmt.Sprintf("g/%06d/%02d", id, j), []byte(strconv.Itoa(id)))
			b.Set(fmt.Sprintf("slot/%02d", j), []byte(strconv.Itoa(id)))
		}
		return b.Write()
	}
	if err := write(0); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Go(func() {
		defer stop.Store(true)
		for id := 1; id <= 400; id++ {
			if err := write(id); err != nil {
				errs <- err
				return
			}
		}
	})
	for r := range 3 {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				if err := checkWholeGroup(db, group, r, n); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// checkWholeGroup checks one consistent view of the batch groups.
func checkWholeGroup(db *minikv.DB, group, r, n int) error {
	if c, err := db.Count(); err != nil || c != 2*group {
		return fmt.Errorf("reader %d: Count = %d, %v; want %d", r, c, err, 2*group)
	}
	it, err := db.Scan("", 0)
	if err != nil {
		return err
	}
	got, err := drain(it)
	if err != nil {
		return err
	}
	ids := map[string]int{}
	for _, kv := range got {
		ids[kv.Value]++
	}
	if len(got) != 2*group || len(ids) != 1 {
		return fmt.Errorf("reader %d: a snapshot holds %d keys of batches %v; want %d keys of one batch", r, len(got), ids, 2*group)
	}
	if n%4 == 0 {
		keys, err := db.Keys("g/*")
		if err != nil || len(keys) != group {
			return fmt.Errorf("reader %d: Keys = %d keys, %v", r, len(keys), err)
		}
	}
	return nil
}

// openWithCutWAL copies the database in src to a new directory with its WAL
// segment seg cut to size bytes (or with the byte at flip inverted, when
// flip >= 0) and opens it.
func openWithCutWAL(t *testing.T, src, seg string, data []byte, size, flip int, opts minikv.Options) (*minikv.DB, string) {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" || e.Name() == seg {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cut := bytes.Clone(data[:size])
	if flip >= 0 {
		cut[flip] ^= 0xff
	}
	if err := os.WriteFile(filepath.Join(dir, seg), cut, 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Dir = dir
	db, err := minikv.Open(opts)
	if err != nil {
		t.Fatalf("Open with WAL cut at %d (flip %d): %v", size, flip, err)
	}
	return db, dir
}

// walSegmentNames returns the WAL segment names in dir.
func walSegmentNames(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// TestBatch_TornAtEveryOffset cuts the WAL inside a batch record at every
// byte, and separately damages every byte of it: recovery must see the
// batch whole or not at all, keep everything before it, and let the next
// write survive the next reopen. Under -short it cuts at every 7th byte
// and next to the record's ends (shortCut).
func TestBatch_TornAtEveryOffset(t *testing.T) {
	db, _, opts := openModelDB(t)
	for _, k := range []string{"keep", "gone", "over"} {
		if err := db.Set(k, []byte("before")); err != nil {
			t.Fatal(err)
		}
	}
	start := minikv.WALBytes(db)
	b := db.NewBatch()
	b.Set("b1", []byte("one"))
	b.SetWithTTL("b2", []byte("two"), time.Hour)
	b.Delete("gone")
	b.Set("over", []byte("after"))
	b.Set("b3", bytes.Repeat([]byte("3"), 200))
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	end := minikv.WALBytes(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	segs := walSegmentNames(t, opts.Dir)
	if len(segs) != 1 {
		t.Fatalf("want one WAL segment, have %q", segs)
	}
	data, err := os.ReadFile(filepath.Join(opts.Dir, segs[0]))
	data = minikv.CutCloseMark(data) // as a writer killed after the batch left it
	if err != nil || int64(len(data)) != end {
		t.Fatalf("segment has %d bytes, %v; want %d", len(data), err, end)
	}
	whole := map[string]string{"keep": "before", "b1": "one", "b2": "two", "over": "after", "b3": strings.Repeat("3", 200)}
	none := map[string]string{"keep": "before", "gone": "before", "over": "before"}
	for size := int(start); size <= int(end); size++ {
		if testing.Short() && !shortCut(int64(size)-start, int64(size), end-int64(size), []int64{start, end}) {
			continue
		}
		flips := []int{-1} // the cut alone
		if size == int(end) {
			// The whole record, with each of its bytes damaged in turn
			// (every 7th under -short).
			step := 1
			if testing.Short() {
				step = 7
			}
			for f := int(start); f < int(end); f += step {
				flips = append(flips, f)
			}
		}
		for _, flip := range flips {
			want := none
			if size == int(end) && flip < 0 {
				want = whole
			}
			db, dir := openWithCutWAL(t, opts.Dir, segs[0], data, size, flip, opts)
			if msg := checkExact(db, want); msg != "" {
				db.Close()
				t.Fatalf("cut at %d of %d (flip %d): %s", size, end, flip, msg)
			}
			if err := db.Set("next", []byte("write")); err != nil {
				t.Fatal(err)
			}
			db.Close()
			o := opts
			o.Dir = dir
			db2, err := minikv.Open(o)
			if err != nil {
				t.Fatalf("cut at %d (flip %d): reopen after a write: %v", size, flip, err)
			}
			want = maps.Clone(want)
			want["next"] = "write"
			msg := checkExact(db2, want)
			db2.Close()
			if msg != "" {
				t.Fatalf("cut at %d (flip %d), after a write and reopen: %s", size, flip, msg)
			}
		}
	}
}

// checkExact checks that the database holds exactly want.
func checkExact(db *minikv.DB, want map[string]string) string {
	it, err := db.ScanRange("", "", 0)
	if err != nil {
		return err.Error()
	}
	got, err := drain(it)
	if err != nil {
		return err.Error()
	}
	m := kvModel{}
	for k, v := range want {
		m[k] = modelEntry{value: v}
	}
	if w := m.want(m.liveKeys(0, nil)); !sameKVs(got, w) {
		return fmt.Sprintf("got %q\nwant %q", got, w)
	}
	return ""
}

// The batch crash test: a child process writes batches with SyncAlways and
// reports each acknowledged batch on stdout; the parent kills it with
// SIGKILL at a random moment, reopens the directory and checks that every
// batch is whole or absent and every acknowledged batch is present.
//
// Batch i sets crashGroup keys c/<i>/<j> to a value naming i, sets
// slot/<j> to i, and deletes the keys of batch i-crashWindow, so that at
// any moment the batches present must be exactly the window ending at the
// newest one, each whole, and every slot must name that newest batch.
const (
	crashRole   = "ext-batch-crash"
	crashGroup  = 8
	crashWindow = 12
)

func init() { children[crashRole] = crashChild }

func crashOpts(dir string) minikv.Options {
	return minikv.Options{Dir: dir, SyncMode: minikv.SyncAlways, MaxWALSize: 512 << 10, SegmentSize: 128 << 10}
}

func crashKey(id, j int) string { return fmt.Sprintf("c/%08d/%02d", id, j) }

// crashChild is the child's main function.
func crashChild() int {
	dir := os.Getenv("MINIKV_EXT_DIR")
	start, _ := strconv.Atoi(os.Getenv("MINIKV_EXT_START"))
	seed, _ := strconv.ParseUint(os.Getenv("MINIKV_EXT_SEED"), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 27))
	db, err := minikv.Open(crashOpts(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	fmt.Fprintln(os.Stdout, "ready")
	for id := start; ; id++ {
		b := db.NewBatch()
		for j := range crashGroup {
			pad := rng.IntN(512)
			if rng.IntN(40) == 0 {
				pad = 64<<10 + rng.IntN(64<<10)
			}
			b.Set(crashKey(id, j), append([]byte(strconv.Itoa(id)+":"), make([]byte, pad)...))
			b.Set(fmt.Sprintf("slot/%02d", j), []byte(strconv.Itoa(id)))
			if id >= crashWindow {
				b.Delete(crashKey(id-crashWindow, j))
			}
		}
		if err := b.Write(); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			return 1
		}
		fmt.Fprintf(os.Stdout, "ack %d\n", id)
	}
}

// crashVerify opens dir and checks the batch invariants. It returns the
// newest batch present (-1 for none) and the torn bytes recovery cut.
func crashVerify(t *testing.T, dir string, acked int) (int, int64) {
	t.Helper()
	db, err := minikv.Open(crashOpts(dir))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	it, err := db.Scan("c/", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := drain(it)
	if err != nil {
		t.Fatal(err)
	}
	count := map[int]int{}
	newest := -1
	for _, kv := range got {
		id, _ := strconv.Atoi(kv.Key[2:10])
		if !strings.HasPrefix(kv.Value, strconv.Itoa(id)+":") {
			t.Fatalf("key %s holds a value of another batch: %.20q", kv.Key, kv.Value)
		}
		count[id]++
		newest = max(newest, id)
	}
	if newest < acked {
		t.Fatalf("batch %d was acknowledged, but the newest batch present is %d", acked, newest)
	}
	for id := max(0, newest-crashWindow+1); id <= newest; id++ {
		if count[id] != crashGroup {
			t.Fatalf("batch %d has %d of %d keys (newest %d, all %v)", id, count[id], crashGroup, newest, count)
		}
		delete(count, id)
	}
	if len(count) != 0 {
		t.Fatalf("batches outside the window ending at %d are present: %v", newest, count)
	}
	for j := range crashGroup {
		v, err := db.Get(fmt.Sprintf("slot/%02d", j))
		if newest >= 0 && (err != nil || string(v) != strconv.Itoa(newest)) {
			t.Fatalf("slot/%02d = %q, %v; want %d: a batch was applied in part", j, v, err, newest)
		}
	}
	return newest, db.Stats().TornBytes
}

func TestBatch_Crash(t *testing.T) {
	kills := 20
	if os.Getenv("MINIKV_SOAK") != "" {
		kills = 300
	}
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	next, totalAcked, torn, midWrite := 0, 0, int64(0), 0
	for range kills {
		acked := crashRun(t, dir, next, rng)
		newest, cut := crashVerify(t, dir, acked)
		if newest > acked {
			midWrite++ // killed after the write, before the acknowledgement
		}
		if cut > 0 {
			torn++
		}
		totalAcked += max(0, acked-next+1)
		next = newest + 1
	}
	t.Logf("%d kills, %d batches acknowledged, %d recoveries cut a torn tail, %d kills between write and acknowledgement; final MANIFEST %+v",
		kills, totalAcked, torn, midWrite, readManifest(t, dir))
	if totalAcked == 0 {
		t.Fatal("the child never acknowledged a batch: the test checked nothing")
	}
}

// crashRun starts a child writing from batch start, kills it at a random
// moment and returns the newest batch it acknowledged (start-1 for none).
func crashRun(t *testing.T, dir string, start int, rng *rand.Rand) (acked int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+crashRole, "MINIKV_EXT_DIR="+dir,
		"MINIKV_EXT_START="+strconv.Itoa(start), "MINIKV_EXT_SEED="+strconv.FormatUint(rng.Uint64(), 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last atomic.Int64 // newest acknowledged batch
	last.Store(int64(start - 1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				n, _ := strconv.Atoi(id)
				last.Store(int64(n))
			}
		}
	}()
	if rng.IntN(4) == 0 {
		// During startup and recovery.
		time.Sleep(time.Duration(rng.IntN(40_000)) * time.Microsecond)
	} else {
		// While batches flow, after a random number of them, so that some
		// kills land in a background compaction.
		want := int64(start + rng.IntN(40))
		deadline := time.Now().Add(30 * time.Second)
		for last.Load() < want && time.Now().Before(deadline) {
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
	}
	_ = cmd.Process.Kill()
	<-done
	acked = int(last.Load())
	err = cmd.Wait()
	if status, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !status.Signaled() {
		t.Fatalf("child ended by itself (%v): %s", err, stderr.String())
	}
	return acked
}
