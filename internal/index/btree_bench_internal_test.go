package index

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// These benchmarks time the B+tree alone, without the log, the hash table
// or the public API, so that changes to the leaf search show above the
// noise of a shared machine. Keys are those of the package benchmarks: "k"
// and 15 zero-padded digits.

const treeBenchKeys = 1_000_000

// treeBenchRecords writes the records of n keys into a new arena in a
// random order, as random Sets would, and returns the arena and the keys
// and refs in that order.
func treeBenchRecords(n int) (*Arena, []string, []uint64) {
	r := rand.New(rand.NewPCG(1, 1))
	a := newArena()
	keys := make([]string, n)
	refs := make([]uint64, n)
	for i, k := range r.Perm(n) {
		keys[i] = fmt.Sprintf("k%015d", k)
		ref, buf := a.Alloc(EntrySize(len(keys[i]), 100, 0))
		PutEntry(buf, keys[i], make([]byte, 100), 0)
		refs[i] = ref
	}
	return a, keys, refs
}

// BenchmarkTreeInsert inserts new keys in random order into a tree that
// grows to 1M keys (then starts again from empty, with the timer stopped).
func BenchmarkTreeInsert(b *testing.B) {
	a, keys, refs := treeBenchRecords(treeBenchKeys)
	tr := newTree()
	i := 0
	for b.Loop() {
		if i == len(keys) {
			b.StopTimer()
			tr, i = newTree(), 0
			b.StartTimer()
		}
		tr.insert(a.chunks, keys[i], refs[i])
		i++
	}
}

// BenchmarkTreeSeek seeks random present keys in a tree of 1M keys built
// by random inserts.
func BenchmarkTreeSeek(b *testing.B) {
	a, keys, refs := treeBenchRecords(treeBenchKeys)
	tr := newTree()
	for i := range keys {
		tr.insert(a.chunks, keys[i], refs[i])
	}
	v := tr.Freeze()
	c := Cursor{chunks: a.chunks, ahead: 1}
	i := 0
	for b.Loop() {
		if !c.Seek(v, keys[i]) {
			b.Fatal("key not found")
		}
		if i++; i == len(keys) {
			i = 0
		}
	}
}
