package minikv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
)

// maxRecordLen bounds the Length field of a WAL record: a batch at
// MaxBatchSize plus its framing. A larger length is damage.
const maxRecordLen = MaxBatchSize + 1<<20

// beginRecord appends the framing of a record of type typ whose body will
// take bodyLen bytes, with room for the CRC. durable is the offset in the
// segment up to which the WAL was known durable when the record was
// written (see format.go); a negative one writes a record of the first
// format, which has none (only tests write those). The caller appends the
// body and then calls sealRecord with the returned start.
func beginRecord(dst []byte, typ byte, ts, durable int64, bodyLen int) ([]byte, int) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	n := recFixedSize + bodyLen
	if durable >= 0 {
		typ |= recDurableFlag
		n += uvarintLen(uint64(durable))
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, typ)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	if durable >= 0 {
		dst = binary.AppendUvarint(dst, uint64(durable))
	}
	return dst, start
}

// sealRecord fills in the CRC of the record that starts at start and runs
// to the end of dst.
func sealRecord(dst []byte, start int) []byte {
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], crcTable))
	return dst
}

// appendRecord frames body as a WAL record of type typ and appends it to dst.
func appendRecord(dst []byte, typ byte, ts, durable int64, body []byte) []byte {
	dst, start := beginRecord(dst, typ, ts, durable, len(body))
	return sealRecord(append(dst, body...), start)
}

// appendSetRecord appends a whole recSet record to dst, writing the body in
// place instead of through a separate buffer.
func appendSetRecord(dst []byte, ts, durable int64, key string, value []byte, exp int64) []byte {
	dst, start := beginRecord(dst, recSet, ts, durable, setBodySize(len(key), len(value)))
	return sealRecord(appendSetBody(dst, key, value, exp), start)
}

// appendDeleteRecord appends a whole recDelete record to dst.
func appendDeleteRecord(dst []byte, ts, durable int64, key string) []byte {
	dst, start := beginRecord(dst, recDelete, ts, durable, deleteBodySize(len(key)))
	return sealRecord(appendDeleteBody(dst, key), start)
}

// setBodySize returns the bytes appendSetBody writes.
func setBodySize(klen, vlen int) int {
	return 8 + uvarintLen(uint64(klen)) + uvarintLen(uint64(vlen)) + klen + vlen
}

// deleteBodySize returns the bytes appendDeleteBody writes.
func deleteBodySize(klen int) int { return uvarintLen(uint64(klen)) + klen }

// appendSetBody appends the body of a recSet record (or opSet operation).
func appendSetBody(dst []byte, key string, value []byte, exp int64) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(exp))
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	dst = append(dst, key...)
	return append(dst, value...)
}

// appendDeleteBody appends the body of a recDelete record (or opDelete).
func appendDeleteBody(dst []byte, key string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(dst, key...)
}

// walOp is one decoded operation of a WAL record.
type walOp struct {
	del   bool
	key   []byte
	value []byte
	exp   int64
}

// decodeSetBody decodes a recSet body at the start of b and returns the
// bytes it used.
func decodeSetBody(b []byte) (op walOp, n int, ok bool) {
	if len(b) < 8 {
		return op, 0, false
	}
	op.exp = int64(binary.LittleEndian.Uint64(b))
	n = 8
	klen, m := binary.Uvarint(b[n:])
	if m <= 0 || klen == 0 || klen > MaxKeySize {
		return op, 0, false
	}
	n += m
	vlen, m := binary.Uvarint(b[n:])
	if m <= 0 || vlen > MaxValueSize {
		return op, 0, false
	}
	n += m
	if uint64(len(b)-n) < klen+vlen {
		return op, 0, false
	}
	op.key = b[n : n+int(klen)]
	n += int(klen)
	op.value = b[n : n+int(vlen)]
	return op, n + int(vlen), op.exp >= 0
}

func decodeDeleteBody(b []byte) (op walOp, n int, ok bool) {
	klen, m := binary.Uvarint(b)
	if m <= 0 || klen == 0 || klen > MaxKeySize || uint64(len(b)-m) < klen {
		return op, 0, false
	}
	op.del = true
	op.key = b[m : m+int(klen)]
	return op, m + int(klen), true
}

