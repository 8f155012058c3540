// Package index is MiniKV's in-memory index: the records themselves, kept
// in an arena, a hash table over them for point reads and a copy-on-write
// B+tree over them for ordered scans.
//
//	          Table (open addressing)        Tree (B+tree, copy on write)
//	       +------+------+------+---+        inner: separators, children
//	slots  | fp|r | 0    | fp|r |...|        leaf:  items (ref | partial key)
//	       +---|--+------+---|--+---+            |        |
//	           |             |                   |        |
//	           v             v                   v        v
//	Arena  +--------------------------+---------------------------+
//	chunks | Entry | Entry | (dead) | ... | Entry | Entry |       |
//	       +--------------------------+---------------------------+
//
// A record is an Entry, encoded as a snapshot entry is (the layout is drawn
// in the root package's format.go and in docs/format.md), and is named by
// its ref: its chunk number in the high bits and its offset in the chunk in the
// low ChunkShift bits. A hash-table slot holds a ref with the high bits of
// the key's hash as a fingerprint; a leaf item holds a ref with a few bytes
// of its key, so that most comparisons in a leaf need no record.
//
// Index holds the three together and moves records in key order
// (PlanReorder, ApplyReorder). What the database keeps around them (the
// expiry map and heap, the LRU clock, the memory limit) is the root
// package's memIndex, and the locks are the DB's.
//
// Concurrency: a method that changes the index (Set, SetAt, Delete, Move,
// ApplyReorder, and the parts' methods that do) runs alone. Methods that
// only read (Lookup, Find, Table.Ref, Table.SlotOf, Table.Prefetch,
// Arena.Record, Table.Touch, Tree.Freeze, and PlanReorder, which besides
// reading makes the arena's spare chunk, which no reader sees) may run at
// the same time as each other. So a writer does the reading half of a set,
// Find, beside readers, and only SetAt alone. A Root from Tree.Freeze and
// the arena's Chunks stay valid while writes go on: no write changes a
// frozen node or a written byte.
package index

// Size limits of an entry: the decoder refuses longer lengths as damage.
const (
	// MaxKey is the largest key, in bytes.
	MaxKey = 32 << 10
	// MaxValue is the largest value, in bytes.
	MaxValue = 16 << 20
)
