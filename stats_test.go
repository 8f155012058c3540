package minikv_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	mrand "math/rand"
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

// statsOps is one run of Property 49: how many of each operation.
type statsOps struct {
	Sets, TTLSets, BatchSets, BatchDels, Gets, Exists, Deletes, Scans, Keys int
	BigValue, Compact, Expire                                               bool
}

func genStatsOps() gopter.Gen {
	return genFunc(func(r *mrand.Rand, _ int) statsOps {
		return statsOps{
			Sets: r.Intn(20), TTLSets: r.Intn(6), BatchSets: r.Intn(10), BatchDels: r.Intn(4),
			Gets: r.Intn(40), Exists: r.Intn(10), Deletes: r.Intn(8), Scans: r.Intn(4), Keys: r.Intn(3),
			BigValue: r.Intn(6) == 0, Compact: r.Intn(5) == 0, Expire: r.Intn(4) == 0,
		}
	})
}

// Feature: minikv-embedded-database, Property 49: Stats reflects database state
func TestProp49_Stats(t *testing.T) {
	opts, clock := modelOptions(t)
	opts.DisableAutoCompaction = true
	db, _ := openTestDB(t, opts)
	var want minikv.Stats // the counters expected so far
	model := kvModel{}
	var ns namespace
	checkProp(t, "Stats counts every operation and its gauges match the contents", prop.ForAll(
		func(ops statsOps) string {
			p := ns.next()
			walBefore := db.Stats().WALSize
			if msg := runStatsOps(db, clock, p, ops, model, &want); msg != "" {
				return msg
			}
			st := db.Stats()
			got := minikv.Stats{Reads: st.Reads, Writes: st.Writes, Deletes: st.Deletes, Scans: st.Scans,
				Expired: st.Expired, Compactions: st.Compactions}
			if got != want {
				return fmt.Sprintf("counters %+v; want %+v", got, want)
			}
			if live := int64(len(model.liveKeys(clock.Now(), nil))); st.KeyCount != live {
				return fmt.Sprintf("KeyCount %d; want %d", st.KeyCount, live)
			}
			if st.WALSize != minikv.WALBytes(db) {
				return fmt.Sprintf("WALSize %d; the WAL holds %d", st.WALSize, minikv.WALBytes(db))
			}
			if !ops.Compact && st.WALSize <= walBefore && ops.Sets > 0 {
				return fmt.Sprintf("WALSize did not grow with %d sets: %d -> %d", ops.Sets, walBefore, st.WALSize)
			}
			if want.Compactions > 0 && st.SnapshotCount != 1 || want.Compactions == 0 && st.SnapshotCount != 0 {
				return fmt.Sprintf("SnapshotCount %d after %d compactions", st.SnapshotCount, want.Compactions)
			}
			if st.KeyCount > 0 && st.MemoryUsage <= 0 {
				return fmt.Sprintf("MemoryUsage %d with %d keys", st.MemoryUsage, st.KeyCount)
			}
			if st.Reads >= 256 && (st.GetP99 <= 0 || st.GetP50 > st.GetP95 || st.GetP95 > st.GetP99) {
				return fmt.Sprintf("Get percentiles %v %v %v after %d reads", st.GetP50, st.GetP95, st.GetP99, st.Reads)
			}
			if st.Writes >= 256 && (st.SetP99 <= 0 || st.SetP50 > st.SetP95 || st.SetP95 > st.SetP99) {
				return fmt.Sprintf("Set percentiles %v %v %v after %d writes", st.SetP50, st.SetP95, st.SetP99, st.Writes)
			}
			return ""
		},
		genStatsOps()))
}

