package index

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// treeHarness drives a btree directly, with its own arena, against a sorted
// model of its keys. Records are never killed, so frozen views stay
// readable.
type treeHarness struct {
	t     *testing.T
	a     *Arena
	tr    *Tree
	keys  []string          // the model, sorted
	refs  map[string]uint64 // key -> ref of its current record
	views []savedTree
	loose bool // checkTree accepts leaves whose offset differs from their bounds'
}

// savedTree is a frozen tree with the model at that time.
type savedTree struct {
	v      Root
	chunks [][]byte
	keys   []string
}

func newTreeHarness(t *testing.T) *treeHarness {
	return &treeHarness{t: t, a: newArena(), tr: newTree(), refs: map[string]uint64{}}
}

// record writes a record for key into the arena and returns its ref.
func (h *treeHarness) record(key string) uint64 {
	ref, buf := h.a.Alloc(EntrySize(len(key), 1, 0))
	PutEntry(buf, key, []byte("v"), 0)
	return ref
}

// set inserts key, or replaces its record when present.
func (h *treeHarness) set(key string) {
	h.t.Helper()
	ref := h.record(key)
	if old, ok := h.refs[key]; ok {
		if !h.tr.replace(key, old, ref) {
			h.t.Fatalf("replace %q: not found", key)
		}
	} else {
		// As memIndex.set does: find the leaf (which sets the finger), then
		// insert into it.
		h.tr.insertIn(h.tr.mutLeafFor(key), h.a.chunks, key, ref)
		i, _ := slices.BinarySearch(h.keys, key)
		h.keys = slices.Insert(h.keys, i, key)
	}
	h.refs[key] = ref
}

// del removes key, which must be present.
func (h *treeHarness) del(key string) {
	h.t.Helper()
	if !h.tr.remove(h.a.chunks, key, h.refs[key]) {
		h.t.Fatalf("remove %q: not found", key)
	}
	delete(h.refs, key)
	i, _ := slices.BinarySearch(h.keys, key)
	h.keys = slices.Delete(h.keys, i, i+1)
}

// live returns a view of the tree as it is, without freezing it.
func (h *treeHarness) live() Root {
	return Root{h.tr.height, h.tr.rootLeaf, h.tr.inner, h.tr.count}
}

// checkSeek compares a seek for probe with the model.
func (h *treeHarness) checkSeek(v Root, chunks [][]byte, keys []string, probe string) {
	h.t.Helper()
	c := Cursor{chunks: chunks}
	ok := c.Seek(v, probe)
	i, _ := slices.BinarySearch(keys, probe)
	if ok != (i < len(keys)) {
		h.t.Fatalf("seek %q: found %v, want %v", probe, ok, i < len(keys))
	}
	if ok {
		if got := string(RefKey(chunks, c.Ref())); got != keys[i] {
			h.t.Fatalf("seek %q = %q, want %q", probe, got, keys[i])
		}
		if i+1 < len(keys) {
			if !c.Next() || string(RefKey(chunks, c.Ref())) != keys[i+1] {
				h.t.Fatalf("next after seek %q is not %q", probe, keys[i+1])
			}
		}
	}
}

// checkTreeScan walks a view in full and compares it with keys.
func checkTreeScan(t *testing.T, v Root, chunks [][]byte, keys []string) {
	t.Helper()
	c := Cursor{chunks: chunks}
	i := 0
	for ok := c.Seek(v, ""); ok; ok = c.Next() {
		if got := string(RefKey(chunks, c.Ref())); i >= len(keys) || got != keys[i] {
			t.Fatalf("scan item %d = %q, want %q", i, got, keys[min(i, len(keys)-1)])
		}
		i++
	}
	if i != len(keys) || v.count != len(keys) {
		t.Fatalf("scan saw %d keys, count %d, want %d", i, v.count, len(keys))
	}
}

