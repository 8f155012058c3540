package minikv

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/minikv/minikv/internal/index"
)

// rmwKind names a read-modify-write operation, decided under the writer
// lock on the key's current value (see writeReq.decide).
type rmwKind uint8

const (
	rmwSetNX          rmwKind = iota + 1 // store value if missing
	rmwIncr                              // add delta to the integer
	rmwCompareAndSwap                    // store value if the current one equals old
	rmwGetAndSet                         // store value, keep the previous one
	rmwExpiry                            // store the current value with expiry exp
)

// newRMW checks that the database takes writes and that key is valid, and
// returns a read-modify-write request of kind for key. The caller fills in
// the operation's fields and runs it with readModifyWrite.
func (db *DB) newRMW(key string, kind rmwKind) (*writeReq, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	r := getReq()
	r.kind, r.rmw, r.key, r.h = reqRMW, kind, key, index.Hash(key)
	return r, nil
}

// readModifyWrite runs r under the writer lock, which every other write
// takes too, so that no write comes between the read and the write. The caller reads r's results (n,
// ok, prev) and then gives r back with putReq.
func (db *DB) readModifyWrite(r *writeReq) error {
	return db.submit(context.Background(), r)
}

// decide returns what a read-modify-write request stores given key's
// current value (nil, false when missing or expired): the value, or
// write=false to store nothing, and the caller's result error. It records
// the caller's results in r.
func (r *writeReq) decide(cur []byte, ok bool) (next []byte, write bool, err error) {
	switch r.rmw {
	case rmwSetNX:
		r.ok = !ok
		return r.value, r.ok, nil
	case rmwIncr:
		var n int64
		if ok {
			if n, err = strconv.ParseInt(string(cur), 10, 64); err != nil {
				return nil, false, fmt.Errorf("%w: key %s holds %s, not a base-10 int64", ErrInvalidValue, quoted(r.key), quoted(string(cur)))
			}
		}
		d := r.delta
		if (d > 0 && n > math.MaxInt64-d) || (d < 0 && n < math.MinInt64-d) {
			return nil, false, fmt.Errorf("%w: key %s holds %d, and adding %d overflows an int64", ErrInvalidValue, quoted(r.key), n, d)
		}
		r.n = n + d
		return strconv.AppendInt(r.num[:0], r.n, 10), true, nil
	case rmwCompareAndSwap:
		r.ok = ok && bytes.Equal(cur, r.old)
		return r.value, r.ok, nil
	case rmwGetAndSet:
		if ok {
			r.prev = append([]byte{}, cur...)
		}
		return r.value, true, nil
	case rmwExpiry:
		if !ok {
			return nil, false, ErrNotFound
		}
		return cur, true, nil
	}
	panic("minikv: unknown read-modify-write operation")
}

// SetNX stores value under key only if key is missing or expired, and
// reports whether it did. It returns the errors of Set.
func (db *DB) SetNX(key string, value []byte) (bool, error) {
	if err := checkKV(key, value); err != nil && db.writable() == nil {
		return false, err
	}
	r, err := db.newRMW(key, rmwSetNX)
	if err != nil {
		return false, err
	}
	r.value = value
	err = db.readModifyWrite(r)
	set := r.ok && err == nil
	putReq(r)
	return set, err
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
	r, err := db.newRMW(key, rmwIncr)
	if err != nil {
		return 0, err
	}
	r.delta = delta
	err = db.readModifyWrite(r)
	n := r.n
	putReq(r)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// CompareAndSwap stores new under key only if the current value equals old
// byte for byte, and reports whether it did. A missing or expired key never
// matches. It returns the errors of Set.
func (db *DB) CompareAndSwap(key string, old, new []byte) (bool, error) {
	if err := checkKV(key, new); err != nil && db.writable() == nil {
		return false, err
	}
	r, err := db.newRMW(key, rmwCompareAndSwap)
	if err != nil {
		return false, err
	}
	r.old, r.value = old, new
	err = db.readModifyWrite(r)
	swapped := r.ok && err == nil
	putReq(r)
	return swapped, err
}

// GetAndSet stores value under key and returns the previous value, or nil
// with a nil error when there was none. It returns the errors of Set.
func (db *DB) GetAndSet(key string, value []byte) ([]byte, error) {
	if err := checkKV(key, value); err != nil && db.writable() == nil {
		return nil, err
	}
	r, err := db.newRMW(key, rmwGetAndSet)
	if err != nil {
		return nil, err
	}
	r.value = value
	err = db.readModifyWrite(r)
	prev := r.prev
	putReq(r)
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
