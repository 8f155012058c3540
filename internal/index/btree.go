package index

import (
	"sync/atomic"
	"unsafe"
)

// Tree keeps the refs of all live records ordered by key, for scans. It is
// a B+tree whose leaves hold only refs (no pointers, so the garbage collector
// skips them) and whose inner nodes hold copies of separator keys, so that a
// descent reads the arena only in the leaf. Each leaf item also carries a
// partial key in the bits the ref leaves free, so that the leaf search
// reads few records (leafkeys.go):
//
//	 63                  40 39                        0
//	+----------------------+---------------------------+
//	| key[pfx : pfx+3]     | ref (arena.go)            |
//	+----------------------+---------------------------+
//
// Code that wants the ref of an item masks it with itemRef.
//
// The tree is copy-on-write: Freeze returns a frozen tree in O(1) by
// giving the tree a new owner id; a node whose id differs from the tree's is
// copied before it is changed. Iterators and compaction read frozen trees
// without any lock while writers go on.
type Tree struct {
	height   int    // 0: the root is a leaf
	rootLeaf *Leaf  // root when height == 0
	inner    *inner // root when height > 0
	count    int
	owner    atomic.Uint64 // owner id of the nodes this tree may change in place
	finger   finger
}

// finger is the leaf that the last mutLeafFor reached, with the bounds its
// path gave it, so that a key in the same leaf skips the descent: keys that
// arrive in order (a sorted batch, a bulk load) mostly do. It holds while
// the tree's owner id is the one it was taken under, so that every node on
// its path is still mutable, and while the tree keeps its shape: insert's
// slow path, remove and BulkLoad drop it before they change anything (the
// slow path then points it at the leaf that took its key).
type finger struct {
	leaf  *Leaf
	b     bounds
	owner uint64
}

// at returns the finger's leaf if it holds key and is still valid, else nil.
func (f *finger) at(key string, owner uint64) *Leaf {
	if f.leaf == nil || f.owner != owner || key < f.b.lo || f.b.hasHi && key >= f.b.hi {
		return nil
	}
	return f.leaf
}

const (
	// LeafCap makes a leaf exactly 512 bytes (16 of header, 62 items of 8),
	// a size class of Go's allocator; 64 items made it 528 bytes, which the
	// allocator rounds up to 576: 48 bytes lost per leaf, about one byte
	// per key.
	LeafCap  = 62
	innerCap = 64
)

// Leaf is a leaf node: n items (refs with partial keys) in key order. pfx
// is the key offset of the items' partials; n and pfx are int32 so that the
// leaf is no larger than it was without pfx (memory per key).
type Leaf struct {
	owner uint64
	n     int32
	pfx   int32
	items [LeafCap]uint64
}

// inner is an inner node. Child i holds the keys k with
// seps[i] <= k < seps[i+1]; seps[0] is unused.
type inner struct {
	owner    uint64
	n        int
	leafKids bool
	hoff     int32              // the separators' shared prefix length (innerkeys.go)
	hpfx     [prefixInline]byte // its first bytes
	heads    [innerCap]uint64   // 8 bytes of each separator after it
	seps     [innerCap]string
	kids     [innerCap]*inner
	leaves   [innerCap]*Leaf
}

// Root is a frozen tree.
type Root struct {
	height   int
	rootLeaf *Leaf
	inner    *inner
	count    int
}

var ownerSeq atomic.Uint64

// newTree returns an empty tree.
func newTree() *Tree {
	t := &Tree{}
	t.owner.Store(ownerSeq.Add(1))
	return t
}

// Root returns the tree as it is now, without freezing it: it is valid
// only while no write runs (a write may change its nodes in place).
func (t *Tree) Root() Root { return Root{t.height, t.rootLeaf, t.inner, t.count} }

// BytesFor estimates the bytes the tree's nodes take once it holds keys
// more keys, from its count alone: leaves half full, and an inner node per
// half full of leaves. The estimate does not walk the tree, so that a
// write can afford it.
func (t *Tree) BytesFor(keys int) int64 {
	leaves := int64(t.count+keys)/(LeafCap/2) + 1
	return leaves*int64(unsafe.Sizeof(Leaf{})) + leaves/(innerCap/2)*int64(unsafe.Sizeof(inner{}))
}