// decodeOps decodes the operations of a record body and calls fn for each.
// It returns false, having called fn for none, when the body is malformed.
func decodeOps(typ byte, body []byte, fn func(walOp)) bool {
	switch typ {
	case recSet:
		op, n, ok := decodeSetBody(body)
		if !ok || n != len(body) {
			return false
		}
		fn(op)
		return true
	case recDelete:
		op, n, ok := decodeDeleteBody(body)
		if !ok || n != len(body) {
			return false
		}
		fn(op)
		return true
	case recBatch:
		// Check the whole batch before applying any of it, without
		// building a slice of its operations: a legal batch of tiny
		// operations would otherwise cost many times its size.
		return walkBatch(body, nil) && walkBatch(body, fn)
	case recDurable:
		return len(body) == 0
	}
	return false
}

// walkBatch calls fn (when not nil) for each operation of a recBatch body
// and reports whether the body is well formed. It stops at the first
// malformed operation, so a caller that must apply all or nothing walks
// the body once with a nil fn first.
func walkBatch(body []byte, fn func(walOp)) bool {
	count, n := binary.Uvarint(body)
	if n <= 0 || count == 0 || count > uint64(len(body)-n)/3 {
		return false
	}
	b := body[n:]
	for range count {
		if len(b) == 0 {
			return false
		}
		var op walOp
		var m int
		var ok bool
		switch b[0] {
		case opSet:
			op, m, ok = decodeSetBody(b[1:])
		case opDelete:
			op, m, ok = decodeDeleteBody(b[1:])
		}
		if !ok {
			return false
		}
		if fn != nil {
			fn(op)
		}
		b = b[1+m:]
	}
	return len(b) == 0
}

// walRecord is a decoded WAL record; body aliases the segment's bytes.
type walRecord struct {
	typ     byte  // recSet, recDelete, recBatch or recDurable, without recDurableFlag
	ts      int64 // the write's wall clock
	durable int64 // the durable point it carries, or -1 (first format)
	body    []byte
	size    int // bytes of the whole record
}

// readRecord decodes the record at the start of b. ok is false when the
// bytes are not a whole record with a matching CRC and a well-formed
// header.
func readRecord(b []byte) (r walRecord, ok bool) {
	if len(b) < 4+1+recFixedSize {
		return r, false
	}
	length, n := binary.Uvarint(b[4:])
	if n <= 0 || length < recFixedSize || length > maxRecordLen || uint64(len(b)-4-n) < length {
		return r, false
	}
	size := 4 + n + int(length)
	if crc32.Checksum(b[4:size], crcTable) != binary.LittleEndian.Uint32(b) {
		return r, false
	}
	p := b[4+n : size]
	r = walRecord{typ: p[0], ts: int64(binary.LittleEndian.Uint64(p[1:])), durable: -1, body: p[recFixedSize:], size: size}
	if r.typ&recDurableFlag != 0 {
		r.typ &^= recDurableFlag
		d, m := binary.Uvarint(r.body)
		if m <= 0 || d > uint64(maxDurable) {
			return walRecord{}, false
		}
		r.durable, r.body = int64(d), r.body[m:]
	}
	return r, true
}

// maxDurable bounds a record's durable point: no segment is larger.
const maxDurable = 1 << 50

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
		if uvarintLen(uint64(length)) != n {
			continue
		}
		sum := crc32.Checksum(binary.AppendUvarint(nil, uint64(length)), crcTable)
		if crc32.Update(sum, crcTable, b[4+n:end]) == want {
			return true
		}
	}
	return false
}