// checkTree checks the structure of the live tree: keys in order and within
// their bounds, every partial equal to its key's bytes at its leaf's
// offset, every offset within the prefix its bounds share and that prefix
// unless the partials tell adjacent items apart (unless loose),
// no empty node below the root, the count. It returns the number of leaves.
func (h *treeHarness) checkTree() int {
	h.t.Helper()
	leaves := 0
	var prev []byte
	seen := 0
	var walkLeaf func(l *Leaf, b bounds)
	walkLeaf = func(l *Leaf, b bounds) {
		leaves++
		if shared := b.shared(); int(l.pfx) > shared && !h.loose {
			h.t.Fatalf("leaf %d at offset %d, its bounds [%q, %q) share only %d bytes", leaves, l.pfx, b.lo, b.hi, shared)
		} else if int(l.pfx) < shared && l.hasTies(0, int(l.n)) && !h.loose {
			h.t.Fatalf("leaf %d at offset %d has ties, its bounds share %d bytes", leaves, l.pfx, shared)
		}
		for _, it := range l.items[:l.n] {
			key := RefKey(h.a.chunks, itemRef(it))
			if prev != nil && bytes.Compare(prev, key) >= 0 {
				h.t.Fatalf("keys out of order: %q then %q", prev, key)
			}
			if string(key) < b.lo || b.hasHi && string(key) >= b.hi {
				h.t.Fatalf("key %q outside its leaf's bounds [%q, %q)", key, b.lo, b.hi)
			}
			if got, want := itemPartial(it), partialOf(key, int(l.pfx)); got != want {
				h.t.Fatalf("key %q: partial %06x, want %06x at offset %d", key, got, want, l.pfx)
			}
			prev = key
			seen++
		}
	}
	var walk func(n *inner, b bounds)
	walk = func(n *inner, b bounds) {
		if n.n == 0 {
			h.t.Fatal("empty inner node")
		}
		fresh := *n
		fresh.refit()
		if fresh.hoff != n.hoff || fresh.hpfx != n.hpfx || !slices.Equal(fresh.heads[1:n.n], n.heads[1:n.n]) {
			h.t.Fatalf("inner node heads out of date: offset %d, want %d", n.hoff, fresh.hoff)
		}
		for i := range n.n {
			if n.leafKids {
				if n.leaves[i].n == 0 {
					h.t.Fatal("empty leaf below the root")
				}
				walkLeaf(n.leaves[i], b.child(n, i))
			} else {
				walk(n.kids[i], b.child(n, i))
			}
		}
	}
	switch {
	case h.tr.height > 0:
		walk(h.tr.inner, bounds{})
	case h.tr.rootLeaf != nil:
		walkLeaf(h.tr.rootLeaf, bounds{})
	}
	if seen != len(h.keys) || h.tr.count != len(h.keys) {
		h.t.Fatalf("tree holds %d keys, count %d, want %d", seen, h.tr.count, len(h.keys))
	}
	return leaves
}

// freeze takes a snapshot and remembers the model with it.
func (h *treeHarness) freeze() {
	h.views = append(h.views, savedTree{h.tr.Freeze(), h.a.chunks, slices.Clone(h.keys)})
}

// checkViews checks that every snapshot still shows its keys.
func (h *treeHarness) checkViews(r *rand.Rand, gen func(*rand.Rand) string) {
	h.t.Helper()
	for _, f := range h.views {
		checkTreeScan(h.t, f.v, f.chunks, f.keys)
		for range 20 {
			h.checkSeek(f.v, f.chunks, f.keys, gen(r))
		}
	}
}

// keyGens produce keys that stress the partials: short keys (shorter than
// an offset plus the window), long shared prefixes, bytes 0x00 and 0xFF,
// keys that are prefixes of others.
var keyGens = map[string]func(r *rand.Rand) string{
	"binary": func(r *rand.Rand) string {
		alphabet := []byte{0x00, 0x01, 0x7f, 0xfe, 0xff}
		b := make([]byte, 1+r.IntN(7))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	},
	"longprefix": func(r *rand.Rand) string {
		b := []byte(strings.Repeat("p", 40))
		for range r.IntN(6) {
			b = append(b, []byte{0x00, 0x01, 'p', 0xff}[r.IntN(4)])
		}
		return string(b)
	},
	"numeric": func(r *rand.Rand) string {
		return fmt.Sprintf("user:%07d", r.IntN(200000))
	},
	"mixed": func(r *rand.Rand) string {
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("a/%d", r.IntN(5000))
		case 1:
			return strings.Repeat("\x00", 1+r.IntN(5)) + string(rune('a'+r.IntN(3)))
		default:
			return fmt.Sprintf("a/%d\x00%c", r.IntN(50), 'x'+r.IntN(3))
		}
	},
}