// Len returns the number of keys in the tree.
func (t *Tree) Len() int { return t.count }

// Freeze freezes the current tree and returns it. It may run under a read
// lock, concurrently with other freezes and with a writer's Index.Find,
// but not with a change.
func (t *Tree) Freeze() Root {
	v := t.Root()
	t.owner.Store(ownerSeq.Add(1))
	return v
}

func (t *Tree) mutLeaf(l *Leaf) *Leaf {
	c := t.owner.Load()
	if l.owner == c {
		return l
	}
	m := *l
	m.owner = c
	return &m
}

func (t *Tree) mutInner(n *inner) *inner {
	c := t.owner.Load()
	if n.owner == c {
		return n
	}
	m := *n
	m.owner = c
	return &m
}

// RefKey returns the key of the record at ref in chunks.
func RefKey(chunks [][]byte, ref uint64) []byte { return RecordKey(ChunkRecord(chunks, ref)) }

// childIndex returns the child of n that holds key.

// indexOf returns the index of the item whose ref is ref, or -1.
func (l *Leaf) indexOf(ref uint64) int {
	for i, it := range l.items[:l.n] {
		if itemRef(it) == ref {
			return i
		}
	}
	return -1
}

// insertIn adds ref for a key not yet in the tree, l being the leaf that
// mutLeafFor returned for key just before, with no change to the tree
// between. A leaf with room takes the item at once; a full one goes the
// way of insert, which splits or spills it.
func (t *Tree) insertIn(l *Leaf, chunks [][]byte, key string, ref uint64) {
	if l == nil || l.n == LeafCap || t.finger.at(key, t.owner.Load()) != l {
		t.insert(chunks, key, ref)
		return
	}
	t.count++
	t.leafInsert(l, t.finger.b, chunks, key, ref)
}

// insert adds ref for a key not yet in the tree.
func (t *Tree) insert(chunks [][]byte, key string, ref uint64) {
	t.finger = finger{}
	t.count++
	if t.height == 0 {
		if t.rootLeaf == nil {
			t.rootLeaf = &Leaf{owner: t.owner.Load()}
		}
		t.rootLeaf = t.mutLeaf(t.rootLeaf)
		if sep, right := t.leafInsert(t.rootLeaf, bounds{}, chunks, key, ref); right != nil {
			root := &inner{owner: t.owner.Load(), n: 2, leafKids: true}
			root.leaves[0], root.leaves[1], root.seps[1] = t.rootLeaf, right, sep
			root.refit()
			t.inner, t.rootLeaf, t.height = root, nil, 1
		}
		return
	}
	t.inner = t.mutInner(t.inner)
	if sep, right := t.innerInsert(t.inner, bounds{}, chunks, key, ref); right != nil {
		root := &inner{owner: t.owner.Load(), n: 2}
		root.kids[0], root.kids[1], root.seps[1] = t.inner, right, sep
		root.refit()
		t.inner = root
		t.height++
	}
}

// leafInsert inserts into a mutable leaf with bounds b, and returns the
// new right sibling and its separator when the leaf split. The halves of a
// split are settled in their new, narrower bounds (leafkeys.go).
func (t *Tree) leafInsert(l *Leaf, b bounds, chunks [][]byte, key string, ref uint64) (string, *Leaf) {
	shared := b.shared()
	if int(l.pfx) > shared {
		l.refit(chunks, shared) // not expected: every change of bounds settles
	}
	i := l.lowerBound(chunks, key, shared)
	item := makeItem(ref, key, int(l.pfx))
	if l.n < LeafCap {
		l.insertAt(i, item)
		if int(l.pfx) < shared && l.hasTies(i-1, i+2) {
			l.refit(chunks, shared) // see settle
		}
		return "", nil
	}
	right := &Leaf{owner: t.owner.Load(), pfx: l.pfx}
	// An insert past the last item (keys arriving in ascending order) keeps
	// the full leaf as it is, so sequential loads fill leaves completely.
	half := LeafCap / 2
	if i == LeafCap {
		half = LeafCap
	}
	right.n = int32(copy(right.items[:], l.items[half:]))
	l.n = int32(half)
	if i <= half && half < LeafCap {
		l.insertAt(i, item)
	} else {
		right.insertAt(i-half, item)
	}
	sep := string(RefKey(chunks, itemRef(right.items[0])))
	settle(l, bounds{lo: b.lo, hi: sep, hasHi: true}, chunks, nil, l.pfx)
	settle(right, bounds{lo: sep, hi: b.hi, hasHi: b.hasHi}, chunks, nil, right.pfx)
	return sep, right
}