// wal appends records to the current segment and makes them durable.
//
// The current segment is, where the file system allows it, preallocated to
// the segment limit (fallocate) and mapped shared into memory: an append
// is a copy into the mapping, with no system call (on Linux a record of
// 16 KiB or more is written with pwrite instead, see osMapping). Either
// way the record is in the page cache once the append returns, so it
// survives a process kill like a write(2) would, and Sync (fdatasync)
// writes it back. The file holds zeros after the written bytes:
//
//	current segment, mapped:   [rec][rec][rec][00000000000000000000000]
//	                           |<- segSize ->|                        |
//	                           |<------ segLimit (file size) -------->|
//	sealed segment:            [rec][rec][rec][rec]    (file size = its records)
//
// Rotation and close seal the segment: unmap, cut the zeros off
// (truncate), fdatasync; rotation then creates the next segment. A record
// that does not fit in what is left of the mapping starts the next
// segment; one larger than a whole segment is written with Write into a
// new segment that is cut back to zero bytes and unmapped first. When the
// file cannot be mapped (no mapper, fallocate or mmap failing) appends use
// Write, the file never holds more than its records, and a segment ends
// once it reaches the limit.
//
// Appends, rotation and close are serialised by the caller (DB.writeSem).
// Syncs may run concurrently with appends: fileMu keeps the file open while
// a sync uses it, and smu guards the group-commit state.
type wal struct {
	fsys     vfs
	dir      string
	segLimit int64
	now      func() int64

	// Guarded by the caller's lock (DB.writeSem); rotate and close also
	// hold fileMu while they replace or close f.
	f file
	// m maps the first segLimit bytes of f, preallocated, when appends
	// are copies into memory; nil when they use f.Write. Only appends,
	// rotate and close use it.
	m       mapping
	seq     uint64
	segSize int64     // bytes written to the current segment, never its preallocated size
	sealed  []segInfo // live segments before the current one
	// sealedBytes is the sum of the sizes in sealed, kept so that size,
	// which every write calls, does not walk the list.
	sealedBytes int64
	// presynced is how much of the current segment was handed to a
	// background fsync (see wantPresync).
	presynced int64
	buf       []byte

	fileMu  sync.Mutex   // held while f is synced, replaced or closed
	written atomic.Int64 // bytes appended since open (the LSN)
	failure atomic.Value // error: the first failed write or sync
	// base is the LSN of the current segment's offset 0 (negative for a
	// segment reopened with records in it); under fileMu and the caller's
	// lock. durable is the offset in the current segment up to which it
	// is known durable: every record carries it (see format.go). Syncs
	// raise it under fileMu; rotation resets it.
	base    int64
	durable atomic.Int64

	smu     sync.Mutex    // guards the fields below
	synced  int64         // LSN known durable
	syncing bool          // a sync leader is running
	closed  bool          // the segment file is closed
	round   chan struct{} // closed when the running sync round ends
}

// segInfo is a sealed WAL segment.
type segInfo struct {
	seq  uint64
	size int64
}

// openWAL opens segment seq for appending at size bytes, creating it when
// create is set. sealed lists the live segments before it.
func openWAL(fsys vfs, dir string, seq uint64, size int64, sealed []segInfo, segLimit int64, create bool) (*wal, error) {
	w := &wal{fsys: fsys, dir: dir, segLimit: segLimit, round: make(chan struct{})}
	var err error
	if create {
		w.f, w.m, err = w.createSegment(seq)
	} else {
		w.f, w.m, err = w.reopenSegment(seq, size)
	}
	if err != nil {
		return nil, wrapOp(fmt.Sprintf("open wal segment %s", segmentName(seq)), err)
	}
	w.seq, w.segSize, w.sealed = seq, size, sealed
	for _, s := range sealed {
		w.sealedBytes += s.size
	}
	w.base = -size
	w.durable.Store(size)
	return w, nil
}

// segmentFlags open a segment for appending. Reads are there for mmap,
// which needs them; O_APPEND serves the writes of an unmapped segment,
// whose file never holds more than its written bytes.
const segmentFlags = os.O_RDWR | os.O_APPEND

// createSegment creates a segment file, preallocates and maps it when it
// can (see mapSegment), and makes its existence durable.
func (w *wal) createSegment(seq uint64) (file, mapping, error) {
	name := filepath.Join(w.dir, segmentName(seq))
	f, err := w.fsys.OpenFile(name, segmentFlags|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, err
	}
	m, err := w.mapSegment(f, 0)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = w.fsys.SyncDir(w.dir)
	}
	if err != nil {
		return nil, nil, errors.Join(err, unmapIf(m), f.Close())
	}
	return f, m, nil
}

// reopenSegment opens the existing segment seq, whose valid records end
// at size (recovery has cut the file there), to append after them.
func (w *wal) reopenSegment(seq uint64, size int64) (file, mapping, error) {
	f, err := w.fsys.OpenFile(filepath.Join(w.dir, segmentName(seq)), segmentFlags, 0o600)
	if err != nil {
		return nil, nil, err
	}
	// The records found may sit only in the page cache, written by a
	// process that was killed before it synced them. Sync them, so that
	// the records appended after them may claim them durable.
	if err := f.Sync(); err != nil {
		// It may report a writeback that failed before this open: the
		// pages now count as clean, so a retry's sync would succeed.
		_ = writeSyncFailedMark(w.fsys, w.dir, segmentName(seq))
		return nil, nil, errors.Join(err, f.Close())
	}
	m, err := w.mapSegment(f, size)
	if err != nil {
		return nil, nil, errors.Join(err, f.Close())
	}
	return f, m, nil
}