func TestLeafKeys_PartialOfOrder(t *testing.T) {
	// Every pair of keys over a small alphabet, up to 4 bytes, at every
	// offset they share: partials never contradict the key order.
	alphabet := []byte{0x00, 0x01, 0xff}
	var keys []string
	var grow func(prefix []byte)
	grow = func(prefix []byte) {
		keys = append(keys, string(prefix))
		if len(prefix) == 4 {
			return
		}
		for _, c := range alphabet {
			grow(append(prefix, c))
		}
	}
	grow(nil)
	slices.Sort(keys)
	for i, a := range keys {
		for _, b := range keys[i+1:] {
			for p := 0; p <= commonPrefix(a, b); p++ {
				if partialOf(a, p) > partialOf(b, p) {
					t.Fatalf("%q < %q but partial at %d %06x > %06x", a, b, p, partialOf(a, p), partialOf(b, p))
				}
			}
		}
	}
	// A key ending in the window ties with one that goes on with 0x00.
	if partialOf("ab", 0) != partialOf("ab\x00", 0) || partialOf("ab", 1) != partialOf("ab\x00\x00", 1) {
		t.Fatal("keys ending in the window should tie with their 0x00 extensions")
	}
	if partialOf([]byte("xyzw"), 1) != 0x797a77 || partialOf("xy", 1) != 0x790000 || partialOf("xy", 2) != 0 {
		t.Fatal("partialOf reads the wrong bytes")
	}
	if itemRef(makeItem(refMask, "\xff\xff\xff", 0)) != refMask || itemPartial(makeItem(0, "\xff\xff\xff", 0)) != 0xffffff {
		t.Fatal("item fields overlap")
	}
}

func TestBounds_Shared(t *testing.T) {
	for _, tc := range []struct {
		b    bounds
		want int
	}{
		{bounds{}, 0},
		{bounds{lo: "abc"}, 0},
		{bounds{hi: "abc", hasHi: true}, 0},
		{bounds{lo: "user:0012", hi: "user:0013", hasHi: true}, 8},
		{bounds{lo: "ab", hi: "ab\x00", hasHi: true}, 2},
		{bounds{lo: "ab\xff", hi: "ac", hasHi: true}, 1},
	} {
		if got := tc.b.shared(); got != tc.want {
			t.Errorf("%+v.shared() = %d, want %d", tc.b, got, tc.want)
		}
	}
}

// TestLeaf_SearchTies checks a single leaf whose items tie on their
// partials in every way: keys ending in the window, 0x00 continuations,
// differences after the window.
func TestLeaf_SearchTies(t *testing.T) {
	h := newTreeHarness(t)
	keys := []string{"ab", "ab\x00", "ab\x00\x00", "ab\x00\x00\x00", "ab\x00\x01", "ab\x01", "abc", "abcd", "abce", "abd", "abd\xff\xff", "ab\xff"}
	for _, k := range keys {
		h.set(k)
	}
	l := h.tr.rootLeaf
	h.loose = true // offsets set by hand, beyond what the root's bounds give
	for p := 0; p <= 2; p++ {
		l.refit(h.a.chunks, p)
		h.checkTree()
		for _, probe := range append(keys, "", "a", "ab\x00\x00\x00\x00", "abc\x00", "abcz", "abd\xff", "abz", "b") {
			i, _ := slices.BinarySearch(h.keys, probe)
			// Only probes that share the first p bytes may use the
			// partials; the others must take the full search.
			shared := p
			if len(probe) < p || probe[:p] != keys[0][:p] {
				shared = -1
			}
			if got := l.lowerBound(h.a.chunks, probe, shared); got != i {
				t.Fatalf("offset %d: lowerBound(%q) = %d, want %d", p, probe, got, i)
			}
		}
	}
}

// TestTree_Orders inserts keys in random, ascending and descending order,
// checks the tree, then deletes everything in each order.
func TestTree_Orders(t *testing.T) {
	orders := map[string]func([]string){
		"random":     func(ks []string) { rand.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] }) },
		"ascending":  func(ks []string) { slices.Sort(ks) },
		"descending": func(ks []string) { slices.Sort(ks); slices.Reverse(ks) },
	}
	for gname, gen := range keyGens {
		r := rand.New(rand.NewPCG(7, uint64(len(gname))))
		set := map[string]bool{}
		for range 6000 {
			set[gen(r)] = true
		}
		for iname, in := range orders {
			for dname, out := range orders {
				t.Run(gname+"/"+iname+"/"+dname, func(t *testing.T) {
					h := newTreeHarness(t)
					ks := slices.Collect(func(yield func(string) bool) {
						for k := range set {
							if !yield(k) {
								return
							}
						}
					})
					in(ks)
					for i, k := range ks {
						h.set(k)
						if i%997 == 0 {
							h.checkTree()
						}
					}
					h.checkTree()
					checkTreeScan(t, h.live(), h.a.chunks, h.keys)
					for range 200 {
						h.checkSeek(h.live(), h.a.chunks, h.keys, gen(r))
					}
					out(ks)
					for i, k := range ks {
						h.del(k)
						if i%499 == 0 {
							h.checkTree()
							h.checkSeek(h.live(), h.a.chunks, h.keys, gen(r))
						}
					}
					h.checkTree()
					if h.tr.height != 0 || h.tr.rootLeaf != nil && h.tr.rootLeaf.n != 0 {
						t.Fatalf("tree not empty after deleting everything: height %d", h.tr.height)
					}
					h.set("again")
					h.checkTree()
				})
			}
		}
	}
}