// insertAt inserts item at index i of a leaf with room.
func (l *Leaf) insertAt(i int, item uint64) {
	copy(l.items[i+1:l.n+1], l.items[i:l.n])
	l.items[i] = item
	l.n++
}

// innerInsert inserts into the subtree of the mutable node n, whose bounds
// are b, and returns the new right sibling of n and its separator when n
// split.
func (t *Tree) innerInsert(n *inner, b bounds, chunks [][]byte, key string, ref uint64) (string, *inner) {
	i := n.childIndex(key)
	var sep string
	var rightLeaf *Leaf
	var rightInner *inner
	if n.leafKids {
		if n.leaves[i].n == LeafCap && t.spill(n, b, i, chunks) {
			i = n.childIndex(key)
		}
		n.leaves[i] = t.mutLeaf(n.leaves[i])
		lb := b.child(n, i)
		sep, rightLeaf = t.leafInsert(n.leaves[i], lb, chunks, key, ref)
		// Point the finger at the leaf that took key, so that the next
		// key in order does not descend: a leaf's bounds stay what they
		// are now whatever the splits above it do.
		owner := t.owner.Load()
		switch {
		case rightLeaf == nil:
			t.finger = finger{n.leaves[i], lb, owner}
			return "", nil
		case key < sep:
			t.finger = finger{n.leaves[i], bounds{lb.lo, sep, true}, owner}
		default:
			t.finger = finger{rightLeaf, bounds{sep, lb.hi, lb.hasHi}, owner}
		}
	} else {
		n.kids[i] = t.mutInner(n.kids[i])
		sep, rightInner = t.innerInsert(n.kids[i], b.child(n, i), chunks, key, ref)
		if rightInner == nil {
			return "", nil
		}
	}
	return t.addChild(n, i+1, sep, rightLeaf, rightInner)
}

// spill makes room in the full leaf i of the mutable node n, whose bounds
// are b, by moving items into a neighbour with room, as a B*-tree does,
// instead of splitting. Leaves then stay about 80% full under random
// inserts rather than 70%, which is memory per key. It reports whether it
// moved anything. Both leaves' bounds change, and both are settled
// (leafkeys.go), the neighbour with the items it took.
func (t *Tree) spill(n *inner, b bounds, i int, chunks [][]byte) bool {
	const room = LeafCap / 8
	switch {
	case i+1 < n.n && n.leaves[i+1].n <= LeafCap-room:
		l, r := t.mutLeaf(n.leaves[i]), t.mutLeaf(n.leaves[i+1])
		k := (LeafCap - r.n) / 2
		copy(r.items[k:r.n+k], r.items[:r.n])
		copy(r.items[:k], l.items[l.n-k:l.n])
		l.n -= k
		r.n += k
		n.leaves[i], n.leaves[i+1] = l, r
		n.seps[i+1] = string(RefKey(chunks, itemRef(r.items[0])))
		n.refit()
		settle(r, b.child(n, i+1), chunks, r.items[:k], l.pfx)
		settle(l, b.child(n, i), chunks, nil, l.pfx)
		return true
	case i > 0 && n.leaves[i-1].n <= LeafCap-room:
		lft, l := t.mutLeaf(n.leaves[i-1]), t.mutLeaf(n.leaves[i])
		k := (LeafCap - lft.n) / 2
		copy(lft.items[lft.n:lft.n+k], l.items[:k])
		copy(l.items[:l.n-k], l.items[k:l.n])
		lft.n += k
		l.n -= k
		n.leaves[i-1], n.leaves[i] = lft, l
		n.seps[i] = string(RefKey(chunks, itemRef(l.items[0])))
		n.refit()
		settle(lft, b.child(n, i-1), chunks, lft.items[lft.n-k:lft.n], l.pfx)
		settle(l, b.child(n, i), chunks, nil, l.pfx)
		return true
	}
	return false
}