// runStatsOps performs ops under prefix p, updating the model and the
// expected counters.
func runStatsOps(db *minikv.DB, clock *minikv.FakeClock, p string, ops statsOps, model kvModel, want *minikv.Stats) string {
	fail := func(err error) string { return err.Error() }
	for i := range ops.Sets {
		k := fmt.Sprintf("%s%d", p, i)
		if err := db.Set(k, []byte(k)); err != nil {
			return fail(err)
		}
		model[k] = modelEntry{value: k}
	}
	for i := range ops.TTLSets {
		k := fmt.Sprintf("%st%d", p, i)
		if err := db.SetWithTTL(k, []byte(k), time.Second); err != nil {
			return fail(err)
		}
		model[k] = modelEntry{k, clock.Now() + int64(time.Second)}
	}
	b := db.NewBatch()
	for i := range ops.BatchSets {
		k := fmt.Sprintf("%sb%d", p, i)
		b.Set(k, nil)
		model[k] = modelEntry{}
	}
	for i := range ops.BatchDels {
		b.Delete(fmt.Sprintf("%s%d", p, i))
		delete(model, fmt.Sprintf("%s%d", p, i))
	}
	if err := b.Write(); err != nil {
		return fail(err)
	}
	want.Writes += int64(ops.Sets + ops.TTLSets + ops.BatchSets)
	want.Deletes += int64(ops.BatchDels)
	if ops.BigValue {
		memBefore := db.Stats().MemoryUsage
		if err := db.Set(p+"big", make([]byte, 1<<20)); err != nil {
			return fail(err)
		}
		if mem := db.Stats().MemoryUsage; mem < memBefore+(1<<20) {
			return fmt.Sprintf("MemoryUsage %d after a new 1 MiB value; was %d", mem, memBefore)
		}
		// Delete it again, to keep every later compaction small.
		if err := db.Delete(p + "big"); err != nil {
			return fail(err)
		}
		want.Writes++
		want.Deletes++
	}
	for i := range ops.Gets {
		if _, err := db.Get(fmt.Sprintf("%s%d", p, i)); err != nil && !errors.Is(err, minikv.ErrNotFound) {
			return fail(err)
		}
	}
	for i := range ops.Exists {
		if _, err := db.Exists(fmt.Sprintf("%s%d", p, i)); err != nil {
			return fail(err)
		}
	}
	want.Reads += int64(ops.Gets + ops.Exists)
	for i := range ops.Deletes {
		if err := db.Delete(fmt.Sprintf("%sb%d", p, i)); err != nil {
			return fail(err)
		}
		delete(model, fmt.Sprintf("%sb%d", p, i))
	}
	want.Deletes += int64(ops.Deletes)
	for range ops.Scans {
		it, err := db.Scan(p, 0)
		if err != nil {
			return fail(err)
		}
		if _, err := drain(it); err != nil {
			return fail(err)
		}
	}
	for range ops.Keys {
		if _, err := db.Keys(p + "*"); err != nil {
			return fail(err)
		}
	}
	want.Scans += int64(ops.Scans + ops.Keys)
	return statsMaintenance(db, clock, ops, model, want)
}

// statsMaintenance expires and cleans keys and compacts, as ops say.
func statsMaintenance(db *minikv.DB, clock *minikv.FakeClock, ops statsOps, model kvModel, want *minikv.Stats) string {
	if ops.Expire {
		clock.Advance(time.Second)
		expired := 0
		for k, e := range model {
			if e.exp != 0 && e.exp <= clock.Now() {
				expired++
				delete(model, k)
			}
		}
		want.Expired += int64(expired)
		deadline := time.Now().Add(time.Minute)
		for db.Stats().Expired < want.Expired && time.Now().Before(deadline) {
			if err := minikv.CleanExpired(db); err != nil {
				return err.Error()
			}
		}
	}
	if ops.Compact {
		if err := db.Compact(); err != nil {
			return err.Error()
		}
		want.Compactions++
	}
	return ""
}

