package index

import (
	"encoding/binary"
	"math/bits"
)

// EntrySize returns the encoded size of an entry.
func EntrySize(klen, vlen int, exp int64) int {
	n := UvarintLen(uint64(klen)<<1) + UvarintLen(uint64(vlen)) + klen + vlen
	if exp != 0 {
		n += 8
	}
	return n
}

// PutEntry encodes an entry into dst, which must have EntrySize bytes.
func PutEntry(dst []byte, key string, value []byte, exp int64) {
	h := uint64(len(key)) << 1
	if exp != 0 {
		h |= 1
	}
	n := binary.PutUvarint(dst, h)
	n += binary.PutUvarint(dst[n:], uint64(len(value)))
	if exp != 0 {
		binary.LittleEndian.PutUint64(dst[n:], uint64(exp))
		n += 8
	}
	n += copy(dst[n:], key)
	copy(dst[n:], value)
}

// Entry is a decoded view of an encoded entry; key and value alias the
// encoded bytes.
type Entry struct {
	Key   []byte
	Value []byte
	Exp   int64
	Size  int
}

// DecodeEntry decodes the entry at the start of b. It checks every length
// against len(b) and returns ok=false on any inconsistency.
func DecodeEntry(b []byte) (e Entry, ok bool) {
	ok = e.Decode(b)
	return e, ok
}

// Decode is DecodeEntry into e, which it sets whole on success and leaves
// as it was on failure. Iterators decode into the entry they keep: a
// returned entry is copied through the stack, and that copy stalled on
// store forwarding, a visible share of a scan.
func (e *Entry) Decode(b []byte) bool {
	// The common record: one-byte lengths (a key under 64 bytes, a value
	// under 128), no expiry.
	if len(b) >= 2 && b[0] < 0x80 && b[0]&1 == 0 && b[1] < 0x80 {
		klen, end := int(b[0]>>1), 2+int(b[0]>>1)+int(b[1])
		if klen != 0 && end <= len(b) {
			e.Key, e.Value, e.Exp, e.Size = b[2:2+klen:2+klen], b[2+klen:end:end], 0, end
			return true
		}
	}
	return e.decodeVarints(b)
}

// decodeVarints is Decode for any record.
func (e *Entry) decodeVarints(b []byte) bool {
	h, n := binary.Uvarint(b)
	if n <= 0 || h>>1 > MaxKey {
		return false
	}
	vlen, m := binary.Uvarint(b[n:])
	if m <= 0 || vlen > MaxValue {
		return false
	}
	n += m
	var exp int64
	if h&1 != 0 {
		if len(b)-n < 8 {
			return false
		}
		exp = int64(binary.LittleEndian.Uint64(b[n:]))
		if exp == 0 {
			return false
		}
		n += 8
	}
	klen := int(h >> 1)
	if klen == 0 || uint64(len(b)-n) < uint64(klen)+vlen {
		return false
	}
	e.Key = b[n : n+klen : n+klen]
	n += klen
	e.Value = b[n : n+int(vlen) : n+int(vlen)]
	e.Exp = exp
	e.Size = n + int(vlen)
	return true
}

// shortEntrySize returns the size of the entry at the start of rec when
// its header is the short one (one-byte key and value lengths), read from
// the header alone; ok is false for any other header. Hot paths use it
// before decode.
func shortEntrySize(rec []byte) (size int, ok bool) {
	if len(rec) < 2 || rec[0] >= 0x80 || rec[1] >= 0x80 {
		return 0, false
	}
	return 2 + int(rec[0]>>1) + int(rec[1]) + 8*int(rec[0]&1), true
}

// RecordKey returns the key of the record at the start of rec, or nil when
// rec does not start with a whole record.
func RecordKey(rec []byte) []byte {
	// The common short header: one-byte key and value lengths (as in
	// shortEntrySize, spelled out: this is every point read's path).
	if len(rec) >= 2 && rec[0] < 0x80 && rec[1] < 0x80 {
		klen := int(rec[0] >> 1)
		off := 2
		if rec[0]&1 != 0 {
			off += 8
		}
		if len(rec) < off+klen {
			return nil
		}
		return rec[off : off+klen]
	}
	e, _ := DecodeEntry(rec)
	return e.Key
}

// UvarintLen returns the length of x encoded as a uvarint: the entry's
// lengths here, and the WAL record codec's in the root package.
func UvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }
