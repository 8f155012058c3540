package index_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minikv/minikv/internal/index"
	"github.com/minikv/minikv/internal/testseed"
)

type record struct {
	value string
	exp   int64
}

// check compares x with the model: every key found by Lookup with its
// value and expiry, the tree's keys in order through a cursor, both
// counts, and the arena's live bytes.
func check(t *testing.T, x *index.Index, model map[string]record) {
	t.Helper()
	if x.Table.Len() != len(model) || x.Tree.Len() != len(model) {
		t.Fatalf("table holds %d keys and tree %d, want %d", x.Table.Len(), x.Tree.Len(), len(model))
	}
	var live int64
	for k, want := range model {
		i := x.Lookup(k, index.Hash(k))
		if i < 0 {
			t.Fatalf("Lookup(%q) found nothing", k)
		}
		e, ok := index.DecodeEntry(x.Arena.Record(x.Table.Ref(i)))
		if !ok || string(e.Key) != k || string(e.Value) != want.value || e.Exp != want.exp {
			t.Fatalf("record of %q = %q %q %d (ok %v), want %q %d", k, e.Key, e.Value, e.Exp, ok, want.value, want.exp)
		}
		live += int64(e.Size)
	}
	var sum int64
	for id, c := range x.Arena.Chunks() {
		if c != nil {
			sum += x.Arena.Live(id)
		}
	}
	if sum != live {
		t.Fatalf("arena counts %d live bytes, the records take %d", sum, live)
	}
	if x.Arena.Waste() != x.Arena.Total()-live {
		t.Fatalf("arena waste %d, want total %d less live %d", x.Arena.Waste(), x.Arena.Total(), live)
	}
	keys := make([]string, 0, len(model))
	for k := range model {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var got []string
	c := index.NewCursor(x.Arena.Chunks())
	for ok := c.Seek(x.Tree.Root(), ""); ok; ok = c.Step() || c.Next() {
		got = append(got, string(index.RefKey(x.Arena.Chunks(), c.Ref())))
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("tree walk gave %d keys, want %d in order (first difference near %q)", len(got), len(keys), firstDiff(got, keys))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i]
		}
	}
	return "the end"
}

// TestIndex_Model runs random sets, deletes, moves and reorder walks on an
// Index beside a map, and checks that the table, the tree and the arena
// agree with it after every step of a few hundred operations.
func TestIndex_Model(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	x := index.New(16)
	model := map[string]record{}
	expiring := map[uint64]int64{} // what the caller keeps by ref
	for step := range 3000 {
		k := fmt.Sprintf("key%04d", r.IntN(500))
		h := index.Hash(k)
		switch op := r.IntN(10); {
		case op < 6:
			v := strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(300))
			var exp int64
			if r.IntN(3) == 0 {
				exp = 1 + r.Int64N(1e12)
			}
			ref, slot, old, replaced := x.Set(k, h, []byte(v), exp)
			_, had := model[k]
			if replaced != had {
				t.Fatalf("step %d: Set(%q) replaced=%v, the key was present: %v", step, k, replaced, had)
			}
			if x.Table.Ref(slot) != ref {
				t.Fatalf("step %d: Set(%q) slot %d holds %d, not the new ref %d", step, k, slot, x.Table.Ref(slot), ref)
			}
			if replaced {
				e, _ := index.DecodeEntry(x.Arena.Record(old))
				if string(e.Key) != k {
					t.Fatalf("step %d: Set(%q) replaced a record of %q", step, k, e.Key)
				}
				delete(expiring, old)
				x.Arena.Kill(old, e.Size)
			}
			if exp != 0 {
				expiring[ref] = exp
			}
			model[k] = record{v, exp}
		case op < 8:
			ref, ok := x.Delete(k, h)
			if _, had := model[k]; ok != had {
				t.Fatalf("step %d: Delete(%q) = %v, the key was present: %v", step, k, ok, had)
			}
			if ok {
				e, _ := index.DecodeEntry(x.Arena.Record(ref))
				delete(expiring, ref)
				x.Arena.Kill(ref, e.Size)
				delete(model, k)
			}
		case op < 9:
			i := x.Lookup(k, h)
			if i < 0 {
				continue
			}
			ref := x.Table.Ref(i)
			e, _ := index.DecodeEntry(x.Arena.Record(ref))
			nref := x.Move(i, ref, e)
			if nref == ref || x.Table.Ref(i) != nref {
				t.Fatalf("step %d: Move(%q) from %d gave %d, slot holds %d", step, k, ref, nref, x.Table.Ref(i))
			}
			if exp, ok := expiring[ref]; ok {
				delete(expiring, ref)
				expiring[nref] = exp
			}
		default:
			var st index.ReorderState
			var p index.ReorderPlan
			for !st.Done {
				x.PlanReorder(&st, 64, &p)
				x.ApplyReorder(&st, &p, func(ref, nref uint64, exp int64) {
					if expiring[ref] != exp {
						t.Fatalf("step %d: reorder moved %d with expiry %d, the caller has %d", step, ref, exp, expiring[ref])
					}
					if exp != 0 {
						delete(expiring, ref)
						expiring[nref] = exp
					}
				})
			}
		}
		check(t, &x, model)
	}
	for ref, exp := range expiring {
		e, ok := index.DecodeEntry(x.Arena.Record(ref))
		if !ok || e.Exp != exp || model[string(e.Key)].exp != exp {
			t.Fatalf("the caller's expiry %d at ref %d does not match the record there (%q, %d)", exp, ref, e.Key, e.Exp)
		}
	}
}

