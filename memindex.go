package minikv

import (
	"sync/atomic"
	"unsafe"

	"github.com/minikv/minikv/internal/index"
)

// memIndex is the in-memory state of the database, and the DB's door to
// package index: the index (every live record in the arena, a hash table
// for point reads, a copy-on-write B+tree for ordered scans) with what the
// database keeps by ref around it: the expiry map and heap, where
// relocation stopped, and the LRU clock.
//
// memIndex is not safe for concurrent use; DB guards it (see DB.mu).
type memIndex struct {
	// Index holds the records, the hash table and the tree (Arena, Table
	// and Tree); memIndex adds what it keeps by ref around them.
	index.Index
	// expiring maps the ref of every live record with an expiry to that
	// expiry. It holds no pointers, so the collector does not scan it.
	expiring map[uint64]int64
	// expiry orders the same records by expiry, for the cleaner: it takes
	// the due ones from the top at a cost in proportion to their number.
	// An entry whose record left the index (overwritten, deleted, moved)
	// stays until it reaches the top or the heap is rebuilt; stale counts
	// them, and a rebuild runs once they are half the heap. peak is the
	// largest the map has been since it was last rebuilt: a Go map never
	// shrinks, so one a quarter as full is copied into a new one.
	expiry expiryHeap
	stale  int
	peak   int
	// reloc is where relocate stopped: the chunk (its first byte, so that
	// a reused chunk number is not mistaken for it) and the offset of the
	// next record to look at, so that each call does not walk the chunk's
	// dead records again from the start.
	reloc struct {
		chunk *byte
		off   int
	}
	// plan is the relocation step planned and not yet applied (see
	// relocPlan); under the writer lock.
	plan relocPlan
	// clock is the LRU clock under EvictLRU: a write and a read stamp
	// their key's slot with it (index.Table.Stamp, Touch). It advances once every
	// 16 writes (ticks counts them), which keeps the line that holds it
	// mostly unchanged for the readers that load it; it starts at 1, so
	// that the keys a reopen loads (stamped 0) count as older than any
	// key used since.
	clock atomic.Uint32
	ticks uint64
}

// newMemIndex returns an empty index sized for about capacity keys.
func newMemIndex(capacity int) *memIndex {
	return &memIndex{Index: index.New(capacity), expiring: make(map[uint64]int64)}
}

// lookup returns the ref of key's record and whether it is present,
// expired or not.
func (m *memIndex) lookup(key string, h uint64) (uint64, bool) {
	i := m.Lookup(key, h)
	if i < 0 {
		return 0, false
	}
	if m.Table.Stamped() {
		m.Table.Touch(i, m.clock.Load())
	}
	return m.Table.Ref(i), true
}

// get returns key's live record, or ok=false when it is missing or expired
// at now.
func (m *memIndex) get(key string, h uint64, now int64) (e index.Entry, ok bool) {
	ref, ok := m.lookup(key, h)
	if !ok {
		return e, false
	}
	e, _ = index.DecodeEntry(m.Arena.Record(ref))
	if e.Exp != 0 && e.Exp <= now {
		return e, false
	}
	return e, true
}

// set stores key's value and expiry (0 for none), replacing any record.
// A batch's sets use it: one after another, they follow the tree's finger
// from leaf to leaf (index.Index.Set).
func (m *memIndex) set(key string, h uint64, value []byte, exp int64) {
	ref, i, old, replaced := m.Set(key, h, value, exp)
	m.afterSet(ref, i, old, replaced, exp)
}

// setAt is set of key at p, which Find returned for key with no change to
// the index since: the second half of a single write (see DB.apply).
func (m *memIndex) setAt(p index.Probe, key string, h uint64, value []byte, exp int64) {
	ref, i, old, replaced := m.SetAt(p, key, h, value, exp)
	m.afterSet(ref, i, old, replaced, exp)
}

// afterSet keeps what memIndex holds by ref in step with a set that put
// key's record at ref in slot i, replacing old if replaced.
func (m *memIndex) afterSet(ref uint64, i int, old uint64, replaced bool, exp int64) {
	if exp != 0 {
		m.addExpiry(ref, exp)
	}
	if replaced {
		m.release(old)
	}
	if m.Table.Stamped() {
		m.Table.Stamp(i, m.tick())
	}
}

// tick counts a write and returns the LRU clock to stamp it with.
func (m *memIndex) tick() uint32 {
	m.ticks++
	if m.ticks&15 == 0 {
		m.clock.Store(uint32(m.ticks>>4) + 1)
	}
	return m.clock.Load()
}

