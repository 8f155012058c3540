package minikv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/minikv/minikv/internal/vfs"
)

// backupSeq is the WAL sequence a backup's snapshot starts at. A backup
// holds no WAL, so any number works as long as the snapshot header and the
// MANIFEST agree; 1 is what a new database starts at.
const backupSeq = 1

// Backup writes a consistent copy of the database to w, in the snapshot
// format of docs/format.md: every live key, value and expiry as of one
// instant between two writes (a batch is in it whole or not at all). Keys
// that have expired by then are left out. Restore turns the stream back
// into a database directory.
//
// Backup works on a read-only handle too. It reads a frozen view of the
// index, so reads and writes go on while it runs and it holds no lock while
// it writes to w. The view pins the memory of the records it covers until
// Backup returns. Backup returns ErrClosed after Close, or the first error
// of w.
func (db *DB) Backup(w io.Writer) error {
	v, now, err := db.freezeForBackup()
	if err != nil {
		return err
	}
	if _, err := writeSnapshotTo(w, backupSeq, v, now); err != nil {
		return wrapOp("backup", err)
	}
	return nil
}

// BackupTo writes a consistent copy of the database, as Backup describes,
// into dir as a database directory that Open can open: a snapshot and a
// MANIFEST naming it. dir must be missing or empty, and must not be the
// database's own directory; it is created with mode 0700. Every file, and
// dir itself, is fsynced before BackupTo returns, so a copy that BackupTo
// reported as done survives a power cut.
//
// BackupTo returns ErrClosed after Close, an error when dir holds files,
// or an error wrapping the I/O failure; after a failure dir may hold a
// partial copy without a MANIFEST, which Open refuses as corrupt.
func (db *DB) BackupTo(dir string) error {
	if err := db.checkBackupDir(dir); err != nil {
		return err
	}
	v, now, err := db.freezeForBackup()
	if err != nil {
		return err
	}
	if err := prepareDir(db.fsys, dir); err != nil {
		return err
	}
	if _, err := writeSnapshot(db.fsys, dir, backupSeq, v, now); err != nil {
		return wrapOp("backup to "+dir, err)
	}
	if err := createLockFile(db.fsys, dir); err != nil {
		return err
	}
	return writeManifest(db.fsys, dir, manifest{snapshot: snapshotName(backupSeq), walStart: backupSeq})
}

// createLockFile gives a new database directory its LOCK file, so that
// read-only handles on it take their shared lock and exclude a writer.
func createLockFile(fsys vfs.FS, dir string) error {
	if err := writeFileSync(fsys, filepath.Join(dir, lockName), nil); err != nil {
		return fmt.Errorf("minikv: create %s in %s: %w", lockName, dir, err)
	}
	return nil
}

// Restore reads a stream written by Backup from r and installs it in dir
// as a database directory that Open can open. dir must be missing or
// empty. The stream is checked in full (magic, version, every entry and
// the CRC) before the MANIFEST that makes it a database is written: for a
// damaged or truncated stream Restore returns an error matching ErrCorrupt.
//
// On any failure Restore removes what it created: every file it wrote in
// dir and, when dir was missing, dir itself and the parents it created. A
// directory that existed before is left in place, as empty as it was. An
// error that met the cleanup is joined to the one returned.
//
// Restore needs memory for the whole stream's contents while it checks it,
// as Open would.
func Restore(r io.Reader, dir string) error {
	fsys := osFS{}
	missing := missingDirs(fsys, dir)
	if err := prepareDir(fsys, dir); err != nil {
		return withCleanup(wrapOp("restore", err), removeFiles(fsys, "", missing))
	}
	made := missing
	if err := restoreInto(fsys, r, dir, &made); err != nil {
		syncDir := ""
		if len(missing) == 0 {
			// dir stays: make the removals in it durable, so that a crash
			// cannot bring back a restored store after a failed Restore.
			syncDir = dir
		}
		return withCleanup(wrapOp("restore", err), removeFiles(fsys, syncDir, made))
	}
	return nil
}

// restoreInto does the work of Restore in the empty directory dir. It
// appends to made the full name of each file before it creates it, so
// that Restore can remove them, in reverse order, on failure.
func restoreInto(fsys vfs.FS, r io.Reader, dir string, made *[]string) error {
	tmp := filepath.Join(dir, "restore"+tmpExt)
	*made = append(*made, tmp)
	if err := copyToFile(fsys, tmp, r); err != nil {
		return err
	}
	_, info, err := loadSnapshot(fsys, tmp, 0, 0)
	// Everything the MANIFEST will hold is checked as the MANIFEST's reader
	// checks it, so that an accepted stream always opens.
	if err == nil && (info.walSeq == 0 || info.walSeq > maxWALSeq) {
		err = &corruptError{offset: 20, reason: fmt.Sprintf("WAL sequence %d outside 1..%d", info.walSeq, uint64(maxWALSeq))}
	}
	if ce := (*corruptError)(nil); errors.As(err, &ce) {
		ce.file = "backup stream"
	}
	if err != nil {
		return err
	}
	name := filepath.Join(dir, snapshotName(info.walSeq))
	*made = append(*made, name)
	if err := fsys.Rename(tmp, name); err != nil {
		return err
	}
	*made = append(*made, filepath.Join(dir, lockName))
	if err := createLockFile(fsys, dir); err != nil {
		return err
	}
	if err := fsys.SyncDir(dir); err != nil {
		return wrapOp(fmt.Sprintf("sync %s", dir), err)
	}
	man := filepath.Join(dir, manifestName)
	*made = append(*made, man+tmpExt, man)
	return writeManifest(fsys, dir, manifest{snapshot: filepath.Base(name), walStart: info.walSeq})
}

