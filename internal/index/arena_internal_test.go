package index

import "testing"

// checkArenaTotals checks the arena's byte counts against its chunks.
func checkArenaTotals(t *testing.T, a *Arena) {
	t.Helper()
	var total, dead int64
	for id, c := range a.chunks {
		if c == nil {
			continue
		}
		total += int64(len(c))
		dead += int64(a.used[id]) - a.live[id]
	}
	if total != a.total || dead != a.dead {
		t.Fatalf("arena counts total %d, dead %d; its chunks hold %d, %d dead", a.total, a.dead, total, dead)
	}
}

// TestArena_Reserve checks that reserve makes the next chunk ahead only
// when the active one cannot hold the bytes asked for, that the chunk
// allocations then take it, and that the arena's counts stay right
// whether the spare fits the next chunk exactly or is larger.
func TestArena_Reserve(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reserve int // bytes reserved before each allocation
		alloc   int // bytes per allocation
	}{
		{"exact", 1000, 1000},
		{"larger than needed", 100 << 10, 1000},
		{"none", 0, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newArena()
			spares := 0
			for i := range 5000 {
				a.reserve(tc.reserve)
				if a.spare != nil {
					spares++
					if a.cur >= 0 && int(a.used[a.cur])+tc.reserve <= len(a.chunks[a.cur]) {
						t.Fatalf("allocation %d: a spare chunk although the active one has room", i)
					}
				}
				ref, buf := a.Alloc(tc.alloc)
				buf[0], buf[len(buf)-1] = 1, 2
				if i%3 == 0 {
					a.Kill(ref, tc.alloc)
				}
				checkArenaTotals(t, a)
			}
			if tc.reserve > 0 && spares == 0 {
				t.Fatal("reserve never made a chunk ahead")
			}
			if tc.reserve == 0 && spares != 0 {
				t.Fatalf("reserve(0) made %d chunks ahead", spares)
			}
		})
	}
}
