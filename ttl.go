package minikv

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Expiry cleaning follows Redis: sample keys that carry an expiry, delete
// the expired ones, and sample again at once while more than a quarter of
// a sample had expired, within a time budget per round.
const (
	ttlSample = 20
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
	h := hashKey(key)
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
	if e.exp == 0 {
		return NoExpiry, nil
	}
	return time.Duration(e.exp - now), nil
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

// cleanRound is one tick of the background cleaner, within its time
// budget.
func (db *DB) cleanRound(ctx context.Context) {
	if err := db.cleanExpired(ctx, time.Now().Add(ttlBudget)); err != nil && ctx.Err() == nil {
		db.log.Error("minikv: expiry cleaning failed", "err", err)
	}
}

// cleanExpired runs one cleaning round, until a sample finds few expired
// keys or the deadline passes.
func (db *DB) cleanExpired(ctx context.Context, deadline time.Time) error {
	for time.Now().Before(deadline) {
		db.mu.RLock()
		if db.idx == nil {
			db.mu.RUnlock()
			return nil
		}
		keys, sampled := db.idx.expired(db.now(), ttlSample)
		db.mu.RUnlock()
		if len(keys) > 0 {
			if err := db.deleteExpired(ctx, keys); err != nil {
				return err
			}
		}
		if len(keys)*4 <= sampled || sampled < ttlSample {
			return nil
		}
	}
	return nil
}

// deleteExpired logs and applies the deletion of the keys that are still
// expired, as one batch record, so that a restart cannot revive them.
func (db *DB) deleteExpired(ctx context.Context, keys []string) error {
	if err := db.lockWriter(ctx); err != nil {
		return err
	}
	now := db.now()
	var ops []batchOp
	for _, key := range keys {
		h := hashKey(key)
		if ref, ok := db.idx.lookup(key, h); ok {
			if e, _ := decodeEntry(db.idx.arena.record(ref)); e.exp != 0 && e.exp <= now {
				ops = append(ops, batchOp{code: opDelete, key: key, h: h})
			}
		}
	}
	if len(ops) == 0 {
		db.unlockWriter()
		return nil
	}
	db.stats.expired.Add(int64(len(ops)))
	r := getReq()
	r.kind, r.ops, r.ts = reqBatch, ops, now
	err := db.submitLocked(ctx, r)
	putReq(r)
	return err
}
