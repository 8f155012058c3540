package minikv

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/minikv/minikv/internal/index"
)

type modelEntry struct {
	value string
	exp   int64
}

// checkIndex compares every structure of m with the model.
func checkIndex(t *testing.T, m *memIndex, model map[string]modelEntry) {
	t.Helper()
	if m.len() != len(model) || m.Tree.Len() != len(model) {
		t.Fatalf("len: table %d tree %d, want %d", m.len(), m.Tree.Len(), len(model))
	}
	for k, want := range model {
		e, ok := m.get(k, index.Hash(k), 0)
		if !ok || string(e.Value) != want.value || e.Exp != want.exp {
			t.Fatalf("get %q = %q,%d,%v want %q,%d", k, e.Value, e.Exp, ok, want.value, want.exp)
		}
	}
	checkView(t, m.freeze(), model)
	var live int64
	for id, c := range m.Arena.Chunks() {
		if c != nil {
			live += m.Arena.Live(id)
		}
	}
	var want int64
	for k, e := range model {
		want += int64(index.EntrySize(len(k), len(e.value), e.exp))
	}
	if live != want {
		t.Fatalf("arena live bytes %d, want %d", live, want)
	}
	nexp := 0
	for _, e := range model {
		if e.exp != 0 {
			nexp++
		}
	}
	if len(m.expiring) != nexp {
		t.Fatalf("expiring %d, want %d", len(m.expiring), nexp)
	}
}

// checkView walks a frozen view and compares it with a model.
func checkView(t *testing.T, v frozenIndex, model map[string]modelEntry) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(model))
	c := index.NewCursor(v.chunks)
	i := 0
	for ok := c.Seek(v.tree, ""); ok; ok = c.Next() {
		e, _ := index.DecodeEntry(index.ChunkRecord(v.chunks, c.Ref()))
		if i >= len(keys) || string(e.Key) != keys[i] || string(e.Value) != model[keys[i]].value {
			t.Fatalf("scan item %d = %q, want %q", i, e.Key, keys[min(i, len(keys)-1)])
		}
		i++
	}
	if i != len(keys) {
		t.Fatalf("scan saw %d keys, want %d", i, len(keys))
	}
	if len(keys) > 0 {
		probe := keys[len(keys)/2]
		if !c.Seek(v.tree, probe) || string(index.RefKey(v.chunks, c.Ref())) != probe {
			t.Fatalf("seek %q failed", probe)
		}
	}
}

func TestMemIndex_Model(t *testing.T) {
	for _, tc := range []struct {
		name  string
		keys  int
		ops   int
		large bool
	}{
		{"small", 50, 5000, false},
		{"medium", 3000, 60000, false},
		{"large-values", 200, 3000, true},
	} {
		if testing.Short() {
			tc.ops /= 4 // the quick check: a quarter of the operations
		}
		t.Run(tc.name, func(t *testing.T) {
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			r := rand.New(rand.NewPCG(seed, 1))
			m := newMemIndex(0)
			model := map[string]modelEntry{}
			type savedIndex struct {
				v     frozenIndex
				model map[string]modelEntry
			}
			var views []savedIndex
			for i := range tc.ops {
				k := fmt.Sprintf("key%06d", r.IntN(tc.keys))
				switch op := r.IntN(10); {
				case op < 6:
					n := r.IntN(40)
					if tc.large && r.IntN(4) == 0 {
						n = m.Arena.LargeRec() + r.IntN(1000)
					}
					v := strings.Repeat(string(rune('a'+r.IntN(26))), n)
					var exp int64
					if r.IntN(4) == 0 {
						exp = int64(1 + r.IntN(1000))
					}
					m.set(k, index.Hash(k), []byte(v), exp)
					model[k] = modelEntry{v, exp}
				case op < 9:
					_, had := model[k]
					if got := m.del(k, index.Hash(k)); got != had {
						t.Fatalf("del %q = %v, want %v", k, got, had)
					}
					delete(model, k)
				default:
					for relocate(m, 7) {
					}
				}
				if r.IntN(500) == 0 {
					views = append(views, savedIndex{m.freeze(), maps.Clone(model)})
				}
				if i%(tc.ops/10) == 0 {
					checkIndex(t, m, model)
				}
			}
			checkIndex(t, m, model)
			for _, f := range views {
				checkView(t, f.v, f.model)
			}
			for k := range model {
				m.del(k, index.Hash(k))
			}
			checkIndex(t, m, map[string]modelEntry{})
			if m.Arena.Total() > index.ChunkSize {
				t.Errorf("arena holds %d bytes after deleting everything", m.Arena.Total())
			}
		})
	}
}

