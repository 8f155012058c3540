package minikv_test

import (
	"errors"
	"fmt"
	"maps"
	mrand "math/rand"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"
	"github.com/leanovate/gopter/prop"
	"github.com/minikv/minikv"
)

// putAll writes kvs under prefix p.
func putAll(db *minikv.DB, p string, kvs map[string]string) error {
	for k, v := range kvs {
		if err := db.Set(p+k, []byte(v)); err != nil {
			return err
		}
	}
	return nil
}

// expect returns the entries of kvs that keep accepts, prefixed with p,
// in ascending key order, cut to limit when limit > 0.
func expect(p string, kvs map[string]string, keep func(string) bool, limit int) []kv {
	out := []kv{}
	for _, k := range slices.Sorted(maps.Keys(kvs)) {
		if keep(k) {
			out = append(out, kv{p + k, kvs[k]})
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func scanCompare(it minikv.Iterator, err error, want []kv) string {
	if err != nil {
		return "open iterator: " + err.Error()
	}
	got, err := drain(it)
	if err != nil {
		return "iterate: " + err.Error()
	}
	if !sameKVs(got, want) {
		return fmt.Sprintf("got  %q\nwant %q", got, want)
	}
	return ""
}

// genPrefix generates a short prefix, often empty.
func genPrefix() gopter.Gen {
	return gen.OneGenOf(gen.Const(""), genModelKey().Map(func(k string) string { return k[:1+len(k)/2] }))
}

// Feature: minikv-embedded-database, Property 30: Scan prefix filtering
func TestProp30_ScanPrefix(t *testing.T) {
	db, _, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "Scan(prefix) yields exactly the keys with that prefix", prop.ForAll(
		func(kvs map[string]string, prefix string) string {
			p := ns.next()
			if err := putAll(db, p, kvs); err != nil {
				return err.Error()
			}
			it, err := db.Scan(p+prefix, 0)
			return scanCompare(it, err, expect(p, kvs, func(k string) bool { return strings.HasPrefix(k, prefix) }, 0))
		},
		genKVs(), genPrefix()))
}

// Feature: minikv-embedded-database, Property 31: ScanRange filtering
func TestProp31_ScanRange(t *testing.T) {
	db, _, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "ScanRange(start, end) yields exactly start <= k < end; empty end is unbounded", prop.ForAll(
		func(kvs map[string]string, start, end string) string {
			p := ns.next()
			if err := putAll(db, p, kvs); err != nil {
				return err.Error()
			}
			hi := ""
			if end != "" {
				hi = p + end
			}
			// Later namespaces sort after this one and hold nothing yet, so
			// an unbounded scan sees only this run's keys.
			it, err := db.ScanRange(p+start, hi, 0)
			return scanCompare(it, err, expect(p, kvs, func(k string) bool {
				return k >= start && (end == "" || k < end)
			}, 0))
		},
		genKVs(), genPrefix(), genPrefix()))
}

// genBinaryKVs generates keys of arbitrary bytes.
func genBinaryKVs() gopter.Gen {
	return genFunc(func(r *mrand.Rand, size int) map[string]string {
		m := map[string]string{}
		for range r.Intn(size + 1) {
			b := make([]byte, 1+r.Intn(6))
			r.Read(b)
			m[string(b)] = randString(r)
		}
		return m
	})
}

// Feature: minikv-embedded-database, Property 32: Iterator returns sorted keys
func TestProp32_SortedOrder(t *testing.T) {
	db, _, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "iterators yield keys in strictly ascending byte order", prop.ForAll(
		func(kvs map[string]string, deletes []string) string {
			p := ns.next()
			if err := putAll(db, p, kvs); err != nil {
				return err.Error()
			}
			for _, k := range deletes {
				if err := db.Delete(p + k); err != nil {
					return err.Error()
				}
				delete(kvs, k)
			}
			it, err := db.Scan(p, 0)
			if err != nil {
				return err.Error()
			}
			got, err := drain(it)
			if err != nil {
				return err.Error()
			}
			for i := 1; i < len(got); i++ {
				if got[i-1].Key >= got[i].Key {
					return fmt.Sprintf("out of order: %q then %q", got[i-1].Key, got[i].Key)
				}
			}
			if want := expect(p, kvs, func(string) bool { return true }, 0); !sameKVs(got, want) {
				return fmt.Sprintf("got %q\nwant %q", got, want)
			}
			return ""
		},
		genBinaryKVs(), gen.SliceOf(genModelKey())))
}