// TestIndex_ReorderPutsKeysInArenaOrder checks that after a full walk the
// records of neighbouring keys follow each other in the arena.
func TestIndex_ReorderPutsKeysInArenaOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	x := index.New(16)
	model := map[string]record{}
	for _, i := range r.Perm(5000) {
		k := fmt.Sprintf("key%05d", i)
		x.Set(k, index.Hash(k), []byte("value"), 0)
		model[k] = record{value: "value"}
	}
	inOrder := func() (n int) {
		var prevEnd uint64
		c := index.NewCursor(x.Arena.Chunks())
		for ok := c.Seek(x.Tree.Root(), ""); ok; ok = c.Next() {
			if index.Follows(prevEnd, c.Ref()) {
				n++
			}
			e, _ := index.DecodeEntry(index.ChunkRecord(x.Arena.Chunks(), c.Ref()))
			prevEnd = c.Ref() + uint64(e.Size)
		}
		return n
	}
	if before := inOrder(); before > 500 {
		t.Fatalf("%d of 5000 records follow their predecessor after a load in random order", before)
	}
	var st index.ReorderState
	var p index.ReorderPlan
	for !st.Done {
		x.PlanReorder(&st, index.ReorderStep, &p)
		if p.Moves() > 0 && p.Bytes() <= 0 {
			t.Fatalf("a plan of %d moves has %d bytes", p.Moves(), p.Bytes())
		}
		x.ApplyReorder(&st, &p, func(uint64, uint64, int64) {})
	}
	check(t, &x, model)
	if after := inOrder(); after < 4900 {
		t.Fatalf("only %d of 5000 records follow their predecessor after the walk", after)
	}
	if st.Moved < 4500 {
		t.Fatalf("the walk moved %d records", st.Moved)
	}
}

