package minikv

// expiryItem is an entry of the expiry heap: a record and its expiry.
type expiryItem struct {
	exp int64
	ref uint64
}

// expiryHeap is a binary min-heap of records by expiry. It holds no
// pointers, so the collector does not scan it.
type expiryHeap []expiryItem

func (h *expiryHeap) push(it expiryItem) {
	if len(*h) == cap(*h) {
		*h = append(make(expiryHeap, 0, heapCap(len(*h)+1)), *h...)
	}
	*h = append(*h, it)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if q[p].exp <= q[i].exp {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
}

// heapCap returns the capacity the heap grows to when it must hold n
// entries: a quarter more, so that the memory limit (memIndex.usage) can
// tell what a push will cost.
func heapCap(n int) int { return n + n/4 + 16 }

// pop removes and returns the entry with the soonest expiry; the heap must
// not be empty.
func (h *expiryHeap) pop() expiryItem {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	q.down(0)
	*h = q
	return top
}

// down moves the entry at i down to its place.
func (h expiryHeap) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1].exp < h[c].exp {
			c++
		}
		if h[i].exp <= h[c].exp {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// rebuild returns a new heap of the entries of h that live records still
// own (their ref maps to their expiry in live), in O(len(h)).
func (h expiryHeap) rebuild(live map[uint64]int64) expiryHeap {
	out := make(expiryHeap, 0, len(live)+len(live)/4)
	for _, it := range h {
		if exp, ok := live[it.ref]; ok && exp == it.exp {
			out = append(out, it)
		}
	}
	for i := len(out)/2 - 1; i >= 0; i-- {
		out.down(i)
	}
	return out
}
