package index

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// Table maps a key's hash to the ref of its record. It is an open
// addressing table with linear probing and backward-shift deletion, stored
// in one []uint64 so that the garbage collector never looks inside it.
//
//	 63          40 39                                   0
//	+--------------+--------------------------------------+
//	| hash (24 bit)|            ref + 1 (40 bits)         |
//	+--------------+--------------------------------------+
//
// An empty slot is 0. The top 24 bits of the key's hash are kept in the
// slot, both to skip most non-matching slots without reading their record
// and to move slots on growth without rehashing their keys (up to 2^24
// slots; a larger table reads the keys back from the arena).
//
// The table has n slots, where n is a power of two or one and a half times
// one, so it grows by 1.5× and 4/3× in turn rather than doubling: slots are
// 8 bytes per key and a half-empty table is the index's largest overhead. A
// hash's home slot is its top bits scaled to n (a multiply and a shift, no
// division): h>>40 * n >> 24 for up to 2^24 slots, which the fingerprint
// alone determines, and the high word of h*n beyond.
type Table struct {
	slots []uint64
	count int
	// stamps, under an LRU eviction policy only (nil otherwise), holds
	// beside each slot the caller's LRU clock at the last read or write of
	// its key, and moves with the slot. Readers store into it atomically
	// under the shared index lock; writers, holding it exclusively, move
	// its entries with plain stores.
	stamps []uint32
}

const (
	fpShift = refBits
	fpBits  = 64 - fpShift
	// minTableSize is the smallest table; it is a power of two.
	minTableSize = 16
	// maxLoad is the fill ratio, in 1/16, that grows the table.
	maxLoad = 13
)

var hashSeed = maphash.MakeSeed()

// fpHomeMax is the largest table whose home slots the fingerprint alone
// determines. It is a variable only so that tests can reach the larger
// tables' path without allocating 2^24 slots.
var fpHomeMax = 1 << fpBits

// Hash returns the hash of key that the table is keyed by; the seed is
// chosen per process, so hashes are not to be stored.
func Hash(key string) uint64 { return maphash.String(hashSeed, key) }

// HashBytes is Hash of a key held as bytes.
func HashBytes(key []byte) uint64 { return maphash.Bytes(hashSeed, key) }

// newTable returns an empty table of enough slots for capacity keys.
func newTable(capacity int) Table {
	n := minTableSize
	for n*maxLoad/16 < capacity {
		n = nextTableSize(n)
	}
	return Table{slots: makeSlots(n)}
}

// nextTableSize returns the table size after n: 2^k becomes 1.5·2^k, which
// becomes 2^(k+1).
func nextTableSize(n int) int {
	if n&(n-1) == 0 {
		return n + n/2
	}
	return n / 3 * 4
}

// prevTableSize is the inverse of nextTableSize.
func prevTableSize(n int) int {
	if n&(n-1) == 0 {
		return n / 4 * 3
	}
	return n / 3 * 2
}

// makeSlots allocates a zeroed slot array, advised onto huge pages.
func makeSlots(n int) []uint64 {
	s := make([]uint64, n)
	if n*8 >= hugePageHint {
		adviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), n*8))
	}
	return s
}

// hugePageHint is the size from which an allocation is advised onto huge
// pages.
const hugePageHint = 4 << 20

func slotOf(h, ref uint64) uint64 { return h>>fpShift<<fpShift | (ref + 1) }

func slotRef(s uint64) uint64 { return s&refMask - 1 }

// Ref returns the ref in occupied slot i.
func (t *Table) Ref(i int) uint64 { return slotRef(t.slots[i]) }

// Len returns the number of keys in the table.
func (t *Table) Len() int { return t.count }

// Slots returns the number of slots, occupied or not.
func (t *Table) Slots() int { return len(t.slots) }

// BytesFor returns the bytes the table's slots (and stamps) take once it
// holds keys more keys: its size now, or the size it grows to.
func (t *Table) BytesFor(keys int) int64 {
	slots := len(t.slots)
	for (t.count+keys)*16 > slots*maxLoad {
		slots = nextTableSize(slots)
	}
	slotBytes := int64(8)
	if t.stamps != nil {
		slotBytes += 4
	}
	return int64(slots) * slotBytes
}

// Stamped reports whether the table keeps LRU stamps (KeepStamps).
func (t *Table) Stamped() bool { return t.stamps != nil }

// Stamp sets slot i's LRU stamp to now, with a plain store: the caller
// excludes readers. The table must keep stamps.
func (t *Table) Stamp(i int, now uint32) { t.stamps[i] = now }

// setRef points slot i, which holds a record, at ref instead: the record
// moved, its key (so its hash bits) stayed.
func (t *Table) setRef(i int, ref uint64) {
	t.slots[i] = t.slots[i]&^refMask | (ref + 1)
}

// homeOf returns the home slot of hash h in a table of n slots.
func homeOf(h uint64, n int) uint64 {
	if n <= fpHomeMax {
		return h >> fpShift * uint64(n) >> fpBits
	}
	hi, _ := bits.Mul64(h, uint64(n))
	return hi
}

// lookup returns the index of the slot holding key, or -1.
func (t *Table) lookup(a *Arena, key string, h uint64) int {
	if i, found := t.find(a, key, h); found {
		return i
	}
	return -1
}

// find returns the index of the slot holding key, or of the empty slot
// that ends its probe sequence.
func (t *Table) find(a *Arena, key string, h uint64) (int, bool) {
	n := uint64(len(t.slots))
	fp := h >> fpShift
	for i := homeOf(h, len(t.slots)); ; {
		s := t.slots[i]
		if s == 0 {
			return int(i), false
		}
		if s>>fpShift == fp && recordKeyIs(a.Record(slotRef(s)), key) {
			return int(i), true
		}
		if i++; i == n {
			i = 0
		}
	}
}

