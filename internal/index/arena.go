package index

import "sync/atomic"

// The arena holds every live record of the index in large byte chunks, so
// that a million keys are a few hundred heap objects without pointers
// instead of millions of small ones: the garbage collector neither scans nor
// counts them one by one.
//
// A record is written once and never changed: an overwrite appends a new
// record. A reference (ref) to a record packs the chunk number and the
// offset in the chunk:
//
//	 63        40 39                22 21               0
//	+------------+-------------------+------------------+
//	|  (unused)  |  chunk (18 bits)  | offset (22 bits) |
//	+------------+-------------------+------------------+
//
// The top 24 bits are free for the structures that store refs: a hash
// table slot keeps 24 bits of the key's hash there (hashtable.go), a B+tree
// leaf item 3 bytes of the key (leafkeys.go). Both mask them off (refMask)
// before reading a record.
//
// Chunks start small (minChunk) and double up to ChunkSize as the arena
// grows, so that a small database holds little memory. A record larger than
// largeRecord gets a chunk of its own, at offset 0. Under a memory limit
// every shared chunk has one size, a 64th of the limit (see
// Arena.SetChunkSize), so that moving the live records of one chunk into a
// fresh one never holds more than one chunk beyond what the store held.
// Chunks are only ever dropped from the table, never reused in place, so an
// iterator that holds an old table keeps reading valid records; the garbage
// collector frees a dropped chunk once the last such reader is gone.

const (
	// ChunkShift is the width of a ref's offset: a ref is its chunk
	// number << ChunkShift | its offset in the chunk.
	ChunkShift = 22
	// ChunkSize is the largest shared chunk.
	ChunkSize   = 1 << ChunkShift
	offsetMask  = ChunkSize - 1
	maxChunks   = 1 << (refBits - ChunkShift)
	minChunk    = 64 << 10
	largeRecord = ChunkSize / 4
	refBits     = 40
	refMask     = 1<<refBits - 1
)

// Arena is the chunks that hold the records, with what is live in each.
// It is not safe for concurrent use, but readers may read records through
// a Chunks table they took while no write ran, while writes go on.
type Arena struct {
	// chunks is copied before any element is replaced (chunks only grow in
	// place), so a copy of the slice header is a stable view for readers.
	chunks [][]byte
	used   []int32 // bytes written per chunk
	live   []int64 // bytes of live records per chunk
	free   []uint32
	cur    int   // active chunk, -1 before the first allocation
	total  int64 // bytes held by all chunks
	dead   int64 // bytes of dead records

	// spare is a chunk that reserve made, and touched, ahead of the
	// allocation that needs it. It is not in the table and no reader sees
	// it, so it is made without the index lock; spareBytes is its length,
	// for Stats, which reads it under the shared index lock.
	spare      []byte
	spareBytes atomic.Int64

	// fixed is the size of every shared chunk under a memory limit, and 0
	// without one (chunks then grow from minChunk to ChunkSize).
	fixed int
}

// newArena returns an empty arena; its first allocation makes its first
// chunk.
func newArena() *Arena { return &Arena{cur: -1} }

// Chunks returns the chunk table: chunk id's bytes are Chunks()[id]. The
// arena copies the table before it replaces an element, so the slice is a
// view that stays valid, and unchanged where records were written, while
// writes go on: readers keep it with a frozen tree.
func (a *Arena) Chunks() [][]byte { return a.chunks }

// Written returns the bytes of chunk id that hold records, dead or live.
func (a *Arena) Written(id int) []byte { return a.chunks[id][:a.used[id]] }

// Live returns the bytes of live records in chunk id.
func (a *Arena) Live(id int) int64 { return a.live[id] }

// Total returns the bytes the chunks hold, dead records and unused ends
// included.
func (a *Arena) Total() int64 { return a.total }

// Dead returns the bytes of dead records in all chunks.
func (a *Arena) Dead() int64 { return a.dead }

