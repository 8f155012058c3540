package minikv

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// This file holds every on-disk layout. The constants and layouts are
// frozen: a change needs a new format version and a reader for the old one.
//
// # WAL record
//
// A WAL segment is a sequence of records, possibly followed by zero padding:
//
//	+----------+----------------+-----------+----------------+------------------+---- ... ----+
//	| CRC (4B) | Length uvarint | Type (1B) | Timestamp (8B) | Durable uvarint  | Body        |
//	+----------+----------------+-----------+----------------+------------------+---- ... ----+
//
// Length counts Type, Timestamp, Durable and Body. CRC is the CRC32 (IEEE)
// of the Length bytes, Type, Timestamp, Durable and Body. Timestamp is the
// write's wall clock in Unix nanoseconds, little-endian. Durable (format 2,
// when Type has recDurableFlag) is the offset in the segment up to which
// the WAL was known durable when the record was written; records of format
// 1, written before it existed, lack the field. The body depends on the
// type:
//
//	recSet:     ExpiresAt (8B) | KeyLen uvarint | ValLen uvarint | Key | Value
//	recDelete:  KeyLen uvarint | Key
//	recBatch:   Count uvarint | Op*   where Op is opSet or opDelete (1B)
//	            followed by the recSet or recDelete body
//	recDurable: empty (Close appends one, whose Durable covers the segment)
//
// ExpiresAt is Unix nanoseconds, little-endian; 0 means no expiry. A batch
// is one record, so one CRC covers it: recovery applies all of it or none.
//
// # Entry (snapshot entries and in-memory records)
//
//	+---------------------------+----------------+------------------+-----+-------+
//	| KeyLen<<1|HasExp uvarint  | ValLen uvarint | [ExpiresAt (8B)] | Key | Value |
//	+---------------------------+----------------+------------------+-----+-------+
//
// ExpiresAt is present only when HasExp is 1.
//
// # Snapshot file
//
//	+-----------------+--------------+--------------+-------------+
//	| "MINIKVSN" (8B) | Version (4B) | Created (8B) | WALSeq (8B) |
//	+-----------------+--------------+--------------+-------------+
//	| Entry * Count, keys strictly ascending                      |
//	+------------+------------------------------------------------+
//	| Count (8B) | CRC32 (4B) of every preceding byte             |
//	+------------+------------------------------------------------+
//
// Created is the Unix nanosecond time the snapshot was taken. WALSeq is
// the first WAL segment whose records the snapshot does not hold. The count
// sits in the footer so that the writer streams entries in one pass; the
// reader reads the footer first and checks the count against the file size
// before it sizes anything by it. All fixed-width fields are little-endian.
//
// # MANIFEST
//
// A text file, replaced atomically (temp file, fsync, rename, directory
// fsync):
//
//	minikv-manifest 2
//	snapshot 0000000000000003.snap     ("snapshot -" when there is none)
//	wal-start 3
//	crc 1a2b3c4d
//
// The crc line holds the CRC32 (IEEE), in hex, of every line before it,
// newlines included. Live WAL segments are those numbered wal-start or more.
// The number in the first line versions the WAL too: 1 says its records
// are of the first format only, 2 that they may be of either.
//
// # SYNC-FAILED
//
// A file left when an fsync of the WAL failed; it holds the name of the
// segment. Its presence alone matters: the next writable Open makes what it
// recovered durable in a new snapshot before it writes (see recovery.go).

const (
	snapMagic      = "MINIKVSN"
	snapVersion    = 1
	snapHeaderSize = 8 + 4 + 8 + 8
	snapFooterSize = 8 + 4
	minEntrySize   = 3

	manifestName   = "MANIFEST"
	manifestHeader = "minikv-manifest 2"
	// manifestHeaderV1 heads the MANIFEST of a store whose WAL holds
	// records of the first format only; Open still reads it, and a
	// writable Open rewrites it as manifestHeader before the first write.
	manifestHeaderV1 = "minikv-manifest 1"
	lockName         = "LOCK"
	syncFailedName   = "SYNC-FAILED"
	walExt           = ".wal"
	snapExt          = ".snap"
	tmpExt           = ".tmp"
	walHeaderMax     = 4 + binary.MaxVarintLen64
	recFixedSize     = 1 + 8 // type and timestamp
	entryHeaderMax   = 2*binary.MaxVarintLen32 + 8
	setBodyOverhead  = 8 + 2*binary.MaxVarintLen32
)

// WAL record types. A type with recDurableFlag set carries a durable
// point (format 2); one without is of format 1, which every version reads.
const (
	recSet     byte = 1
	recDelete  byte = 2
	recBatch   byte = 3
	recDurable byte = 4 // no body: only the durable point (written at Close)

	recDurableFlag byte = 0x80
)

// Batch operation codes.
const (
	opSet    byte = 1
	opDelete byte = 2
)

var crcTable = crc32.MakeTable(crc32.IEEE)

// segmentName returns the file name of WAL segment seq.
func segmentName(seq uint64) string { return fmt.Sprintf("%016x%s", seq, walExt) }

// snapshotName returns the file name of the snapshot that starts at seq.
func snapshotName(seq uint64) string { return fmt.Sprintf("%016x%s", seq, snapExt) }

// parseSeq parses a segment or snapshot name; ok is false for other names.
func parseSeq(name, ext string) (seq uint64, ok bool) {
	if len(name) != 16+len(ext) || name[16:] != ext {
		return 0, false
	}
	for _, c := range name[:16] {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		seq = seq<<4 | d
	}
	return seq, true
}

// FileFormat names one kind of store file and the versions of its layout
// that this build reads and writes.
type FileFormat struct {
	Name   string // "MANIFEST", "WAL" or "snapshot"
	Reads  []int  // versions Open accepts
	Writes int    // the version new files get
}

// FileFormats returns the on-disk formats of this build, for tools that
// report them (the minikv command's "version"). The WAL's version is the one
// its MANIFEST states (see the MANIFEST section above).
func FileFormats() []FileFormat {
	return []FileFormat{
		{Name: "MANIFEST", Reads: []int{1, 2}, Writes: 2},
		{Name: "WAL", Reads: []int{1, 2}, Writes: 2},
		{Name: "snapshot", Reads: []int{snapVersion}, Writes: snapVersion},
	}
}