func TestMemIndex_BulkLoadMatchesInserts(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 4096, 4097, 300000} {
		m := newMemIndex(n)
		refs := make([]uint64, 0, n)
		model := map[string]modelEntry{}
		for i := range n {
			k := fmt.Sprintf("k%08d", i)
			ref, buf := m.Arena.Alloc(index.EntrySize(len(k), 1, 0))
			index.PutEntry(buf, k, []byte("v"), 0)
			m.Table.Insert(index.Hash(k), ref, m.Arena)
			refs = append(refs, ref)
			model[k] = modelEntry{"v", 0}
		}
		m.Tree.BulkLoad(m.Arena.Chunks(), refs)
		checkIndex(t, m, model)
		// The loaded tree must accept inserts and deletes afterwards.
		for i := 0; i < n; i += 7 {
			k := fmt.Sprintf("k%08d", i)
			m.del(k, index.Hash(k))
			delete(model, k)
			k2 := k + "x"
			m.set(k2, index.Hash(k2), []byte("w"), 0)
			model[k2] = modelEntry{"w", 0}
		}
		checkIndex(t, m, model)
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "a/b", true},
		{"a*", "abc", true},
		{"a*c", "abxc", true},
		{"a*c", "abxd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"[abc]x", "bx", true},
		{"[abc]x", "dx", false},
		{"[a-c]x", "cx", true},
		{"[^a]x", "ax", false},
		{"[^a]x", "bx", true},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"h*llo*w", "hello world now", true},
		{"[]]", "]", true},
		{`[\]]`, "]", true},
		{"user:*:name", "user:42:name", true},
		{"user:*:name", "user:42:mail", false},
	}
	for _, tc := range tests {
		if err := globCheck(tc.pattern); err != nil {
			t.Fatalf("globCheck(%q): %v", tc.pattern, err)
		}
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
	for _, bad := range []string{"[abc", `abc\`, "[", "[^"} {
		if globCheck(bad) == nil {
			t.Errorf("globCheck(%q) accepted a malformed pattern", bad)
		}
	}
	for p, want := range map[string]string{"user:*": "user:", `a\*b*`: "a*b", "*": "", "ab?": "ab", "x[": ""} {
		got, err := globPrefix(p)
		if p == "x[" {
			if err == nil {
				t.Errorf("globPrefix(%q) accepted a malformed pattern", p)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("globPrefix(%q) = %q, %v; want %q", p, got, err, want)
		}
	}
}

func TestMemIndex_AscendingInsertsFillLeaves(t *testing.T) {
	m := newMemIndex(0)
	model := map[string]modelEntry{}
	const n = 20000
	for i := range n {
		k := fmt.Sprintf("k%08d", i)
		m.set(k, index.Hash(k), []byte("v"), 0)
		model[k] = modelEntry{"v", 0}
	}
	checkIndex(t, m, model)
	leaves := 0
	var last *index.Leaf
	c := index.NewCursor(m.Arena.Chunks())
	v := m.freeze()
	for ok := c.Seek(v.tree, ""); ok; ok = c.Next() {
		if c.Leaf() != last {
			leaves, last = leaves+1, c.Leaf()
		}
	}
	if max := n/index.LeafCap + 2; leaves > max {
		t.Errorf("ascending inserts used %d leaves, want at most %d", leaves, max)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range n / 2 {
		k := fmt.Sprintf("k%08d", r.IntN(n))
		m.del(k, index.Hash(k))
		delete(model, k)
	}
	checkIndex(t, m, model)
}

// relocate runs one relocation step on m, as DB.stepRelocation does, for
// the chunks less than half live, and reports whether one remains.
func relocate(m *memIndex, max int) bool {
	return m.planRelocate(max, 1, 2) && m.applyRelocate(1, 2)
}