// Spare returns the size of the chunk made ahead of need (see reserve), 0
// when there is none. It is safe to call concurrently with the writer.
func (a *Arena) Spare() int64 { return a.spareBytes.Load() }

// Retire stops allocating from the active chunk, whatever it holds: the
// next allocation starts a chunk, and the one retired can be emptied and
// freed like any other.
func (a *Arena) Retire() { a.cur = -1 }

// SetChunkSize makes every later shared chunk size bytes (a power of two
// up to ChunkSize), with records over a 16th of it in chunks of their own
// (so that a chunk's unused end is small, and the live records of a chunk
// three quarters full fit in one fresh chunk), and stops reserve from
// making chunks ahead of need.
func (a *Arena) SetChunkSize(size int) { a.fixed = size }

// LargeRec returns the size from which a record gets a chunk of its own.
func (a *Arena) LargeRec() int {
	if a.fixed > 0 {
		return a.fixed / 16
	}
	return largeRecord
}

// ActiveFree returns the bytes left at the end of the active chunk.
func (a *Arena) ActiveFree() int64 {
	if a.cur < 0 {
		return 0
	}
	return int64(len(a.chunks[a.cur]) - int(a.used[a.cur]))
}

// Growth returns the bytes of new chunks that allocating records of small
// bytes in all (each at most largeRec) and of large bytes (each in a chunk
// of its own) would add, at most: a chunk may end with up to a record's
// worth unused.
func (a *Arena) Growth(small, large int64) int64 {
	free := a.ActiveFree()
	if small <= free {
		return large
	}
	size := int64(a.NextChunkSize(0))
	room := max(size-int64(a.LargeRec()), 1)
	return large + (small-free+room-1)/room*size
}

// Alloc reserves n bytes for a new live record and returns its ref and the
// bytes to fill.
func (a *Arena) Alloc(n int) (uint64, []byte) {
	if n > a.LargeRec() {
		id := a.newChunk(n)
		a.used[id] = int32(min(n, 1<<31-1))
		a.live[id] += int64(n)
		return uint64(id) << ChunkShift, a.chunks[id]
	}
	if a.cur < 0 || int(a.used[a.cur])+n > len(a.chunks[a.cur]) {
		a.cur = a.newChunk(a.NextChunkSize(n))
	}
	id := a.cur
	off := int(a.used[id])
	a.used[id] += int32(n)
	a.live[id] += int64(n)
	return uint64(id)<<ChunkShift | uint64(off), a.chunks[id][off : off+n : off+n]
}

// NextChunkSize returns the size of the next shared chunk: an eighth of
// what the arena holds, between minChunk and ChunkSize, and at least n.
func (a *Arena) NextChunkSize(n int) int {
	if a.fixed > 0 {
		return max(a.fixed, n)
	}
	size := minChunk
	for size < ChunkSize && int64(size) < a.total/8 {
		size *= 2
	}
	for size < n {
		size *= 2
	}
	return size
}

// reserve makes ready, outside the table, the chunk that allocations of n
// more bytes will need if the active chunk cannot hold them, and touches
// its pages. A writer calls it before taking the index lock, so that
// readers do not wait while the kernel maps fresh pages.
func (a *Arena) reserve(n int) {
	if n <= 0 || a.fixed > 0 || n > largeRecord || a.cur >= 0 && int(a.used[a.cur])+n <= len(a.chunks[a.cur]) {
		return
	}
	size := a.NextChunkSize(n)
	if len(a.spare) >= size {
		return
	}
	a.spare = make([]byte, size)
	a.spareBytes.Store(int64(size))
	adviseHuge(a.spare)
	for i := 0; i < size; i += 4096 {
		a.spare[i] = 0
	}
}

