package index

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTable_Model inserts, replaces and removes random keys and checks
// every lookup against a map, with home slots taken from the fingerprint
// and, with a lowered fpHomeMax, from the whole hash (the path of tables
// above 2^24 slots).
func TestTable_Model(t *testing.T) {
	for _, homeMax := range []int{fpHomeMax, 64} {
		t.Run(fmt.Sprintf("fpHomeMax=%d", homeMax), func(t *testing.T) {
			defer func(old int) { fpHomeMax = old }(fpHomeMax)
			fpHomeMax = homeMax
			checkHashTableModel(t, rand.New(rand.NewPCG(1, uint64(homeMax))))
		})
	}
}

func checkHashTableModel(t *testing.T, r *rand.Rand) {
	t.Helper()
	a := newArena()
	tab := newTable(0)
	model := map[string]uint64{}
	put := func(key string) {
		ref, buf := a.Alloc(EntrySize(len(key), 0, 0))
		PutEntry(buf, key, nil, 0)
		h := Hash(key)
		if i, found := tab.find(a, key, h); found {
			tab.slots[i] = slotOf(h, ref)
		} else {
			tab.insertAt(i, h, ref, a)
		}
		model[key] = ref
	}
	del := func(key string) {
		i := tab.lookup(a, key, Hash(key))
		if _, ok := model[key]; ok != (i >= 0) {
			t.Fatalf("lookup(%q) = %d, model has it: %v", key, i, ok)
		}
		if i >= 0 {
			tab.remove(i, a)
			delete(model, key)
		}
	}
	for round := range 3 {
		for range 6000 {
			put(fmt.Sprintf("k%d", r.IntN(8000)))
		}
		checkHashTable(t, a, &tab, model, round)
		for range 9000 {
			del(fmt.Sprintf("k%d", r.IntN(8000)))
		}
		checkHashTable(t, a, &tab, model, round)
	}
	grown := len(tab.slots)
	for k := range 8000 {
		del(fmt.Sprintf("k%d", k))
	}
	checkHashTable(t, a, &tab, model, 3)
	if len(tab.slots) >= grown || len(tab.slots) > 1<<10 {
		t.Fatalf("emptied table kept %d slots (had %d)", len(tab.slots), grown)
	}
}

func checkHashTable(t *testing.T, a *Arena, tab *Table, model map[string]uint64, round int) {
	t.Helper()
	if tab.count != len(model) {
		t.Fatalf("round %d: count %d, model %d", round, tab.count, len(model))
	}
	if n := len(tab.slots); !validTableSize(n) {
		t.Fatalf("round %d: table size %d is not 2^k or 1.5·2^k", round, n)
	}
	if len(tab.slots) > 1<<10 && tab.count*16 < len(tab.slots) {
		t.Fatalf("round %d: %d keys in %d slots: not shrunk", round, tab.count, len(tab.slots))
	}
	for key, ref := range model {
		i := tab.lookup(a, key, Hash(key))
		if i < 0 || slotRef(tab.slots[i]) != ref {
			t.Fatalf("round %d: lookup(%q) = %d, want ref %d", round, key, i, ref)
		}
	}
	for k := 8000; k < 8100; k++ {
		if key := fmt.Sprintf("k%d", k); tab.lookup(a, key, Hash(key)) >= 0 {
			t.Fatalf("round %d: found absent key %q", round, key)
		}
	}
}

func validTableSize(n int) bool {
	if n&(n-1) == 0 {
		return true
	}
	return n%3 == 0 && (n/3)&(n/3-1) == 0
}

// TestTable_Sizes checks the size sequence and that a million keys fit
// in 1.5·2^20 slots rather than 2^21.
func TestTable_Sizes(t *testing.T) {
	n := minTableSize
	for range 40 {
		next := nextTableSize(n)
		if !validTableSize(next) || next <= n || prevTableSize(next) != n {
			t.Fatalf("size %d: next %d, back %d", n, next, prevTableSize(next))
		}
		n = next
	}
	if got := len(newTable(1_000_000).slots); got != 3<<19 {
		t.Fatalf("table for 1M keys: %d slots, want %d", got, 3<<19)
	}
}

func TestTable_HomeOfInRange(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{16, 24, 1 << 20, 3 << 19, 1 << 24, 3 << 23, 1 << 30} {
		for range 1000 {
			if h := homeOf(r.Uint64(), n); h >= uint64(n) {
				t.Fatalf("homeOf(_, %d) = %d", n, h)
			}
		}
		if h := homeOf(^uint64(0), n); h != uint64(n-1) {
			t.Fatalf("homeOf(max, %d) = %d, want %d", n, h, n-1)
		}
	}
}
