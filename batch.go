package minikv

import (
	"context"
	"encoding/binary"
	"time"
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
}

type batch struct {
	db   *DB
	ops  []batchOp
	data []byte // the values, copied end to end
	size int
	used bool
}

// NewBatch returns an empty batch for db. It is safe to call concurrently;
// each batch belongs to one goroutine.
func (db *DB) NewBatch() Batch { return &batch{db: db} }

func (b *batch) Set(key string, value []byte) { b.add(opSet, key, value, 0) }

func (b *batch) SetWithTTL(key string, value []byte, ttl time.Duration) {
	if ttl == 0 {
		ttl = -1 // a TTL of zero is invalid, not absent
	}
	b.add(opSet, key, value, ttl)
}

func (b *batch) Delete(key string) { b.add(opDelete, key, nil, 0) }

func (b *batch) add(code byte, key string, value []byte, ttl time.Duration) {
	if b.used {
		return
	}
	b.ops = append(b.ops, batchOp{code: code, key: key, off: len(b.data), n: len(value), ttl: ttl})
	b.data = append(b.data, value...)
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
	b.ops, b.data = nil, nil
	b.size = 0
}

func (b *batch) Write() error {
	if b.used {
		return ErrBatchUsed
	}
	b.used = true
	if err := b.db.writable(); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	if len(b.ops) == 0 {
		return nil
	}
	err := b.db.writeBatch(context.Background(), b.ops, b.data)
	b.ops, b.data = nil, nil
	return err
}

func (b *batch) validate() error {
	if b.size > MaxBatchSize {
		return ErrBatchTooLarge
	}
	for _, op := range b.ops {
		if err := checkKey(op.key); err != nil {
			return err
		}
		if op.n > MaxValueSize {
			return ErrValueTooLarge
		}
		if op.ttl < 0 {
			return ErrInvalidTTL
		}
	}
	return nil
}

// writeBatch logs ops as one recBatch record and applies them under one
// hold of the index lock, so no reader sees part of them.
func (db *DB) writeBatch(ctx context.Context, ops []batchOp, data []byte) error {
	if err := db.lockWriter(ctx); err != nil {
		return err
	}
	now := db.now()
	exps := make([]int64, len(ops))
	var sets, dels int64
	for i, op := range ops {
		if op.code == opDelete {
			dels++
		} else if sets++; op.ttl > 0 {
			exps[i] = expiryAfter(now, op.ttl)
		}
	}
	db.buf = appendBatchRecord(db.buf[:0], now, ops, data, exps)
	db.stats.write(0, sets)
	db.stats.delete(0, dels)
	return db.commit(ctx, db.buf, func(m *memIndex) {
		for i, op := range ops {
			h := hashKey(op.key)
			if op.code == opDelete {
				m.del(op.key, h)
			} else {
				m.set(op.key, h, data[op.off:op.off+op.n], exps[i])
			}
		}
	})
}

// appendBatchRecord appends a whole recBatch record for ops to dst,
// encoding the operations in place.
func appendBatchRecord(dst []byte, ts int64, ops []batchOp, data []byte, exps []int64) []byte {
	n := uvarintLen(uint64(len(ops)))
	for _, op := range ops {
		n += encodedOpSize(op.code, len(op.key), op.n)
	}
	dst, start := beginRecord(dst, recBatch, ts, n)
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	for i, op := range ops {
		dst = append(dst, op.code)
		if op.code == opDelete {
			dst = appendDeleteBody(dst, op.key)
		} else {
			dst = appendSetBody(dst, op.key, data[op.off:op.off+op.n], exps[i])
		}
	}
	return sealRecord(dst, start)
}