// mutation is a change applied while an iterator is open.
type mutation struct {
	Key    string
	Value  string
	Delete bool
}

func genMutations() gopter.Gen {
	return gen.SliceOf(genFunc(func(r *mrand.Rand, _ int) mutation {
		return mutation{Key: randKey(r), Value: randString(r), Delete: r.Intn(2) == 0}
	}))
}

// Feature: minikv-embedded-database, Property 33: Iterator snapshot isolation
func TestProp33_SnapshotIsolation(t *testing.T) {
	db, _, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "writes after an iterator is created are invisible to it", prop.ForAll(
		func(kvs map[string]string, muts []mutation, readFirst int, compact bool) string {
			p := ns.next()
			if err := putAll(db, p, kvs); err != nil {
				return err.Error()
			}
			before := expect(p, kvs, func(string) bool { return true }, 0)
			it, err := db.Scan(p, 0)
			if err != nil {
				return err.Error()
			}
			defer it.Close()
			var got []kv
			for len(got) < readFirst && it.Next() {
				got = append(got, kv{it.Key(), string(it.Value())})
			}
			after := maps.Clone(kvs)
			for _, m := range muts {
				if err := applyMutation(db, p, m, after); err != nil {
					return err.Error()
				}
			}
			if compact {
				// Compaction also moves live records in memory.
				if err := db.Compact(); err != nil {
					return err.Error()
				}
			}
			rest, err := drain(it)
			if err != nil {
				return err.Error()
			}
			if got = append(got, rest...); !sameKVs(got, before) {
				return fmt.Sprintf("old iterator saw later writes:\n got  %q\nwant %q", got, before)
			}
			it2, err := db.Scan(p, 0)
			return scanCompare(it2, err, expect(p, after, func(string) bool { return true }, 0))
		},
		genKVs(), genMutations(), gen.IntRange(0, 10), gen.Weighted([]gen.WeightedGen{
			{Weight: 4, Gen: gen.Const(false)}, {Weight: 1, Gen: gen.Const(true)},
		})))
}

func applyMutation(db *minikv.DB, p string, m mutation, model map[string]string) error {
	if m.Delete {
		delete(model, m.Key)
		return db.Delete(p + m.Key)
	}
	model[m.Key] = m.Value
	return db.Set(p+m.Key, []byte(m.Value))
}

// ttlKey is a key with a TTL in milliseconds (0: none).
type ttlKey struct {
	Key   string
	TTLms int
}

func genTTLKeys() gopter.Gen {
	return gen.SliceOf(genFunc(func(r *mrand.Rand, _ int) ttlKey {
		k := ttlKey{Key: randKey(r)}
		if r.Intn(2) == 0 {
			k.TTLms = 1 + r.Intn(1000)
		}
		return k
	}))
}