// newChunk adds a chunk of size bytes and returns its number.
func (a *Arena) newChunk(size int) int {
	buf := a.spare
	if len(buf) >= size && len(buf) <= 2*size {
		a.spare = nil
		a.spareBytes.Store(0)
	} else {
		buf = make([]byte, size)
		adviseHuge(buf)
	}
	a.total += int64(len(buf))
	if n := len(a.free); n > 0 {
		id := int(a.free[n-1])
		a.free = a.free[:n-1]
		a.chunks = append([][]byte(nil), a.chunks...)
		a.chunks[id] = buf
		a.used[id], a.live[id] = 0, 0
		return id
	}
	if len(a.chunks) >= maxChunks {
		panic("minikv: arena chunk table full")
	}
	a.chunks = append(a.chunks, buf)
	a.used = append(a.used, 0)
	a.live = append(a.live, 0)
	return len(a.chunks) - 1
}

// Record returns the bytes from ref to the end of its chunk's used part.
func (a *Arena) Record(ref uint64) []byte {
	return ChunkRecord(a.chunks, ref)
}

// ChunkRecord reads a record through a table that may be an older view.
func ChunkRecord(chunks [][]byte, ref uint64) []byte {
	return chunks[ref>>ChunkShift][ref&offsetMask:]
}

// Kill marks the record at ref, of size bytes, as dead. A chunk left with no
// live record is dropped, the active one included (the next allocation
// starts a new chunk), so that memory comes back even when nothing new is
// written.
func (a *Arena) Kill(ref uint64, size int) {
	id := int(ref >> ChunkShift)
	a.live[id] -= int64(size)
	a.dead += int64(size)
	if a.live[id] == 0 {
		if id == a.cur {
			a.cur = -1
		}
		a.dropChunk(id)
	}
}

// dropChunk removes a chunk without live records from the table.
func (a *Arena) dropChunk(id int) {
	size := int64(len(a.chunks[id]))
	a.total -= size
	a.dead -= int64(a.used[id])
	a.chunks = append([][]byte(nil), a.chunks...)
	a.chunks[id] = nil
	a.used[id], a.live[id] = 0, 0
	a.free = append(a.free, uint32(id))
}

// Waste returns the bytes the chunks hold beyond their live records: dead
// records and the unused end of the active chunk.
func (a *Arena) Waste() int64 {
	var live int64
	for _, n := range a.live {
		live += n
	}
	return a.total - live
}

// RetireActive stops allocating from the active chunk when less than a
// quarter of it is live and a smaller chunk would do, so that it becomes a
// chunk that relocation can empty and free: a store that shrank keeps no
// large, nearly empty active chunk.
// It reports whether it retired the chunk.
func (a *Arena) RetireActive() bool {
	if a.cur < 0 {
		return false
	}
	size := len(a.chunks[a.cur])
	if size > minChunk && a.fixed == 0 && a.live[a.cur]*4 < int64(size) && a.NextChunkSize(0) < size {
		a.cur = -1
		return true
	}
	return false
}

// SparseChunk returns a chunk whose live bytes are below half of what it
// holds, other than the active one, or -1.
func (a *Arena) SparseChunk() int { return a.ChunkBelow(1, 2) }

// ChunkBelow returns a chunk, other than the active one, whose live bytes
// are below num/den of its size, or -1. (A chunk other than the active one
// is full, or was retired as the active one: its unused end is waste too.)
func (a *Arena) ChunkBelow(num, den int64) int {
	for id, c := range a.chunks {
		if c != nil && id != a.cur && a.live[id]*den < int64(len(c))*num {
			return id
		}
	}
	return -1
}

// sparseAfter reports whether chunk id, not the active one, would have
// live bytes below half of what it holds once killed more of them died.
func (a *Arena) sparseAfter(id int, killed int64) bool {
	return id != a.cur && (a.live[id]-killed)*2 < int64(a.used[id])
}

// Sparsest returns the chunk, other than the active one, with the most
// bytes not live (dead records and an unused end), and that many bytes;
// -1 when no chunk has any.
func (a *Arena) Sparsest() (id int, dead int64) {
	id = -1
	for i, c := range a.chunks {
		if c == nil || i == a.cur {
			continue
		}
		if d := int64(len(c)) - a.live[i]; d > dead {
			id, dead = i, d
		}
	}
	return id, dead
}
