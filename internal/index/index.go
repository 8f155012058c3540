package index

// Index is a store's records with the two structures over them, kept in
// step: every live record is in the Arena, and its key is in the Table and
// the Tree, both pointing at it by ref. Set (or Find, then SetAt), Delete
// and Move change all three; Lookup and the Tree's Root and Freeze read
// them.
//
// Its methods that change it run alone; the package documentation says
// what may run at the same time.
type Index struct {
	Arena *Arena
	Table Table
	Tree  *Tree
}

// New returns an empty index whose hash table holds about capacity keys
// before it grows.
func New(capacity int) Index {
	return Index{Arena: newArena(), Table: newTable(capacity), Tree: newTree()}
}

// Lookup returns the hash-table slot of key, whose hash is h (Hash), or
// -1 when the key is not in the index.
func (x *Index) Lookup(key string, h uint64) int {
	// find, not Table.lookup: Lookup must stay within the inliner's budget,
	// as it is every point read's first step.
	i, found := x.Table.find(x.Arena, key, h)
	if !found {
		return -1
	}
	return i
}

// Set appends a record of key, value and expiry exp (0 for none) to the
// arena and points the table and the tree at it. It returns the record's
// ref, the key's hash-table slot and, when the key was present, the ref of
// the record it replaced; that record is still live in the arena, and the
// caller kills it (Arena.Kill) once it has read what it needs from it.
func (x *Index) Set(key string, h uint64, value []byte, exp int64) (ref uint64, slot int, old uint64, replaced bool) {
	ref, buf := x.Arena.Alloc(EntrySize(len(key), len(value), exp))
	PutEntry(buf, key, value, exp)
	// The key's leaf is a cache miss of its own, independent of the hash
	// table's two (slot, then record): finding the leaf first starts its
	// load, and the processor overlaps it with the table's.
	l := x.Tree.mutLeafFor(key)
	i, found := x.Table.find(x.Arena, key, h)
	slot, old, replaced = x.setIn(l, i, found, key, h, ref)
	return ref, slot, old, replaced
}

// Probe is where a key is, or would go, in the hash table, and a present
// key's leaf: the first half of Set, which Find does and SetAt consumes.
type Probe struct {
	slot  int
	found bool
	leaf  *Leaf // a present key's leaf, if the tree may change it in place
}

// Find probes the hash table for key, whose hash is h, and walks to a
// present key's leaf, for a later SetAt of the same key. It only reads, so
// it may run beside readers (and Tree.Freeze), before the lock that keeps
// them out of a change: their wait then no longer includes the probe's
// cache misses (the slot, then the record it points at) nor the walk.
func (x *Index) Find(key string, h uint64) Probe {
	i, found := x.Table.find(x.Arena, key, h)
	p := Probe{slot: i, found: found}
	if found {
		// SetAt replaces a present key's ref in its leaf. If no iterator
		// or snapshot shares the leaf, SetAt changes it where it is, and
		// the walk to it, a binary search in every node on the path, is
		// done here rather than while readers wait. The finger, which
		// only the writer reads, spares the walk for a key near the last.
		owner := x.Tree.owner.Load()
		if l := x.Tree.leafOf(key, owner); l != nil && l.owner == owner {
			p.leaf = l
		}
	}
	return p
}

// SetAt is Set of key, whose hash is h, at p, which Find returned for the
// same key with no change to x since.
func (x *Index) SetAt(p Probe, key string, h uint64, value []byte, exp int64) (ref uint64, slot int, old uint64, replaced bool) {
	ref, buf := x.Arena.Alloc(EntrySize(len(key), len(value), exp))
	PutEntry(buf, key, value, exp)
	// A leaf that Find saw unshared is still so unless Tree.Freeze ran
	// since, which changes the owner: a leaf of the current owner lies on
	// a path that is all the current owner's (a path is made mutable from
	// the root down), so it may change in place.
	l := p.leaf
	if l == nil || l.owner != x.Tree.owner.Load() {
		l = x.Tree.mutLeafFor(key)
	}
	// A probe that a change since has made wrong would corrupt the table:
	// its slot must still be empty for a new key and taken for a present one.
	if (x.Table.slots[p.slot] == 0) == p.found {
		panic("minikv: index out of step: a probe outlived a change to the hash table")
	}
	slot, old, replaced = x.setIn(l, p.slot, p.found, key, h, ref)
	return ref, slot, old, replaced
}

// setIn points the table and the tree at ref, the new record of key:
// slot i, found by Table.find, holds the key (found) or ends its probe
// sequence, and l is the key's mutable leaf.
func (x *Index) setIn(l *Leaf, i int, found bool, key string, h, ref uint64) (slot int, old uint64, replaced bool) {
	if !found {
		i = x.Table.insertAt(i, h, ref, x.Arena)
		x.Tree.insertIn(l, x.Arena.chunks, key, ref)
		return i, 0, false
	}
	old = slotRef(x.Table.slots[i])
	x.Table.setRef(i, ref)
	if !l.replaceRef(old, ref) {
		panic("minikv: index out of step: key in hash table but not in tree")
	}
	return i, old, true
}

// Delete takes key, whose hash is h, out of the table and the tree. It
// returns the ref of its record, which the caller kills, and false when
// the key is not in the index.
func (x *Index) Delete(key string, h uint64) (ref uint64, ok bool) {
	i := x.Table.lookup(x.Arena, key, h)
	if i < 0 {
		return 0, false
	}
	ref = slotRef(x.Table.slots[i])
	x.Table.remove(i, x.Arena)
	if !x.Tree.remove(x.Arena.chunks, key, ref) {
		panic("minikv: index out of step: key in hash table but not in tree")
	}
	return ref, true
}

// Move copies the live record at ref, decoded as e, whose key is in
// hash-table slot i, to the arena's active chunk, points the table and the
// tree at the copy, kills the old record and returns the copy's ref. The
// slot stays, and with it the key's LRU stamp: a move is not a use.
func (x *Index) Move(i int, ref uint64, e Entry) uint64 {
	nref, buf := x.Arena.Alloc(e.Size)
	copy(buf, x.Arena.Record(ref)[:e.Size])
	if !x.Tree.mutLeafFor(string(e.Key)).replaceRef(ref, nref) {
		panic("minikv: index out of step: key in hash table but not in tree")
	}
	x.Table.setRef(i, nref)
	x.Arena.Kill(ref, e.Size)
	return nref
}
