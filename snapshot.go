package minikv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/minikv/minikv/internal/index"
	"github.com/minikv/minikv/internal/vfs"
)

// writeSnapshot writes the live (not expired at now) entries of v, in key
// order, to the snapshot file for seq, fsyncs it and makes it durable in
// dir under its final name. It returns the number of entries written.
func writeSnapshot(fsys vfs.FS, dir string, seq uint64, v frozenIndex, now int64) (int, error) {
	final := filepath.Join(dir, snapshotName(seq))
	tmp := final + tmpExt
	f, err := createNew(fsys, tmp)
	if err != nil {
		return 0, wrapOp("create snapshot", err)
	}
	count, err := writeSnapshotTo(&pacedWriter{f: f}, seq, v, now)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = fsys.Rename(tmp, final)
	}
	if err == nil {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		_ = fsys.Remove(tmp)
		return 0, wrapOp(fmt.Sprintf("write snapshot %s", snapshotName(seq)), err)
	}
	return count, nil
}

// writeSnapshotTo streams the snapshot format to w.
func writeSnapshotTo(w io.Writer, seq uint64, v frozenIndex, now int64) (int, error) {
	crc := crc32.New(crcTable)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	var hdr [snapHeaderSize]byte
	copy(hdr[:], snapMagic)
	binary.LittleEndian.PutUint32(hdr[8:], snapVersion)
	binary.LittleEndian.PutUint64(hdr[12:], uint64(now))
	binary.LittleEndian.PutUint64(hdr[20:], seq)
	bw.Write(hdr[:])
	count := 0
	c := index.NewCursor(v.chunks)
	for ok := c.Seek(v.tree, ""); ok; ok = c.Next() {
		rec := index.ChunkRecord(v.chunks, c.Ref())
		e, _ := index.DecodeEntry(rec)
		if e.Exp != 0 && e.Exp <= now {
			continue
		}
		bw.Write(rec[:e.Size])
		count++
	}
	var cnt [8]byte
	binary.LittleEndian.PutUint64(cnt[:], uint64(count))
	bw.Write(cnt[:])
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	_, err := w.Write(sum[:])
	return count, err
}

// pacedWriter fsyncs the file it writes every pacedSync bytes. A snapshot
// of a large store otherwise fills the page cache with dirty pages faster
// than the disk takes them, and the kernel then throttles every writer of
// the process, the WAL's included, for tens of milliseconds.
type pacedWriter struct {
	f       vfs.File
	pending int
}

const pacedSync = 8 << 20

func (w *pacedWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if w.pending += n; err == nil && w.pending >= pacedSync {
		w.pending = 0
		err = w.f.Sync()
	}
	return n, err
}

// snapshotInfo describes a loaded snapshot.
type snapshotInfo struct {
	walSeq  uint64
	created int64
	entries int
}

// loadSnapshot reads a snapshot file into a new index, dropping entries
// expired at now, in arena chunks of chunk bytes (0: the growing sizes of
// a store without a memory limit). Any inconsistency is an ErrCorrupt
// naming the file.
func loadSnapshot(fsys vfs.FS, path string, now int64, chunk int) (*memIndex, snapshotInfo, error) {
	name := filepath.Base(path)
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, snapshotInfo{}, wrapOp(fmt.Sprintf("open snapshot %s", name), err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, snapshotInfo{}, wrapOp(fmt.Sprintf("stat snapshot %s", name), err)
	}
	m, info, err := decodeSnapshot(f, size, allocated(f, size), now, chunk)
	if err != nil {
		var ce *corruptError
		if errors.As(err, &ce) {
			ce.file = name
			return nil, info, ce
		}
		return nil, info, wrapOp(fmt.Sprintf("read snapshot %s", name), err)
	}
	return m, info, nil
}

func snapCorrupt(off int64, reason string) error {
	return &corruptError{offset: off, reason: reason}
}

// maxPresize bounds the entries a snapshot's index is presized for (about
// 64 MiB of table and refs): a file of zeros that claims more still costs
// no more before its entries prove it, and a real snapshot of more keys
// grows the index as it loads them.
const maxPresize = 1 << 22

// allocated returns the bytes of disk f holds (see osFile.Allocated), or
// size where the file cannot tell.
func allocated(f vfs.File, size int64) int64 {
	if a, ok := f.(interface{ Allocated() (int64, error) }); ok {
		if n, err := a.Allocated(); err == nil {
			return n
		}
	}
	return size
}

