package minikv

// Fuzz targets for every decoder of an on-disk format. Each one runs its
// input twice: as it is, through the CRC check (which random bytes almost
// never pass), and with a valid CRC recomputed over the fuzzed bytes, so
// that the decoder behind the check is reached. Each asserts no panic,
// consistent results and a bounded allocation per input.
//
// Plain `go test` replays the seeds and testdata/fuzz/<FuzzName>/. To fuzz
// one target for 60 seconds:
//
//	go test -run '^$' -fuzz '^FuzzWALRecord$' -fuzztime 60s -fuzzminimizetime 100x .
//	go test -run '^$' -fuzz '^FuzzDecodeBatch$' -fuzztime 60s -fuzzminimizetime 100x .
//	go test -run '^$' -fuzz '^FuzzDecodeSnapshot$' -fuzztime 60s -fuzzminimizetime 100x .
//	go test -run '^$' -fuzz '^FuzzParseManifest$' -fuzztime 60s -fuzzminimizetime 100x .
//
// -fuzzminimizetime bounds the minimisation of a new input, which can
// otherwise stall the run.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/minikv/minikv/internal/index"
)

// fuzzAllocBound is the most a decoder may allocate for an input of n
// bytes: a few fixed buffers (the snapshot reader's buffer and the first
// arena chunk) plus a small multiple of the input.
func fuzzAllocBound(n int) uint64 { return 4<<20 + 64*uint64(n) }

// checkAllocs runs fn and fails t when it allocates more than the bound
// for an input of n bytes.
func checkAllocs(t *testing.T, n int, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > fuzzAllocBound(n) {
		t.Fatalf("allocated %d bytes for %d input bytes, bound %d", got, n, fuzzAllocBound(n))
	}
}

// hostileUvarint is ten 0xFF bytes: a varint that overflows 64 bits.
var hostileUvarint = bytes.Repeat([]byte{0xff}, 10)

// frameRecord frames payload (Type, Timestamp, Body) as a WAL record with
// a valid CRC, whatever the payload holds.
func frameRecord(payload []byte) []byte {
	b := make([]byte, 4, 4+binary.MaxVarintLen64+len(payload))
	b = binary.AppendUvarint(b, uint64(len(payload)))
	b = append(b, payload...)
	binary.LittleEndian.PutUint32(b, crc32.Checksum(b[4:], crcTable))
	return b
}

// walSeeds returns valid and hostile segments.
func walSeeds() [][]byte {
	set := appendSetRecord(nil, 1, -1, "key", []byte("value"), 0)
	ttl := appendSetRecord(nil, 2, -1, "k2", []byte("v"), 99)
	del := appendRecord(nil, recDelete, 3, -1, appendDeleteBody(nil, "key"))
	batch := appendRecord(nil, recBatch, 4, -1, appendBatchBody(nil, 2,
		appendDeleteBody(appendSetBody([]byte{opSet}, "a", []byte("b"), 0), "a")))
	seg := slices.Concat(set, ttl, del, batch)
	huge := []byte{0, 0, 0, 0}
	huge = binary.AppendUvarint(huge, 1<<60) // a length larger than the file
	huge = append(huge, recSet, 0, 0, 0, 0, 0, 0, 0, 0)
	return [][]byte{
		seg,
		append(slices.Clone(seg), make([]byte, 100)...), // zero padding
		seg[:len(seg)-3], // torn tail
		huge,
		slices.Concat([]byte{0, 0, 0, 0}, hostileUvarint, seg),
		frameRecord(slices.Concat([]byte{recSet}, make([]byte, 8+8), hostileUvarint)),
		frameRecord(slices.Concat([]byte{recBatch}, make([]byte, 8), binary.AppendUvarint(nil, 1<<60))),
	}
}

// FuzzWALRecord scans fuzzed bytes as a WAL segment, and frames them with a
// valid CRC as one record's payload. Neither may panic; the scan must stop
// within the data and its damage flags must agree with the bytes.
func FuzzWALRecord(f *testing.F) {
	for _, s := range walSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAllocs(t, len(data), func() {
			checkScan(t, data)
			rec := frameRecord(data)
			r, ok := readRecord(rec)
			if len(data) >= recFixedSize && len(data) <= maxRecordLen && data[0]&recDurableFlag == 0 && (!ok || r.size != len(rec)) {
				t.Fatalf("a record with a valid CRC was refused")
			}
			if ok {
				checkOps(t, r.typ, r.body)
			}
			checkScan(t, append(rec, data...))
		})
	})
}

