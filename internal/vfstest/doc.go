// Package vfstest holds the file systems that MiniKV's tests put under the
// engine in place of the operating system's: MemFS, a file system in
// memory that simulates power loss, and FaultFS, which wraps any vfs.FS
// and makes its operations fail on demand. Every power-loss and
// fault-injection test of the engine trusts them; this package's own tests
// check them.
//
// # The crash model of MemFS
//
// Besides the current state of every file and directory, a MemFS keeps
// what is durable:
//
//   - a file's content as of its last successful Sync, and the changes made
//     since, in order: writes (Write, and stores into a mapping through
//     CopyAt), truncations (Truncate, O_TRUNC) and extensions (Allocate);
//   - a directory's entries as of its last SyncDir, and the creations,
//     renames and removals made in it since, in order.
//
// Directories themselves are durable as soon as MkdirAll makes them, and a
// directory does not list the directories under it: ReadDir returns files
// only. A rename moves a file within its directory only (EXDEV otherwise).
//
// Crash(keep, rng) returns the file system a reboot would find after a
// power cut now. Each directory has its durable entries, plus each of the
// changes made since its last SyncDir with probability keep, drawn
// independently and applied in order (a rename only when its source still
// names the same file), since a file system need not persist them in
// order. Each file that an entry of the image names has its durable
// content plus some of the changes made since its last Sync, in one of two
// ways drawn at random per file:
//
//   - a prefix: a binomial share keep of the changes, the first ones in
//     order, the last of them a write torn at a random byte one time in
//     four (ext4 with data=ordered and XFS leave this of appends);
//   - blocks: the size after that prefix, and each block that the changes
//     altered kept with probability keep, in no order, the others holding
//     the old bytes or zeros (writeback of a file whose size is already
//     durable, a preallocated or mapped one above all). The block size is
//     drawn per file: 512 bytes, 1 KiB or 4 KiB.
//
// Either way, a file with unsynced changes then gets, one time in three
// each, 1 to 64 zeros or 1 to 64 random bytes appended to its tail, as a
// file system that updated the size before the data does; this happens
// whatever keep is. With a nil rng nothing is drawn: keep below 1 keeps
// no unsynced change and appends nothing, so Crash(0, nil) is exactly what
// was synced, and Crash(1, nil), which Clone is, keeps everything, as a
// process kill leaves it. With an rng, keep 1 keeps every directory change
// and every file change but may still tear the last write and append a
// tail.
//
// A Sync that fails (FailSyncs) does as Linux does after fdatasync returns
// EIO: the byte ranges of the unsynced writes are lost, reads still see
// the new bytes, the disk keeps the old ones and no later Sync writes
// them, until a new write to a range makes it dirty again; the rest,
// sizes included, is synced. A crash puts the disk's bytes back over lost
// ranges, except Crash(1, nil), which keeps the page cache's.
//
// A crash image holds no locks and no open files, its operation count
// starts at zero, and all of it is durable. A MemFS can also be armed to
// crash by itself before its k-th operation (ArmCrash): it then takes the
// crash image at that instant and fails that operation and every later one
// with ErrCrashed, as a machine that lost power would never complete them.
package vfstest