// maxMapSize is the largest segment limit the WAL maps; a larger segment
// is written with Write, rather than reserve that much disk and address
// space for every segment.
const maxMapSize = 1 << 30

// mapSegment prepares the segment f, which holds size bytes of records,
// for appends through memory: it preallocates f to the segment limit
// (fallocate, so that a store into the mapping cannot hit a missing
// block) and maps that many bytes. The file then ends in zeros after its
// records until the segment is sealed (see unmap).
//
// It returns a nil mapping, leaving appends to Write, when f cannot be
// mapped or has no room left, or when preallocation or mapping fails. In
// the last case it first cuts f back to size, since O_APPEND writes go to
// the end of the file; it returns an error only when that cut fails.
func (w *wal) mapSegment(f file, size int64) (mapping, error) {
	mf, ok := f.(mapper)
	if !ok || size >= w.segLimit || w.segLimit > maxMapSize {
		return nil, nil
	}
	err := mf.Allocate(w.segLimit)
	if err == nil {
		var m mapping
		if m, err = mf.Map(w.segLimit); err == nil {
			return m, nil
		}
	}
	if terr := f.Truncate(size); terr != nil {
		return nil, fmt.Errorf("minikv: cut segment back after failed preallocation (%w): %w", err, terr)
	}
	return nil, nil
}

// unmapIf releases m when it is not nil.
func unmapIf(m mapping) error {
	if m == nil {
		return nil
	}
	return m.Unmap()
}

// err returns the error that stopped the WAL, or nil.
func (w *wal) err() error {
	if e, ok := w.failure.Load().(error); ok {
		return e
	}
	return nil
}

func (w *wal) fail(op string, err error) error {
	e := wrapOp(fmt.Sprintf("wal %s failed, database refuses writes until reopened", op), err)
	w.failure.CompareAndSwap(nil, e)
	return w.err()
}

// failSync is fail for a failed fsync. After fdatasync fails, Linux marks
// the pages it could not write clean: reads still return them, so a reopen
// in the same boot replays them, but no later fsync writes them, and a
// power cut loses them. So it also leaves the sync-failed mark in the
// directory (see DB.recoverFromSyncFailure), as best it can: the disk may
// refuse that too.
func (w *wal) failSync(err error) error {
	e := w.fail("sync", err)
	_ = writeSyncFailedMark(w.fsys, w.dir, segmentName(w.seq))
	return e
}

// presyncMin is the smallest segment worth syncing ahead: a smaller one
// seals quickly anyway.
const presyncMin = 4 << 20

// presyncSteps is how many background fsyncs a segment gets as it fills.
const presyncSteps = 8

// wantPresync reports that the current segment grew by another
// 1/presyncSteps of its limit since it was last handed to a background
// fsync. Without SyncAlways its data is still unsynced, and the fsync
// that seals it at rotation runs under the writer lock: syncing it ahead
// in steps, in the background, leaves that fsync at most about one step
// to write. (Once at three quarters left it a quarter, 4 MiB of a default
// segment, and a 5-7 ms pause at every rotation.)
func (w *wal) wantPresync() bool {
	step := w.segLimit / presyncSteps
	if w.segLimit < presyncMin || w.segSize < w.presynced+step {
		return false
	}
	w.presynced = w.segSize
	return true
}

// size returns the bytes in all live segments.
func (w *wal) size() int64 { return w.sealedBytes + w.segSize }

// dropBefore forgets the sealed segments numbered below seq, once a
// snapshot holds their records, and returns their file names.
func (w *wal) dropBefore(seq uint64) []string {
	var names []string
	keep := w.sealed[:0]
	for _, s := range w.sealed {
		if s.seq < seq {
			names = append(names, segmentName(s.seq))
			w.sealedBytes -= s.size
		} else {
			keep = append(keep, s)
		}
	}
	w.sealed = keep
	return names
}

// prepare readies the WAL for a record of at most n bytes, starting the
// next segment when it does not fit in this one, and returns the durable
// point that the record must carry. The caller then encodes the record
// with it and appends it, under the same hold of its lock.
func (w *wal) prepare(n int) (int64, error) {
	if err := w.err(); err != nil {
		return 0, err
	}
	if w.full(n) {
		if _, err := w.rotate(); err != nil {
			return 0, err
		}
	}
	return w.durable.Load(), nil
}

