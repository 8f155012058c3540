package minikv

import (
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/minikv/minikv/internal/index"
)

// Iterator walks keys in ascending byte order over the database as it was
// when the iterator was created: later writes are invisible. Keys that
// expire are skipped when they are reached. An Iterator holds no lock
// between calls and is not safe for concurrent use; Close releases the
// memory it pins.
//
//	it, err := db.Scan("user:", 0)
//	...
//	defer it.Close()
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//	if err := it.Error(); err != nil { ... }
type Iterator interface {
	// Next moves to the next key; it must be called before the first Key.
	// It returns false at the end, on error, and after Close.
	Next() bool
	// Key returns the current key.
	Key() string
	// Value returns a copy of the current value.
	Value() []byte
	// Error returns the error that stopped the iteration, if any.
	Error() error
	// Close releases the iterator. It always returns nil.
	Close() error
}

// Item is one key and value yielded by All and Range.
type Item struct {
	Key   string
	Value []byte
}

type iterator struct {
	db      *DB
	v       frozenIndex
	c       index.Cursor
	start   string
	end     string // exclusive; "" for none
	prefix  string
	limit   int
	n       int
	started bool
	done    bool
	err     error
	rec     index.Entry
	// rangeLeaf is the leaf whose keys leafInRange describes: true when
	// all of them are known to be in range.
	rangeLeaf   *index.Leaf
	leafInRange bool
	// vfree is the unused end of the block that values are copied into,
	// then handed out (see Value).
	vfree []byte
}

// valueBlock is the size of the blocks Value copies values into, so that a
// scan allocates once per block rather than once per value.
const valueBlock = 16 << 10

// Scan returns an iterator over the keys that start with prefix, at most
// limit of them (limit <= 0: no limit). It returns ErrClosed after Close.
// Creating it costs O(1); the first Next seeks in O(log n).
func (db *DB) Scan(prefix string, limit int) (Iterator, error) {
	return db.newIterator(prefix, "", prefix, limit)
}

// ScanRange returns an iterator over the keys k with start <= k < end (an
// empty end means no upper bound), at most limit of them (limit <= 0: no
// limit). It returns ErrClosed after Close.
func (db *DB) ScanRange(start, end string, limit int) (Iterator, error) {
	return db.newIterator(start, end, "", limit)
}

func (db *DB) newIterator(start, end, prefix string, limit int) (*iterator, error) {
	db.mu.RLock()
	if db.idx == nil {
		db.mu.RUnlock()
		return nil, ErrClosed
	}
	v := db.idx.freeze()
	db.mu.RUnlock()
	db.stats.scan(uint64(len(start)))
	return &iterator{db: db, v: v, c: index.NewCursor(v.chunks), start: start, end: end, prefix: prefix, limit: limit}, nil
}

func (it *iterator) Next() bool {
	if it.done {
		return false
	}
	if it.db.closed.Load() {
		it.err = ErrClosed
		it.finish()
		return false
	}
	if it.limit > 0 && it.n >= it.limit {
		it.finish()
		return false
	}
	if it.limit > 0 {
		it.c.SetAhead(it.limit - it.n)
	}
	ok := false
	if !it.started {
		it.started = true
		ok = it.c.Seek(it.v.tree, it.start)
	} else {
		ok = it.c.Step() || it.c.Next()
	}
	var now int64
	for ; ok; ok = it.c.Step() || it.c.Next() {
		e := &it.rec // decoded in place (see index.Entry.Decode); finish clears it
		if !e.Decode(index.ChunkRecord(it.v.chunks, it.c.Ref())) {
			*e = index.Entry{} // never for records the index wrote; out of range
		}
		if it.c.Leaf() != it.rangeLeaf {
			it.rangeLeaf = it.c.Leaf()
			it.leafInRange = it.leafBelowEnd()
		}
		if !it.leafInRange && !it.inRange(e.Key) {
			break
		}
		if e.Exp != 0 {
			if now == 0 {
				now = it.db.now()
			}
			if e.Exp <= now {
				continue
			}
		}
		it.n++
		return true
	}
	it.finish()
	return false
}

// leafBelowEnd reports whether every key of the cursor's leaf from the
// cursor on is in range, so that Next need not check them one by one: the
// leaf's keys are below its upper separator, and when that separator has
// the prefix (or is at most end) so have they, since they are at least
// start.
func (it *iterator) leafBelowEnd() bool {
	sep, ok := it.c.UpperBound()
	if !ok {
		return false
	}
	if it.prefix != "" {
		return strings.HasPrefix(sep, it.prefix)
	}
	return it.end == "" || sep <= it.end
}

func (it *iterator) inRange(key []byte) bool {
	if it.prefix != "" {
		return strings.HasPrefix(string(key), it.prefix)
	}
	return it.end == "" || string(key) < it.end
}

func (it *iterator) finish() {
	it.done = true
	it.v = frozenIndex{}
	it.c = index.Cursor{}
	it.rec = index.Entry{}
	it.rangeLeaf = nil
	it.vfree = nil
}

