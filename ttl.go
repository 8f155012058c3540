package minikv

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/minikv/minikv/internal/index"
)

// Expiry cleaning takes the due keys from the expiry heap (memIndex.expiry)
// and deletes them in logged batches of ttlBatch, round after round while
// keys are due, within ttlBudget per round, as Redis's active expiry keeps
// at it while much is due. Its cost follows the keys that expire, not the
// keys that carry an expiry.
const (
	ttlBatch  = 256
	ttlBudget = 10 * time.Millisecond
)

// NoExpiry is what TTL returns for a key that never expires. Like every
// negative duration it is never a TTL left, so callers may also test
// ttl < 0.
const NoExpiry time.Duration = -1

// badTTL returns ErrInvalidTTL naming the TTL given.
func badTTL(ttl time.Duration) error {
	return fmt.Errorf("%w: %v, a TTL must be positive", ErrInvalidTTL, ttl)
}

// expiryOf turns a TTL into an absolute expiry, or returns ErrInvalidTTL.
func (db *DB) expiryOf(ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, badTTL(ttl)
	}
	return expiryAfter(db.now(), ttl), nil
}

// expiryAfter returns the absolute expiry ttl (> 0) after now, saturated
// at the largest time an expiry can hold: for a TTL of centuries now+ttl
// would overflow to a negative expiry, which reads as long past and which
// the WAL decoder rejects as damage.
func expiryAfter(now int64, ttl time.Duration) int64 {
	if now > 0 && int64(ttl) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(ttl)
}

// SetWithTTL stores value under key, to expire after ttl. The expiry is
// stored as an absolute time, so it runs on while the database is closed.
// It returns ErrInvalidTTL for ttl <= 0 and otherwise the errors of Set.
func (db *DB) SetWithTTL(key string, value []byte, ttl time.Duration) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := checkKV(key, value); err != nil {
		return err
	}
	exp, err := db.expiryOf(ttl)
	if err != nil {
		return err
	}
	return db.set(context.Background(), key, value, exp)
}

// TTL returns the time key has left to live, or NoExpiry (negative) when
// key has no expiry. It returns ErrNotFound for a missing or expired key.
func (db *DB) TTL(key string) (time.Duration, error) {
	if db.closed.Load() {
		return 0, ErrClosed
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	h := index.Hash(key)
	db.stats.read(h)
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.idx == nil {
		return 0, ErrClosed
	}
	now := db.now()
	e, ok := db.idx.get(key, h, now)
	if !ok {
		return 0, ErrNotFound
	}
	if e.Exp == 0 {
		return NoExpiry, nil
	}
	return time.Duration(e.Exp - now), nil
}

// Expire sets key to expire after ttl. It returns ErrNotFound for a missing
// or expired key, ErrInvalidTTL for ttl <= 0 and otherwise the errors of
// Set.
func (db *DB) Expire(key string, ttl time.Duration) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	exp, err := db.expiryOf(ttl)
	if err != nil {
		return err
	}
	return db.rewriteExpiry(key, exp)
}

// Persist removes key's expiry. It returns ErrNotFound for a missing or
// expired key and otherwise the errors of Set.
func (db *DB) Persist(key string) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	return db.rewriteExpiry(key, 0)
}

// rewriteExpiry writes key's current value again with a new expiry, or
// returns ErrNotFound for a missing or expired key.
func (db *DB) rewriteExpiry(key string, exp int64) error {
	r, err := db.newRMW(key, rmwExpiry)
	if err != nil {
		return err
	}
	r.exp = exp
	err = db.readModifyWrite(r)
	putReq(r)
	return err
}

// cleanRound is one tick of the background cleaner. It cleans for
// ttlBudget, and while keys are still due after that, rests as long and
// cleans again, so that a mass expiry is reclaimed within about twice the
// time its deletes take, with writers and readers let through between
// rounds, and not at ttlBudget per interval. Then it gives back the memory
// of dead records (see relocateWaste), unless writes are bringing a
// compaction soon (see compactionNear).
func (db *DB) cleanRound(ctx context.Context) {
	for {
		more, err := db.cleanExpired(ctx, time.Now().Add(ttlBudget))
		if err != nil && ctx.Err() == nil {
			db.log.Error("minikv: expiry cleaning failed", "err", err)
		}
		if !more || err != nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(ttlBudget):
		}
	}
	if db.compactionNear() {
		return
	}
	if err := db.relocateWaste(ctx); err != nil && ctx.Err() == nil {
		db.log.Error("minikv: relocating records out of sparse chunks failed", "err", err)
	}
}

