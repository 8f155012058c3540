package vfstest

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"slices"
)

// ArmCrash makes the operation numbered k (counting from 0 every operation
// this MemFS ever saw, reads, closes and stores into mappings included)
// take the crash image, keeping the share keep of the unsynced changes
// with the randomness of rng, and fail with ErrCrashed, as every later
// operation does. An operation numbered below Ops() when ArmCrash is
// called is never reached: the next operation crashes.
func (m *MemFS) ArmCrash(k int, keep float64, rng *rand.Rand) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashAt, m.keep, m.rng = k, keep, rng
}

// CrashImage returns the image taken by the armed crash, or nil when the
// crash point was not reached.
func (m *MemFS) CrashImage() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.image
}

// Crash returns the file system a reboot would find after a power cut now,
// keeping a random share keep (0 to 1) of the changes made since the last
// Sync of each file and SyncDir of each directory, drawn with rng, which
// may be nil (see the package documentation). The image is a new MemFS
// that shares nothing with m; m is left as it is and may go on being used.
func (m *MemFS) Crash(keep float64, rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashLocked(keep, rng)
}

// Clone returns a deep copy of the current state, all of it durable: what
// a process kill leaves, the page cache surviving. It is Crash(1, nil).
func (m *MemFS) Clone() *MemFS { return m.Crash(1, nil) }

// crashLocked is Crash; the caller holds mu.
func (m *MemFS) crashLocked(keep float64, rng *rand.Rand) *MemFS {
	c := newMemFS()
	nodes := map[*memInode]*memInode{}
	for _, path := range slices.Sorted(maps.Keys(m.dirs)) {
		d := m.dirs[path]
		entries := cloneEntries(d.durable)
		for _, op := range d.pending {
			if !kept(keep, rng) {
				continue
			}
			switch op.kind {
			case dirCreate:
				entries[op.name] = op.node
			case dirRemove:
				delete(entries, op.name)
			case dirRename:
				if node, ok := entries[op.name]; ok && node == op.node {
					delete(entries, op.name) // first: a file renamed onto itself stays
					entries[op.newname] = node
				}
			}
		}
		nd := &memDir{entries: map[string]*memInode{}}
		for _, name := range slices.Sorted(maps.Keys(entries)) {
			node := entries[name]
			if nodes[node] == nil {
				nodes[node] = node.crashed(keep, rng)
			}
			nd.entries[name] = nodes[node]
		}
		nd.durable = cloneEntries(nd.entries)
		c.dirs[path] = nd
	}
	return c
}

// crashed returns the content of node after a power cut, as a new inode.
// Half the time it keeps a prefix of the unsynced writes and truncations,
// the last one possibly torn at a random byte (crashedPrefix); half the
// time any subset of the blocks they changed (crashedBlocks). Either may
// leave zeros or garbage appended to the tail, as a file system that
// updated the size before the data does.
func (n *memInode) crashed(keep float64, rng *rand.Rand) *memInode {
	var data []byte
	if keep >= 1 && rng == nil {
		// Everything, as a process kill leaves it: the page cache holds
		// even the writes a failed sync lost.
		return &memInode{data: bytes.Clone(n.data), durable: bytes.Clone(n.data)}
	}
	if rng != nil && len(n.pending) > 0 && rng.IntN(2) == 0 {
		data = n.crashedBlocks(keep, rng)
	} else {
		data = n.crashedPrefix(keep, rng)
	}
	if len(n.pending) > 0 && rng != nil {
		switch rng.IntN(3) {
		case 0:
			data = append(data, make([]byte, 1+rng.IntN(64))...)
		case 1:
			junk := make([]byte, 1+rng.IntN(64))
			for i := range junk {
				junk[i] = byte(rng.UintN(256))
			}
			data = append(data, junk...)
		}
	}
	return &memInode{data: data, durable: bytes.Clone(data)}
}

// crashedPrefix keeps a prefix of the unsynced writes and truncations, in
// order, the last one possibly torn. This is what ext4 with data=ordered
// and XFS leave of appends to a file that is not preallocated: a size
// update reaches the disk after the data it covers.
func (n *memInode) crashedPrefix(keep float64, rng *rand.Rand) []byte {
	data := n.stable()
	k := keptCount(len(n.pending), keep, rng)
	for i, op := range n.pending[:k] {
		torn := i == k-1 && rng != nil && rng.IntN(4) == 0
		if op.truncate {
			data = resize(data, op.size)
			continue
		}
		b := op.data
		if torn && len(b) > 0 {
			b = b[:rng.IntN(len(b))]
		}
		data = writeAt(data, op.off, b)
	}
	return data
}

// crashBlocks are the block sizes crashedBlocks draws from: the sector of
// older disks and the block of some file systems (512, 1024), and the page
// (4096).
var crashBlocks = []int{512, 1024, 4096}

// crashedBlocks keeps any subset of the blocks that unsynced writes
// changed, each with probability keep, in no order: the rest hold what the
// disk held before (the last synced bytes, or zeros past them). The size
// is that after a prefix of the unsynced size changes. This is what
// writeback leaves of a file whose size is already durable, a preallocated
// or mapped one above all: the kernel writes dirty pages back in any order
// (ext4's background writeback picks them by inode and offset ranges, not
// by age), a page may be written as several block I/Os, and a device may
// complete them in any order, so a later block can reach the disk while an
// earlier one never does; and nothing orders them against a size update,
// since there is none. Blocks are drawn at 512 bytes, 1 KiB or a page.
func (n *memInode) crashedBlocks(keep float64, rng *rand.Rand) []byte {
	size := int64(len(n.durable))
	for _, op := range n.pending[:keptCount(len(n.pending), keep, rng)] {
		if op.truncate {
			size = op.size
		} else if end := op.off + int64(len(op.data)); end > size {
			size = end
		}
	}
	old := resize(n.stable(), size)
	cur := resize(bytes.Clone(n.data), size)
	bs := int64(crashBlocks[rng.IntN(len(crashBlocks))])
	for off := int64(0); off < size; off += bs {
		end := min(off+bs, size)
		if !bytes.Equal(old[off:end], cur[off:end]) && kept(keep, rng) {
			copy(old[off:end], cur[off:end])
		}
	}
	n.keepLost(old)
	return old
}

// kept draws whether one unsynced change survives a crash.
func kept(keep float64, rng *rand.Rand) bool {
	if keep >= 1 {
		return true
	}
	return keep > 0 && rng != nil && rng.Float64() < keep
}

// keptCount draws how many of n unsynced changes survive a crash: a
// binomial share keep of them.
func keptCount(n int, keep float64, rng *rand.Rand) int {
	if keep >= 1 {
		return n
	}
	if keep <= 0 || rng == nil {
		return 0
	}
	k := 0
	for range n {
		if rng.Float64() < keep {
			k++
		}
	}
	return k
}