// addChild inserts a child at position i of a mutable inner node, splitting
// the node when it is full.
func (t *Tree) addChild(n *inner, i int, sep string, l *Leaf, k *inner) (string, *inner) {
	if n.n < innerCap {
		n.insertAt(i, sep, l, k)
		return "", nil
	}
	half := innerCap / 2
	if i == innerCap {
		half = innerCap - 1 // ascending inserts: keep the left node full
	}
	right := &inner{owner: t.owner.Load(), leafKids: n.leafKids, n: n.n - half}
	copy(right.seps[:], n.seps[half:n.n])
	copy(right.kids[:], n.kids[half:n.n])
	copy(right.leaves[:], n.leaves[half:n.n])
	rightSep := right.seps[0]
	clear(n.seps[half:])
	clear(n.kids[half:])
	clear(n.leaves[half:])
	right.seps[0] = ""
	n.n = half
	if i <= half {
		n.insertAt(i, sep, l, k)
		right.refit()
	} else {
		right.insertAt(i-half, sep, l, k)
		n.refit()
	}
	return rightSep, right
}

func (n *inner) insertAt(i int, sep string, l *Leaf, k *inner) {
	copy(n.seps[i+1:n.n+1], n.seps[i:n.n])
	copy(n.kids[i+1:n.n+1], n.kids[i:n.n])
	copy(n.leaves[i+1:n.n+1], n.leaves[i:n.n])
	n.seps[i], n.kids[i], n.leaves[i] = sep, k, l
	n.n++
	n.refit()
}

func (n *inner) removeAt(i int) {
	copy(n.seps[i:], n.seps[i+1:n.n])
	copy(n.kids[i:], n.kids[i+1:n.n])
	copy(n.leaves[i:], n.leaves[i+1:n.n])
	n.n--
	n.seps[n.n], n.kids[n.n], n.leaves[n.n] = "", nil, nil
	n.seps[0] = ""
	n.refit()
}

// replaceRef swaps ref old for new in a mutable leaf (nil: none) and
// reports whether old was there. The key, so the partial, stays.
func (l *Leaf) replaceRef(old, new uint64) bool {
	if l == nil {
		return false
	}
	i := l.indexOf(old)
	if i < 0 {
		return false
	}
	l.setRef(i, new)
	return true
}

// setRef points item i of a mutable leaf at ref instead; the key, so the
// partial, stays.
func (l *Leaf) setRef(i int, ref uint64) { l.items[i] = ref | l.items[i]&^refMask }

// mutLeafFor makes the path to the leaf that holds key mutable and returns
// the leaf, or nil if the tree has none; the leaf becomes the finger.
func (t *Tree) mutLeafFor(key string) *Leaf {
	owner := t.owner.Load()
	if l := t.finger.at(key, owner); l != nil {
		return l
	}
	if t.height == 0 {
		if t.rootLeaf == nil {
			return nil
		}
		t.rootLeaf = t.mutLeaf(t.rootLeaf)
		t.finger = finger{t.rootLeaf, bounds{}, owner}
		return t.rootLeaf
	}
	t.inner = t.mutInner(t.inner)
	n, b := t.inner, bounds{}
	for {
		i := n.childIndex(key)
		b = b.child(n, i)
		if n.leafKids {
			n.leaves[i] = t.mutLeaf(n.leaves[i])
			t.finger = finger{n.leaves[i], b, owner}
			return n.leaves[i]
		}
		n.kids[i] = t.mutInner(n.kids[i])
		n = n.kids[i]
	}
}

