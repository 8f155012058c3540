package minikv

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minikv/minikv/internal/vfs"
)

// manifest names the live files of a database: the snapshot to load and
// the first live WAL segment. Its text layout is drawn in format.go.
type manifest struct {
	snapshot string // file name, or "" for none
	walStart uint64 // segments numbered walStart or more are live
	// v1 is set when the MANIFEST read says version 1 (a store written
	// before WAL records carried durable points); one written says 2.
	v1 bool
}

// maxManifestSize bounds what readManifest will read.
const maxManifestSize = 4 << 10

// maxWALSeq bounds wal-start. A database rotates its WAL far fewer than
// 2^62 times, and a larger start could wrap the next segment number past
// 2^64-1 to 0, below wal-start, where recovery deletes it as obsolete.
const maxWALSeq = 1 << 62

func (m manifest) encode() []byte {
	snap := m.snapshot
	if snap == "" {
		snap = "-"
	}
	body := fmt.Sprintf("%s\nsnapshot %s\nwal-start %d\n", manifestHeader, snap, m.walStart)
	return fmt.Appendf([]byte(body), "crc %08x\n", crc32.Checksum([]byte(body), crcTable))
}

func manifestCorrupt(reason string) error {
	return &corruptError{file: manifestName, offset: -1, reason: reason}
}

// parseManifest decodes a MANIFEST, trusting nothing in it.
func parseManifest(data []byte) (manifest, error) {
	var m manifest
	i := bytes.LastIndex(data, []byte("crc "))
	if i < 0 || i == 0 || data[i-1] != '\n' {
		return m, manifestCorrupt("missing crc line")
	}
	body, crcLine := data[:i], strings.TrimSuffix(string(data[i+4:]), "\n")
	want, err := strconv.ParseUint(crcLine, 16, 32)
	if err != nil || len(crcLine) != 8 || uint32(want) != crc32.Checksum(body, crcTable) {
		return m, manifestCorrupt("checksum mismatch")
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines) != 3 || (lines[0] != manifestHeader && lines[0] != manifestHeaderV1) {
		return m, manifestCorrupt("unknown header or layout")
	}
	m.v1 = lines[0] == manifestHeaderV1
	snap, ok := strings.CutPrefix(lines[1], "snapshot ")
	if !ok {
		return m, manifestCorrupt("missing snapshot line")
	}
	if snap != "-" {
		if _, ok := parseSeq(snap, snapExt); !ok {
			return m, manifestCorrupt("bad snapshot name " + strconv.Quote(snap))
		}
		m.snapshot = snap
	}
	start, ok := strings.CutPrefix(lines[2], "wal-start ")
	if !ok {
		return m, manifestCorrupt("missing wal-start line")
	}
	m.walStart, err = strconv.ParseUint(start, 10, 64)
	if err != nil || m.walStart == 0 || m.walStart > maxWALSeq {
		return m, manifestCorrupt("bad wal-start")
	}
	return m, nil
}

// readManifest reads dir's MANIFEST; found is false when there is none.
func readManifest(fsys vfs.FS, dir string) (m manifest, found bool, err error) {
	data, err := readFile(fsys, filepath.Join(dir, manifestName), maxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, wrapOp("read MANIFEST", err)
	}
	m, err = parseManifest(data)
	return m, true, err
}

// writeManifest replaces dir's MANIFEST atomically and durably: temp file,
// fsync, rename, directory fsync.
func writeManifest(fsys vfs.FS, dir string, m manifest) error {
	final := filepath.Join(dir, manifestName)
	tmp := final + tmpExt
	if err := writeFileSync(fsys, tmp, m.encode()); err != nil {
		_ = fsys.Remove(tmp)
		return wrapOp("write MANIFEST", err)
	}
	if err := fsys.Rename(tmp, final); err != nil {
		return wrapOp("install MANIFEST", err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return wrapOp("sync directory after MANIFEST", err)
	}
	return nil
}
