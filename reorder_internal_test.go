package minikv

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/minikv/minikv/internal/index"
)

// TestReorder_PutsRecordsInKeyOrder loads keys in random order, some with
// an expiry, reorders the arena in small steps with writes in between, and
// checks the index against a model, that neighbouring keys end up in
// neighbouring bytes, that a frozen view taken before still reads its
// values, and that a second walk moves nothing.
func TestReorder_PutsRecordsInKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m := newMemIndex(0)
	model := map[string]modelEntry{}
	set := func(k, v string, exp int64) {
		m.set(k, index.Hash(k), []byte(v), exp)
		model[k] = modelEntry{v, exp}
	}
	for _, i := range r.Perm(20000) {
		var exp int64
		if i%7 == 0 {
			exp = 1e18 + int64(i)
		}
		set(fmt.Sprintf("key%06d", i), fmt.Sprintf("value-%d", i), exp)
	}
	set("key010000big", string(make([]byte, m.Arena.LargeRec()+1)), 0)
	before := m.freeze()
	beforeModel := map[string]modelEntry{}
	for k, e := range model {
		beforeModel[k] = e
	}
	var st index.ReorderState
	steps := 0
	for ; !st.Done; steps++ {
		m.reorder(&st, 300)
		// Writers run between steps: overwrites, deletes and new keys on
		// both sides of the walk.
		k := fmt.Sprintf("key%06d", r.IntN(21000))
		switch r.IntN(3) {
		case 0:
			set(k, "overwritten", 0)
		case 1:
			if m.del(k, index.Hash(k)) {
				delete(model, k)
			}
		default:
			set(k+"x", "new", 0)
		}
		if steps > 1000 {
			t.Fatal("reorder does not finish")
		}
	}
	if st.Moved < 15000 {
		t.Fatalf("moved %d records of 20000 written in random order", st.Moved)
	}
	checkIndex(t, m, model)
	checkView(t, before, beforeModel)

	var second index.ReorderState
	m.reorder(&second, 1<<30)
	checkIndex(t, m, model)
	v := m.freeze()
	c := index.NewCursor(v.chunks)
	adjacent, total := 0, 0
	prevEnd := uint64(0)
	for ok := c.Seek(v.tree, ""); ok; ok = c.Next() {
		e, _ := index.DecodeEntry(index.ChunkRecord(v.chunks, c.Ref()))
		if c.Ref() == prevEnd {
			adjacent++
		}
		total++
		prevEnd = c.Ref() + uint64(e.Size)
	}
	if adjacent < total*95/100 {
		t.Fatalf("after reorder only %d of %d records follow their predecessor", adjacent, total)
	}
	var third index.ReorderState
	m.reorder(&third, 1<<30)
	// What may move again: records written between the first walk's steps,
	// and the first record of a run split across chunks.
	if limit := steps + len(m.Arena.Chunks()); third.Moved > limit {
		t.Fatalf("a walk over an ordered arena moved %d records, more than the %d writes between steps and chunks", third.Moved, limit)
	}
}

// TestReorder_EmptiesSparseChunks overwrites most keys of an ordered arena,
// which leaves its chunks mostly dead, and checks that one walk moves their
// live records out in key order, so that no chunk is left for relocate.
func TestReorder_EmptiesSparseChunks(t *testing.T) {
	m := newMemIndex(0)
	model := map[string]modelEntry{}
	set := func(k, v string) {
		m.set(k, index.Hash(k), []byte(v), 0)
		model[k] = modelEntry{value: v}
	}
	for i := range 20000 {
		set(fmt.Sprintf("key%06d", i), fmt.Sprintf("value-%d", i))
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, i := range r.Perm(20000)[:14000] {
		set(fmt.Sprintf("key%06d", i), "overwritten")
	}
	if m.Arena.SparseChunk() < 0 {
		t.Fatal("overwriting 70% of the keys left no sparse chunk")
	}
	var st index.ReorderState
	m.reorder(&st, 1<<30)
	checkIndex(t, m, model)
	// A chunk that was the active one when the walk passed its records
	// may be left sparse; relocate takes the few records left in it.
	var live, leftover int64
	for id, c := range m.Arena.Chunks() {
		if c != nil {
			live += m.Arena.Live(id)
			if m.Arena.Live(id)*2 < int64(len(m.Arena.Written(id))) {
				leftover += m.Arena.Live(id)
			}
		}
	}
	if leftover*100 > live {
		t.Fatalf("%d of %d live bytes left in sparse chunks after the walk", leftover, live)
	}
	for relocate(m, relocateStep) {
	}
	checkIndex(t, m, model)
	if m.Arena.Dead()*10 > m.Arena.Total() {
		t.Fatalf("%d dead bytes of %d left after the walk and relocate", m.Arena.Dead(), m.Arena.Total())
	}
}

// reorder plans and applies one step of the walk at once (the compaction
// worker does it in two, the plan without the index lock): it visits up to
// max keys from st.from on, copying those not in place to the end of the
// arena, and advances st.
func (m *memIndex) reorder(st *index.ReorderState, max int) {
	var p index.ReorderPlan
	m.PlanReorder(st, max, &p)
	m.ApplyReorder(st, &p, m.moved)
}