// SlotOf returns the index of the slot that points at ref, the record of
// a key whose hash is h, or -1 when none does: the record is not live. It
// compares refs, not keys, so it reads no record: the way to ask of many
// records found in the arena whether they are live.
func (t *Table) SlotOf(h, ref uint64) int {
	n := uint64(len(t.slots))
	want := slotOf(h, ref)
	for i := homeOf(h, len(t.slots)); ; {
		s := t.slots[i]
		if s == want {
			return int(i)
		}
		if s == 0 {
			return -1
		}
		if i++; i == n {
			i = 0
		}
	}
}

// Prefetch starts loading the home slot of hash h into the cache.
func (t *Table) Prefetch(h uint64) {
	prefetch(uintptr(unsafe.Pointer(&t.slots[homeOf(h, len(t.slots))])))
}

// insertAt fills the empty slot i that find returned for a missing key,
// and returns the slot the key went to (another one if the table grew).
func (t *Table) insertAt(i int, h, ref uint64, a *Arena) int {
	if t.full() {
		return t.Insert(h, ref, a)
	}
	t.slots[i] = slotOf(h, ref)
	t.count++
	return i
}

// full reports whether one more key would pass the maximum load.
func (t *Table) full() bool { return (t.count+1)*16 > len(t.slots)*maxLoad }

// Insert adds a slot for a key known to be absent and returns its index.
func (t *Table) Insert(h, ref uint64, a *Arena) int {
	if t.full() {
		t.resize(nextTableSize(len(t.slots)), a)
	}
	t.count++
	return t.place(slotOf(h, ref), h)
}

// place puts s in the first empty slot from h's home and returns its index.
func (t *Table) place(s, h uint64) int {
	n := uint64(len(t.slots))
	i := homeOf(h, len(t.slots))
	for t.slots[i] != 0 {
		if i++; i == n {
			i = 0
		}
	}
	t.slots[i] = s
	return int(i)
}

// remove empties slot i and shifts the following run back so that every
// slot stays reachable from its home.
func (t *Table) remove(i int, a *Arena) {
	n := len(t.slots)
	for {
		t.slots[i] = 0
		j := i
		for {
			if j++; j == n {
				j = 0
			}
			s := t.slots[j]
			if s == 0 {
				t.count--
				t.maybeShrink(a)
				return
			}
			home := int(t.home(s, a))
			// Move s back to i when its home is not cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[i] = s
				if t.stamps != nil {
					t.stamps[i] = t.stamps[j]
				}
				i = j
				break
			}
		}
	}
}

// home returns the home index of a slot.
func (t *Table) home(s uint64, a *Arena) uint64 {
	return homeOf(t.slotHash(s, len(t.slots), a), len(t.slots))
}

// slotHash returns enough of the hash of s's key to place it in a table of
// n slots: the fingerprint alone up to 2^24 slots, else the whole hash.
func (t *Table) slotHash(s uint64, n int, a *Arena) uint64 {
	if n <= fpHomeMax {
		return s >> fpShift << fpShift
	}
	e, _ := DecodeEntry(a.Record(slotRef(s)))
	return HashBytes(e.Key)
}

// maybeShrink shrinks a table that fell below 1/16 full to the size that
// leaves it about a quarter full, so that a shrink and a grow never follow
// each other closely.
func (t *Table) maybeShrink(a *Arena) {
	if len(t.slots) <= 1<<10 || t.count*16 >= len(t.slots) {
		return
	}
	n := len(t.slots)
	for n > minTableSize && prevTableSize(n) >= t.count*4 {
		n = prevTableSize(n)
	}
	t.resize(n, a)
}

// resize moves every slot into a table of n slots.
func (t *Table) resize(n int, a *Arena) {
	old, oldStamps := t.slots, t.stamps
	t.slots = makeSlots(n)
	if oldStamps != nil {
		t.stamps = make([]uint32, n)
	}
	for j, s := range old {
		if s != 0 {
			i := t.place(s, t.slotHash(s, max(n, len(old)), a))
			if oldStamps != nil {
				t.stamps[i] = oldStamps[j]
			}
		}
	}
}

// KeepStamps gives the table a stamp per slot, all 0 (older than any
// clock value but the first).
func (t *Table) KeepStamps() {
	if t.stamps == nil {
		t.stamps = make([]uint32, len(t.slots))
	}
}

// Touch records that slot i's key was used at clock now. It may run
// under the shared index lock: it writes only when the stamp changes, so
// that reads of a hot key do not keep taking its cache line from other
// cores.
func (t *Table) Touch(i int, now uint32) {
	if p := &t.stamps[i]; atomic.LoadUint32(p) != now {
		atomic.StoreUint32(p, now)
	}
}

// Oldest looks at up to n occupied slots from start on and returns the one
// whose stamp is oldest at clock now, or -1 when the table is empty. The
// slots follow the hash order, which has nothing to do with age, so a run
// of them is a random sample that costs a few cache lines.
func (t *Table) Oldest(start uint64, n int, now uint32) int {
	if t.count == 0 {
		return -1
	}
	best, age := -1, uint32(0)
	size := uint64(len(t.slots))
	i := start % size
	for seen := uint64(0); n > 0 && seen < size; seen++ {
		if t.slots[i] != 0 {
			n--
			if a := now - atomic.LoadUint32(&t.stamps[i]); best < 0 || a > age {
				best, age = int(i), a
			}
		}
		if i++; i == size {
			i = 0
		}
	}
	return best
}

// recordKeyIs reports whether the record at the start of rec has key.
func recordKeyIs(rec []byte, key string) bool { return string(RecordKey(rec)) == key }
