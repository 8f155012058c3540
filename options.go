package minikv

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/minikv/minikv/internal/index"
	"github.com/minikv/minikv/internal/vfs"
)

// SyncMode says when MiniKV calls fsync on the write-ahead log.
type SyncMode int

const (
	// SyncAlways makes every write durable before it returns: the WAL is
	// fsynced, and concurrent writers share one fsync (group commit). A write
	// that returned nil survives a process kill and a power cut.
	SyncAlways SyncMode = iota
	// SyncPeriodic fsyncs the WAL every Options.SyncInterval. A write that
	// returned nil has reached the operating system and survives a process
	// kill; a power cut may lose the last interval.
	SyncPeriodic
	// SyncNever leaves flushing to the operating system, except at Close,
	// compaction and WAL segment rotation. A write that returned nil survives
	// a process kill; a power cut may lose any write since the last of those.
	SyncNever
)

// String returns the mode's name.
func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "always"
	case SyncPeriodic:
		return "periodic"
	case SyncNever:
		return "never"
	}
	return "SyncMode(" + strconv.Itoa(int(m)) + ")"
}

// EvictionPolicy says what a write does when the store is at
// Options.MaxMemory.
type EvictionPolicy int

const (
	// NoEviction fails a write that would take Stats().MemoryUsage past
	// MaxMemory with ErrMemoryLimit, writing nothing. Deletes always work
	// and make room.
	NoEviction EvictionPolicy = iota
	// EvictTTL first evicts keys that have an expiry, soonest expiry first,
	// and fails like NoEviction once none is left.
	EvictTTL
	// EvictLRU evicts the keys read or written least recently,
	// approximately: the oldest of a sample, as Redis's allkeys-lru does.
	EvictLRU
)

// String returns the policy's name.
func (p EvictionPolicy) String() string {
	switch p {
	case NoEviction:
		return "noeviction"
	case EvictTTL:
		return "ttl"
	case EvictLRU:
		return "lru"
	}
	return "EvictionPolicy(" + strconv.Itoa(int(p)) + ")"
}

// Size limits. They bound what one call may write, so that a WAL record, a
// snapshot entry and a batch always fit in memory.
const (
	// MaxKeySize is the largest key, in bytes.
	MaxKeySize = 32 << 10
	// MaxValueSize is the largest value, in bytes.
	MaxValueSize = 16 << 20
	// MaxBatchSize is the largest batch, in bytes as Batch.Size counts them.
	MaxBatchSize = 64 << 20
)

// The index decodes a longer key or value as damage, so its limits are
// these: either array length below is negative, and the build fails, when
// they differ.
var (
	_ [MaxKeySize - index.MaxKey]struct{}
	_ [index.MaxKey - MaxKeySize]struct{}
	_ [MaxValueSize - index.MaxValue]struct{}
	_ [index.MaxValue - MaxValueSize]struct{}
)

// Defaults for the zero values of Options.
const (
	DefaultSyncInterval     = time.Second
	DefaultMaxWALSize       = 64 << 20
	DefaultSegmentSize      = 16 << 20
	DefaultTTLCleanInterval = time.Second
)

// Options configures Open. The zero value of every field but Dir is a
// sensible default.
type Options struct {
	// Dir is the database directory. It is required, and created with mode
	// 0700 when missing (unless ReadOnly).
	Dir string

	// SyncMode says when writes are fsynced. The default, SyncAlways, is the
	// safest and the slowest; see SyncMode for what the others risk.
	SyncMode SyncMode

	// SyncInterval is the fsync period of SyncPeriodic. Zero means 1s. A
	// longer interval loses more writes to a power cut.
	SyncInterval time.Duration

	// ReadOnly opens the database for reads only. Writes return ErrReadOnly,
	// no file in Dir is modified, and several read-only handles may share a
	// directory (but none may share it with a writer).
	ReadOnly bool

	// MaxWALSize is the number of WAL bytes that starts a background
	// compaction. Zero means 64 MiB. A smaller value compacts more often and
	// reopens faster; a larger one writes less.
	MaxWALSize int64

	// SegmentSize is the size at which the WAL moves to a new segment file.
	// Zero means 16 MiB (or MaxWALSize, when that is smaller).
	SegmentSize int64

	// TTLCleanInterval is the period of the background cleaner that removes
	// expired keys. Zero means 1s. A negative value disables the cleaner;
	// expired keys are then invisible but hold memory until overwritten,
	// deleted or compacted.
	TTLCleanInterval time.Duration

	// DisableAutoCompaction stops the automatic compaction at MaxWALSize;
	// Compact still works. The WAL then grows without bound.
	DisableAutoCompaction bool

	// SalvageCorruptWAL lets Open succeed on a WAL damaged in the middle
	// (damage followed by valid records), keeping only the records before
	// the first damage and dropping everything after it. The default refuses
	// with ErrCorrupt, since that damage is not what a crash leaves.
	SalvageCorruptWAL bool

	// LockTimeout is how long Open waits for another handle to release
	// the directory (a short-lived tool, say, or the process being
	// replaced) before it returns ErrLocked. Zero fails at once.
	LockTimeout time.Duration

	// MaxMemory bounds Stats().MemoryUsage, in bytes: the arena of
	// records with its dead space, the hash table, the tree and the expiry
	// structures. Zero means no limit. A write that would pass it evicts
	// keys or fails, as Eviction says. The store keeps the last 64th of the
	// limit (at least 4 KiB, at most 4 MiB) as room to move live records
	// out of chunks that evictions and deletes left sparse, so writes are
	// admitted up to MaxMemory minus that. Open brings a store that comes
	// out over its limit (opened with a lower one, say) under it as a
	// write would, evicting by the policy; one that cannot evict keeps its
	// keys, and its writes fail until deletes make room. Read-only handles
	// ignore the limit. See docs/memory.md for how MemoryUsage relates to
	// the process's RSS and GOGC.
	MaxMemory int64

	// Eviction is what a write does at MaxMemory; the default is
	// NoEviction.
	Eviction EvictionPolicy

	// Logger receives compaction, recovery and background-error events.
	// Nil discards them.
	Logger *slog.Logger

	// fs replaces the operating system's file system in tests.
	fs vfs.FS
	// now replaces the wall clock in tests; it returns Unix nanoseconds.
	now func() int64
}

// withDefaults returns a copy of o with every zero value filled in.
func (o Options) withDefaults() Options {
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.MaxWALSize <= 0 {
		o.MaxWALSize = DefaultMaxWALSize
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = min(DefaultSegmentSize, o.MaxWALSize)
	}
	if o.TTLCleanInterval == 0 {
		o.TTLCleanInterval = DefaultTTLCleanInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.fs == nil {
		o.fs = osFS{}
	}
	if o.now == nil {
		o.now = func() int64 { return time.Now().UnixNano() }
	}
	return o
}
