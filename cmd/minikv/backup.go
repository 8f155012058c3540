package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// backupCmd is "minikv backup".
var backupCmd = &command{
	name:    "backup",
	args:    "DEST",
	summary: "copy the store consistently into a new directory or a stream",
	doc: `Backup writes a consistent copy of the store, as of one instant, into the
directory DEST, which must be missing or empty. The copy is a database of
its own: open it with -dir DEST, or point a service at it to restore. With
-stream, DEST is instead a file that receives one snapshot stream ("-" for
standard output); "minikv restore" turns such a stream back into a store.
A backup that fails removes what it wrote: the directory DEST when it made
it, the files in it otherwise, or the stream file.

Backup opens the store read-only, so it runs only while no process has the
store open for writing. To back up a store a service is using, call
(*minikv.DB).BackupTo or Backup from the service itself: they copy a live
store without stopping its reads and writes.`,
	run: runBackup,
}

// runBackup copies the store into a directory or a stream file.
func runBackup(c *cmdCtx, args []string) error {
	stream := c.fs.Bool("stream", false, "write a snapshot stream to the file DEST (\"-\": standard output)")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	dest := pos[0]
	db, err := c.openRead()
	if err != nil {
		return err
	}
	defer db.Close()
	if !*stream {
		if err := checkDir(dest); err != nil {
			return err
		}
		if _, err := c.willFill(dest, true, "; backup copies only into a missing or empty directory"); err != nil {
			return err
		}
		if err := db.BackupTo(dest); err != nil {
			return err
		}
		c.keep()
		n, err := db.Count()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.stdout, "backed up %d keys from %s to %s\n", n, c.dir, dest)
		return err
	}
	if dest == "-" {
		return db.Backup(c.stdout)
	}
	return writeStream(db.Backup, dest)
}

// writeStream creates the file name, exclusively, and fills it with write.
// On failure it removes the file; it never overwrites one.
func writeStream(write func(io.Writer) error, name string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: backup -stream writes only a new file", name)
	}
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}
