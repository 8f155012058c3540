package minikv

import (
	"errors"
	"math/rand/v2"
	"unsafe"

	"github.com/minikv/minikv/internal/index"
)

// The memory limit (Options.MaxMemory) and eviction (Options.Eviction).
//
// MemoryUsage is what the index holds: the arena's chunks whole (live
// records, dead ones and the unused end of the active chunk), the hash
// table with its LRU stamps, the tree, and the expiry map and heap. Under
// a limit every shared chunk has one size, C, a 64th of the limit (see
// chunkFor), and a write is admitted only if the index, with the write's
// records and the growth they cause, stays within MaxMemory - C. That last
// C is where the records of a sparse chunk are moved to when it is
// emptied, so that emptying a chunk never passes the limit either.
//
// A write that does not fit, before it touches the WAL, makes room under
// the writer lock (DB.makeRoom), taking the cheapest step first:
//
//  1. It moves the live records out of the chunk with the most dead bytes,
//     when that chunk is at least a third dead or the arena a sixth:
//     deletes, overwrites and earlier evictions left that space, and
//     moving turns it into room in the active chunk.
//  2. It deletes keys whose expiry has passed, as the cleaner would.
//  3. It evicts, as the policy says: the soonest expiries from the expiry
//     heap (EvictTTL), or the least recently used key of each of a few
//     samples of the hash table (EvictLRU). The evictions are logged as
//     one batch record of deletes before they are applied, so a restart
//     does not bring them back.
//  4. With nothing left to evict it moves any chunk a 16th dead, and then
//     fails with ErrMemoryLimit, having written nothing of its own.
//
// A write that would not fit even in an empty arena fails at once, rather
// than evicting everything first. Deletes never need room. A delete's record dies at once in the arena,
// and the next write that needs room takes it back by step 1.

// writeCost is what a write adds to the index: keys new keys, records of
// small bytes in shared chunks and of large bytes in chunks of their own,
// exps records with an expiry.
type writeCost struct {
	keys         int
	small, large int64
	exps         int
}

// add counts a record of size bytes with expiry exp (0 for none).
func (c *writeCost) add(a *index.Arena, size int, exp int64) {
	if size > a.LargeRec() {
		c.large += int64(size)
	} else {
		c.small += int64(size)
	}
	if exp != 0 {
		c.exps++
	}
}

func (c writeCost) zero() bool { return c.small == 0 && c.large == 0 }

// memoryUsage returns the bytes the index holds.
func (m *memIndex) memoryUsage() int64 { return m.usage(writeCost{}) }

// usage returns the bytes the index would hold after a write of cost c:
// the growth of the arena, the table, the tree and the expiry structures
// included.
func (m *memIndex) usage(c writeCost) int64 {
	heap := cap(m.expiry)
	if n := len(m.expiry) + c.exps; n > heap {
		heap = heapCap(n)
	}
	return m.Arena.Total() + m.Arena.Spare() + m.Arena.Growth(c.small, c.large) +
		m.Table.BytesFor(c.keys) + m.Tree.BytesFor(c.keys) +
		int64(len(m.expiring)+c.exps)*mapEntryBytes +
		int64(heap)*int64(unsafe.Sizeof(expiryItem{}))
}

// chunkFor returns the shared chunk size under a limit of max bytes: a
// 64th of it, rounded down to a power of two, from 4 KiB to chunkSize.
func chunkFor(max int64) int {
	size := 4 << 10
	for size < index.ChunkSize && int64(size)*2*64 <= max {
		size *= 2
	}
	return size
}

// admitLimit returns the usage up to which writes are admitted under a
// limit of max bytes: max less one chunk, the room that emptying a sparse
// chunk needs.
func admitLimit(max int64) int64 { return max - int64(chunkFor(max)) }

// setLimit prepares the index for a memory limit of max bytes (0: none)
// under policy: fixed-size chunks, and LRU stamps for EvictLRU.
func (m *memIndex) setLimit(max int64, policy EvictionPolicy) {
	if max <= 0 {
		return
	}
	m.Arena.SetChunkSize(chunkFor(max))
	if policy == EvictLRU {
		m.Table.KeepStamps()
		m.clock.Store(max32(m.clock.Load(), 1))
	}
}

func max32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

// relocateChunk moves every live record out of chunk id, which is then
// freed.
func (m *memIndex) relocateChunk(id int) {
	chunk := m.Arena.Written(id)
	m.moveAll(id, chunk)
	if m.reloc.chunk == unsafe.SliceData(chunk) {
		m.reloc.chunk, m.reloc.off = nil, 0
	}
}

