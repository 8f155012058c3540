package minikv

import (
	"bytes"
	"context"
	"math"
	"strconv"
)

// readModifyWrite runs decide on key's current value (nil, false when
// missing or expired) while holding the writer lock, so that no other write
// comes between the read and the write. decide returns the value to store,
// with the expiry exp (0 for none), or write=false to store nothing, and
// the caller's result error.
func (db *DB) readModifyWrite(key string, exp int64, decide func(cur []byte, ok bool) (next []byte, write bool, err error)) error {
	if err := db.writable(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	h := hashKey(key)
	if err := db.lockWriter(context.Background()); err != nil {
		return err
	}
	now := db.now()
	e, ok := db.idx.get(key, h, now)
	next, write, err := decide(e.value, ok)
	if err == nil && write && len(next) > MaxValueSize {
		err = ErrValueTooLarge
	}
	if err != nil || !write {
		db.unlockWriter()
		return err
	}
	db.stats.write(h, 1)
	db.buf = appendSetRecord(db.buf[:0], now, key, next, exp)
	return db.commit(context.Background(), db.buf, func(m *memIndex) { m.set(key, h, next, exp) })
}

// SetNX stores value under key only if key is missing or expired, and
// reports whether it did. It returns the errors of Set.
func (db *DB) SetNX(key string, value []byte) (bool, error) {
	if err := db.writable(); err != nil {
		return false, err
	}
	if err := checkKV(key, value); err != nil {
		return false, err
	}
	var set bool
	err := db.readModifyWrite(key, 0, func(_ []byte, ok bool) ([]byte, bool, error) {
		set = !ok
		return value, set, nil
	})
	return set && err == nil, err
}

// Incr adds 1 to the integer stored under key; see IncrBy.
func (db *DB) Incr(key string) (int64, error) { return db.IncrBy(key, 1) }

// Decr subtracts 1 from the integer stored under key; see IncrBy.
func (db *DB) Decr(key string) (int64, error) { return db.IncrBy(key, -1) }

// IncrBy adds delta to the base-10 int64 stored under key (a missing key
// counts as 0), stores the result in base 10 without expiry, and returns
// it. It returns ErrInvalidValue, changing nothing, when the value is not
// an integer or the sum overflows, and otherwise the errors of Set.
func (db *DB) IncrBy(key string, delta int64) (int64, error) {
	var result int64
	err := db.readModifyWrite(key, 0, func(cur []byte, ok bool) ([]byte, bool, error) {
		var n int64
		if ok {
			var err error
			if n, err = strconv.ParseInt(string(cur), 10, 64); err != nil {
				return nil, false, ErrInvalidValue
			}
		}
		if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
			return nil, false, ErrInvalidValue
		}
		result = n + delta
		return strconv.AppendInt(nil, result, 10), true, nil
	})
	if err != nil {
		return 0, err
	}
	return result, nil
}

// CompareAndSwap stores new under key only if the current value equals old
// byte for byte, and reports whether it did. A missing or expired key never
// matches. It returns the errors of Set.
func (db *DB) CompareAndSwap(key string, old, new []byte) (bool, error) {
	if err := db.writable(); err != nil {
		return false, err
	}
	if err := checkKV(key, new); err != nil {
		return false, err
	}
	var swapped bool
	err := db.readModifyWrite(key, 0, func(cur []byte, ok bool) ([]byte, bool, error) {
		swapped = ok && bytes.Equal(cur, old)
		return new, swapped, nil
	})
	return swapped && err == nil, err
}

// GetAndSet stores value under key and returns the previous value, or nil
// with a nil error when there was none. It returns the errors of Set.
func (db *DB) GetAndSet(key string, value []byte) ([]byte, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	if err := checkKV(key, value); err != nil {
		return nil, err
	}
	var prev []byte
	err := db.readModifyWrite(key, 0, func(cur []byte, ok bool) ([]byte, bool, error) {
		if ok {
			prev = append([]byte{}, cur...)
		}
		return value, true, nil
	})
	if err != nil {
		return nil, err
	}
	return prev, nil
}

// GetWithContext is Get that first checks ctx: it returns ctx.Err() without
// reading when ctx is already done. A Get never waits, so once it starts it
// completes.
func (db *DB) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return db.Get(key)
}

// SetWithContext is Set that gives up when ctx ends: it returns ctx.Err()
// without writing when ctx is done before it starts or while it waits for
// the writer lock. With SyncAlways, when ctx ends while the write waits for
// its fsync, it returns ctx.Err(), but the write has been applied and may
// still become durable, as after a timeout in any database.
func (db *DB) SetWithContext(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.set(ctx, key, value, 0)
}