// writeTTLKeys writes keys with their TTLs under p and returns the model
// of what it wrote.
func writeTTLKeys(db *minikv.DB, clock *minikv.FakeClock, p string, keys []ttlKey) (kvModel, error) {
	m := kvModel{}
	for i, k := range keys {
		v := fmt.Sprint(i)
		var err error
		if k.TTLms == 0 {
			err = db.Set(p+k.Key, []byte(v))
			m[p+k.Key] = modelEntry{value: v}
		} else {
			ttl := time.Duration(k.TTLms) * time.Millisecond
			err = db.SetWithTTL(p+k.Key, []byte(v), ttl)
			m[p+k.Key] = modelEntry{v, clock.Now() + int64(ttl)}
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Feature: minikv-embedded-database, Property 34: Iterator skips expired keys
func TestProp34_IteratorSkipsExpired(t *testing.T) {
	db, clock, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "iterators skip keys expired when created and keys that expire before they are read", prop.ForAll(
		func(keys []ttlKey, advance1, advance2 int) string {
			p := ns.next()
			m, err := writeTTLKeys(db, clock, p, keys)
			if err != nil {
				return err.Error()
			}
			if advance1%3 == 0 && len(keys) > 0 {
				// Read exactly at a key's expiry: it is expired then.
				advance1, advance2 = keys[advance1%len(keys)].TTLms, 0
			}
			clock.Advance(time.Duration(advance1) * time.Millisecond)
			it, err := db.Scan(p, 0)
			if err != nil {
				return err.Error()
			}
			it2, err2 := db.ScanRange(p, "", 0)
			// Keys that expire between creation and reading are skipped too.
			clock.Advance(time.Duration(advance2) * time.Millisecond)
			want := m.want(m.liveKeys(clock.Now(), nil))
			if msg := scanCompare(it, nil, want); msg != "" {
				return "Scan: " + msg
			}
			if msg := scanCompare(it2, err2, want); msg != "" {
				return "ScanRange: " + msg
			}
			var items []kv
			for item, err := range db.All(p) {
				if err != nil {
					return err.Error()
				}
				items = append(items, kv{item.Key, string(item.Value)})
			}
			if !sameKVs(items, want) {
				return fmt.Sprintf("All: got %q want %q", items, want)
			}
			return ""
		},
		genTTLKeys(), gen.IntRange(0, 700), gen.IntRange(0, 700)))
}

// globTok is one element of a glob pattern for the reference matcher.
type globTok struct {
	kind byte      // '*', '?', 'c' (one literal byte) or '[' (class)
	lit  byte      // for 'c'
	set  [256]bool // for '[': the bytes the class matches, negation applied
}

// parseGlob parses a pattern for the reference matcher. It is written
// apart from the engine's parser and handles the syntax the SPEC lists:
// *, ?, [abc], [a-z], [^a] and \ escapes. Patterns given to it are valid.
func parseGlob(p string) []globTok {
	var toks []globTok
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*', '?':
			toks = append(toks, globTok{kind: c})
		case '\\':
			i++
			toks = append(toks, globTok{kind: 'c', lit: p[i]})
		case '[':
			tok := globTok{kind: '['}
			i++
			neg := p[i] == '^'
			if neg {
				i++
			}
			for ; p[i] != ']'; i++ {
				lo := p[i]
				if lo == '\\' {
					i++
					tok.set[p[i]] = true
					continue
				}
				if i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']' {
					hi := p[i+2]
					i += 2
					for b := min(lo, hi); ; b++ {
						tok.set[b] = true
						if b == max(lo, hi) {
							break
						}
					}
					continue
				}
				tok.set[lo] = true
			}
			if neg {
				for b := range tok.set {
					tok.set[b] = !tok.set[b]
				}
			}
			toks = append(toks, tok)
		default:
			toks = append(toks, globTok{kind: 'c', lit: c})
		}
	}
	return toks
}

// globMatch reports whether s matches the tokens, by dynamic programming
// over (token, byte) positions.
func globMatch(toks []globTok, s string) bool {
	// ok[j] says whether toks[i:] matches s[j:], for the current i.
	ok := make([]bool, len(s)+1)
	ok[len(s)] = true
	for i := len(toks) - 1; i >= 0; i-- {
		next := make([]bool, len(s)+1)
		for j := len(s); j >= 0; j-- {
			switch t := toks[i]; t.kind {
			case '*':
				next[j] = ok[j] || (j < len(s) && next[j+1])
			case '?':
				next[j] = j < len(s) && ok[j+1]
			case 'c':
				next[j] = j < len(s) && s[j] == t.lit && ok[j+1]
			case '[':
				next[j] = j < len(s) && t.set[s[j]] && ok[j+1]
			}
		}
		ok = next
	}
	return ok[0]
}

// globAlphabet holds the bytes of keys and patterns in Property 35,
// glob metacharacters included so that escapes matter.
const globAlphabet = "ab/:*?[\\]\xff"

