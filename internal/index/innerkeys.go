package index

import "encoding/binary"

// An inner node's separators are strings, each in its own allocation, so
// a binary search over them dereferences a pointer at every step: up to
// six cache misses per level of a descent. Each node therefore also keeps
// a head of every separator inline, in the node:
//
//	separators        k0000000001|23|45   k0000000001|57|01   k0000000001|90|33
//	                  \__ prefix __/
//	heads (8 bytes,   0x3234350000000000  0x3537303100000000  0x3930333300000000
//	big-endian, from
//	offset hoff)
//
// hoff is the length of the prefix that every separator of the node shares
// (sorted separators share what the first and the last share), and a head
// holds the 8 bytes after it, zero-padded. For a key with that prefix,
// heads order as the separators do except where they are equal, and only
// then is the separator itself read. A key without the prefix is below or
// above every separator, which one comparison tells. The first
// prefixInline bytes of the prefix are kept inline too, so that a descent
// usually reads no separator at all.
//
// refit recomputes all of it; every change to a node's separators or count
// ends with a call to it.

// prefixInline is how many bytes of the shared prefix a node holds inline.
const prefixInline = 16

// refit recomputes the node's shared prefix and heads from its separators.
func (n *inner) refit() {
	if n.n < 2 {
		n.hoff = 0
		return
	}
	p := commonPrefix(n.seps[1], n.seps[n.n-1])
	n.hoff = int32(p)
	n.hpfx = [prefixInline]byte{}
	copy(n.hpfx[:], n.seps[1][:min(p, prefixInline)])
	for i := 1; i < n.n; i++ {
		n.heads[i] = headOf(n.seps[i], p)
	}
}

// headOf returns the 8 bytes of s from offset p, big-endian, with 0 for
// bytes past the end of s. p is at most len(s).
func headOf(s string, p int) uint64 {
	if len(s) >= p+8 {
		return binary.BigEndian.Uint64([]byte(s[p : p+8]))
	}
	var b [8]byte
	copy(b[:], s[p:])
	return binary.BigEndian.Uint64(b[:])
}

// hasPrefix reports whether key starts with the separators' shared prefix.
func (n *inner) hasPrefix(key string) bool {
	p := int(n.hoff)
	if len(key) < p {
		return false
	}
	if p <= prefixInline {
		return string(n.hpfx[:p]) == key[:p]
	}
	return n.seps[1][:p] == key[:p]
}

// childIndex returns the child whose keys would include key: the number
// of separators, past the unused first, that are at most key.
func (n *inner) childIndex(key string) int {
	last := n.n - 1
	if last <= 0 {
		return 0
	}
	if !n.hasPrefix(key) {
		// Below every separator or above every one.
		if key < n.seps[1] {
			return 0
		}
		return last
	}
	kh := headOf(key, int(n.hoff))
	lo, hi := 0, last
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h := n.heads[m+1]; h > kh || h == kh && n.seps[m+1] > key {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}