// relocateForRoom empties the sparsest chunk when that is worth its copying
// (step 1 of makeRoom), or when anyway is set (step 4) any chunk with a
// 16th of it dead, as long as the copies fit under max bytes. It reports
// whether it emptied one.
//
// The thresholds of step 1 trade keys held for copying. On the zipfian
// cache workload (BenchmarkCacheZipf), a quarter and an eighth held 208K
// keys at 1985 ns an op, a third and a sixth 198K at 1427 ns, a half and
// a quarter 182K at 1559 ns (one run each; the hit rate follows the keys
// held, 83.7%, 83.3% and 82.6%).
func (m *memIndex) relocateForRoom(anyway bool, max int64) bool {
	id, dead := m.Arena.Sparsest()
	if id < 0 {
		return false
	}
	size := int64(len(m.Arena.Chunks()[id]))
	if dead*16 < size || !anyway && dead*3 < size && m.Arena.Waste()*6 < m.Arena.Total() {
		return false
	}
	// The cheap bound first: every expiry in the index in this chunk.
	c := writeCost{small: m.Arena.Live(id), exps: len(m.expiring)}
	if m.usage(c) > max && m.usage(m.moveCost(id)) > max {
		return false
	}
	m.relocateChunk(id)
	return true
}

// moveCost returns what moving the live records of chunk id adds before
// the chunk is freed: their bytes, and an expiry-heap entry for each one
// with an expiry.
func (m *memIndex) moveCost(id int) writeCost {
	c := writeCost{small: m.Arena.Live(id)}
	chunk := m.Arena.Written(id)
	for off := 0; off < len(chunk); {
		e, ok := index.DecodeEntry(chunk[off:])
		if !ok {
			panic("minikv: arena record damaged")
		}
		if e.Exp != 0 {
			if exp, ok := m.expiring[uint64(id)<<index.ChunkShift|uint64(off)]; ok && exp == e.Exp {
				c.exps++
			}
		}
		off += e.Size
	}
	return c
}

// fitLimit empties chunks that replay left sparse (records set and then
// deleted or evicted) while the index holds more than a limit of max
// bytes admits and that gains room. It does not evict: a store that
// holds more live records than its limit keeps them, and its writes
// evict (or fail) until it is under.
func (m *memIndex) fitLimit(max int64) {
	if max <= 0 {
		return
	}
	m.Arena.Retire() // the active chunk may be sparse too
	// Each move gains the chunk's dead bytes less at most a record's worth
	// left at the end of the chunk moved into; a chunk with less dead than
	// that is not worth it. Every chunk is moved at most once or so.
	for n := len(m.Arena.Chunks()); n > 0 && m.memoryUsage() > admitLimit(max); n-- {
		id, dead := m.Arena.Sparsest()
		if id < 0 || dead <= int64(m.Arena.LargeRec()) {
			return
		}
		m.relocateChunk(id)
	}
}

// lruSample is how many keys EvictLRU compares for each key it evicts.
// Redis's default is 5; 16 costs a few more cache lines (the slots are
// read in a run) and comes closer to an exact LRU.
const lruSample = 16

// victims returns up to n keys to evict under policy, other than skip,
// whose records hold at least want bytes if so many can be found: for
// EvictTTL the soonest expiries, for EvictLRU the oldest of samples of
// lruSample keys. The keys stay in the index; the caller deletes them.
func (m *memIndex) victims(policy EvictionPolicy, skip string, want int64, n int, rng *rand.Rand) []string {
	var keys []string
	var got int64
	switch policy {
	case EvictTTL:
		var back []expiryItem
		for len(keys) < n && got < want && len(m.expiry) > 0 {
			it := m.expiry.pop()
			if exp, ok := m.expiring[it.ref]; !ok || exp != it.exp {
				m.stale--
				continue
			}
			back = append(back, it)
			e, _ := index.DecodeEntry(m.Arena.Record(it.ref))
			if string(e.Key) == skip {
				continue
			}
			keys = append(keys, string(e.Key))
			got += int64(e.Size)
		}
		// The victims' entries go back: deleting them marks them stale,
		// as for any delete.
		for _, it := range back {
			m.expiry.push(it)
		}
	case EvictLRU:
		if !m.Table.Stamped() {
			return nil
		}
		now := m.clock.Load()
		for tries := 0; len(keys) < n && got < want && tries < 2*n; tries++ {
			i := m.Table.Oldest(rng.Uint64(), lruSample, now)
			if i < 0 {
				break
			}
			rec := m.Arena.Record(m.Table.Ref(i))
			e, _ := index.DecodeEntry(rec)
			// Stamped as new, so that later samples pass it by.
			m.Table.Stamp(i, now)
			if string(e.Key) == skip {
				continue
			}
			keys = append(keys, string(e.Key))
			got += int64(e.Size)
		}
	}
	return keys
}

// evictBatch is the most keys one round of makeRoom evicts, in one WAL
// record.
const evictBatch = 64

// writeCost returns what r adds to the index, read under the index lock.
func (db *DB) writeCost(r *writeReq) writeCost {
	m := db.idx
	var c writeCost
	switch {
	case r.kind == reqBatch:
		for _, op := range r.ops {
			if op.code != opDelete {
				c.keys++
				c.add(m.Arena, index.EntrySize(len(op.key), op.n, op.exp), op.exp)
			}
		}
	case r.del:
	default:
		if m.Lookup(r.key, r.h) < 0 {
			c.keys = 1
		}
		c.add(m.Arena, index.EntrySize(len(r.key), len(r.value), r.exp), r.exp)
	}
	return c
}

