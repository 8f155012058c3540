package minikv

// The WAL record codec: framing (type, length, CRC, timestamp, durable
// point; the layout is drawn in format.go) and the bodies of the record
// types. The segment writer is in wal.go, the scan that recovery and
// Verify run over a segment in walscan.go.

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/minikv/minikv/internal/index"
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
		n += index.UvarintLen(uint64(durable))
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
	return 8 + index.UvarintLen(uint64(klen)) + index.UvarintLen(uint64(vlen)) + klen + vlen
}

// deleteBodySize returns the bytes appendDeleteBody writes.
func deleteBodySize(klen int) int { return index.UvarintLen(uint64(klen)) + klen }

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
