package minikv

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/minikv/minikv/internal/index"
)

// Batch buffers writes and applies them together with Write: all of them
// or none, in memory and on disk. Later operations on the same key win.
// A Batch is used once and is not safe for concurrent use.
type Batch interface {
	// Set buffers a write of value (copied) under key.
	Set(key string, value []byte)
	// SetWithTTL buffers a write that expires ttl after Write.
	SetWithTTL(key string, value []byte, ttl time.Duration)
	// Delete buffers the removal of key.
	Delete(key string)
	// Size returns the bytes buffered, counted as the WAL record will
	// hold them: each operation's keys and values plus its op code,
	// lengths and, for a set, its 8-byte expiry. It bounds the record
	// that Write logs, which is what MaxBatchSize limits.
	Size() int
	// Discard drops the buffered operations; the batch cannot be used again.
	Discard()
	// Write validates every operation, then logs and applies them
	// atomically. An invalid operation (ErrEmptyKey, ErrKeyTooLarge,
	// ErrValueTooLarge, ErrInvalidTTL) or a batch over MaxBatchSize
	// (ErrBatchTooLarge) fails the whole Write, which then writes nothing.
	// Write returns ErrBatchUsed after Write or Discard, and otherwise the
	// errors of DB.Set.
	Write() error
}

type batchOp struct {
	code byte
	key  string
	off  int // value bytes are data[off:off+n]
	n    int
	ttl  time.Duration
	exp  int64  // the absolute expiry, set by writeBatch from ttl
	h    uint64 // the key's hash, set by writeBatch
}

type batch struct {
	db   *DB
	bufs *batchBufs // from batchPool at the first operation
	size int
	used bool
}

// batchBufs holds a batch's operations and its values, copied end to end.
// Write and Discard give them back to batchPool, so that a program writing
// batch after batch reuses the memory instead of growing two slices from
// nothing each time (for 1000 values of 100 bytes, growing them copied
// about five times what they end up holding).
type batchBufs struct {
	ops  []batchOp
	data []byte
}

var batchPool = sync.Pool{New: func() any { return new(batchBufs) }}

// maxPooledBatch is the largest value buffer kept for reuse: a rare huge
// batch should not stay pinned in the pool.
const maxPooledBatch = 4 << 20

// release gives the buffers back to the pool.
func (b *batch) release() {
	bb := b.bufs
	if bb == nil {
		return
	}
	b.bufs = nil
	if cap(bb.data) > maxPooledBatch {
		return
	}
	clear(bb.ops) // drop the keys
	bb.ops, bb.data = bb.ops[:0], bb.data[:0]
	batchPool.Put(bb)
}

// NewBatch returns an empty batch for db. It is safe to call concurrently;
// each batch belongs to one goroutine.
func (db *DB) NewBatch() Batch { return &batch{db: db} }

func (b *batch) Set(key string, value []byte) { b.add(opSet, key, value, 0) }

func (b *batch) SetWithTTL(key string, value []byte, ttl time.Duration) {
	if ttl == 0 {
		ttl = zeroTTL // invalid, unlike the absent TTL of Set
	}
	b.add(opSet, key, value, ttl)
}

func (b *batch) Delete(key string) { b.add(opDelete, key, nil, 0) }

// zeroTTL stands for a TTL of zero given to Batch.SetWithTTL, since a zero
// ttl in a batch operation means none.
const zeroTTL = time.Duration(math.MinInt64)

func (b *batch) add(code byte, key string, value []byte, ttl time.Duration) {
	if b.used {
		return
	}
	if b.bufs == nil {
		b.bufs = batchPool.Get().(*batchBufs)
	}
	bb := b.bufs
	bb.ops = append(bb.ops, batchOp{code: code, key: key, off: len(bb.data), n: len(value), ttl: ttl})
	bb.data = append(bb.data, value...)
	b.size += encodedOpSize(code, len(key), len(value))
}

// encodedOpSize returns the bytes an operation takes in a recBatch body.
// Counting only keys and values would let a batch of many tiny operations
// pass the MaxBatchSize check yet log a record longer than recovery
// accepts.
func encodedOpSize(code byte, klen, vlen int) int {
	if code == opSet {
		return 1 + setBodySize(klen, vlen)
	}
	return 1 + deleteBodySize(klen)
}

func (b *batch) Size() int { return b.size }

func (b *batch) Discard() {
	b.used = true
	b.release()
	b.size = 0
}

func (b *batch) Write() error {
	if b.used {
		return ErrBatchUsed
	}
	b.used = true
	defer b.release()
	if err := b.db.writable(); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	if b.bufs == nil || len(b.bufs.ops) == 0 {
		return nil
	}
	return b.db.writeBatch(context.Background(), b.bufs.ops, b.bufs.data)
}

func (b *batch) validate() error {
	if b.size > MaxBatchSize {
		return tooLarge(ErrBatchTooLarge, b.size, MaxBatchSize)
	}
	if b.bufs == nil {
		return nil
	}
	for i, op := range b.bufs.ops {
		err := checkKey(op.key)
		switch {
		case err != nil:
		case op.n > MaxValueSize:
			err = tooLarge(ErrValueTooLarge, op.n, MaxValueSize)
		case op.ttl == zeroTTL:
			err = badTTL(0)
		case op.ttl < 0:
			err = badTTL(op.ttl)
		}
		if err != nil {
			return fmt.Errorf("%w (operation %d of %d in the batch)", err, i+1, len(b.bufs.ops))
		}
	}
	return nil
}

// batchAhead is how many operations ahead of the one it applies
// writeBatch prefetches a hash slot: far enough for a slot's load (about
// 100 ns from memory) to finish before its operation comes up.
const batchAhead = 8

// writeBatch logs ops as one recBatch record and applies them under one
// hold of the index lock, so no reader sees part of them.
func (db *DB) writeBatch(ctx context.Context, ops []batchOp, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := db.now()
	var sets, dels int64
	for i, op := range ops {
		// Hashed here, in the writer's goroutine, rather than by the
		// leader under the index lock.
		ops[i].h = index.Hash(op.key)
		if op.code == opDelete {
			dels++
		} else if sets++; op.ttl > 0 {
			ops[i].exp = expiryAfter(now, op.ttl)
		}
	}
	db.stats.write(0, sets)
	db.stats.delete(0, dels)
	r := getReq()
	r.kind, r.ops, r.data = reqBatch, ops, data
	db.encodeEarly(r, now)
	err := db.submit(ctx, r)
	putReq(r)
	return err
}

// applyBatch applies a batch's operations to the index. The caller holds
// the writer semaphore and the index lock.
func (db *DB) applyBatch(ops []batchOp, data []byte) {
	m := db.idx
	for i, op := range ops {
		// Start loading the hash slot of the operation batchAhead places
		// on: in a load, a missing key's slot is the one cache miss of its
		// insert that does not wait on an earlier one.
		if i+batchAhead < len(ops) {
			m.Table.Prefetch(ops[i+batchAhead].h)
		}
		if op.code == opDelete {
			m.del(op.key, op.h)
		} else {
			m.set(op.key, op.h, data[op.off:op.off+op.n], op.exp)
		}
	}
}

// appendBatchRecord appends a whole recBatch record for ops to dst,
// encoding the operations in place.
func appendBatchRecord(dst []byte, ts, durable int64, ops []batchOp, data []byte) []byte {
	n := index.UvarintLen(uint64(len(ops)))
	for _, op := range ops {
		n += encodedOpSize(op.code, len(op.key), op.n)
	}
	dst, start := beginRecord(dst, recBatch, ts, durable, n)
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	for _, op := range ops {
		dst = append(dst, op.code)
		if op.code == opDelete {
			dst = appendDeleteBody(dst, op.key)
		} else {
			dst = appendSetBody(dst, op.key, data[op.off:op.off+op.n], op.exp)
		}
	}
	return sealRecord(dst, start)
}