// moveRecord copies the live record at ref, decoded as e, whose key is in
// hash-table slot i, to the active chunk, and points the index at the
// copy (index.Index.Move). Unlike set, it keeps the key's LRU stamp: a
// move is not a use.
func (m *memIndex) moveRecord(i int, ref uint64, e index.Entry) {
	m.moved(ref, m.Move(i, ref, e), e.Exp)
}

// moved points the expiry structures at the copy at nref of a record with
// expiry exp that moved from ref.
func (m *memIndex) moved(ref, nref uint64, exp int64) {
	if exp != 0 {
		m.dropExpiry(ref)
		m.addExpiry(nref, exp)
	}
}

// del removes key; it reports whether the key was present (expired or not).
func (m *memIndex) del(key string, h uint64) bool {
	ref, ok := m.Delete(key, h)
	if ok {
		m.release(ref)
	}
	return ok
}

// release marks a record that left the index as dead.
func (m *memIndex) release(ref uint64) {
	e, _ := index.DecodeEntry(m.Arena.Record(ref))
	if e.Exp != 0 {
		m.dropExpiry(ref)
	}
	m.Arena.Kill(ref, e.Size)
}

// addExpiry records that the record at ref expires at exp.
func (m *memIndex) addExpiry(ref uint64, exp int64) {
	m.expiring[ref] = exp
	m.peak = max(m.peak, len(m.expiring))
	m.expiry.push(expiryItem{exp, ref})
}

// dropExpiry forgets the expiry of the record at ref, which is leaving the
// index. Its heap entry goes stale; the heap and the map are rebuilt once
// they are mostly empty space.
func (m *memIndex) dropExpiry(ref uint64) {
	delete(m.expiring, ref)
	m.stale++
	if m.stale > minRebuild && m.stale > len(m.expiry)/2 {
		m.expiry = m.expiry.rebuild(m.expiring)
		m.stale = 0
	}
	if m.peak > minRebuild && len(m.expiring) < m.peak/4 {
		fresh := make(map[uint64]int64, len(m.expiring))
		for ref, exp := range m.expiring {
			fresh[ref] = exp
		}
		m.expiring, m.peak = fresh, len(fresh)
	}
}

// minRebuild is the least stale space worth a rebuild of the expiry heap
// or map.
const minRebuild = 1024

// len returns the number of keys, expired ones included.
func (m *memIndex) len() int { return m.Table.Len() }

// liveCount returns the number of keys not expired at now.
func (m *memIndex) liveCount(now int64) int {
	n := m.Table.Len()
	for _, exp := range m.expiring {
		if exp <= now {
			n--
		}
	}
	return n
}

// expired takes from the expiry heap up to max keys expired at now, and
// returns them; the caller deletes them. It costs O(log n) per entry taken,
// stale ones included, and nothing for the keys not yet due.
func (m *memIndex) expired(now int64, max int) (keys []string) {
	for len(keys) < max && len(m.expiry) > 0 && m.expiry[0].exp <= now {
		it := m.expiry.pop()
		if exp, ok := m.expiring[it.ref]; !ok || exp != it.exp {
			m.stale--
			continue
		}
		keys = append(keys, string(index.RecordKey(m.Arena.Record(it.ref))))
	}
	if c := cap(m.expiry); c > 64 && len(m.expiry) < c/4 {
		m.expiry = append(make(expiryHeap, 0, 2*len(m.expiry)), m.expiry...)
	}
	return keys
}

// mapEntryBytes is about what an entry of the expiring map costs: key,
// value and the map's own overhead.
const mapEntryBytes = 40

// frozenIndex is the index as it was at one instant, for iterators,
// snapshots and backups: the tree's frozen root and the chunk table, which
// writers copy before they change it.
type frozenIndex struct {
	tree   index.Root
	chunks [][]byte
}

// freeze returns the index as it is now, in O(1). It may run under a read
// lock.
func (m *memIndex) freeze() frozenIndex {
	return frozenIndex{tree: m.Tree.Freeze(), chunks: m.Arena.Chunks()}
}

// moveAll moves every live record out of chunk id, whose used bytes are
// chunk, relocateStep records at a time (see moveRecord).
func (m *memIndex) moveAll(id int, chunk []byte) {
	for off := 0; off < len(chunk); {
		m.planMoves(&m.plan, id, chunk, off, relocateStep)
		off = m.plan.end
		if m.applyMoves(&m.plan) {
			return
		}
	}
}

