package minikv

import "fmt"

// globPrefix checks a Redis glob pattern and returns its literal prefix:
// the bytes before the first wildcard, with escapes resolved.
func globPrefix(pattern string) (string, error) {
	if err := globCheck(pattern); err != nil {
		return "", err
	}
	var prefix []byte
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*', '?', '[':
			return string(prefix), nil
		case '\\':
			i++
			prefix = append(prefix, pattern[i])
		default:
			prefix = append(prefix, c)
		}
	}
	return string(prefix), nil
}

// globCheck returns ErrBadPattern for an unterminated class or a trailing
// backslash.
func globCheck(p string) error {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 >= len(p) {
				return fmt.Errorf("%w: trailing backslash in %q", ErrBadPattern, p)
			}
			i++
		case '[':
			end, ok := classEnd(p, i+1)
			if !ok {
				return fmt.Errorf("%w: unterminated [ in %q", ErrBadPattern, p)
			}
			i = end
		}
	}
	return nil
}

// classEnd returns the index of the ] closing the class whose body starts
// at i.
func classEnd(p string, i int) (int, bool) {
	if i < len(p) && p[i] == '^' {
		i++
	}
	first := true
	for ; i < len(p); i++ {
		switch {
		case p[i] == '\\':
			i++
		case p[i] == ']' && !first:
			return i, true
		}
		first = false
	}
	return 0, false
}

// globMatch reports whether s matches the checked pattern p. It runs in
// O(len(p)*len(s)) by remembering only the last star.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			if p[pi] == '*' {
				starP, starS = pi, si
				pi++
				continue
			}
			if n, ok := matchOne(p, pi, s[si]); ok {
				pi, si = n, si+1
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchOne matches the single-byte pattern element at p[i] against c and
// returns the index after the element.
func matchOne(p string, i int, c byte) (int, bool) {
	switch p[i] {
	case '?':
		return i + 1, true
	case '\\':
		return i + 2, p[i+1] == c
	case '[':
		end, _ := classEnd(p, i+1)
		return end + 1, classMatch(p[i+1:end], c)
	}
	return i + 1, p[i] == c
}

// classMatch matches c against the body of a [...] class.
func classMatch(body string, c byte) bool {
	neg := len(body) > 0 && body[0] == '^'
	if neg {
		body = body[1:]
	}
	found := false
	for i := 0; i < len(body); i++ {
		lo := body[i]
		if lo == '\\' && i+1 < len(body) {
			i++
			lo = body[i]
		}
		hi := lo
		if i+2 < len(body) && body[i+1] == '-' {
			hi = body[i+2]
			if hi == '\\' && i+3 < len(body) {
				hi = body[i+3]
				i++
			}
			i += 2
			if lo > hi {
				lo, hi = hi, lo
			}
		}
		if lo <= c && c <= hi {
			found = true
		}
	}
	return found != neg
}
