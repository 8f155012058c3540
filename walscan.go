package minikv

// The scan of a WAL segment that recovery and Verify run: its records up
// to the first damage, and, after damage, the search that tells a hole in
// data never synced (a torn tail) from damage in durable data.

import (
	"bytes"
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

// allZero reports whether b holds only zero bytes (preallocation padding).
// It compares blocks with bytes.Equal, which runs vectorised, since a
// preallocated segment can end in megabytes of zeros.
func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroBlock))
		if !bytes.Equal(b[:n], zeroBlock[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

var zeroBlock [4096]byte

// searchBudget bounds the bytes that a search for valid records in n
// damaged bytes may checksum. Every offset may declare a length that fits,
// so an unbounded search is quadratic, and values are client data: a
// crafted value in a torn record could make recovery run for hours. The
// budget is far above what text or random bytes cost (a one-byte length
// field declares at most 127 bytes).
func searchBudget(n int) int64 { return 256*int64(n) + 1<<20 }

// crcCost returns the bytes readRecord checksums at the start of b.
func crcCost(b []byte) int64 {
	if len(b) < 4+1+recFixedSize {
		return 0
	}
	length, n := binary.Uvarint(b[4:])
	if n <= 0 || length < recFixedSize || length > maxRecordLen || uint64(len(b)-4-n) < length {
		return 0
	}
	return int64(n) + int64(length)
}

// segmentScan is the result of reading one WAL segment.
type segmentScan struct {
	seq      uint64
	size     int64 // file size
	validEnd int64 // end of the last good record
	damaged  bool  // bytes after validEnd are not zero padding
	// trailing: valid records follow the damage and show that the damaged
	// bytes had been made durable, or cannot show that they had not (see
	// scanAfterDamage). Damage without it is a torn tail.
	trailing bool
	// after counts the valid records found after the damage; when the
	// damage is a torn tail, they are cut with it.
	after   int
	records int // records of writes, durable points not counted
}

// scanSegment calls apply for every record of a segment, in order, up to
// the first damage.
func scanSegment(data []byte, apply func(r walRecord) bool) (s segmentScan, err error) {
	s.size = int64(len(data))
	off := 0
	for off < len(data) {
		r, ok := readRecord(data[off:])
		if !ok {
			break
		}
		if !apply(r) {
			return s, fmt.Errorf("malformed record body at offset %d", off)
		}
		off += r.size
		if r.typ != recDurable {
			s.records++
		}
	}
	s.validEnd = int64(off)
	if off < len(data) && !allZero(data[off:]) {
		s.damaged = true
		d := scanAfterDamage(data[off:], int64(off))
		s.trailing, s.after = d.durable, d.records
	}
	return s, nil
}

// damageScan is what scanAfterDamage found after a damaged record.
type damageScan struct {
	records int  // valid records after the damage
	durable bool // the damage lies in data that had been made durable, or may
}

// scanAfterDamage looks at the valid records after the damaged record at
// the start of b, which sits at offset base of its segment, and tells
// damage in durable data from a hole in data that was never synced.
//
// Every record carries the offset up to which the segment was known
// durable when it was written. If a record after the damage claims more
// than base, the damaged bytes had been synced before that record was
// written: that is damage a crash cannot explain. If every record after
// it claims base or less, the damaged bytes were never synced, and a power
// cut can leave them as a hole (zeros, or the old bytes of a reused block)
// before records that reached the disk first, since file systems write
// pages back in any order and a preallocated file has no size update to
// order them against: a torn tail, with the records after it. A record of
// the first format, which carries no durable point, and a search over its
// budget count as durable: damage, as before.
//
// Which records count: a record whose length field is plausible owns the
// bytes it declares, and a value may hold the bytes of a whole record: a
// valid record inside that span is part of the damaged record's payload,
// and counts only when the damage is in the length field itself, that is
// when the damaged record, with its length set to end there, has a
// matching CRC. From each record that counts the scan walks the records
// that follow it, and then searches on after them.
//
// The residual risks: damage to the length field and to other bytes of the
// same record, making it claim to run past the end of the segment, hides
// the records in that span; and damage in durable data followed only by
// records written before the damaged bytes were synced (the last records
// of a segment that was synced but then not written to again) is taken
// for a torn tail, as any damage with nothing after it always was.
func scanAfterDamage(b []byte, base int64) (d damageScan) {
	if len(b) <= 4 {
		return d
	}
	end := 0 // the span the damaged record declares, if its length is plausible
	length, n := binary.Uvarint(b[4:])
	if n > 0 && length >= recFixedSize && length <= maxRecordLen {
		end = 4 + n + int(length)
	}
	budget := searchBudget(len(b))
	for p := 1; p < len(b); p++ {
		if p = nextCandidate(b, p); p >= len(b) {
			break
		}
		if budget -= crcCost(b[p:]); budget < 0 {
			d.durable = true
			return d
		}
		if _, ok := readRecord(b[p:]); !ok {
			continue
		}
		if p < end {
			if budget -= int64(p); budget < 0 {
				d.durable = true
				return d
			}
			if !lengthRepairs(b, p) {
				continue
			}
		}
		q, durable := walkRecords(b, p, base, &d.records)
		if durable {
			d.durable = true
			return d
		}
		p = q - 1
	}
	return d
}

// walkRecords reads the valid records from offset p of b on, counts them
// into n, and returns the offset after the last one and whether one of
// them shows base durable (or cannot tell, being of the first format).
func walkRecords(b []byte, p int, base int64, n *int) (int, bool) {
	for p < len(b) {
		r, ok := readRecord(b[p:])
		if !ok {
			break
		}
		*n++
		if r.durable < 0 || r.durable > base {
			return p, true
		}
		p += r.size
	}
	return p, false
}

// nextCandidate returns the first offset from p on at which a record could
// start. A record's length field is at least recFixedSize, so its first
// byte is not zero: an offset whose fifth byte is zero starts none, and a
// run of zeros (a hole, or preallocated space) is skipped a block at a
// time rather than searched byte by byte.
func nextCandidate(b []byte, p int) int {
	if p+4 >= len(b) || b[p+4] != 0 {
		return p
	}
	i := p + 4
	for i < len(b) && b[i] == 0 && i%len(zeroBlock) != 0 {
		i++
	}
	for i+len(zeroBlock) <= len(b) && allZero(b[i:i+len(zeroBlock)]) {
		i += len(zeroBlock)
	}
	for i < len(b) && b[i] == 0 {
		i++
	}
	return i - 4
}

// lengthRepairs reports whether the record at the start of b would have a
// matching CRC if its length field said it ends at end.
func lengthRepairs(b []byte, end int) bool {
	want := binary.LittleEndian.Uint32(b)
	for n := 1; n <= binary.MaxVarintLen64; n++ {
		length := end - 4 - n
		if length < recFixedSize {
			return false
		}
		if index.UvarintLen(uint64(length)) != n {
			continue
		}
		sum := crc32.Checksum(binary.AppendUvarint(nil, uint64(length)), crcTable)
		if crc32.Update(sum, crcTable, b[4+n:end]) == want {
			return true
		}
	}
	return false
}

// readSegment reads the WAL segment name for recovery or Verify: its bytes
// up to the end of its last data, and the file's size. What lies past the
// returned bytes is zeros. Memory and time are bounded by the bytes the
// file holds on disk, never by the size it declares: a store's own
// segments hold about their size (written, or preallocated), and a copy
// with holes for zeros keeps its data where it was; a sparse file whose
// data lies far past what it holds on disk is only what a hostile
// directory holds, and is refused as ErrCorrupt without reading its holes.
func readSegment(fsys vfs.FS, name string) ([]byte, int64, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, 0, err
	}
	end := size
	onDisk := allocated(f, size)
	// A record may hold a long run of zeros, which a copy may turn into a
	// hole: allow one record's worth beyond twice the bytes on disk.
	limit := 2*onDisk + maxRecordLen
	if size > limit {
		if end, err = dataEnd(f, size); err != nil {
			return nil, 0, err
		}
		if end > limit {
			return nil, size, &corruptError{file: filepath.Base(name), offset: -1,
				reason: fmt.Sprintf("sparse file of %d bytes with data up to offset %d, far past the %d bytes it holds on disk", size, end, onDisk)}
		}
	}
	if end > maxSegmentRead {
		return nil, size, &corruptError{file: filepath.Base(name), offset: -1, reason: "file too large"}
	}
	buf := make([]byte, end)
	// ReaderAt may report io.EOF with a full read that ends the file.
	if n, err := f.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		return nil, size, err
	}
	return buf, size, nil
}