// missingDirs returns dir and those of its parents that do not exist, in
// the order creating dir makes them: the outermost first. Errors other
// than a missing directory are left for prepareDir to report.
func missingDirs(fsys vfs.FS, dir string) []string {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := fsys.ReadDir(d); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	slices.Reverse(missing)
	return missing
}

// removeFiles removes names (files, or directories left empty) in the
// reverse of the order they were created in, skipping those that do not
// exist, then fsyncs syncDir unless it is "". It returns the failures,
// joined.
func removeFiles(fsys vfs.FS, syncDir string, names []string) error {
	var errs []error
	for i := len(names) - 1; i >= 0; i-- {
		if err := fsys.Remove(names[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if syncDir != "" {
		errs = append(errs, fsys.SyncDir(syncDir))
	}
	return errors.Join(errs...)
}

// withCleanup returns err, with the failure of the cleanup that followed
// it, if any, joined to it.
func withCleanup(err, cleanup error) error {
	if cleanup == nil {
		return err
	}
	return errors.Join(err, wrapOp("remove what was created", cleanup))
}

// freezeForBackup freezes the index under the read lock, as iterators do, and
// returns the view with the time that decides which keys have expired.
func (db *DB) freezeForBackup() (frozenIndex, int64, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.idx == nil {
		return frozenIndex{}, 0, ErrClosed
	}
	return db.idx.freeze(), db.now(), nil
}

// checkBackupDir refuses the database's own directory as a backup target.
func (db *DB) checkBackupDir(dir string) error {
	if dir == "" {
		return errors.New("minikv: backup directory is required")
	}
	src, err1 := filepath.Abs(db.dir)
	dst, err2 := filepath.Abs(dir)
	if err := errors.Join(err1, err2); err != nil {
		return wrapOp("backup", err)
	}
	if src == dst {
		return fmt.Errorf("minikv: backup: %s is the database's own directory", dir)
	}
	return nil
}

// prepareDir creates dir (0700) when missing, makes its entry in the parent
// durable, and fails when dir already holds anything.
func prepareDir(fsys vfs.FS, dir string) error {
	names, err := fsys.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return createDir(fsys, dir)
	case err != nil:
		return fmt.Errorf("minikv: read %s: %w", dir, err)
	case len(names) > 0:
		return fmt.Errorf("minikv: %s is not empty (it holds %s)", dir, names[0])
	}
	return nil
}

// copyToFile writes the snapshot stream r to a new file name and fsyncs
// it. It checks the stream's framing as the bytes arrive (the header, then
// each entry's lengths, up to the 12-byte footer), so that a stream that
// is not a snapshot, such as gigabytes of zeros from a sparse file, stops
// at its first bad entry instead of being copied whole. decodeSnapshot
// checks the rest (order, count, checksum) once the copy is complete.
func copyToFile(fsys vfs.FS, name string, r io.Reader) error {
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(io.TeeReader(r, f), 1<<16)
	err = checkStream(br)
	if err == nil {
		_, err = io.Copy(io.Discard, br) // nothing is left; drains what is
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// checkStream reads a snapshot stream from br, checking its header and the
// lengths of each entry, and stops at the footer.
func checkStream(br *bufio.Reader) error {
	bad := func(off int64, reason string) error {
		return &corruptError{file: "backup stream", offset: off, reason: reason}
	}
	var hdr [snapHeaderSize]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return bad(-1, "file too short")
		}
		return err
	}
	if string(hdr[:8]) != snapMagic {
		return bad(0, "bad magic")
	}
	off := int64(snapHeaderSize)
	for {
		// The footer is the last snapFooterSize bytes: an entry is only
		// where more than that is left.
		if b, err := br.Peek(snapFooterSize + 1); len(b) <= snapFooterSize {
			if errors.Is(err, io.EOF) && len(b) == snapFooterSize {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return bad(off, "truncated footer")
			}
			return err
		}
		h, n1, err1 := readUvarint(br)
		vlen, n2, err2 := readUvarint(br)
		klen := h >> 1
		if err := errors.Join(err1, err2); err != nil || klen == 0 || klen > MaxKeySize || vlen > MaxValueSize {
			return bad(off, "bad entry lengths")
		}
		n := int64(n1+n2) + int64(klen+vlen)
		if h&1 != 0 {
			n += 8
		}
		if d, err := br.Discard(int(n) - n1 - n2); err != nil {
			return bad(off+int64(n1+n2+d), "truncated entry")
		}
		off += n
	}
}

// readUvarint reads a uvarint from br and returns it with its length.
func readUvarint(br *bufio.Reader) (uint64, int, error) {
	var v uint64
	for i := range binary.MaxVarintLen64 {
		c, err := br.ReadByte()
		if err != nil {
			return 0, i, err
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, binary.MaxVarintLen64, errors.New("uvarint overflow")
}
