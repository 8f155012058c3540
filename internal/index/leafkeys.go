package index

// Partial keys in leaf items.
//
// A leaf item is a record ref (refBits = 40 bits, see arena.go) whose top
// 24 bits, unused by the ref, hold a partial key: the three key bytes at the
// leaf's offset pfx, big-endian, a byte past the end of the key reading as 0.
//
//	 63        56 55        48 47        40 39                           0
//	+------------+------------+------------+------------------------------+
//	|  key[p]    |  key[p+1]  |  key[p+2]  |  ref: chunk<<22 | offset    |
//	+------------+------------+------------+------------------------------+
//	                      p = leaf.pfx
//
// A leaf search compares the partial of the search key with those of the
// items and reads a record from the arena only among items whose partial
// equals the key's: usually none or one, instead of the six records a
// binary search over a full leaf reads (each a cache miss at random).
//
// Order. Let a and b be keys that share bytes [0:p). If partial(a) <
// partial(b) then a < b: at the first window byte where they differ, either
// both keys have a byte there and it decides, or a ended (reading 0) where b
// goes on with a byte above 0, so a is a prefix of b. Hence keys in order have
// partials in (non-strict) order, and equal partials decide nothing: a key
// that ends inside the window and one that goes on with 0x00 bytes have the
// same partial, as have keys that differ only after the window. Those ties
// are resolved by reading the records.
//
// Invariants:
//
//   - every item of a leaf carries the partial of its key at the leaf's own
//     pfx (any value of pfx; a leaf with pfx 0 is always valid);
//   - partials may order a search for key only when key and every key of
//     the leaf share bytes [0:pfx). The search does not check the keys: it
//     knows the separators that bounded its descent (bounds), and every key
//     routed through them shares their common prefix (bounds.shared). So a
//     search uses the partials when pfx <= shared and falls back to full
//     comparisons otherwise.
//
// Writers keep pfx <= shared for every leaf, so that searches always use
// the partials, and aim at windows that tell the leaf's keys apart. Every
// operation that changes a leaf's bounds knows them (they are tracked down
// every descent) and settles the leaf: split, spill, merge, bulk load, and
// the removal of an empty leaf or inner node, which widens the bounds of
// the leaf next to it (refitEdge). Narrowed bounds keep an old pfx valid
// (shared only grows); widened ones may need a shorter pfx, hence new
// partials read from the arena. See settle for when a leaf is refitted.

const (
	partialBits  = 64 - refBits
	partialBytes = partialBits / 8
)

// itemRef returns the record ref of a leaf item.
func itemRef(item uint64) uint64 { return item & refMask }

// itemPartial returns the partial key of a leaf item.
func itemPartial(item uint64) uint64 { return item >> refBits }

// makeItem packs a ref and the partial of its key at offset p.
func makeItem[K ~string | ~[]byte](ref uint64, key K, p int) uint64 {
	return ref | partialOf(key, p)<<refBits
}