// makeRoom makes room for r under the memory limit, as the comment at the
// top of this file says, or returns ErrMemoryLimit. The caller holds the
// writer lock.
func (db *DB) makeRoom(r *writeReq) error {
	skip := ""
	if r.kind != reqBatch {
		skip = r.key
	}
	return db.room(func() (writeCost, bool) {
		c := db.writeCost(r)
		return c, !c.zero()
	}, skip)
}

// fitAtOpen brings a store just opened under its memory limit, if it is
// over: it empties the chunks that replay left sparse and, with a policy
// that evicts, evicts as a write would. Under NoEviction, a store with
// more live records than its limit keeps them (its writes fail until
// deletes make room). The caller is Open, before any other goroutine
// runs.
func (db *DB) fitAtOpen() error {
	if db.readOnly || db.opts.MaxMemory <= 0 {
		return nil
	}
	db.idx.fitLimit(db.opts.MaxMemory)
	err := db.room(func() (writeCost, bool) { return writeCost{}, true }, "")
	if errors.Is(err, ErrMemoryLimit) {
		return nil
	}
	return err
}

// room makes room under the memory limit for the write whose cost cost
// returns (with false when it needs none), evicting no key named skip.
// The caller holds the writer lock.
func (db *DB) room(cost func() (writeCost, bool), skip string) error {
	limit := admitLimit(db.opts.MaxMemory)
	policy := db.opts.Eviction
	// moved says that the last round emptied a chunk, and stuck that a
	// round that did so gained nothing (the chunk's dead bytes were only
	// an end too short for the next record): then only an eviction moves
	// the write on.
	moved, stuck := false, false
	last := int64(0)
	// moves bounds the chunks emptied between two evictions: each one
	// gains something, but with many chunks a little dead each, the gains
	// may not add up to what the write needs.
	moves := 0
	for {
		db.mu.Lock()
		m := db.idx
		c, wants := cost()
		if !wants {
			db.mu.Unlock()
			return nil
		}
		need := m.usage(c)
		if need <= limit {
			db.mu.Unlock()
			return nil
		}
		if c.small+c.large > limit-(m.memoryUsage()-m.Arena.Total()) {
			// It would not fit in an empty arena: evicting everything
			// first would only empty the store.
			usage := m.memoryUsage()
			db.mu.Unlock()
			return &memoryError{need: need, usage: usage, limit: db.opts.MaxMemory, policy: policy}
		}
		// Emptying a chunk turns its dead bytes into room in the active
		// chunk, which need counts only once the write wants it: progress
		// is need less that room going down.
		held := need - m.Arena.ActiveFree()
		if moved && held >= last || moves > len(m.Arena.Chunks()) {
			stuck = true
		}
		moved, last = false, held
		if !stuck && m.relocateForRoom(false, db.opts.MaxMemory) {
			moved = true
			moves++
			db.mu.Unlock()
			continue
		}
		now := db.now()
		expired := m.expired(now, evictBatch)
		var evicted []string
		if len(expired) == 0 {
			evicted = m.victims(policy, skip, need-limit, evictBatch, db.evictRand())
		}
		if len(expired) == 0 && len(evicted) == 0 {
			if !stuck && m.relocateForRoom(true, db.opts.MaxMemory) {
				moved = true
				moves++
				db.mu.Unlock()
				continue
			}
			usage := m.memoryUsage()
			db.mu.Unlock()
			return &memoryError{need: need, usage: usage, limit: db.opts.MaxMemory, policy: policy}
		}
		db.mu.Unlock()
		if err := db.evict(append(expired, evicted...), now); err != nil {
			return err
		}
		stuck, moves = false, 0
		db.stats.expired.Add(int64(len(expired)))
		db.stats.evicted.Add(int64(len(evicted)))
	}
}

// roomToMove reports whether records of small bytes in all, exps of them
// with an expiry, can be copied within the memory limit (always, without
// one): the background moves (reorder, relocate) check it first. The
// caller holds the writer lock.
func (db *DB) roomToMove(small int64, exps int) bool {
	return db.opts.MaxMemory == 0 || db.idx.usage(writeCost{small: small, exps: exps}) <= db.opts.MaxMemory
}

// roomToRelocate is roomToMove for a relocation step: up to a chunk's
// bytes and relocateStep expiries.
func (db *DB) roomToRelocate() bool {
	return db.roomToMove(int64(db.idx.Arena.NextChunkSize(0)), relocateStep)
}

// evictRand returns the generator of LRU sample positions, made on first
// use. The caller holds the writer lock and the index lock.
func (db *DB) evictRand() *rand.Rand {
	if db.evictRng == nil {
		db.evictRng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return db.evictRng
}

// evict logs the deletion of keys as one batch record and applies it. The
// caller holds the writer lock.
func (db *DB) evict(keys []string, now int64) error {
	ops := make([]batchOp, len(keys))
	for i, key := range keys {
		ops[i] = batchOp{code: opDelete, key: key, h: index.Hash(key)}
	}
	r := getReq()
	r.kind, r.ops, r.ts = reqBatch, ops, now
	db.apply(r)
	err := r.err
	putReq(r)
	return err
}
