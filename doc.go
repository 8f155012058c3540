// Package minikv is an embeddable key-value store: a local store on disk
// that serves reads from memory, logs every write to a CRC-checked
// write-ahead log before acknowledging it, and can be killed at any instant
// without losing an acknowledged write.
//
// # Opening a store
//
//	db, err := minikv.Open(minikv.Options{Dir: "/var/lib/myapp/kv"})
//	if err != nil { ... }
//	defer db.Close()
//
// One process (one handle) writes to a directory at a time; a second
// writer gets ErrLocked. Several read-only handles may share a directory
// that no writer holds.
//
// # Data model
//
// Keys are non-empty strings of up to MaxKeySize bytes, values byte slices
// of up to MaxValueSize bytes. The store copies what it is given and hands
// back copies. Keys may carry an expiry (SetWithTTL, Expire); an expired key
// behaves as missing everywhere. Batches apply several writes atomically.
// Scans see a frozen view of the store, in ascending byte order of keys.
//
// # Durability
//
// Options.SyncMode chooses when the WAL is fsynced: SyncAlways (the
// default) before every write returns, with concurrent writers sharing one
// fsync; SyncPeriodic every Options.SyncInterval; SyncNever only at
// compaction, segment rotation and Close. In every mode an acknowledged
// write has reached the operating system, so it survives a process kill;
// only SyncAlways also guarantees it survives a power cut.
//
// # Files
//
// A database directory holds a MANIFEST naming the live files, a LOCK
// file, WAL segments (*.wal) and at most one snapshot (*.snap). Compaction
// folds the WAL into a new snapshot when it passes Options.MaxWALSize, or on
// Compact. Recovery loads the snapshot and replays the WAL; a torn record at
// the very end of the log (what a crash leaves) is cut off, while damage
// followed by valid records fails Open with ErrCorrupt unless
// Options.SalvageCorruptWAL is set. The byte layouts are drawn in format.go
// and in docs/format.md. Verify checks every file of a closed database
// without modifying it and reports each problem with its file and offset.
//
// # Concurrency
//
// All DB methods are safe for concurrent use by multiple goroutines. Reads
// take a shared lock on an in-memory index and never wait for I/O; writers
// are serialised, and with SyncAlways share fsyncs (group commit).
// Iterators hold no lock between calls.
package minikv
