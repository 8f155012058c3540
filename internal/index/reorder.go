package index

// Records are appended to the arena in the order they are written, so
// after a load in random key order neighbouring keys lie megabytes apart
// and a scan of 100 keys costs 100 cache misses. After each compaction the
// index walks its keys in order and copies every record that is not next
// to its predecessor's to the end of the arena, so that runs of
// neighbouring keys become runs of neighbouring bytes again.
//
// The walk goes in steps of ReorderStep keys, each holding the writer
// semaphore, so that the index does not change during the step. A step
// first plans, without the index lock: it reads the keys' records, decides
// which to copy, finds their hash-table slots and copies their bytes aside.
// Only then does it take the index lock, to append the copies and point
// the index at them, touching lines already in cache. Readers wait for
// that second part only, about 40 ns a record.
//
// A record counts as in place when it starts at most reorderSlack bytes
// after the end of the previous key's record, in the same chunk, either
// where that record was before the walk or where the walk copied it. A
// store that was reopened from a snapshot, or reordered before, is in place
// but for what was written since, so the walk copies only that.

// reorderSlack is how far past its predecessor's end a record may start
// and still count as in place.
const reorderSlack = 256

// ReorderStep bounds the keys visited per hold of the write lock. Each
// step's apply also takes the index lock, and a reader that finds it taken
// parks: waking it costs tens of microseconds on a VM, more than the
// apply itself. With 256 keys a step, a reader running beside the walk
// after a random-order load of 1M keys fell from 1.35M to about 400K Gets
// a second; with 1024, to about 1.0M, for holds of about 45 us.
const ReorderStep = 1024

// ReorderState is where a reorder walk stands between steps.
type ReorderState struct {
	from    string // next key to visit
	prevEnd uint64 // ref just past the previous key's record, as it was
	prevNow uint64 // the same, where the record is now
	started bool
	Done    bool // the walk reached the last key, or the caller ended it
	Moved   int  // records copied so far
}

// movedAway stands for prevNow while a step is planned and the previous
// key's record is to be copied: nothing follows the end of the arena yet.
const movedAway = ^uint64(0)

// ReorderPlan is what one step of the walk will change. PlanReorder fills
// it reading the index only, and ApplyReorder carries it out.
type ReorderPlan struct {
	moves     []reorderMove
	keys      []byte        // the first key visited in each leaf with moves
	stage     []byte        // the records to copy, one after the other
	killed    map[int]int64 // live bytes the moves take from each chunk
	lastMoves bool          // whether the last key visited moves
}

// Moves returns the number of records p copies.
func (p *ReorderPlan) Moves() int { return len(p.moves) }

// Bytes returns the bytes of the records p copies.
func (p *ReorderPlan) Bytes() int { return len(p.stage) }

// reorderMove is one record to copy.
type reorderMove struct {
	keyEnd int    // end in keys of its leaf's key
	item   int    // index in the leaf
	slot   int    // hash table slot
	ref    uint64 // where the record is
	size   int
	exp    int64
}

// The walk also copies the records of chunks less than half live, in key
// order, so that overwrites and deletions give their memory back without
// a second pass that would move records in chunk order and undo the key
// order (the root package's relocate then only finds chunks that writes
// made sparse during the walk).
//
// The rule looks at one neighbour only. A key written between two keys
// of an ordered run is copied to the end, and so is its successor (which
// no longer follows its predecessor's record), while the rest of the run
// stays: the run breaks twice per such key. Where many new keys land
// inside ordered runs the runs get short: in the root package's
// TestCompact_DefragmentsAtOnce, under the race detector, 70% of the
// records followed their predecessor after the walk (nearly all do when
// the arena was in random order).
// Moving whole short runs would do better; it is not done.
//
// A record that no neighbour follows, such as a key overwritten in the
// middle of an ordered run, is copied again by every walk, and so is the
// first record of a run that the arena split across two chunks. Their
// number is bounded by the writes between walks and the chunks, and a copy
// costs about what writing the record to the snapshot costs.