// TestTree_RandomModel runs random inserts, replaces, removes and seeks
// against the sorted model, with snapshots along the way, for every key
// generator, starting from an empty tree and from a bulk-loaded one:
// 30000 operations each, 10000 under -short.
func TestTree_RandomModel(t *testing.T) {
	ops := 30000
	if testing.Short() {
		ops = 10000
	}
	for gname, gen := range keyGens {
		for _, bulk := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/bulk=%v", gname, bulk), func(t *testing.T) {
				seed := rand.Uint64()
				t.Logf("seed %d", seed)
				r := rand.New(rand.NewPCG(seed, 3))
				h := newTreeHarness(t)
				if bulk {
					h.bulk(r, gen, 5000)
				}
				for i := range ops {
					h.randomOp(r, gen)
					if r.IntN(3000) == 0 {
						h.freeze()
					}
					if i%5000 == 0 {
						h.checkTree()
					}
				}
				h.checkTree()
				checkTreeScan(t, h.live(), h.a.chunks, h.keys)
				h.checkViews(r, gen)
			})
		}
	}
}

// bulk bulk-loads about n generated keys into the empty tree.
func (h *treeHarness) bulk(r *rand.Rand, gen func(*rand.Rand) string, n int) {
	h.t.Helper()
	set := map[string]bool{}
	for range n {
		set[gen(r)] = true
	}
	for k := range set {
		h.keys = append(h.keys, k)
	}
	slices.Sort(h.keys)
	refs := make([]uint64, len(h.keys))
	for i, k := range h.keys {
		refs[i] = h.record(k)
		h.refs[k] = refs[i]
	}
	h.tr.BulkLoad(h.a.chunks, refs)
	h.checkTree()
}

// randomOp applies one random operation to the tree and the model.
func (h *treeHarness) randomOp(r *rand.Rand, gen func(*rand.Rand) string) {
	h.t.Helper()
	k := gen(r)
	switch op := r.IntN(20); {
	case op < 9:
		h.set(k)
	case op < 12 && len(h.keys) > 0:
		h.set(h.keys[r.IntN(len(h.keys))])
	case op < 17 && len(h.keys) > 0:
		h.del(h.keys[r.IntN(len(h.keys))])
	default:
		h.checkSeek(h.live(), h.a.chunks, h.keys, k)
	}
}

// TestTree_EdgeLeafAfterInnerRemoval empties a whole inner node, which widens
// the bounds of a leaf at the edge of the neighbouring subtree: the remove
// must refit that leaf (checkTree), and searches there must be right.
func TestTree_EdgeLeafAfterInnerRemoval(t *testing.T) {
	h := newTreeHarness(t)
	const n = 3 * LeafCap * innerCap
	for i := range n {
		h.set(fmt.Sprintf("k%07d", i))
	}
	if h.tr.height < 2 {
		t.Fatalf("height %d, want >= 2", h.tr.height)
	}
	// Delete the first inner node's keys: the second node's first leaf
	// then has no lower bound.
	kids, sep := h.tr.inner.n, h.tr.inner.seps[1]
	for _, k := range slices.Clone(h.keys) {
		if k < sep {
			h.del(k)
		}
	}
	if h.tr.inner.n != kids-1 {
		t.Fatalf("the inner node was not removed (root has %d kids, had %d)", h.tr.inner.n, kids)
	}
	h.checkTree()
	if l := h.tr.inner.kids[0].leaves[0]; l.pfx != 0 {
		t.Fatalf("first leaf at offset %d after losing its lower bound", l.pfx)
	}
	for _, probe := range []string{"", "a", "k", sep, sep + "\x00", h.keys[1], h.keys[LeafCap-1], h.keys[LeafCap], "l"} {
		h.checkSeek(h.live(), h.a.chunks, h.keys, probe)
	}
	// The same at the right edge: empty the second-to-last inner node, so
	// that the last leaf under its left neighbour reaches further.
	kids = h.tr.inner.n
	lo, hi := h.tr.inner.seps[kids-2], h.tr.inner.seps[kids-1]
	for _, k := range slices.Clone(h.keys) {
		if k >= lo && k < hi {
			h.del(k)
		}
	}
	if h.tr.inner.n != kids-1 {
		t.Fatalf("the inner node was not removed (root has %d kids, had %d)", h.tr.inner.n, kids)
	}
	h.checkTree()
	for _, probe := range []string{lo, hi, lo + "\x00", hi[:len(hi)-1]} {
		h.checkSeek(h.live(), h.a.chunks, h.keys, probe)
	}
	h.set("k")
	h.checkTree()
}