// randomGlob builds a random valid pattern from rng and returns it with
// its tokens, built directly rather than parsed.
func randomGlob(rng *rand.Rand) (string, []globTok) {
	var sb strings.Builder
	var toks []globTok
	for range rng.IntN(6) {
		switch rng.IntN(6) {
		case 0:
			sb.WriteByte('*')
			toks = append(toks, globTok{kind: '*'})
		case 1:
			sb.WriteByte('?')
			toks = append(toks, globTok{kind: '?'})
		case 2:
			tok := randomClass(rng, &sb)
			toks = append(toks, tok)
		default:
			c := globAlphabet[rng.IntN(len(globAlphabet))]
			if strings.IndexByte("*?[\\", c) >= 0 || rng.IntN(8) == 0 {
				sb.WriteByte('\\')
			}
			sb.WriteByte(c)
			toks = append(toks, globTok{kind: 'c', lit: c})
		}
	}
	return sb.String(), toks
}

// randomClass writes a random [...] class and returns its token.
func randomClass(rng *rand.Rand, sb *strings.Builder) globTok {
	const rangeEnds = "ab/:*?[\xff" // no \, ] or ^ at a range end
	tok := globTok{kind: '['}
	neg := rng.IntN(3) == 0
	sb.WriteByte('[')
	if neg {
		sb.WriteByte('^')
	}
	for range 1 + rng.IntN(3) {
		if rng.IntN(3) == 0 {
			lo, hi := rangeEnds[rng.IntN(len(rangeEnds))], rangeEnds[rng.IntN(len(rangeEnds))]
			sb.WriteByte(lo)
			sb.WriteByte('-')
			sb.WriteByte(hi)
			for b := int(min(lo, hi)); b <= int(max(lo, hi)); b++ {
				tok.set[b] = true
			}
			continue
		}
		c := globAlphabet[rng.IntN(len(globAlphabet))]
		if c == '\\' || c == ']' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(c)
		tok.set[c] = true
	}
	sb.WriteByte(']')
	if neg {
		for b := range tok.set {
			tok.set[b] = !tok.set[b]
		}
	}
	return tok
}

// Feature: minikv-embedded-database, Property 35: Keys pattern matching
func TestProp35_KeysPattern(t *testing.T) {
	db, _, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "Keys(pattern) returns, sorted, exactly the keys a reference glob matcher accepts", prop.ForAll(
		func(seed uint64) string {
			rng := rand.New(rand.NewPCG(seed, 35))
			p := ns.next()
			keys := map[string]bool{}
			for range rng.IntN(40) {
				b := make([]byte, 1+rng.IntN(5))
				for i := range b {
					b[i] = globAlphabet[rng.IntN(len(globAlphabet))]
				}
				keys[string(b)] = true
				if err := db.Set(p+string(b), nil); err != nil {
					return err.Error()
				}
			}
			for range 8 {
				pat, toks := randomGlob(rng)
				if parsed := parseGlob(pat); !reflect.DeepEqual(parsed, toks) {
					return fmt.Sprintf("reference parser disagrees with the generator on %q", pat)
				}
				// Escape the namespace so that the pattern applies to the key.
				got, err := db.Keys(globEscape(p) + pat)
				if err != nil {
					return fmt.Sprintf("Keys(%q): %v", pat, err)
				}
				want := []string{}
				for _, k := range slices.Sorted(maps.Keys(keys)) {
					if globMatch(toks, k) {
						want = append(want, p+k)
					}
				}
				if !slices.Equal(got, want) {
					return fmt.Sprintf("Keys(%q):\n got  %q\nwant %q", pat, got, want)
				}
			}
			return ""
		},
		gen.UInt64()))
}

