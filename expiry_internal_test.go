package minikv

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/minikv/minikv/internal/index"
)

// TestExpiryHeap_Order: pops come out in expiry order, and a rebuild keeps
// exactly the entries that live records own, in heap order.
func TestExpiryHeap_Order(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var h expiryHeap
	live := map[uint64]int64{}
	var want []int64
	for ref := range uint64(5000) {
		exp := rng.Int64N(1000)
		h.push(expiryItem{exp, ref})
		if ref%3 != 0 { // a third of the records left the index since
			live[ref] = exp
			want = append(want, exp)
		}
	}
	h = h.rebuild(live)
	if len(h) != len(live) {
		t.Fatalf("rebuild kept %d entries; want %d", len(h), len(live))
	}
	slices.Sort(want)
	for i, w := range want {
		it := h.pop()
		if it.exp != w || live[it.ref] != it.exp {
			t.Fatalf("pop %d: %+v; want expiry %d of a live record", i, it, w)
		}
	}
	if len(h) != 0 {
		t.Fatalf("%d entries left", len(h))
	}
}

// TestMemIndex_ExpiredTakesOnlyDue: expired returns the due keys whose
// records are still in the index, at most max of them, and leaves the
// others; overwritten and deleted keys' stale entries are skipped.
func TestMemIndex_ExpiredTakesOnlyDue(t *testing.T) {
	m := newMemIndex(0)
	put := func(k string, exp int64) { m.set(k, index.Hash(k), []byte("v"), exp) }
	put("a", 10)
	put("b", 20)
	put("c", 30)
	put("d", 100)
	put("b", 200) // overwritten: its entry at 20 is stale
	m.del("c", index.Hash("c"))
	put("e", 0) // no expiry
	if got := m.expired(50, 1); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("expired(50, 1) = %v; want [a]", got)
	}
	if got := m.expired(50, 10); len(got) != 0 {
		t.Fatalf("expired(50, 10) = %v; want none (b was rewritten, c deleted)", got)
	}
	if got := m.expired(150, 10); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("expired(150, 10) = %v; want [d]", got)
	}
	if got := m.expired(1000, 10); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("expired(1000, 10) = %v; want [b]", got)
	}
}
