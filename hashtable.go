package minikv

import (
	"hash/maphash"
	"unsafe"
)

// hashTable maps a key's hash to the ref of its record. It is an open
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
type hashTable struct {
	slots []uint64
	shift uint // 64 - log2(len(slots))
	count int
}

const (
	fpShift     = refBits
	minTableLog = 4
	// maxLoad is the fill ratio, in 1/16, that doubles the table.
	maxLoad = 13
)

var hashSeed = maphash.MakeSeed()

func hashKey(key string) uint64 { return maphash.String(hashSeed, key) }

func hashBytes(key []byte) uint64 { return maphash.Bytes(hashSeed, key) }

func newHashTable(capacity int) hashTable {
	log := uint(minTableLog)
	for (1<<log)*maxLoad/16 < capacity {
		log++
	}
	return hashTable{slots: makeSlots(1 << log), shift: 64 - log}
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

// lookup returns the index of the slot holding key, or -1.
func (t *hashTable) lookup(a *arena, key string, h uint64) int {
	if i, found := t.find(a, key, h); found {
		return i
	}
	return -1
}

// find returns the index of the slot holding key, or of the empty slot
// that ends its probe sequence.
func (t *hashTable) find(a *arena, key string, h uint64) (int, bool) {
	mask := uint64(len(t.slots) - 1)
	fp := h >> fpShift
	for i := h >> t.shift; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return int(i), false
		}
		if s>>fpShift == fp && recordKeyIs(a.record(slotRef(s)), key) {
			return int(i), true
		}
	}
}

// insertAt fills the empty slot i that find returned for a missing key.
func (t *hashTable) insertAt(i int, h, ref uint64, a *arena) {
	if (t.count+1)*16 > len(t.slots)*maxLoad {
		t.insert(h, ref, a)
		return
	}
	t.slots[i] = slotOf(h, ref)
	t.count++
}

// insert adds a slot for a key known to be absent.
func (t *hashTable) insert(h, ref uint64, a *arena) {
	if (t.count+1)*16 > len(t.slots)*maxLoad {
		t.resize(len(t.slots)*2, a)
	}
	t.place(slotOf(h, ref), h)
	t.count++
}

func (t *hashTable) place(s, h uint64) {
	mask := uint64(len(t.slots) - 1)
	i := h >> t.shift
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

// remove empties slot i and shifts the following run back so that every
// slot stays reachable from its home.
func (t *hashTable) remove(i int, a *arena) {
	mask := len(t.slots) - 1
	for {
		t.slots[i] = 0
		j := i
		for {
			j = (j + 1) & mask
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
				i = j
				break
			}
		}
	}
}

// home returns the home index of a slot.
func (t *hashTable) home(s uint64, a *arena) uint64 {
	log := 64 - t.shift
	if log <= 64-fpShift {
		return s >> fpShift >> (64 - fpShift - log)
	}
	e, _ := decodeEntry(a.record(slotRef(s)))
	return hashBytes(e.key) >> t.shift
}

func (t *hashTable) maybeShrink(a *arena) {
	if len(t.slots) > 1<<10 && t.count*16 < len(t.slots) {
		t.resize(len(t.slots)/4, a)
	}
}

// resize moves every slot into a table of n slots.
func (t *hashTable) resize(n int, a *arena) {
	old := t.slots
	oldShift := t.shift
	t.slots = makeSlots(n)
	log := uint(0)
	for 1<<log < n {
		log++
	}
	t.shift = 64 - log
	for _, s := range old {
		if s == 0 {
			continue
		}
		var h uint64
		if 64-oldShift <= 64-fpShift && log <= 64-fpShift {
			h = s >> fpShift << fpShift
		} else {
			e, _ := decodeEntry(a.record(slotRef(s)))
			h = hashBytes(e.key)
		}
		t.place(s, h)
	}
}

// recordKeyIs reports whether the record at the start of rec has key.
func recordKeyIs(rec []byte, key string) bool { return string(recordKey(rec)) == key }