// remove deletes the ref of key; it reports whether it was found. chunks
// is the arena's table, read to refit leaves whose bounds widen.
func (t *Tree) remove(chunks [][]byte, key string, ref uint64) bool {
	t.finger = finger{}
	if t.height == 0 {
		if t.rootLeaf == nil {
			return false
		}
		t.rootLeaf = t.mutLeaf(t.rootLeaf)
		if !t.rootLeaf.removeRef(ref) {
			return false
		}
		t.count--
		return true
	}
	t.inner = t.mutInner(t.inner)
	if !t.innerRemove(t.inner, bounds{}, chunks, key, ref) {
		return false
	}
	t.count--
	for t.height > 0 && t.inner.n == 1 {
		if t.inner.leafKids {
			t.rootLeaf, t.inner = t.inner.leaves[0], nil
		} else {
			t.inner = t.inner.kids[0]
		}
		t.height--
	}
	if t.height > 0 && t.inner.n == 0 {
		t.inner, t.height = nil, 0
	}
	return true
}

// removeRef removes the item whose ref is ref; it reports whether there was
// one.
func (l *Leaf) removeRef(ref uint64) bool {
	i := l.indexOf(ref)
	if i < 0 {
		return false
	}
	copy(l.items[i:], l.items[i+1:l.n])
	l.n--
	return true
}

// innerRemove removes the ref of key from the subtree of the mutable node
// n, whose bounds are b; it reports whether it was found. An inner node
// left empty is dropped (which widens the bounds of a leaf at the edge of a
// neighbouring subtree: see leafkeys.go).
func (t *Tree) innerRemove(n *inner, b bounds, chunks [][]byte, key string, ref uint64) bool {
	i := n.childIndex(key)
	if !n.leafKids {
		n.kids[i] = t.mutInner(n.kids[i])
		if !t.innerRemove(n.kids[i], b.child(n, i), chunks, key, ref) {
			return false
		}
		if n.kids[i].n == 0 {
			n.removeAt(i)
			t.refitEdge(n, b, i, chunks)
		}
		return true
	}
	n.leaves[i] = t.mutLeaf(n.leaves[i])
	if !n.leaves[i].removeRef(ref) {
		return false
	}
	t.mergeLeaf(n, b, i, chunks)
	return true
}

// refitEdge restores the partials of the one leaf whose bounds widened
// when child i of the mutable node n, whose bounds are b, was removed: the
// last leaf under the left neighbour, whose upper bound is now the removed
// child's, or for i == 0 the first leaf under the new first child, which
// lost its lower bound. The path to that leaf is made mutable.
func (t *Tree) refitEdge(n *inner, b bounds, i int, chunks [][]byte) {
	if n.n == 0 {
		return
	}
	last := i > 0
	j := max(i-1, 0)
	for {
		cb := b.child(n, j)
		if n.leafKids {
			if int(n.leaves[j].pfx) > cb.shared() {
				n.leaves[j] = t.mutLeaf(n.leaves[j])
				settle(n.leaves[j], cb, chunks, nil, n.leaves[j].pfx)
			}
			return
		}
		n.kids[j] = t.mutInner(n.kids[j])
		n, b = n.kids[j], cb
		j = 0
		if last {
			j = n.n - 1
		}
	}
}

// mergeLeaf drops an empty leaf, or folds a sparse one into its right
// sibling's place, so that deletions give memory back. Either way a leaf's
// bounds widen, and it is settled (leafkeys.go).
func (t *Tree) mergeLeaf(n *inner, b bounds, i int, chunks [][]byte) {
	l := n.leaves[i]
	if l.n == 0 {
		n.removeAt(i)
		t.refitEdge(n, b, i, chunks)
		return
	}
	if l.n >= LeafCap/4 || i+1 >= n.n || l.n+n.leaves[i+1].n > LeafCap*3/4 {
		return
	}
	r := n.leaves[i+1]
	copy(l.items[l.n:], r.items[:r.n])
	l.n += r.n
	n.removeAt(i + 1)
	settle(l, b.child(n, i), chunks, l.items[l.n-r.n:l.n], r.pfx)
}