// TestEntry_RoundTrip encodes entries of every header form (short and
// varint lengths, with and without expiry) and decodes them whole, and
// refuses every truncation.
func TestEntry_RoundTrip(t *testing.T) {
	for _, tc := range []struct {
		klen, vlen int
		exp        int64
	}{{1, 0, 0}, {10, 100, 0}, {63, 127, 0}, {64, 128, 0}, {10, 10, 42}, {300, 70000, -5}, {index.MaxKey, 1, 0}} {
		key := strings.Repeat("k", tc.klen)
		value := []byte(strings.Repeat("v", tc.vlen))
		buf := make([]byte, index.EntrySize(tc.klen, tc.vlen, tc.exp))
		index.PutEntry(buf, key, value, tc.exp)
		e, ok := index.DecodeEntry(buf)
		if !ok || string(e.Key) != key || string(e.Value) != string(value) || e.Exp != tc.exp || e.Size != len(buf) {
			t.Fatalf("%+v: decoded key %d bytes, value %d, exp %d, size %d of %d (ok %v)", tc, len(e.Key), len(e.Value), e.Exp, e.Size, len(buf), ok)
		}
		if got := index.RecordKey(buf); string(got) != key {
			t.Fatalf("%+v: RecordKey gave %d bytes", tc, len(got))
		}
		for _, n := range []int{0, 1, 2, len(buf) / 2, len(buf) - 1} {
			if _, ok := index.DecodeEntry(buf[:n]); ok {
				t.Fatalf("%+v: a truncation to %d of %d bytes decoded", tc, n, len(buf))
			}
		}
	}
	// Lengths past the limits are damage, whatever follows.
	for _, b := range [][]byte{
		{0x80, 0x80, 0x08, 0},          // a key of 64 KiB
		{0x02, 0x80, 0x80, 0x80, 0x10}, // a value of 32 MiB
		{0x00, 0x00},                   // an empty key
	} {
		if _, ok := index.DecodeEntry(append(b, make([]byte, 64)...)); ok {
			t.Fatalf("header % x decoded", b)
		}
	}
}

// TestTable_Stamps checks the LRU stamps: a new table has none, Touch and
// Stamp set a slot's, and Oldest finds the least recent of the slots it
// samples.
func TestTable_Stamps(t *testing.T) {
	x := index.New(16)
	if x.Table.Stamped() {
		t.Fatal("a new table keeps stamps")
	}
	before := x.Table.BytesFor(0)
	x.Table.KeepStamps()
	if !x.Table.Stamped() || x.Table.BytesFor(0) != before*12/8 {
		t.Fatalf("stamps: Stamped %v, %d bytes after %d", x.Table.Stamped(), x.Table.BytesFor(0), before)
	}
	slots := map[string]int{}
	for i := range 10 {
		k := fmt.Sprint("key", i)
		_, slot, _, _ := x.Set(k, index.Hash(k), nil, 0)
		x.Table.Stamp(slot, uint32(100+i))
		slots[k] = slot
	}
	x.Table.Touch(slots["key0"], 200)
	i := x.Table.Oldest(0, x.Table.Slots(), 300)
	if i != slots["key1"] {
		t.Fatalf("Oldest gave slot %d, want key1's %d", i, slots["key1"])
	}
	if x.Table.BytesFor(1000) <= x.Table.BytesFor(0) {
		t.Fatalf("BytesFor(1000) = %d, no more than for none (%d)", x.Table.BytesFor(1000), x.Table.BytesFor(0))
	}
	if x.Tree.BytesFor(1000) <= x.Tree.BytesFor(0) {
		t.Fatalf("tree BytesFor(1000) = %d, no more than for none (%d)", x.Tree.BytesFor(1000), x.Tree.BytesFor(0))
	}
}

// TestUvarintLen checks UvarintLen against the encoder at every length's
// bounds.
func TestUvarintLen(t *testing.T) {
	buf := make([]byte, binary.MaxVarintLen64)
	for shift := range 64 {
		for _, x := range []uint64{1<<shift - 1, 1 << shift, 1<<shift + 1} {
			if got, want := index.UvarintLen(x), binary.PutUvarint(buf, x); got != want {
				t.Fatalf("UvarintLen(%d) = %d, the encoder writes %d bytes", x, got, want)
			}
		}
	}
	if got := index.UvarintLen(1<<64 - 1); got != binary.MaxVarintLen64 {
		t.Fatalf("UvarintLen(max) = %d", got)
	}
}