// TestTree_BulkLoadPartials checks the offsets bulkLoad chooses and that the
// first leaf, unbounded below, finds keys below all others.
func TestTree_BulkLoadPartials(t *testing.T) {
	h := newTreeHarness(t)
	var keys []string
	for i := range 10 * LeafCap {
		keys = append(keys, fmt.Sprintf("row:%06d", i))
	}
	refs := make([]uint64, len(keys))
	for i, k := range keys {
		refs[i] = h.record(k)
		h.refs[k] = refs[i]
	}
	h.keys = keys
	h.tr.BulkLoad(h.a.chunks, refs)
	h.checkTree()
	if l := h.tr.inner.leaves[0]; l.pfx != 0 {
		t.Errorf("first leaf offset %d, want 0", l.pfx)
	}
	if l := h.tr.inner.leaves[1]; l.pfx != 7 { // row:000064 .. row:000128
		t.Errorf("second leaf offset %d, want 7", l.pfx)
	}
	for _, probe := range []string{"", "a", "row:", "row:000000", "row:0000005", "row:000640", "s"} {
		h.checkSeek(h.live(), h.a.chunks, h.keys, probe)
	}
}

// TestLeaf_ShortOffsetKeptUntilTie checks that a leaf whose bounds narrowed keeps
// its shorter offset while the partials tell its items apart, and is
// refitted at the longer one when an insert makes a tie.
func TestLeaf_ShortOffsetKeptUntilTie(t *testing.T) {
	h := newTreeHarness(t)
	for c := range 200 {
		h.set("ab" + string([]byte{byte(c)}) + "zz")
	}
	h.checkTree()
	l := h.tr.inner.leaves[1] // "ab\x40zz" ... "ab\x7fzz", bounds share "ab"
	if l.pfx != 0 {
		t.Fatalf("second leaf at offset %d, want 0 (kept from before its split)", l.pfx)
	}
	h.del("ab\x41zz") // room, so that the insert neither splits nor spills
	h.set("ab\x50zy") // ties with "ab\x50zz" at offset 0
	h.checkTree()
	if l := h.tr.inner.leaves[1]; l.pfx != 2 {
		t.Fatalf("second leaf at offset %d after a tie, want 2", l.pfx)
	}
	for _, probe := range []string{"ab\x50", "ab\x50zy", "ab\x50zz", "ab\x50zz\x00", "ab\x7f{"} {
		h.checkSeek(h.live(), h.a.chunks, h.keys, probe)
	}
}

// TestLeaf_Size guards memory per key: the partial keys' offset must not
// make a leaf larger than its owner id, count and items.
func TestLeaf_Size(t *testing.T) {
	if got, want := unsafe.Sizeof(Leaf{}), uintptr(16+8*LeafCap); got != want {
		t.Fatalf("leaf is %d bytes, want %d", got, want)
	}
}

func TestCursor_Nearby(t *testing.T) {
	const c = uint64(3) << ChunkShift
	for _, tc := range []struct {
		name        string
		first, last uint64
		n           int
		want        bool
	}{
		{"ordered run", c + 100, c + 100 + 99*118, 100, true},
		{"spread out", c, c + 100*257, 100, false},
		{"other chunk", c, c + 1<<ChunkShift + 10, 2, false},
		{"backwards", c + 1000, c + 10, 2, false},
		{"same ref", c, c, 2, false},
	} {
		if got := nearby(tc.first, tc.last, tc.n); got != tc.want {
			t.Errorf("%s: nearby = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// replace swaps the ref of key from old to new; it reports whether old was
// found.
func (t *Tree) replace(key string, old, new uint64) bool {
	return t.mutLeafFor(key).replaceRef(old, new)
}