// checkScan scans data as a segment and checks what the scan reports.
func checkScan(t *testing.T, data []byte) {
	t.Helper()
	s, err := scanSegment(data, func(r walRecord) bool {
		return decodeOps(r.typ, r.body, func(walOp) {})
	})
	if s.validEnd < 0 || s.validEnd > int64(len(data)) {
		t.Fatalf("validEnd %d outside 0..%d", s.validEnd, len(data))
	}
	if err == nil && !s.damaged && !allZero(data[s.validEnd:]) {
		t.Fatalf("non-zero bytes after validEnd not reported as damage")
	}
}

// checkOps decodes a record body and checks that the operations encode
// back to a body that decodes to the same operations.
func checkOps(t *testing.T, typ byte, body []byte) {
	t.Helper()
	var ops []walOp
	if !decodeOps(typ, body, func(op walOp) { ops = append(ops, op) }) {
		return
	}
	var enc []byte
	for _, op := range ops {
		if len(op.key) == 0 || len(op.key) > MaxKeySize || len(op.value) > MaxValueSize {
			t.Fatalf("decoded op out of limits: key %d bytes, value %d bytes", len(op.key), len(op.value))
		}
		if op.del {
			enc = appendDeleteBody(append(enc, opDelete), string(op.key))
		} else {
			enc = appendSetBody(append(enc, opSet), string(op.key), op.value, op.exp)
		}
	}
	again, ok := decodeBatch(appendBatchBody(nil, len(ops), enc))
	if !ok || len(again) != len(ops) {
		t.Fatalf("re-encoded ops do not decode: %v", ok)
	}
	for i := range ops {
		a, b := ops[i], again[i]
		if a.del != b.del || a.exp != b.exp || !bytes.Equal(a.key, b.key) || !bytes.Equal(a.value, b.value) {
			t.Fatalf("op %d changed in a round trip", i)
		}
	}
}

// FuzzDecodeBatch decodes fuzzed bytes as a batch body, directly and as
// the body of a recBatch record with a valid CRC.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(appendBatchBody(nil, 2, appendDeleteBody(appendSetBody([]byte{opSet}, "a", []byte("b"), 7), "a")))
	f.Add(binary.AppendUvarint(nil, 1<<60))
	f.Add(slices.Concat(binary.AppendUvarint(nil, 3), []byte{opSet}, make([]byte, 8), hostileUvarint))
	f.Add(slices.Concat([]byte{1, opDelete}, binary.AppendUvarint(nil, 1<<40), []byte("k")))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAllocs(t, len(data), func() {
			ops, ok := decodeBatch(data)
			if ok && uint64(len(ops)) > uint64(len(data))/3 {
				t.Fatalf("%d ops from %d bytes", len(ops), len(data))
			}
			if ok {
				checkOps(t, recBatch, data)
			}
			rec := appendRecord(nil, recBatch, 1, -1, data)
			n := 0
			s, err := scanSegment(rec, func(r walRecord) bool {
				n++
				return decodeOps(r.typ, r.body, func(walOp) {})
			})
			if n != 1 || s.damaged || (err == nil) != ok {
				t.Fatalf("framed batch: %d records, damaged %v, err %v, want decoded %v", n, s.damaged, err, ok)
			}
		})
	})
}

// snapshotSeed returns a valid snapshot of n entries, some with expiry.
func snapshotSeed(n int) []byte {
	m := newMemIndex(n)
	for i := range n {
		k := "key" + strings.Repeat("k", i)
		var exp int64
		if i%2 == 1 {
			exp = int64(1e18)
		}
		m.set(k, index.Hash(k), []byte(strings.Repeat("v", i)), exp)
	}
	var buf bytes.Buffer
	if _, err := writeSnapshotTo(&buf, 7, m.freeze(), 1); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// fixSnapshotCRC overwrites the footer CRC of a would-be snapshot with the
// right one.
func fixSnapshotCRC(data []byte) []byte {
	if len(data) < 4 {
		return data
	}
	b := slices.Clone(data)
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crcTable))
	return b
}