// BulkLoad builds the tree of an empty Tree from refs in ascending key
// order, with full leaves. Leaf j's bounds are the lowest keys of leaves j
// and j+1 (the first and the last leaf are unbounded on their outer side),
// and its partials are computed at the prefix those share.
func (t *Tree) BulkLoad(chunks [][]byte, refs []uint64) {
	t.finger = finger{}
	if len(refs) == 0 {
		return
	}
	c := t.owner.Load()
	var leaves []*Leaf
	var seps []string
	for len(refs) > 0 {
		l := &Leaf{owner: c}
		l.n = int32(copy(l.items[:], refs))
		refs = refs[l.n:]
		leaves = append(leaves, l)
		seps = append(seps, string(RefKey(chunks, itemRef(l.items[0]))))
	}
	for j, l := range leaves {
		var b bounds
		if j > 0 {
			b.lo = seps[j]
		}
		if j+1 < len(leaves) {
			b.hi, b.hasHi = seps[j+1], true
		}
		l.refit(chunks, b.shared())
	}
	t.count += countRefs(leaves)
	if len(leaves) == 1 {
		t.rootLeaf = leaves[0]
		return
	}
	level := buildInner(c, seps, leaves, nil)
	t.height = 1
	for len(level) > 1 {
		seps = seps[:0]
		for _, n := range level {
			seps = append(seps, n.low)
		}
		nodes := make([]*inner, len(level))
		for i := range level {
			nodes[i] = level[i].node
		}
		level = buildInner(c, seps, nil, nodes)
		t.height++
	}
	t.inner = level[0].node
}

type lowNode struct {
	node *inner
	low  string
}

func countRefs(leaves []*Leaf) int {
	n := 0
	for _, l := range leaves {
		n += int(l.n)
	}
	return n
}

// buildInner groups children (leaves or inner nodes, with their lowest keys
// in seps) into full inner nodes.
func buildInner(c uint64, seps []string, leaves []*Leaf, kids []*inner) []lowNode {
	total := max(len(leaves), len(kids))
	var out []lowNode
	for start := 0; start < total; start += innerCap {
		end := min(start+innerCap, total)
		n := &inner{owner: c, n: end - start, leafKids: leaves != nil}
		for i := start; i < end; i++ {
			if leaves != nil {
				n.leaves[i-start] = leaves[i]
			} else {
				n.kids[i-start] = kids[i]
			}
			if i > start {
				n.seps[i-start] = seps[i]
			}
		}
		n.refit()
		out = append(out, lowNode{n, seps[start]})
	}
	return out
}

// Cursor walks a frozen tree in key order.
type Cursor struct {
	chunks [][]byte
	path   []pathElem
	leaf   *Leaf
	i      int
	sink   byte // keeps the loads of touch from being optimised away
	ahead  int  // records touch loads ahead; 0 for the rest of the leaf
}

// NewCursor returns a cursor over trees whose records are in chunks (the
// arena's chunk table when the tree was frozen). It is on no key until
// Seek.
func NewCursor(chunks [][]byte) Cursor { return Cursor{chunks: chunks} }

// SetAhead bounds how many records of a leaf the cursor loads ahead of the
// walk (see touch) to n; 0, the default, loads the rest of the leaf. A
// scan with a limit sets it so that it does not load what it will not read.
func (c *Cursor) SetAhead(n int) { c.ahead = n }

// Leaf returns the leaf the cursor is in, so that a caller can tell when
// a step reached a new leaf.
func (c *Cursor) Leaf() *Leaf { return c.leaf }

type pathElem struct {
	node *inner
	i    int
}

// Seek positions c at the first key >= key; it reports whether there is one.
func (c *Cursor) Seek(v Root, key string) bool {
	c.path = c.path[:0]
	var b bounds
	if v.height == 0 {
		c.leaf = v.rootLeaf
	} else {
		n := v.inner
		for {
			i := n.childIndex(key)
			c.path = append(c.path, pathElem{n, i})
			b = b.child(n, i)
			if n.leafKids {
				c.leaf = n.leaves[i]
				break
			}
			n = n.kids[i]
		}
	}
	if c.leaf == nil {
		return false
	}
	c.i = c.leaf.lowerBound(c.chunks, key, b.shared())
	if c.i < int(c.leaf.n) {
		c.touch()
		return true
	}
	return c.nextLeaf()
}

// touch loads the first cache lines of every record from the cursor to
// the end of its leaf. The loads are independent, so the processor overlaps their
// cache misses, and the walk that follows finds the records in cache:
// records of neighbouring keys may lie anywhere in the arena.
func (c *Cursor) touch() {
	var sink byte
	end := int(c.leaf.n)
	if c.ahead > 0 {
		end = min(end, c.i+c.ahead)
	}
	items := c.leaf.items[c.i:end]
	if len(items) > 1 && nearby(itemRef(items[0]), itemRef(items[len(items)-1]), len(items)) {
		return // records in key order: the hardware prefetcher streams them
	}
	for _, it := range items {
		sink += ChunkRecord(c.chunks, itemRef(it))[0]
	}
	// Then the records' further cache lines, now that their headers are in
	// cache; never a byte past a record's end, which a writer may be
	// filling.
	for _, it := range items {
		rec := ChunkRecord(c.chunks, itemRef(it))
		if size, ok := shortEntrySize(rec); ok {
			for p := 64; p < size && p < 256; p += 64 {
				sink += rec[p]
			}
		}
	}
	c.sink += sink
}

// nearby reports whether n records from first to last lie in one chunk,
// in order, about as close together as records of 256 bytes would: the
// layout compaction's key-order walk leaves, where loading them ahead
// only costs instructions.
func nearby(first, last uint64, n int) bool {
	return first>>ChunkShift == last>>ChunkShift && last > first && last-first <= uint64(n)*256
}

// Ref returns the ref under the cursor.
func (c *Cursor) Ref() uint64 { return itemRef(c.leaf.items[c.i]) }

// Next advances c; it reports whether it is on a key.
func (c *Cursor) Next() bool {
	if c.leaf == nil {
		return false
	}
	c.i++
	if c.i < int(c.leaf.n) {
		return true
	}
	return c.nextLeaf()
}

// Step moves to the next item of the cursor's leaf; at the leaf's end it
// reports false and leaves the cursor for next. It inlines, where next
// does not: `c.Step() || c.Next()` is Next at the cost of a few
// instructions for most keys.
func (c *Cursor) Step() bool {
	if l := c.leaf; l != nil && c.i+1 < int(l.n) {
		c.i++
		return true
	}
	return false
}

// nextLeaf moves to the first item of the next non-empty leaf.
func (c *Cursor) nextLeaf() bool {
	for {
		d := len(c.path) - 1
		for d >= 0 && c.path[d].i+1 >= c.path[d].node.n {
			d--
		}
		if d < 0 {
			c.leaf = nil
			return false
		}
		c.path[d].i++
		c.path = c.path[:d+1]
		n := c.path[d].node
		for !n.leafKids {
			n = n.kids[c.path[len(c.path)-1].i]
			c.path = append(c.path, pathElem{n, 0})
		}
		c.leaf = n.leaves[c.path[len(c.path)-1].i]
		c.i = 0
		if c.leaf.n > 0 {
			c.touch()
			return true
		}
	}
}

// UpperBound returns the separator above the cursor's leaf: every key of
// the leaf is below it. It reports false for the last leaf.
func (c *Cursor) UpperBound() (string, bool) {
	for d := len(c.path) - 1; d >= 0; d-- {
		if e := c.path[d]; e.i+1 < e.node.n {
			return e.node.seps[e.i+1], true
		}
	}
	return "", false
}

// leafOf returns key's leaf, or nil for an empty tree: the finger's when
// key lies in its bounds and owner is still the tree's, as in mutLeafFor,
// else the leaf a walk down from the root finds. It only reads, so the
// writer (the finger is the writer's) may call it beside readers.
func (t *Tree) leafOf(key string, owner uint64) *Leaf {
	if l := t.finger.at(key, owner); l != nil {
		return l
	}
	if t.height == 0 {
		return t.rootLeaf
	}
	n := t.inner
	for {
		i := n.childIndex(key)
		if n.leafKids {
			return n.leaves[i]
		}
		n = n.kids[i]
	}
}