// durableGuess returns the durable point as it stands, for a writer that
// encodes its record before it takes the lock; prepare says whether the
// guess still holds. Safe to call concurrently with everything.
func (w *wal) durableGuess() int64 { return w.durable.Load() }

// append writes one encoded record and returns the LSN after it. The
// record has reached the operating system when append returns. The record
// must carry the durable point prepare returned.
func (w *wal) append(rec []byte) (int64, error) {
	if err := w.err(); err != nil {
		return 0, err
	}
	if w.full(len(rec)) {
		if _, err := w.rotate(); err != nil {
			return 0, err
		}
	}
	if w.m != nil && int64(len(rec)) > w.segLimit-w.segSize {
		// A record larger than a whole segment, in a new one: Write it.
		if err := w.unmap(); err != nil {
			return 0, err
		}
	}
	if w.m != nil {
		if err := w.m.CopyAt(rec, w.segSize); err != nil {
			return 0, w.fail("write", err)
		}
		w.segSize += int64(len(rec))
		return w.written.Add(int64(len(rec))), nil
	}
	n, err := w.f.Write(rec)
	w.segSize += int64(n)
	lsn := w.written.Add(int64(n))
	if err != nil {
		return 0, w.fail("write", err)
	}
	return lsn, nil
}

// full reports whether a record of n bytes must start a new segment. A
// mapped segment ends before a record that does not fit in it, so that
// its stores stay inside the mapping; an unmapped one ends once it has
// reached the limit, the record that crossed it included.
func (w *wal) full(n int) bool {
	if w.m == nil {
		return w.segSize >= w.segLimit
	}
	return w.segSize > 0 && int64(n) > w.segLimit-w.segSize
}

// unmap ends the current segment's mapping and cuts the preallocated
// zeros after the written bytes off the file, which is then an ordinary
// segment again; a crash before the cut is durable leaves a zero tail,
// which recovery cuts. It is a no-op for an unmapped segment.
func (w *wal) unmap() error {
	if w.m == nil {
		return nil
	}
	err := w.m.Unmap()
	w.m = nil
	if err != nil {
		return w.fail("unmap", err)
	}
	if err := w.f.Truncate(w.segSize); err != nil {
		return w.fail("truncate", err)
	}
	return nil
}

// rotate seals the current segment (fsynced) and starts the next one. It
// returns the new segment's number.
func (w *wal) rotate() (uint64, error) {
	if err := w.err(); err != nil {
		return 0, err
	}
	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	if err := w.err(); err != nil {
		return 0, err // a sync failed while this waited for fileMu
	}
	// Seal the old segment: cut its preallocated tail and sync, so that
	// its length and records are durable before the next segment exists.
	// A sealed segment thus never ends in zeros.
	if err := w.unmap(); err != nil {
		return 0, err
	}
	if err := w.f.Sync(); err != nil {
		return 0, w.failSync(err)
	}
	lsn := w.written.Load()
	f, m, err := w.createSegment(w.seq + 1)
	if err != nil {
		return 0, w.fail("rotate", err)
	}
	// The old segment is synced, so the rotation is complete even when its
	// close fails; w.f must not keep pointing at a closed file.
	closeErr := w.f.Close()
	w.f, w.m = f, m
	w.seq++
	w.sealed = append(w.sealed, segInfo{w.seq - 1, w.segSize})
	w.sealedBytes += w.segSize
	w.segSize = 0
	w.presynced = 0
	w.base = lsn
	w.durable.Store(0) // the new segment is durable, and empty
	w.markSynced(lsn)
	if closeErr != nil {
		return 0, w.fail("close segment", closeErr)
	}
	return w.seq, nil
}

func (w *wal) markSynced(lsn int64) {
	w.smu.Lock()
	if lsn > w.synced {
		w.synced = lsn
	}
	w.smu.Unlock()
}