// FuzzDecodeSnapshot decodes fuzzed bytes as a snapshot, as they are and
// with their footer CRC fixed. A snapshot that decodes must hold at most
// one entry per three bytes, in strictly ascending key order.
func FuzzDecodeSnapshot(f *testing.F) {
	valid := snapshotSeed(5)
	f.Add(valid)
	f.Add(snapshotSeed(0))
	count := slices.Clone(valid) // a count of 2^60
	binary.LittleEndian.PutUint64(count[len(count)-snapFooterSize:], 1<<60)
	f.Add(fixSnapshotCRC(count))
	long := slices.Clone(valid) // an entry longer than the file
	copy(long[snapHeaderSize:], binary.AppendUvarint(nil, 1<<40))
	f.Add(fixSnapshotCRC(long))
	ff := slices.Concat(valid[:snapHeaderSize], hostileUvarint, valid[snapHeaderSize+10:])
	f.Add(fixSnapshotCRC(ff))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAllocs(t, len(data), func() {
			checkSnapshot(t, data)
			checkSnapshot(t, fixSnapshotCRC(data))
		})
	})
}

func checkSnapshot(t *testing.T, data []byte) {
	t.Helper()
	m, info, err := decodeSnapshot(bytes.NewReader(data), int64(len(data)), int64(len(data)), math.MinInt64, 0)
	if err != nil {
		return
	}
	if info.entries > len(data)/minEntrySize {
		t.Fatalf("%d entries from %d bytes", info.entries, len(data))
	}
	var prev string
	n := 0
	v := m.freeze()
	c := index.NewCursor(v.chunks)
	for ok := c.Seek(v.tree, ""); ok; ok = c.Next() {
		e, ok := index.DecodeEntry(index.ChunkRecord(v.chunks, c.Ref()))
		if !ok {
			t.Fatalf("entry %d does not decode", n)
		}
		if n > 0 && string(e.Key) <= prev {
			t.Fatalf("keys out of order: %q after %q", e.Key, prev)
		}
		prev = string(e.Key)
		n++
	}
	if n != info.entries {
		t.Fatalf("tree holds %d entries, decoder counted %d", n, info.entries)
	}
}

// fixManifestCRC returns body followed by its valid crc line.
func fixManifestCRC(body []byte) []byte {
	return append(slices.Clone(body), []byte(crcLine(body))...)
}

func crcLine(body []byte) string {
	const hex = "0123456789abcdef"
	sum := crc32.Checksum(body, crcTable)
	b := []byte("crc 00000000\n")
	for i := range 8 {
		b[4+i] = hex[sum>>(28-4*i)&0xf]
	}
	return string(b)
}

// FuzzParseManifest parses fuzzed bytes as a MANIFEST, as they are and
// followed by a valid crc line. A MANIFEST that parses names a snapshot by
// a plain file name (no path) and encodes back to one that parses the same.
func FuzzParseManifest(f *testing.F) {
	good := manifest{snapshot: snapshotName(3), walStart: 3}.encode()
	f.Add(good)
	f.Add(manifest{walStart: 1}.encode())
	f.Add([]byte(manifestHeader + "\nsnapshot ../../etc/passwd\nwal-start 3\n"))
	f.Add([]byte(manifestHeader + "\nsnapshot ../000000000003.snap\nwal-start 3\n"))
	f.Add([]byte(manifestHeader + "\nsnapshot -\nwal-start 18446744073709551616\n"))
	f.Add([]byte(manifestHeader + "\nsnapshot -\nwal-start 0\n"))
	f.Add(good[:len(good)-5])
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAllocs(t, len(data), func() {
			checkManifest(t, data)
			checkManifest(t, fixManifestCRC(data))
		})
	})
}

func checkManifest(t *testing.T, data []byte) {
	t.Helper()
	m, err := parseManifest(data)
	if err != nil {
		return
	}
	if m.walStart == 0 || m.walStart > maxWALSeq {
		t.Fatalf("wal-start %d accepted", m.walStart)
	}
	if m.snapshot != "" {
		if _, ok := parseSeq(m.snapshot, snapExt); !ok || strings.ContainsAny(m.snapshot, `/\`) || strings.Contains(m.snapshot, "..") {
			t.Fatalf("snapshot name %q accepted", m.snapshot)
		}
	}
	// encode writes the current version, whatever version was read.
	again, err := parseManifest(m.encode())
	if want := (manifest{snapshot: m.snapshot, walStart: m.walStart}); err != nil || again != want {
		t.Fatalf("round trip: %+v, %v, want %+v", again, err, want)
	}
}