// partialOf returns the partialBytes bytes of key from offset p, big-endian,
// with 0 for bytes past the end of key.
func partialOf[K ~string | ~[]byte](key K, p int) uint64 {
	if len(key) >= p+partialBytes {
		return uint64(key[p])<<16 | uint64(key[p+1])<<8 | uint64(key[p+2])
	}
	var x uint64
	for j := p; j < p+partialBytes; j++ {
		x <<= 8
		if j < len(key) {
			x |= uint64(key[j])
		}
	}
	return x
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// bounds are the separators that enclose a subtree: every key routed into
// it is >= lo and, when hasHi, < hi. The zero value is the whole key space
// (lo "" is below every key).
type bounds struct {
	lo, hi string
	hasHi  bool
}

// child returns the bounds of child i of n, which has bounds b.
func (b bounds) child(n *inner, i int) bounds {
	if i > 0 {
		b.lo = n.seps[i]
	}
	if i+1 < n.n {
		b.hi, b.hasHi = n.seps[i+1], true
	}
	return b
}

// shared returns the length of the prefix every key within b shares: the
// common prefix of lo and hi. A key k with lo <= k < hi that differed from
// lo before that length would be below lo or, since hi has the same bytes
// there, above hi. Without an upper bound nothing is shared.
func (b bounds) shared() int {
	if !b.hasHi {
		return 0
	}
	return commonPrefix(b.lo, b.hi)
}

// refit sets the leaf's offset to p and recomputes every partial from the
// arena. The records are read in one pass of independent loads, so their
// cache misses overlap.
func (l *Leaf) refit(chunks [][]byte, p int) {
	l.pfx = int32(p)
	setPartials(chunks, l.items[:l.n], p)
}

// settle restores the invariants of the mutable leaf l after its bounds
// changed to b and it took the items moved (none, or some of its items,
// whose partials are at offset from):
//
//   - an offset longer than b's shared prefix (bounds widened) is no longer
//     valid: the leaf is refitted at that prefix;
//   - otherwise the moved items get partials at l's offset (read from the
//     arena when from differs);
//   - an offset shorter than the shared prefix (bounds narrowed) stays
//     valid, and is kept while it still tells adjacent items apart: every
//     search then reads at most one record, as at the longer offset, and
//     the leaf is not re-read at each split. Once two items tie, the leaf
//     is refitted at the longer offset.
//
// So pfx <= shared always holds, and pfx < shared only in a leaf without
// ties between adjacent items (leafInsert keeps that on insert; a removal
// cannot make a tie, since partials are in order).
func settle(l *Leaf, b bounds, chunks [][]byte, moved []uint64, from int32) {
	shared := b.shared()
	if int(l.pfx) > shared {
		l.refit(chunks, shared)
		return
	}
	if from != l.pfx {
		setPartials(chunks, moved, int(l.pfx))
	}
	if int(l.pfx) < shared && l.hasTies(0, int(l.n)) {
		l.refit(chunks, shared)
	}
}

// hasTies reports whether two adjacent items among items [from, to) of l
// have the same partial.
func (l *Leaf) hasTies(from, to int) bool {
	from, to = max(from, 0), min(to, int(l.n))
	for i := from + 1; i < to; i++ {
		if itemPartial(l.items[i-1]) == itemPartial(l.items[i]) {
			return true
		}
	}
	return false
}

// setPartials recomputes the partials of items at offset p.
func setPartials(chunks [][]byte, items []uint64, p int) {
	for i, it := range items {
		ref := itemRef(it)
		items[i] = makeItem(ref, RefKey(chunks, ref), p)
	}
}

// lowerBound returns the first index in l whose key is >= key. shared is
// the length of the prefix that key shares with every key l may hold
// (bounds.shared of the descent that reached l). When the leaf's partials
// apply, two searches over the partials (no arena reads) narrow the range
// to the items whose partial equals the key's, and only those are compared
// in full.
func (l *Leaf) lowerBound(chunks [][]byte, key string, shared int) int {
	lo, hi := 0, int(l.n)
	if p := int(l.pfx); p <= shared {
		kp := partialOf(key, p)
		lo = l.partialBound(lo, hi, kp)
		hi = l.partialBound(lo, hi, kp+1)
	}
	// Keys inserted in ascending order land after the last item, in a leaf
	// with no upper bound and so no shared prefix (every partial ties): one
	// comparison with the last key settles them, instead of a search that
	// reads a record at every step.
	if lo < hi && string(RefKey(chunks, itemRef(l.items[hi-1]))) < key {
		return hi
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if string(RefKey(chunks, itemRef(l.items[m]))) < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// partialBound returns the first index in [lo, hi) whose item's partial is
// >= x, or hi.
func (l *Leaf) partialBound(lo, hi int, x uint64) int {
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if itemPartial(l.items[m]) < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