// Key returns the key without copying it: records never change once
// written, so the string aliases the index's memory. Holding the string
// keeps that memory (one arena chunk) alive.
func (it *iterator) Key() string {
	if len(it.rec.Key) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(it.rec.Key), len(it.rec.Key))
}

func (it *iterator) Value() []byte {
	if it.rec.Key == nil {
		return nil
	}
	v := it.rec.Value
	if len(v) == 0 || len(v) > valueBlock/4 {
		return append([]byte{}, v...)
	}
	if len(it.vfree) < len(v) {
		it.vfree = newValueBlock(it.blockSize(len(v)))
	}
	n := copy(it.vfree, v)
	out := it.vfree[:n:n]
	it.vfree = it.vfree[n:]
	return out
}

// newValueBlock returns size bytes of new memory, not cleared. make would
// clear the block before the copies overwrite it, which cost about a
// tenth of a scan of 100 keys; a strings.Builder's Grow allocates without
// clearing. The block is taken from the Builder once and the Builder
// dropped: the bytes are handed out as capped slices, never as a string,
// so they are ordinary memory that Value's callers own.
func newValueBlock(size int) []byte {
	var b strings.Builder
	b.Grow(size)
	b.WriteByte(0) // so that String points at the block
	return unsafe.Slice(unsafe.StringData(b.String()), b.Cap())
}

// blockSize returns the size of the next value block: valueBlock, or less
// when the limit leaves room for fewer values of about n bytes (a scan of
// ten keys should not allocate and clear 16 KiB).
func (it *iterator) blockSize(n int) int {
	if it.limit <= 0 {
		return valueBlock
	}
	left := it.limit - it.n + 1 // the current value and those to come
	return min(valueBlock, max(n*left, 64))
}

func (it *iterator) Error() error { return it.err }

func (it *iterator) Close() error {
	it.finish()
	return nil
}

// All returns the keys with the given prefix and their values in ascending
// order, as a range-over-func sequence over a Scan. An error (ErrClosed)
// is yielded as the last pair, with a zero Item, so a loop that checks the
// error cannot miss it:
//
//	for item, err := range db.All("user:") {
//		if err != nil { return err }
//		...
//	}
func (db *DB) All(prefix string) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		it, err := db.Scan(prefix, 0)
		iterate(it, err, yield)
	}
}

// Range is All over the keys k with start <= k < end (an empty end means
// no upper bound).
func (db *DB) Range(start, end string) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		it, err := db.ScanRange(start, end, 0)
		iterate(it, err, yield)
	}
}

func iterate(it Iterator, err error, yield func(Item, error) bool) {
	if err != nil {
		yield(Item{}, err)
		return
	}
	defer it.Close()
	for it.Next() {
		if !yield(Item{it.Key(), it.Value()}, nil) {
			return
		}
	}
	if err := it.Error(); err != nil {
		yield(Item{}, err)
	}
}

// Keys returns the live keys that match a Redis glob pattern, sorted: *
// matches any bytes ('/' included), ? one byte, [abc], [a-z] and [^a] a
// byte of (or not of) a set, and \ escapes the next byte. A pattern's
// literal prefix bounds the scan. Keys returns ErrBadPattern for a
// malformed pattern and ErrClosed after Close.
func (db *DB) Keys(pattern string) ([]string, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	prefix, err := globPrefix(pattern)
	if err != nil {
		return nil, err
	}
	it, err := db.Scan(prefix, 0)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	keys := []string{}
	for it.Next() {
		if k := it.(*iterator).rec.Key; globMatch(pattern, string(k)) {
			keys = append(keys, string(k))
		}
	}
	return keys, it.Error()
}

// Count returns the number of live keys. It returns ErrClosed after Close.
// It costs O(1) when no key carries an expiry, and O(keys with an expiry)
// otherwise.
func (db *DB) Count() (int, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.idx == nil {
		return 0, ErrClosed
	}
	return db.idx.liveCount(db.now()), nil
}

// DumpKeys writes one line per live key to w, in key order: the key (quoted
// with Go syntax when it is not printable UTF-8 or holds a space, tab or
// quote), the value length, and the expiry in RFC 3339 or "-". It returns
// ErrClosed after Close or the first error of w.
func (db *DB) DumpKeys(w io.Writer) error {
	it, err := db.ScanRange("", "", 0)
	if err != nil {
		return err
	}
	defer it.Close()
	in := it.(*iterator)
	for in.Next() {
		exp := "-"
		if in.rec.Exp != 0 {
			exp = time.Unix(0, in.rec.Exp).UTC().Format(time.RFC3339Nano)
		}
		if _, err := fmt.Fprintf(w, "%s %d %s\n", dumpKey(in.Key()), len(in.rec.Value), exp); err != nil {
			return err
		}
	}
	return in.Error()
}

func dumpKey(k string) string {
	if !utf8.ValidString(k) || strings.ContainsAny(k, " \t\"") || !strconv.IsPrint(firstNonPrint(k)) {
		return strconv.Quote(k)
	}
	return k
}

// firstNonPrint returns the first rune of k that is not printable, or 'a'.
func firstNonPrint(k string) rune {
	for _, r := range k {
		if !strconv.IsPrint(r) {
			return r
		}
	}
	return 'a'
}