// decodeSnapshot decodes a snapshot of size bytes read from r, of which
// alloc are on disk. The index is presized by the entries those bytes can
// hold, not by the count the footer claims: a sparse file may claim
// billions in a few kilobytes, and the index grows as entries arrive.
func decodeSnapshot(r io.ReaderAt, size, alloc int64, now int64, chunk int) (*memIndex, snapshotInfo, error) {
	var info snapshotInfo
	if size < snapHeaderSize+snapFooterSize {
		return nil, info, snapCorrupt(-1, "file too short")
	}
	var foot [snapFooterSize]byte
	if _, err := r.ReadAt(foot[:], size-snapFooterSize); err != nil {
		return nil, info, err
	}
	count := binary.LittleEndian.Uint64(foot[:])
	body := size - snapHeaderSize - snapFooterSize
	if count > uint64(body)/minEntrySize {
		return nil, info, snapCorrupt(size-snapFooterSize, "entry count larger than the file can hold")
	}
	crc := crc32.New(crcTable)
	sr := io.NewSectionReader(r, 0, size-4)
	br := bufio.NewReaderSize(io.TeeReader(sr, crc), 1<<20)
	var hdr [snapHeaderSize]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, info, err
	}
	if string(hdr[:8]) != snapMagic {
		return nil, info, snapCorrupt(0, "bad magic")
	}
	if v := binary.LittleEndian.Uint32(hdr[8:]); v != snapVersion {
		return nil, info, snapCorrupt(8, fmt.Sprintf("unknown format version %d", v))
	}
	info.created = int64(binary.LittleEndian.Uint64(hdr[12:]))
	info.walSeq = binary.LittleEndian.Uint64(hdr[20:])
	presize := int(min(count, uint64(max(alloc, 0))/minEntrySize, maxPresize))
	m := newMemIndex(presize)
	if chunk > 0 {
		m.Arena.SetChunkSize(chunk)
	}
	if err := loadEntries(br, m, int(count), presize, body, now); err != nil {
		return nil, info, err
	}
	var tail [8]byte
	if _, err := io.ReadFull(br, tail[:]); err != nil {
		return nil, info, err
	}
	if binary.LittleEndian.Uint32(foot[8:]) != crc.Sum32() {
		return nil, info, snapCorrupt(size-4, "checksum mismatch")
	}
	info.entries = m.len()
	return m, info, nil
}

// loadEntries reads count entries from br into the empty index m,
// presized for presize of them. left is the number of entry bytes the
// file holds.
func loadEntries(br *bufio.Reader, m *memIndex, count, presize int, left int64, now int64) error {
	refs := make([]uint64, 0, presize)
	var prev []byte
	off := int64(snapHeaderSize)
	for range count {
		n, err := loadEntry(br, m, &refs, &prev, left, now)
		if err != nil {
			var ce *corruptError
			if errors.As(err, &ce) && ce.offset == 0 {
				ce.offset = off
			}
			return err
		}
		left -= int64(n)
		off += int64(n)
	}
	if left != 0 {
		return snapCorrupt(off, "bytes after the last entry")
	}
	m.Tree.BulkLoad(m.Arena.Chunks(), refs)
	return nil
}

// loadEntry reads one entry into the arena and the hash table and appends
// its ref to refs; it returns the entry's encoded size.
func loadEntry(br *bufio.Reader, m *memIndex, refs *[]uint64, prev *[]byte, left, now int64) (int, error) {
	h, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, snapCorrupt(0, "bad entry header")
	}
	vlen, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, snapCorrupt(0, "bad entry header")
	}
	klen := h >> 1
	var exp int64
	if h&1 != 0 {
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, snapCorrupt(0, "truncated entry")
		}
		exp = int64(binary.LittleEndian.Uint64(b[:]))
		if exp == 0 {
			return 0, snapCorrupt(0, "bad expiry")
		}
	}
	if klen == 0 || klen > MaxKeySize || vlen > MaxValueSize || klen+vlen > uint64(left) {
		return 0, snapCorrupt(0, "bad entry lengths")
	}
	size := index.EntrySize(int(klen), int(vlen), exp)
	ref, buf := m.Arena.Alloc(size)
	hl := size - int(klen+vlen)
	n := binary.PutUvarint(buf, h)
	n += binary.PutUvarint(buf[n:], vlen)
	if exp != 0 {
		binary.LittleEndian.PutUint64(buf[n:], uint64(exp))
	}
	if _, err := io.ReadFull(br, buf[hl:]); err != nil {
		return 0, snapCorrupt(0, "truncated entry")
	}
	key := buf[hl : hl+int(klen)]
	if *prev != nil && string(key) <= string(*prev) {
		return 0, snapCorrupt(0, "keys out of order")
	}
	*prev = key
	if exp != 0 && exp <= now {
		m.Arena.Kill(ref, size)
		return size, nil
	}
	if exp != 0 {
		m.addExpiry(ref, exp)
	}
	m.Table.Insert(index.HashBytes(key), ref, m.Arena)
	*refs = append(*refs, ref)
	return size, nil
}