// syncTo returns once every byte up to lsn is durable. Concurrent callers
// share one fsync: the first becomes the leader and syncs everything
// written so far, the others wait for its round. A caller whose ctx ends
// stops waiting and returns ctx.Err(); its record may still become durable.
func (w *wal) syncTo(ctx context.Context, lsn int64) error {
	for {
		w.smu.Lock()
		// A record already durable is reported so even if the WAL failed
		// or closed since: Close syncs before it closes the file.
		if w.synced >= lsn {
			w.smu.Unlock()
			return nil
		}
		if err := w.err(); err != nil {
			w.smu.Unlock()
			return err
		}
		if w.closed {
			w.smu.Unlock()
			return ErrClosed
		}
		if !w.syncing {
			w.syncing = true
			w.smu.Unlock()
			w.syncRound()
			continue
		}
		round := w.round
		w.smu.Unlock()
		select {
		case <-round:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// gatherRounds bounds how many times a round's leader yields to let other
// writers append before it syncs.
const gatherRounds = 8

// syncRound fsyncs the current segment once, as the leader of a round.
func (w *wal) syncRound() {
	w.gather()
	w.fileMu.Lock()
	target := w.written.Load()
	var err error
	if w.f != nil {
		if err = w.f.Sync(); err == nil {
			w.raiseDurable(target)
		} else {
			// Recorded before fileMu is released: a rotation waiting for
			// it must not seal the segment with a sync that succeeds only
			// because the failed pages now count as clean.
			w.failSync(err)
		}
	} else {
		target = 0 // closed meanwhile: Close synced what it could
	}
	w.fileMu.Unlock()
	w.smu.Lock()
	if err == nil && target > w.synced {
		w.synced = target
	}
	w.syncing = false
	close(w.round)
	w.round = make(chan struct{})
	w.smu.Unlock()
}

// gather lets writers that are ready to append join the round about to
// start. When a round ends it wakes all its writers at once; the first to
// write again leads the next round, and without this pause it would sync
// alone while the others append behind it, so rounds would alternate
// between one writer and all the rest. The leader yields while the log
// keeps growing; a lone writer finds nothing to wait for and goes on after
// one yield.
func (w *wal) gather() {
	for range gatherRounds {
		before := w.written.Load()
		runtime.Gosched()
		if w.written.Load() == before {
			return
		}
	}
}

// raiseDurable records that a sync made every byte before lsn durable.
// The caller holds fileMu, so the segment cannot change meanwhile.
func (w *wal) raiseDurable(lsn int64) {
	if off := lsn - w.base; off > w.durable.Load() {
		w.durable.Store(off)
	}
}

// syncNow fsyncs the current segment whatever the group-commit state, for
// a change that is not a record (a cut), and counts everything written
// before it as durable.
func (w *wal) syncNow() error {
	w.fileMu.Lock()
	lsn := w.written.Load()
	err := w.f.Sync()
	if err == nil {
		w.raiseDurable(lsn)
	} else {
		err = w.failSync(err) // under fileMu, as in syncRound
	}
	w.fileMu.Unlock()
	if err != nil {
		return err
	}
	w.markSynced(lsn)
	return nil
}

// sync makes everything written so far durable.
func (w *wal) sync() error { return w.syncTo(context.Background(), w.written.Load()) }

// dirty reports whether some written bytes are not yet known durable.
func (w *wal) dirty() bool {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.written.Load() > w.synced
}

// markDurable, when records were appended since open, syncs them and
// appends a recDurable record that claims them all durable, so that
// damage in the last records of a segment closed cleanly is told from a
// torn tail (see scanAfterDamage). The close that follows syncs it.
func (w *wal) markDurable() error {
	if w.written.Load() == 0 || w.segSize == 0 {
		return nil
	}
	const markMax = walHeaderMax + recFixedSize + binary.MaxVarintLen64
	if w.full(markMax) {
		return nil // it would go into a new segment, and vouch for nothing there
	}
	if err := w.sync(); err != nil {
		return err
	}
	d, err := w.prepare(markMax)
	if err != nil {
		return err
	}
	_, err = w.append(appendRecord(nil, recDurable, 0, d, nil))
	return err
}

// close cuts the current segment's preallocated tail, syncs the segment
// and closes it. After a failure of the WAL it only releases the mapping
// and the file: the next open cuts the zero tail.
func (w *wal) close() error {
	var err error
	if w.err() == nil {
		err = w.markDurable()
	}
	if err == nil && w.err() == nil {
		mapped := w.m != nil
		err = w.unmap()
		if err == nil && !mapped {
			err = w.sync()
		}
		if err == nil && mapped {
			// The cut must be durable too, even when every record
			// already is, which w.sync would take for nothing to do.
			err = w.syncNow()
		}
	}
	w.fileMu.Lock()
	defer w.fileMu.Unlock()
	w.smu.Lock()
	w.closed = true
	w.smu.Unlock()
	if w.f == nil {
		return err
	}
	err = errors.Join(err, unmapIf(w.m), w.f.Close())
	w.m, w.f = nil, nil
	return err
}