// TestIndex_FindBesideReaders does what the database's writer does: Find
// outside the lock that readers share, then SetAt under it exclusively.
// Under the race detector it checks that Find only reads; without, that a
// probe stays right for its SetAt through inserts, overwrites, growth of
// the table and splits of the tree.
func TestIndex_FindBesideReaders(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	x := index.New(16)
	var mu sync.RWMutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("key%05d", (i*7+g)%2000)
				mu.RLock()
				if s := x.Lookup(k, index.Hash(k)); s >= 0 {
					if e, _ := index.DecodeEntry(x.Arena.Record(x.Table.Ref(s))); string(e.Key) != k {
						t.Errorf("Lookup(%q) found %q", k, e.Key)
					}
				}
				mu.RUnlock()
			}
		})
	}
	model := map[string]record{}
	type frozen struct {
		root index.Root
		refs []uint64
	}
	var freezes []frozen
	for step := range 6000 {
		k := fmt.Sprintf("key%05d", r.IntN(2000))
		v := fmt.Sprintf("v%d", step)
		h := index.Hash(k)
		p := x.Find(k, h)
		if r.IntN(50) == 0 {
			// An iterator freezes the tree between the probe and the
			// change, as a reader may: SetAt must then copy the leaf
			// it probed rather than change it.
			mu.RLock()
			root := x.Tree.Freeze()
			freezes = append(freezes, frozen{root, treeRefs(x, root)})
			mu.RUnlock()
		}
		mu.Lock()
		_, _, old, replaced := x.SetAt(p, k, h, []byte(v), 0)
		if replaced {
			e, _ := index.DecodeEntry(x.Arena.Record(old))
			x.Arena.Kill(old, e.Size)
		}
		mu.Unlock()
		if _, had := model[k]; replaced != had {
			t.Fatalf("step %d: SetAt(%q) replaced=%v, the key was present: %v", step, k, replaced, had)
		}
		model[k] = record{value: v}
	}
	close(stop)
	wg.Wait()
	check(t, &x, model)
	if len(freezes) == 0 {
		t.Fatal("the test froze no tree: nothing checked copy on write")
	}
	for i, f := range freezes {
		if got := treeRefs(x, f.root); !slices.Equal(got, f.refs) {
			t.Fatalf("frozen tree %d changed: %d refs, was %d", i, len(got), len(f.refs))
		}
	}
}

// TestTable_SlotOf checks that SlotOf finds the slot of every live record
// by its ref alone, and no slot for a record that was replaced.
func TestTable_SlotOf(t *testing.T) {
	x := index.New(16)
	type deadRecord struct{ h, ref uint64 }
	var dead []deadRecord
	refs := map[string]uint64{}
	for round := range 3 {
		for k := range 3000 {
			key := fmt.Sprintf("key%05d", k*7%5000)
			ref, _, old, replaced := x.Set(key, index.Hash(key), []byte{byte(round)}, 0)
			if replaced {
				e, _ := index.DecodeEntry(x.Arena.Record(old))
				dead = append(dead, deadRecord{index.Hash(key), old})
				x.Arena.Kill(old, e.Size)
			}
			refs[key] = ref
		}
	}
	for key, ref := range refs {
		h := index.Hash(key)
		if got, want := x.Table.SlotOf(h, ref), x.Lookup(key, h); got != want || got < 0 {
			t.Fatalf("SlotOf(%q, %d) = %d, want the key's slot %d", key, ref, got, want)
		}
	}
	for _, d := range dead {
		if i := x.Table.SlotOf(d.h, d.ref); i >= 0 {
			t.Fatalf("SlotOf found the replaced record %d in slot %d", d.ref, i)
		}
	}
}

// treeRefs returns the refs of root in key order.
func treeRefs(x index.Index, root index.Root) []uint64 {
	var refs []uint64
	c := index.NewCursor(x.Arena.Chunks())
	for ok := c.Seek(root, ""); ok; ok = c.Next() {
		refs = append(refs, c.Ref())
	}
	return refs
}