func TestStats_RecoveryFigures(t *testing.T) {
	db, _, opts := openModelDB(t)
	for i := range 50 {
		if err := db.Set(fmt.Sprintf("k%02d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	b := db.NewBatch()
	b.Set("b1", nil)
	b.Set("b2", nil)
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A torn tail: half a record after the last good one.
	seg := filepath.Join(opts.Dir, walSegmentNames(t, opts.Dir)[0])
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := []byte{0xde, 0xad, 0xbe, 0xef, 40, 1, 2, 3}
	if _, err := f.Write(torn); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err = minikv.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	st := db.Stats()
	if st.RecoveredRecords != 51 || st.TornBytes != int64(len(torn)) || st.RecoveredKeys != 0 || st.RecoveryTime <= 0 {
		t.Fatalf("recovery figures: records %d (want 51), torn %d (want %d), snapshot keys %d (want 0), time %v",
			st.RecoveredRecords, st.TornBytes, len(torn), st.RecoveredKeys, st.RecoveryTime)
	}
	if st.Reads != 0 || st.Writes != 0 || st.KeyCount != 52 {
		t.Fatalf("after Open: %+v", st)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, opts)
	if st := db.Stats(); st.RecoveredKeys != 52 || st.RecoveredRecords != 0 || st.TornBytes != 0 || st.SnapshotCount != 1 {
		t.Fatalf("after compaction and reopen: %+v", st)
	}
}

func TestStats_AfterClose(t *testing.T) {
	opts, _ := modelOptions(t)
	db, err := minikv.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := db.Set(strconv.Itoa(i), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Get(strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st := db.Stats()
	if st.KeyCount != 0 || st.MemoryUsage != 0 {
		t.Fatalf("gauges after Close: KeyCount %d, MemoryUsage %d; want 0", st.KeyCount, st.MemoryUsage)
	}
	if st.Reads != 5 || st.Writes != 5 {
		t.Fatalf("counters after Close: Reads %d, Writes %d; want 5, 5", st.Reads, st.Writes)
	}
}

// dumpLine is one parsed line of DumpKeys.
type dumpLine struct {
	key    string
	length int
	exp    int64 // Unix ns; 0 for "-"
}

// parseDump parses DumpKeys output: a key, bare or Go-quoted, its value
// length and its expiry in RFC 3339 or "-", separated by single spaces.
func parseDump(out string) ([]dumpLine, error) {
	var lines []dumpLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		var d dumpLine
		var rest string
		if strings.HasPrefix(line, `"`) {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				return nil, fmt.Errorf("line %q: %v", line, err)
			}
			d.key, _ = strconv.Unquote(q)
			rest = line[len(q):]
		} else {
			k, r, ok := strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("line %q: no fields", line)
			}
			d.key, rest = k, " "+r
		}
		f := strings.Split(rest, " ")
		if len(f) != 3 || f[0] != "" {
			return nil, fmt.Errorf("line %q: want key, length and expiry", line)
		}
		var err error
		if d.length, err = strconv.Atoi(f[1]); err != nil {
			return nil, fmt.Errorf("line %q: length: %v", line, err)
		}
		if f[2] != "-" {
			ts, err := time.Parse(time.RFC3339Nano, f[2])
			if err != nil {
				return nil, fmt.Errorf("line %q: expiry: %v", line, err)
			}
			d.exp = ts.UnixNano()
		}
		lines = append(lines, d)
	}
	return lines, sc.Err()
}

// genDumpKeys generates keys with bytes that need quoting: spaces,
// quotes, newlines, control bytes and invalid UTF-8, and plain ones.
func genDumpKeys() gopter.Gen {
	const awkward = "ab \"\\\n\t\x00\x7f\xff\xc3\xa9é:"
	return genFunc(func(r *mrand.Rand, size int) map[string]int {
		m := map[string]int{}
		for range r.Intn(size + 1) {
			var sb strings.Builder
			for range 1 + r.Intn(6) {
				sb.WriteByte(awkward[r.Intn(len(awkward))])
			}
			ttl := 0
			if r.Intn(3) == 0 {
				ttl = 1 + r.Intn(2000)
			}
			m[sb.String()] = ttl
		}
		return m
	})
}

// TestStats_PercentilesFromFirstOperations: latencies are sampled from the
// first operation on, not only after enough operations that some counter
// stripe reaches its sampling step; a store that took one Set and one Get
// reports both.
func TestStats_PercentilesFromFirstOperations(t *testing.T) {
	opts, _ := modelOptions(t)
	db, _ := openTestDB(t, opts)
	if err := db.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get("k"); err != nil {
		t.Fatal(err)
	}
	st := db.Stats()
	if st.SetP50 <= 0 || st.SetP99 <= 0 || st.GetP50 <= 0 || st.GetP99 <= 0 {
		t.Fatalf("after one Set and one Get: Set %v/%v, Get %v/%v; want all positive",
			st.SetP50, st.SetP99, st.GetP50, st.GetP99)
	}
	// A mix where batches and single Sets share the writes still reports
	// Set percentiles once there are many writes.
	for i := range 40 {
		b := db.NewBatch()
		for j := range 10 {
			b.Set(fmt.Sprintf("b%d.%d", i, j), []byte("v"))
		}
		if err := b.Write(); err != nil {
			t.Fatal(err)
		}
		if err := db.Set(fmt.Sprintf("s%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if st := db.Stats(); st.SetP50 <= 0 || st.SetP50 > st.SetP95 || st.SetP95 > st.SetP99 {
		t.Fatalf("after %d writes: Set percentiles %v %v %v", st.Writes, st.SetP50, st.SetP95, st.SetP99)
	}
}

// Feature: minikv-embedded-database, Property 50: DumpKeys writes all keys
func TestProp50_DumpKeys(t *testing.T) {
	db, clock, _ := openModelDB(t)
	checkProp(t, "DumpKeys writes one parseable line per live key, sorted, with its value length and expiry", prop.ForAll(
		func(keys map[string]int, advanceMs int) string {
			model := kvModel{}
			for k, ttl := range keys {
				v := strings.Repeat("v", len(k)*3)
				var err error
				if ttl == 0 {
					err = db.Set(k, []byte(v))
					model[k] = modelEntry{value: v}
				} else {
					d := time.Duration(ttl) * time.Millisecond
					err = db.SetWithTTL(k, []byte(v), d)
					model[k] = modelEntry{v, clock.Now() + int64(d)}
				}
				if err != nil {
					return err.Error()
				}
			}
			clock.Advance(time.Duration(advanceMs) * time.Millisecond)
			defer deleteAll(db, model)
			var out bytes.Buffer
			if err := db.DumpKeys(&out); err != nil {
				return "DumpKeys: " + err.Error()
			}
			lines, err := parseDump(out.String())
			if err != nil {
				return err.Error()
			}
			live := model.liveKeys(clock.Now(), nil)
			if len(lines) != len(live) {
				return fmt.Sprintf("%d lines for %d live keys:\n%s", len(lines), len(live), out.String())
			}
			for i, k := range live {
				e := model[k]
				if w := (dumpLine{k, len(e.value), e.exp}); lines[i] != w {
					return fmt.Sprintf("line %d = %+v; want %+v", i, lines[i], w)
				}
			}
			return ""
		},
		genDumpKeys(), gen.IntRange(0, 2000)))
}

// deleteAll deletes the model's keys from db.
func deleteAll(db *minikv.DB, m kvModel) {
	b := db.NewBatch()
	for k := range m {
		b.Delete(k)
	}
	_ = b.Write()
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

var errWrite = errors.New("write failed")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errWrite
	}
	w.n -= len(p)
	return len(p), nil
}

func TestDumpKeys_Format(t *testing.T) {
	db, clock, _ := openModelDB(t)
	if err := db.Set("plain", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWithTTL("with space", nil, 90*time.Minute); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := db.DumpKeys(&out); err != nil {
		t.Fatal(err)
	}
	exp := time.Unix(0, clock.Now()).Add(90 * time.Minute).UTC().Format(time.RFC3339Nano)
	want := "plain 5 -\n\"with space\" 0 " + exp + "\n"
	if out.String() != want {
		t.Fatalf("DumpKeys =\n%q\nwant\n%q", out.String(), want)
	}
	for i := 0; i < len(want); i += 7 {
		if err := db.DumpKeys(&failWriter{n: i}); !errors.Is(err, errWrite) {
			t.Fatalf("DumpKeys to a writer failing after %d bytes = %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.DumpKeys(&out); !errors.Is(err, minikv.ErrClosed) {
		t.Fatalf("DumpKeys after Close = %v", err)
	}
}

func TestDumpKeys_Sorted(t *testing.T) {
	db, _, _ := openModelDB(t)
	keys := []string{"b", "a", "\xff", "a\x00", "A", "ab"}
	for _, k := range keys {
		if err := db.Set(k, nil); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := db.DumpKeys(&out); err != nil {
		t.Fatal(err)
	}
	lines, err := parseDump(out.String())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.key)
	}
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Fatalf("DumpKeys order %q; want %q", got, keys)
	}
}