// relocPlan is the live records of one chunk that a relocation step will
// move. The background steps (DB.stepRelocation) find them with only the
// writer lock held, so that the index lock is held only while applyMoves
// moves them; a write making room under a memory limit (moveAll) holds
// both throughout. memIndex keeps one, reused by every step; applyMoves
// empties it, so that it keeps no chunk from being freed.
type relocPlan struct {
	id    int
	chunk []byte
	recs  []liveRecord
	end   int // the offset after the last record examined
}

// liveRecord is a live record that a relocation step moves: its ref, its
// hash-table slot and its entry.
type liveRecord struct {
	slot int
	ref  uint64
	e    index.Entry
}

// lookAhead is how many records planMoves decodes, and whose hash-table
// slots it starts loading, before it looks any of them up: the slots are
// cache misses, and loading them together overlaps them.
const lookAhead = 8

// planMoves fills p with up to max live records of chunk id, whose used
// bytes are chunk, from offset off on. It only reads the index, so it may
// run beside readers.
func (m *memIndex) planMoves(p *relocPlan, id int, chunk []byte, off, max int) {
	p.id, p.chunk, p.recs = id, chunk, p.recs[:0]
	var batch [lookAhead]liveRecord
	var hashes [lookAhead]uint64
	for off < len(chunk) && len(p.recs) < max {
		n := 0
		for ; n < lookAhead && off < len(chunk); n++ {
			e, ok := index.DecodeEntry(chunk[off:])
			if !ok {
				panic("minikv: arena record damaged")
			}
			batch[n] = liveRecord{ref: uint64(id)<<index.ChunkShift | uint64(off), e: e}
			hashes[n] = index.HashBytes(e.Key)
			m.Table.Prefetch(hashes[n])
			off += e.Size
		}
		for k := range n {
			r := &batch[k]
			i := m.Table.SlotOf(hashes[k], r.ref)
			if i < 0 {
				continue
			}
			r.slot = i
			p.recs = append(p.recs, *r)
			if len(p.recs) == max {
				// Stop after this record: the rest of the batch is
				// examined again by the next step.
				off = int(r.ref&(1<<index.ChunkShift-1)) + r.e.Size
				break
			}
		}
	}
	p.end = off
}

// applyMoves moves the records of p and reports whether their chunk
// emptied and was dropped. No change to the index may come between
// planMoves and applyMoves.
func (m *memIndex) applyMoves(p *relocPlan) bool {
	dropped := false
	for _, r := range p.recs {
		if m.Table.Ref(r.slot) != r.ref {
			panic("minikv: index out of step: a relocation plan outlived a change to the index")
		}
		m.moveRecord(r.slot, r.ref, r.e)
		if c := m.Arena.Chunks()[p.id]; len(c) == 0 || unsafe.SliceData(c) != unsafe.SliceData(p.chunk) {
			dropped = true
			break
		}
	}
	clear(p.recs)
	p.recs, p.chunk = p.recs[:0], nil
	return dropped
}

// planRelocate is the first half of a relocation step, which only reads
// the index: it plans the move of up to max live records out of a chunk
// whose live bytes are below num/den of what it holds (to the active
// chunk, so that the sparse one can be freed), from where the last step in
// that chunk stopped. It reports false when no chunk is that sparse.
func (m *memIndex) planRelocate(max int, num, den int64) bool {
	id := m.Arena.ChunkBelow(num, den)
	if id < 0 {
		return false
	}
	chunk := m.Arena.Written(id)
	off := 0
	if m.reloc.chunk == unsafe.SliceData(chunk) {
		off = m.reloc.off // go on where the last call stopped in this chunk
	}
	m.planMoves(&m.plan, id, chunk, off, max)
	return true
}

// applyRelocate is the second half of a relocation step: it moves the records
// that planRelocate planned, with no change to the index since, and
// reports whether a chunk below num/den remains.
func (m *memIndex) applyRelocate(num, den int64) bool {
	chunk, end := m.plan.chunk, m.plan.end
	if m.applyMoves(&m.plan) {
		// Forget it: a pointer to it would keep its memory.
		m.reloc.chunk, m.reloc.off = nil, 0
	} else {
		m.reloc.chunk, m.reloc.off = unsafe.SliceData(chunk), end
	}
	return m.Arena.ChunkBelow(num, den) >= 0
}
