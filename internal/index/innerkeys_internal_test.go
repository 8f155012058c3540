package index

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestInner_ChildIndex checks childIndex, which searches the heads, against
// a plain binary search over the separators, for separators that share
// prefixes shorter and longer than prefixInline, end inside or before the
// head, or hold zero bytes, and for probes below, between, on and above
// them.
func TestInner_ChildIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabets := []string{"ab", "\x00\x01\xff", "0123456789"}
	for _, tc := range []struct {
		prefix string
		n      int
	}{
		{"", 2}, {"", 64}, {"k000", 64}, {"user:0000000042:", 40}, {strings.Repeat("p", 30), 64}, {"x", 3},
	} {
		for _, alpha := range alphabets {
			gen := func() string {
				b := []byte(tc.prefix)
				for range r.IntN(12) {
					b = append(b, alpha[r.IntN(len(alpha))])
				}
				return string(b)
			}
			set := map[string]bool{}
			for len(set) < tc.n-1 {
				set[gen()] = true
			}
			seps := slices.Sorted(func(yield func(string) bool) {
				for s := range set {
					if !yield(s) {
						return
					}
				}
			})
			n := &inner{n: tc.n}
			copy(n.seps[1:], seps)
			n.refit()
			probes := append([]string{"", "\xff\xff", tc.prefix, tc.prefix + "\x00"}, seps...)
			for range 200 {
				probes = append(probes, gen(), gen()[:r.IntN(len(tc.prefix)+1)])
			}
			if p := tc.prefix; p != "" {
				// Long keys that leave the prefix at its last byte.
				last := p[len(p)-1]
				probes = append(probes, p[:len(p)-1]+string(last+1)+gen(), p[:len(p)-1]+string(last-1)+gen())
			}
			for _, s := range seps {
				probes = append(probes, s+"\x00", s[:len(s)-min(len(s), 1)])
			}
			for _, key := range probes {
				want := sort.Search(n.n-1, func(i int) bool { return n.seps[i+1] > key })
				if got := n.childIndex(key); got != want {
					t.Fatalf("%s: childIndex(%q) = %d, want %d (offset %d)", fmt.Sprint(tc), key, got, want, n.hoff)
				}
			}
		}
	}
}