// globEscape escapes every glob metacharacter of s.
func globEscape(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("*?[]\\", s[i]) >= 0 {
			sb.WriteByte('\\')
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// TestKeys_GlobReference checks the reference matcher itself on cases whose
// answer is known, so that Property 35 does not compare two wrong answers.
func TestKeys_GlobReference(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "a/b", true},
		{"a*", "a", true},
		{"a*", "ba", false},
		{"?", "", false},
		{"?", "\xff", true},
		{"a?c", "abc", true},
		{"[abc]", "b", true},
		{"[abc]", "d", false},
		{"[a-c]x", "bx", true},
		{"[c-a]x", "bx", true},
		{"[^a]", "a", false},
		{"[^a]", "b", true},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"[\\]]", "]", true},
		{"*/*", "user/1", true},
		{"u*r", "user", true},
		{"u*r", "users", false},
	}
	for _, tt := range tests {
		if got := globMatch(parseGlob(tt.pattern), tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// countOp is one step of Property 36.
type countOp struct {
	Key     string
	TTLms   int // 0: no TTL
	Delete  bool
	Advance int // milliseconds to move the clock after the step
}

// Feature: minikv-embedded-database, Property 36: Count returns non-expired key count
func TestProp36_Count(t *testing.T) {
	db, clock, _ := openModelDB(t)
	model := kvModel{}
	checkProp(t, "Count and Stats().KeyCount equal the number of live keys", prop.ForAll(
		func(ops []countOp) string {
			for _, op := range ops {
				var err error
				switch {
				case op.Delete:
					err = db.Delete(op.Key)
					delete(model, op.Key)
				case op.TTLms == 0:
					err = db.Set(op.Key, []byte("v"))
					model[op.Key] = modelEntry{value: "v"}
				default:
					ttl := time.Duration(op.TTLms) * time.Millisecond
					err = db.SetWithTTL(op.Key, []byte("v"), ttl)
					model[op.Key] = modelEntry{"v", clock.Now() + int64(ttl)}
				}
				if err != nil {
					return err.Error()
				}
				clock.Advance(time.Duration(op.Advance) * time.Millisecond)
				want := len(model.liveKeys(clock.Now(), nil))
				if n, err := db.Count(); err != nil || n != want {
					return fmt.Sprintf("Count = %d, %v; want %d", n, err, want)
				}
				if n := db.Stats().KeyCount; n != int64(want) {
					return fmt.Sprintf("Stats().KeyCount = %d; want %d", n, want)
				}
			}
			return ""
		},
		gen.SliceOf(genFunc(func(r *mrand.Rand, _ int) countOp {
			op := countOp{Key: randKey(r), Delete: r.Intn(4) == 0, Advance: r.Intn(31)}
			if r.Intn(2) == 0 {
				op.TTLms = 1 + r.Intn(100)
			}
			return op
		}))))
}

// Feature: minikv-embedded-database, Property 37: Iterator limit
func TestProp37_Limit(t *testing.T) {
	db, _, _ := openModelDB(t)
	var ns namespace
	checkProp(t, "a limit > 0 yields the first min(limit, n) keys; limit <= 0 yields all", prop.ForAll(
		func(kvs map[string]string, limit int, start string) string {
			p := ns.next()
			if err := putAll(db, p, kvs); err != nil {
				return err.Error()
			}
			all := func(string) bool { return true }
			it, err := db.Scan(p, limit)
			if msg := scanCompare(it, err, expect(p, kvs, all, limit)); msg != "" {
				return fmt.Sprintf("Scan(limit %d): %s", limit, msg)
			}
			it, err = db.ScanRange(p+start, "", limit)
			from := func(k string) bool { return k >= start }
			if msg := scanCompare(it, err, expect(p, kvs, from, limit)); msg != "" {
				return fmt.Sprintf("ScanRange(limit %d): %s", limit, msg)
			}
			return ""
		},
		genKVs(), gen.IntRange(-3, 25), genPrefix()))
}

func TestIterator_NextBeforeKey(t *testing.T) {
	db, _, _ := openModelDB(t)
	if err := db.Set("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	it, err := db.Scan("", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if k, v := it.Key(), it.Value(); k != "" || v != nil {
		t.Fatalf("before Next: Key, Value = %q, %q; want empty", k, v)
	}
	if !it.Next() || it.Key() != "a" || string(it.Value()) != "1" {
		t.Fatalf("first item = %q, %q", it.Key(), it.Value())
	}
	v := it.Value()
	v[0] = 'X' // Value is a copy
	if string(it.Value()) != "1" {
		t.Fatalf("Value changed through a returned slice: %q", it.Value())
	}
	if it.Next() {
		t.Fatalf("second Next = true, Key %q", it.Key())
	}
	if it.Next() || it.Error() != nil {
		t.Fatalf("Next after the end: Error %v", it.Error())
	}
}

func TestIterator_Bounds(t *testing.T) {
	db, _, _ := openModelDB(t)
	keys := []string{"\x00", "a", "ab", "b", "b\xff", "c", "\xff\xff"}
	for _, k := range keys {
		if err := db.Set(k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		start, end string
		limit      int
		want       []string
	}{
		{"everything", "", "", 0, keys},
		{"negative limit", "", "", -5, keys},
		{"empty end is unbounded", "b", "", 0, []string{"b", "b\xff", "c", "\xff\xff"}},
		{"end is exclusive", "a", "b", 0, []string{"a", "ab"}},
		{"start after end", "c", "a", 0, nil},
		{"start equals end", "b", "b", 0, nil},
		{"limit", "a", "", 2, []string{"a", "ab"}},
		{"limit larger than range", "c", "", 10, []string{"c", "\xff\xff"}},
		{"start between keys", "aa", "b\x00", 0, []string{"ab", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, err := db.ScanRange(tt.start, tt.end, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			got, err := drain(it)
			if err != nil {
				t.Fatal(err)
			}
			var gotKeys []string
			for _, kv := range got {
				gotKeys = append(gotKeys, kv.Key)
			}
			if !slices.Equal(gotKeys, tt.want) {
				t.Fatalf("got %q, want %q", gotKeys, tt.want)
			}
		})
	}
	it, err := db.Scan("b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := drain(it); len(got) != 2 || got[0].Key != "b" || got[1].Key != "b\xff" {
		t.Fatalf("Scan(b) = %q", got)
	}
}

func TestIterator_CloseTwice(t *testing.T) {
	db, _, _ := openModelDB(t)
	for _, k := range []string{"a", "b"} {
		if err := db.Set(k, nil); err != nil {
			t.Fatal(err)
		}
	}
	it, err := db.Scan("", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() {
		t.Fatal("Next = false")
	}
	if err := it.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if it.Next() {
		t.Fatal("Next after Close = true")
	}
	if err := it.Error(); err != nil {
		t.Fatalf("Error after Close = %v", err)
	}
}

func TestIterator_AfterDBClose(t *testing.T) {
	opts, _ := modelOptions(t)
	db, err := minikv.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if err := db.Set(k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	it, err := db.Scan("", 0)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := db.ScanRange("", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || it.Key() != "a" {
		t.Fatalf("first Next: %q", it.Key())
	}
	var items []string
	var seqErr error
	for item, err := range db.All("") {
		if err != nil {
			seqErr = err
			break
		}
		items = append(items, item.Key)
		if len(items) == 1 {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !errors.Is(seqErr, minikv.ErrClosed) {
		t.Fatalf("All after Close in the loop: items %q, err %v; want ErrClosed", items, seqErr)
	}
	for name, x := range map[string]minikv.Iterator{"started": it, "fresh": fresh} {
		if x.Next() {
			t.Fatalf("%s iterator: Next after DB Close = true (%q)", name, x.Key())
		}
		if !errors.Is(x.Error(), minikv.ErrClosed) {
			t.Fatalf("%s iterator: Error after DB Close = %v, want ErrClosed", name, x.Error())
		}
		if err := x.Close(); err != nil {
			t.Fatalf("%s iterator: Close = %v", name, err)
		}
	}
	if _, err := db.Scan("", 0); !errors.Is(err, minikv.ErrClosed) {
		t.Fatalf("Scan after Close: %v", err)
	}
	if _, err := db.ScanRange("a", "b", 0); !errors.Is(err, minikv.ErrClosed) {
		t.Fatalf("ScanRange after Close: %v", err)
	}
	if _, err := db.Keys("*"); !errors.Is(err, minikv.ErrClosed) {
		t.Fatalf("Keys after Close: %v", err)
	}
	if _, err := db.Count(); !errors.Is(err, minikv.ErrClosed) {
		t.Fatalf("Count after Close: %v", err)
	}
	for name, seq := range map[string]func(func(minikv.Item, error) bool){
		"All": db.All("a"), "Range": db.Range("a", "z"),
	} {
		n := 0
		var got error
		seq(func(item minikv.Item, err error) bool {
			n++
			got = err
			return true
		})
		if n != 1 || !errors.Is(got, minikv.ErrClosed) {
			t.Fatalf("%s on a closed DB yielded %d pairs, last error %v; want one ErrClosed", name, n, got)
		}
	}
}

func TestIterator_RangeSeqStopsEarly(t *testing.T) {
	db, _, _ := openModelDB(t)
	for i := range 10 {
		if err := db.Set(fmt.Sprintf("k%d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for item, err := range db.Range("k2", "k8") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, item.Key)
		if len(got) == 3 {
			break
		}
	}
	if !slices.Equal(got, []string{"k2", "k3", "k4"}) {
		t.Fatalf("Range with break = %q", got)
	}
	got = got[:0]
	for item, err := range db.Range("k7", "") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, item.Key)
	}
	if !slices.Equal(got, []string{"k7", "k8", "k9"}) {
		t.Fatalf("Range to the end = %q", got)
	}
}

func TestKeys_BadPattern(t *testing.T) {
	db, _, _ := openModelDB(t)
	if err := db.Set("a[b", nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"[", "a[b", "[^", "[abc", "user:[a-", "[\\]"} {
		keys, err := db.Keys(p)
		if !errors.Is(err, minikv.ErrBadPattern) {
			t.Errorf("Keys(%q) = %q, %v; want ErrBadPattern", p, keys, err)
		}
	}
	keys, err := db.Keys("a\\[b")
	if err != nil || !slices.Equal(keys, []string{"a[b"}) {
		t.Fatalf("Keys with an escaped [ = %q, %v", keys, err)
	}
	keys, err = db.Keys("nothing*")
	if err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("Keys with no match = %#v, %v; want an empty list", keys, err)
	}
}

// TestIterator_HoldsNoLock writes, compacts and closes nothing while an
// iterator is half read: an iterator that kept the index lock between Next
// calls would block these writes forever.
func TestIterator_HoldsNoLock(t *testing.T) {
	db, _, _ := openModelDB(t)
	for i := range 100 {
		if err := db.Set(fmt.Sprintf("k%03d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	it, err := db.Scan("k", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Next() {
		t.Fatal("Next = false")
	}
	done := make(chan error, 1)
	go func() {
		for i := range 100 {
			if err := db.Set(fmt.Sprintf("k%03d", i), []byte("changed")); err != nil {
				done <- err
				return
			}
		}
		b := db.NewBatch()
		b.Delete("k050")
		if err := b.Write(); err != nil {
			done <- err
			return
		}
		done <- db.Compact()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("writes blocked while an iterator was open")
	}
	n := 1
	for it.Next() {
		if string(it.Value()) != "v" {
			t.Fatalf("iterator saw a later write: %s = %q", it.Key(), it.Value())
		}
		n++
	}
	if n != 100 || it.Error() != nil {
		t.Fatalf("iterator yielded %d keys, %v; want 100", n, it.Error())
	}
}

// TestIterator_ScanBoundsManyLeaves checks prefix and range scans whose bounds
// fall inside, at the edge of and across many B+tree leaves, where Next
// skips the per-key bound check for leaves known to be in range.
func TestIterator_ScanBoundsManyLeaves(t *testing.T) {
	db, _, _ := openModelDB(t)
	var keys []string
	for i := range 6000 {
		keys = append(keys, fmt.Sprintf("k%04d", i), fmt.Sprintf("k%04d\xff", i))
	}
	keys = append(keys, "j", "k", "l", "k\xff")
	b := db.NewBatch()
	for _, k := range keys {
		b.Set(k, []byte(k))
	}
	if err := b.Write(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	scan := func(it minikv.Iterator, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		got, err := drain(it)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, kv := range got {
			ks = append(ks, kv.Key)
		}
		return ks
	}
	for _, prefix := range []string{"", "k", "k0", "k1", "k12", "k123", "k1234", "k5999", "k6", "k\xff", "j", "l", "m"} {
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		if got := scan(db.Scan(prefix, 0)); !slices.Equal(got, want) {
			t.Fatalf("Scan(%q): %d keys, want %d", prefix, len(got), len(want))
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 100 {
		start, end := keys[r.IntN(len(keys))], keys[r.IntN(len(keys))]
		if r.IntN(4) == 0 {
			end = ""
		}
		var want []string
		for _, k := range keys {
			if k >= start && (end == "" || k < end) {
				want = append(want, k)
			}
		}
		if got := scan(db.ScanRange(start, end, 0)); !slices.Equal(got, want) {
			t.Fatalf("ScanRange(%q, %q): %d keys, want %d", start, end, len(got), len(want))
		}
	}
}
