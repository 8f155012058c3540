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
	code  byte
	key   string
	value []byte
	ttl   time.Duration
}

type batch struct {
	db   *DB
	ops  []batchOp
	size int
	used bool
}

// NewBatch returns an empty batch for db. It is safe to call concurrently;
// each batch belongs to one goroutine.
func (db *DB) NewBatch() Batch { return &batch{db: db} }

func (b *batch) Set(key string, value []byte) {
	b.add(batchOp{code: opSet, key: key, value: append([]byte{}, value...)})
}

func (b *batch) SetWithTTL(key string, value []byte, ttl time.Duration) {
	b.add(batchOp{code: opSet, key: key, value: append([]byte{}, value...), ttl: ttl})
	if ttl == 0 {
		b.ops[len(b.ops)-1].ttl = -1 // a TTL of zero is invalid, not absent
	}
}

func (b *batch) Delete(key string) { b.add(batchOp{code: opDelete, key: key}) }

func (b *batch) add(op batchOp) {
	if b.used {
		return
	}
	b.ops = append(b.ops, op)
	b.size += encodedOpSize(op)
}

// encodedOpSize returns the bytes op takes in a recBatch body. Counting
// only keys and values would let a batch of many tiny operations pass the
// MaxBatchSize check yet log a record longer than recovery accepts.
func encodedOpSize(op batchOp) int {
	n := 1 + uvarintLen(uint64(len(op.key))) + len(op.key)
	if op.code == opSet {
		n += 8 + uvarintLen(uint64(len(op.value))) + len(op.value)
	}
	return n
}

func (b *batch) Size() int { return b.size }

func (b *batch) Discard() {
	b.used = true
	b.ops = nil
	b.size = 0
}

func (b *batch) Write() error {
	if b.used {
		return ErrBatchUsed
	}
	b.used = true
	if err := b.validate(); err != nil {
		return err
	}
	if len(b.ops) == 0 {
		return nil
	}
	return b.db.writeBatch(context.Background(), b.ops)
}

func (b *batch) validate() error {
	if b.size > MaxBatchSize {
		return ErrBatchTooLarge
	}
	for _, op := range b.ops {
		if err := checkKV(op.key, op.value); err != nil {
			return err
		}
		if op.ttl < 0 {
			return ErrInvalidTTL
		}
	}
	return nil
}

// writeBatch logs ops as one recBatch record and applies them under one
// hold of the index lock, so no reader sees part of them.
func (db *DB) writeBatch(ctx context.Context, ops []batchOp) error {
	if err := db.lockWriter(ctx); err != nil {
		return err
	}
	now := db.now()
	exps := make([]int64, len(ops))
	var body []byte
	var sets, dels int64
	for i, op := range ops {
		body = append(body, op.code)
		if op.code == opDelete {
			body = appendDeleteBody(body, op.key)
			dels++
			continue
		}
		if op.ttl > 0 {
			exps[i] = expiryAfter(now, op.ttl)
		}
		body = appendSetBody(body, op.key, op.value, exps[i])
		sets++
	}
	db.buf = appendRecord(db.buf[:0], recBatch, now, appendBatchBody(nil, len(ops), body))
	db.stats.write(0, sets)
	db.stats.delete(0, dels)
	return db.commit(ctx, db.buf, func(m *memIndex) {
		for i, op := range ops {
			h := hashKey(op.key)
			if op.code == opDelete {
				m.del(op.key, h)
			} else {
				m.set(op.key, h, op.value, exps[i])
			}
		}
	})
}

// appendBatchBody appends the count and the encoded operations of a batch.
func appendBatchBody(dst []byte, count int, ops []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(count))
	return append(dst, ops...)
}