// compactionNear reports whether the WAL grew by at least an eighth of
// MaxWALSize since the cleaner last asked, with automatic compaction on:
// writes are then bringing a compaction within a few rounds, whose
// defragmentation gives the memory of dead records back. The cleaner
// leaves that memory to it rather than move the same records beside those
// writes: under steady overwrites there is always waste to move, and each
// of its steps holds the writer lock, so the cleaner took up to a third of
// the writers' time (Set from 16 goroutines 23% slower, batches of 10 and
// Incr about half as fast, in bench/compare's writer figures). What the
// cleaner is for, memory left by deletes and expiries when writes pause or
// trickle, it still gives back.
func (db *DB) compactionNear() bool {
	w := db.wal.written.Load()
	grown := w - db.cleanMark.Swap(w)
	return !db.opts.DisableAutoCompaction && grown >= db.opts.MaxWALSize/8
}

// relocateWasteMin is the waste below which relocateWaste leaves the arena
// alone.
const relocateWasteMin = 256 << 10

// relocateWaste gives back the memory of dead records (deleted, expired,
// overwritten) while the arena's waste (see arena.waste) is more than an
// eighth of it: it moves the live records out of the chunks less than three
// quarters live, the active one included when it is mostly empty (see
// arena.retireActive), a step at a time, paced as a compaction's
// defragmentation is, so that the memory comes back without waiting for a
// compaction. A chunk whose records are all dead is freed at once, without
// it.
func (db *DB) relocateWaste(ctx context.Context) error {
	var pace pacer
	for {
		db.mu.RLock()
		worth := false
		if db.idx != nil {
			w := db.idx.Arena.Waste()
			worth = w > relocateWasteMin && w > db.idx.Arena.Total()/8
		}
		db.mu.RUnlock()
		if !worth {
			return nil
		}
		progress := false
		err := db.pacedStep(ctx, &pace, func() {
			db.mu.Lock()
			retired := db.idx != nil && db.idx.Arena.RetireActive()
			db.mu.Unlock()
			if db.idx != nil {
				// A step that emptied a chunk made progress even when no
				// sparse chunk is left: the records it moved may fill a
				// new active chunk only sparsely, for the next step to
				// retire (a store that shrank to one key moves it from
				// a 4 MiB chunk to a 512 KiB one, then to a 64 KiB one).
				total := db.idx.Arena.Total()
				more := db.stepRelocation(3, 4)
				progress = retired || more || db.idx.Arena.Total() < total
			}
		})
		if err != nil || !progress {
			return err
		}
	}
}

// cleanExpired deletes batches of due keys until none is left or the
// deadline passes; more reports that keys may still be due.
func (db *DB) cleanExpired(ctx context.Context, deadline time.Time) (more bool, err error) {
	for time.Now().Before(deadline) {
		n, err := db.deleteExpired(ctx)
		if err != nil || n < ttlBatch {
			return false, err
		}
	}
	return true, nil
}

// deleteExpired takes up to ttlBatch due keys from the expiry heap and
// logs and applies their deletion as one batch record, so that a restart
// cannot revive them. It returns how many keys it took.
func (db *DB) deleteExpired(ctx context.Context) (int, error) {
	if err := db.lockWriter(ctx); err != nil {
		return 0, err
	}
	now := db.now()
	// Under the index lock too: Stats reads the heap's size.
	db.mu.Lock()
	var keys []string
	if db.idx != nil {
		keys = db.idx.expired(now, ttlBatch)
	}
	db.mu.Unlock()
	if len(keys) == 0 {
		db.unlockWriter()
		return 0, nil
	}
	ops := make([]batchOp, len(keys))
	for i, key := range keys {
		ops[i] = batchOp{code: opDelete, key: key, h: index.Hash(key)}
	}
	db.stats.expired.Add(int64(len(ops)))
	r := getReq()
	r.kind, r.ops, r.ts = reqBatch, ops, now
	err := db.submitLocked(ctx, r)
	putReq(r)
	return len(keys), err
}