// PlanReorder visits up to max keys from st.from on, advances st, and
// fills p with the records to copy, their bytes included. It changes
// nothing in the index, so the writer runs it holding the writer semaphore
// but not the index lock: the cache misses of the walk happen while
// readers run, and ApplyReorder, under the lock, finds what it writes in
// cache.
func (x *Index) PlanReorder(st *ReorderState, max int, p *ReorderPlan) {
	p.moves, p.keys, p.stage, p.lastMoves = p.moves[:0], p.keys[:0], p.stage[:0], false
	if p.killed == nil {
		p.killed = map[int]int64{}
	}
	clear(p.killed)
	tv := x.Tree.Root()
	for max > 0 && !st.Done {
		c := NewCursor(x.Arena.chunks)
		if !c.Seek(tv, st.from) {
			st.Done = true
			break
		}
		keyStart := len(p.keys)
		p.keys = append(p.keys, RefKey(x.Arena.chunks, c.Ref())...)
		for i := c.i; i < int(c.leaf.n); i++ {
			max--
			ref := itemRef(c.leaf.items[i])
			e, ok := DecodeEntry(x.Arena.Record(ref))
			if !ok {
				panic("minikv: arena record damaged")
			}
			id := int(ref >> ChunkShift)
			sparse := x.Arena.sparseAfter(id, p.killed[id])
			inPlace := (!st.started || Follows(st.prevEnd, ref) || Follows(st.prevNow, ref)) && !sparse
			st.started, st.prevEnd, st.prevNow = true, ref+uint64(e.Size), ref+uint64(e.Size)
			p.lastMoves = false
			if inPlace || e.Size > x.Arena.LargeRec() {
				continue
			}
			slot, found := x.Table.find(x.Arena, string(e.Key), HashBytes(e.Key))
			if !found || slotRef(x.Table.slots[slot]) != ref {
				panic("minikv: index out of step: tree record not in hash table")
			}
			p.moves = append(p.moves, reorderMove{keyEnd: len(p.keys), item: i, slot: slot, ref: ref, size: e.Size, exp: e.Exp})
			p.lastMoves = true
			p.stage = append(p.stage, x.Arena.Record(ref)[:e.Size]...)
			p.killed[id] += int64(e.Size)
			st.prevNow = movedAway
		}
		if len(p.moves) == 0 || p.moves[len(p.moves)-1].keyEnd != len(p.keys) {
			p.keys = p.keys[:keyStart] // no move in this leaf
		}
		sep, ok := c.UpperBound()
		st.from, st.Done = sep, !ok
	}
	x.Arena.reserve(len(p.stage))
}

// ApplyReorder copies the records p lists to the end of the arena, points
// the tree and the hash table at the copies and calls moved with each
// record's old ref, its copy's and its expiry, for what the caller keeps
// by ref. The caller excludes readers, and no write ran since PlanReorder
// filled p. The hash-table slots stay, and with them any LRU stamps.
func (x *Index) ApplyReorder(st *ReorderState, p *ReorderPlan, moved func(ref, nref uint64, exp int64)) {
	var l *Leaf
	keyEnd, staged := -1, 0
	for k := range p.moves {
		mv := &p.moves[k]
		if mv.keyEnd != keyEnd {
			keyStart := 0
			if k > 0 {
				keyStart = p.moves[k-1].keyEnd
			}
			keyEnd, l = mv.keyEnd, x.Tree.mutLeafFor(string(p.keys[keyStart:mv.keyEnd]))
		}
		if itemRef(l.items[mv.item]) != mv.ref || slotRef(x.Table.slots[mv.slot]) != mv.ref {
			panic("minikv: index changed between planning and applying a reorder step")
		}
		nref, buf := x.Arena.Alloc(mv.size)
		copy(buf, p.stage[staged:staged+mv.size])
		staged += mv.size
		l.setRef(mv.item, nref)
		x.Table.setRef(mv.slot, nref)
		x.Arena.Kill(mv.ref, mv.size)
		moved(mv.ref, nref, mv.exp)
		if p.lastMoves && k == len(p.moves)-1 {
			st.prevNow = nref + uint64(mv.size)
		}
	}
	st.Moved += len(p.moves)
}

// Follows reports whether a record at ref starts at most reorderSlack
// bytes after end, in the same chunk.
func Follows(end, ref uint64) bool {
	return ref>>ChunkShift == end>>ChunkShift && ref >= end && ref-end <= reorderSlack
}
