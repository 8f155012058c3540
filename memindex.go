package minikv

import (
	"sync/atomic"
	"unsafe"
)

// memIndex is the in-memory state of the database: every live record in the
// arena, a hash table for point reads, a copy-on-write B+tree for ordered
// scans and a map of the records that carry an expiry.
//
// memIndex is not safe for concurrent use; DB guards it (see DB.mu).
type memIndex struct {
	arena *arena
	table hashTable
	tree  *btree
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
	// clock is the LRU clock under EvictLRU: a write and a read stamp
	// their key's slot with it (hashTable.stamps). It advances once every
	// 16 writes (ticks counts them), which keeps the line that holds it
	// mostly unchanged for the readers that load it; it starts at 1, so
	// that the keys a reopen loads (stamped 0) count as older than any
	// key used since.
	clock atomic.Uint32
	ticks uint64
}

func newMemIndex(capacity int) *memIndex {
	return &memIndex{
		arena:    newArena(),
		table:    newHashTable(capacity),
		tree:     newBtree(),
		expiring: make(map[uint64]int64),
	}
}

// lookup returns the ref of key's record and whether it is present,
// expired or not.
func (m *memIndex) lookup(key string, h uint64) (uint64, bool) {
	i := m.table.lookup(m.arena, key, h)
	if i < 0 {
		return 0, false
	}
	if m.table.stamps != nil {
		m.table.touch(i, m.clock.Load())
	}
	return slotRef(m.table.slots[i]), true
}

// get returns key's live record, or ok=false when it is missing or expired
// at now.
func (m *memIndex) get(key string, h uint64, now int64) (e entry, ok bool) {
	ref, ok := m.lookup(key, h)
	if !ok {
		return e, false
	}
	e, _ = decodeEntry(m.arena.record(ref))
	if e.exp != 0 && e.exp <= now {
		return e, false
	}
	return e, true
}

// set stores key's value and expiry (0 for none), replacing any record.
func (m *memIndex) set(key string, h uint64, value []byte, exp int64) {
	ref, buf := m.arena.alloc(entrySize(len(key), len(value), exp))
	putEntry(buf, key, value, exp)
	if exp != 0 {
		m.addExpiry(ref, exp)
	}
	// The key's leaf is a cache miss of its own, independent of the hash
	// table's two (slot, then record): finding the leaf first starts its
	// load, and the processor overlaps it with the table's.
	l := m.tree.mutLeafFor(key)
	i, found := m.table.find(m.arena, key, h)
	if !found {
		i = m.table.insertAt(i, h, ref, m.arena)
		m.tree.insertIn(l, m.arena.chunks, key, ref)
	} else {
		old := slotRef(m.table.slots[i])
		m.table.slots[i] = slotOf(h, ref)
		if !l.replaceRef(old, ref) {
			panic("minikv: index out of step: key in hash table but not in tree")
		}
		m.release(old)
	}
	if m.table.stamps != nil {
		m.table.stamps[i] = m.tick()
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
// copy. Unlike set, it keeps the key's LRU stamp: a move is not a use.
func (m *memIndex) moveRecord(i int, ref uint64, e entry) {
	nref, buf := m.arena.alloc(e.size)
	copy(buf, m.arena.record(ref)[:e.size])
	if !m.tree.mutLeafFor(string(e.key)).replaceRef(ref, nref) {
		panic("minikv: index out of step: key in hash table but not in tree")
	}
	m.moved(i, ref, nref, e.size, e.exp)
}

// moved finishes a record's move from ref to its copy at nref, of size
// bytes and expiry exp, once the tree points at the copy: the hash-table
// slot i and the expiry structures follow, and the old record dies. Moves
// (moveRecord, applyReorder) keep the slot, so the key's LRU stamp stays.
func (m *memIndex) moved(i int, ref, nref uint64, size int, exp int64) {
	m.table.setRef(i, nref)
	if exp != 0 {
		m.dropExpiry(ref)
		m.addExpiry(nref, exp)
	}
	m.arena.kill(ref, size)
}

// del removes key; it reports whether the key was present (expired or not).
func (m *memIndex) del(key string, h uint64) bool {
	i := m.table.lookup(m.arena, key, h)
	if i < 0 {
		return false
	}
	ref := slotRef(m.table.slots[i])
	m.table.remove(i, m.arena)
	if !m.tree.remove(m.arena.chunks, key, ref) {
		panic("minikv: index out of step: key in hash table but not in tree")
	}
	m.release(ref)
	return true
}

// release marks a record that left the index as dead.
func (m *memIndex) release(ref uint64) {
	e, _ := decodeEntry(m.arena.record(ref))
	if e.exp != 0 {
		m.dropExpiry(ref)
	}
	m.arena.kill(ref, e.size)
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
func (m *memIndex) len() int { return m.table.count }

// liveCount returns the number of keys not expired at now.
func (m *memIndex) liveCount(now int64) int {
	n := m.table.count
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
		keys = append(keys, string(recordKey(m.arena.record(it.ref))))
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
	tree   frozenTree
	chunks [][]byte
}

// freeze returns the index as it is now, in O(1). It may run under a read
// lock.
func (m *memIndex) freeze() frozenIndex {
	return frozenIndex{tree: m.tree.freeze(), chunks: m.arena.chunks}
}

// moveLive moves up to max live records of chunk id, whose used bytes are
// chunk, from offset off on (see moveRecord). It returns the offset where
// it stopped and whether the chunk emptied and was dropped.
func (m *memIndex) moveLive(id int, chunk []byte, off, max int) (int, bool) {
	for off < len(chunk) && max > 0 {
		e, ok := decodeEntry(chunk[off:])
		if !ok {
			panic("minikv: arena record damaged")
		}
		ref := uint64(id)<<chunkShift | uint64(off)
		off += e.size
		i := m.table.lookup(m.arena, string(e.key), hashBytes(e.key))
		if i < 0 || slotRef(m.table.slots[i]) != ref {
			continue
		}
		max--
		m.moveRecord(i, ref, e)
		if c := m.arena.chunks[id]; len(c) == 0 || unsafe.SliceData(c) != unsafe.SliceData(chunk) {
			return off, true
		}
	}
	return off, false
}

// relocate moves up to max live records out of a sparse chunk into the
// active one, so that the chunk can be freed; it reports whether a sparse
// chunk remains.
func (m *memIndex) relocate(max int) bool { return m.relocateBelow(max, 1, 2) }

// relocateBelow is relocate for the chunks whose live bytes are below
// num/den of what they hold.
func (m *memIndex) relocateBelow(max int, num, den int64) bool {
	id := m.arena.chunkBelow(num, den)
	if id < 0 {
		return false
	}
	chunk := m.arena.chunks[id][:m.arena.used[id]]
	off := 0
	if m.reloc.chunk == unsafe.SliceData(chunk) {
		off = m.reloc.off // go on where the last call stopped in this chunk
	}
	off, dropped := m.moveLive(id, chunk, off, max)
	if dropped {
		// Forget it: a pointer to it would keep its memory.
		m.reloc.chunk, m.reloc.off = nil, 0
	} else {
		m.reloc.chunk, m.reloc.off = unsafe.SliceData(chunk), off
	}
	return m.arena.chunkBelow(num, den) >= 0
}
