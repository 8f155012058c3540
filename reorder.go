package minikv

// Records are appended to the arena in the order they are written, so
// after a load in random key order neighbouring keys lie megabytes apart
// and a scan of 100 keys costs 100 cache misses. After each compaction the
// index walks its keys in order and copies every record that is not next
// to its predecessor's to the end of the arena, so that runs of
// neighbouring keys become runs of neighbouring bytes again. The walk runs
// a leaf at a time under the write lock, like the rest of defragment.
//
// A record counts as in place when it starts at most reorderSlack bytes
// after the end of the previous key's record, in the same chunk, either
// where that record was before the walk or where the walk copied it. A store that was reopened from
// a snapshot, or reordered before, is in place but for what was written
// since, so the walk copies only that.

// reorderSlack is how far past its predecessor's end a record may start
// and still count as in place.
const reorderSlack = 256

// reorderStep bounds the keys visited per hold of the write lock.
const reorderStep = 256

// reorderState is where a reorder walk stands between steps.
type reorderState struct {
	from    string // next key to visit
	prevEnd uint64 // ref just past the previous key's record, as it was
	prevNow uint64 // the same, where the record is now
	started bool
	done    bool
	moved   int    // records copied so far
	sink    uint64 // keeps prefetchReorder's loads from being optimised away
}

// The walk also copies the records of chunks less than half live, in key
// order, so that overwrites and deletions give their memory back without
// a second pass that would move records in chunk order and undo the key
// order (relocate then only finds chunks that writes made sparse during
// the walk).
//
// The rule looks at one neighbour only. A key written between two keys
// of an ordered run is copied to the end, and so is its successor (which
// no longer follows its predecessor's record), while the rest of the run
// stays: the run breaks twice per such key. Where many new keys land
// inside ordered runs the runs get short: in TestCompactDefragmentsAtOnce,
// under the race detector, 70% of the records followed their predecessor
// after the walk (nearly all do when the arena was in random order).
// Moving whole short runs would do better; it is not done.
//
// A record that no neighbour follows, such as a key overwritten in the
// middle of an ordered run, is copied again by every walk, and so is the
// first record of a run that the arena split across two chunks. Their
// number is bounded by the writes between walks and the chunks, and a copy
// costs about what writing the record to the snapshot costs.

// reorder visits up to max keys from st.from on, copying those not in
// place to the end of the arena, and advances st.
func (m *memIndex) reorder(st *reorderState, max int) {
	for max > 0 && !st.done {
		max -= m.reorderLeaf(st)
	}
}

// prefetchReorder reads what reorder(st, max) will read: the records of
// the keys it will visit and their hash-table slots. It changes nothing, so
// the writer can run it without the index lock, and the step under the
// lock then finds those lines in cache instead of missing on each: readers
// are kept out for microseconds rather than for a few hundred misses.
func (m *memIndex) prefetchReorder(st reorderState, max int) uint64 {
	var sink uint64
	for max > 0 && !st.done {
		c := cursor{chunks: m.arena.chunks}
		if !c.seek(treeView{height: m.tree.height, leafs: m.tree.leafs, inner: m.tree.inner}, st.from) {
			break
		}
		for i := c.i; i < int(c.leaf.n); i++ {
			max--
			e, _ := decodeEntry(m.arena.record(itemRef(c.leaf.items[i])))
			j, _ := m.table.find(m.arena, string(e.key), hashBytes(e.key))
			sink += m.table.slots[j]
		}
		sep, ok := c.upperBound()
		st.from, st.done = sep, !ok
	}
	return sink
}

// reorderLeaf walks the rest of the leaf that holds st.from and returns
// how many keys it visited.
func (m *memIndex) reorderLeaf(st *reorderState) int {
	c := cursor{chunks: m.arena.chunks}
	if !c.seek(treeView{height: m.tree.height, leafs: m.tree.leafs, inner: m.tree.inner}, st.from) {
		st.done = true
		return 1
	}
	first := string(refKey(m.arena.chunks, c.ref()))
	l := m.tree.mutLeafFor(first)
	visited := 0
	for i := c.i; i < int(l.n); i++ {
		visited++
		ref := itemRef(l.items[i])
		e, ok := decodeEntry(m.arena.record(ref))
		if !ok {
			panic("minikv: arena record damaged")
		}
		inPlace := (!st.started || follows(st.prevEnd, ref) || follows(st.prevNow, ref)) &&
			!m.arena.sparse(int(ref>>chunkShift))
		st.started, st.prevEnd, st.prevNow = true, ref+uint64(e.size), ref+uint64(e.size)
		if inPlace || e.size > largeRecord {
			continue
		}
		nref := m.moveRecord(ref, e)
		l.items[i] = l.items[i]&^refMask | nref // the key, so its partial, is the same
		st.prevNow = nref + uint64(e.size)
		st.moved++
	}
	if sep, ok := c.upperBound(); ok {
		st.from = sep
	} else {
		st.done = true
	}
	return visited
}

// follows reports whether a record at ref starts at most reorderSlack
// bytes after end, in the same chunk.
func follows(end, ref uint64) bool {
	return ref>>chunkShift == end>>chunkShift && ref >= end && ref-end <= reorderSlack
}

// moveRecord copies the live record e at ref to the end of the arena,
// points the hash table and the expiry map at the copy, releases the
// original and returns the copy's ref. The caller updates the tree.
func (m *memIndex) moveRecord(ref uint64, e entry) uint64 {
	key := e.key
	h := hashBytes(key)
	i, found := m.table.find(m.arena, string(key), h)
	if !found || slotRef(m.table.slots[i]) != ref {
		panic("minikv: index out of step: tree record not in hash table")
	}
	nref, buf := m.arena.alloc(e.size)
	copy(buf, m.arena.record(ref)[:e.size])
	m.table.slots[i] = slotOf(h, nref)
	if e.exp != 0 {
		delete(m.expiring, ref)
		m.expiring[nref] = e.exp
	}
	m.arena.kill(ref, e.size)
	return nref
}
