package minikv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/minikv/minikv/internal/vfs"
)

// Sentinel errors returned by MiniKV. Compare with errors.Is: most are
// returned wrapped with the file, key or operation they concern.
var (
	// ErrNotFound is returned when a key is missing or has expired.
	ErrNotFound = errors.New("minikv: key not found")
	// ErrKeyTooLarge is returned for a key longer than MaxKeySize bytes.
	ErrKeyTooLarge = errors.New("minikv: key too large")
	// ErrValueTooLarge is returned for a value longer than MaxValueSize bytes.
	ErrValueTooLarge = errors.New("minikv: value too large")
	// ErrBatchTooLarge is returned by Batch.Write when the batch holds more
	// than MaxBatchSize bytes.
	ErrBatchTooLarge = errors.New("minikv: batch too large")
	// ErrEmptyKey is returned for the empty key.
	ErrEmptyKey = errors.New("minikv: empty key")
	// ErrInvalidTTL is returned for a TTL that is zero or negative.
	ErrInvalidTTL = errors.New("minikv: invalid ttl")
	// ErrInvalidValue is returned by Incr, Decr and IncrBy when the stored
	// value is not a base-10 int64, or when the result would overflow.
	ErrInvalidValue = errors.New("minikv: value is not an integer or would overflow")
	// ErrReadOnly is returned for a write to a database opened ReadOnly.
	ErrReadOnly = errors.New("minikv: database is read-only")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("minikv: database is closed")
	// ErrLocked is returned by Open when another handle, in this process or
	// another one, holds a conflicting lock on the directory. It is the
	// error every file system of the engine wraps on a lock conflict.
	ErrLocked = vfs.ErrLocked
	// ErrCorrupt is returned when a file fails its checks. It is wrapped with
	// the name of the file and, for the WAL, the offset of the damage.
	ErrCorrupt = errors.New("minikv: corrupt database file")
	// ErrBatchUsed is returned by Batch.Write after Write or Discard.
	ErrBatchUsed = errors.New("minikv: batch already written or discarded")
	// ErrBadPattern is returned by Keys for a malformed glob pattern.
	ErrBadPattern = errors.New("minikv: malformed pattern")
	// ErrMemoryLimit is returned by a write that would take
	// Stats().MemoryUsage past Options.MaxMemory when the eviction policy
	// finds nothing to evict (always, with NoEviction). The write has
	// written nothing. It is wrapped with the figures.
	ErrMemoryLimit = errors.New("minikv: memory limit reached")
)

// corruptError records where a file failed its checks. It matches
// ErrCorrupt with errors.Is.
type corruptError struct {
	file   string
	offset int64 // -1 when the whole file is at fault
	reason string
}

func (e *corruptError) Error() string {
	if e.offset < 0 {
		return "minikv: corrupt database file " + e.file + ": " + e.reason
	}
	return "minikv: corrupt database file " + e.file + " at offset " + strconv.FormatInt(e.offset, 10) + ": " + e.reason
}

func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }

// limitError says by how much a key, value or batch is over its limit. It
// matches its sentinel (ErrKeyTooLarge, ErrValueTooLarge or
// ErrBatchTooLarge) with errors.Is.
type limitError struct {
	sentinel    error
	size, limit int
}

func (e *limitError) Error() string {
	return fmt.Sprintf("%v: %d bytes, over the limit of %d", e.sentinel, e.size, e.limit)
}

func (e *limitError) Unwrap() error { return e.sentinel }

// tooLarge returns the error for size bytes against limit.
func tooLarge(sentinel error, size, limit int) error {
	return &limitError{sentinel, size, limit}
}

// memoryError says how far a write would pass the memory limit. It
// matches ErrMemoryLimit with errors.Is.
type memoryError struct {
	need, limit, usage int64
	policy             EvictionPolicy
}

func (e *memoryError) Error() string {
	return fmt.Sprintf("%v: %d bytes in use, the write would add %d, and writes are admitted up to %d of MaxMemory %d (eviction policy %v found nothing more to evict)",
		ErrMemoryLimit, e.usage, e.need-e.usage, admitLimit(e.limit), e.limit, e.policy)
}

func (e *memoryError) Unwrap() error { return ErrMemoryLimit }

// notDirError says that the directory given to Open is something else. It
// matches syscall.ENOTDIR with errors.Is.
type notDirError struct{ dir string }

func (e *notDirError) Error() string { return "minikv: " + e.dir + " is not a directory" }
func (e *notDirError) Unwrap() error { return syscall.ENOTDIR }

// opError prefixes an error with the operation that met it. Its message
// keeps one "minikv: " at the front, however deep the wrapping.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "minikv: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "minikv: ")
}

func (e *opError) Unwrap() error { return e.err }

// wrapOp returns err prefixed with op, or nil for a nil err.
func wrapOp(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op, err}
}

// quoted returns s as a Go string literal for an error message, cut to its
// first 40 bytes, so that a huge or binary key or value cannot flood a log.
func quoted(s string) string {
	const max = 40
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:max]) + fmt.Sprintf("... (%d bytes)", len(s))
}
