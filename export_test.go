package minikv

import (
	"context"
	"sync/atomic"
	"time"
)

// This file exports internals to the black-box tests in package minikv_test.

// FakeClock is a manual clock for TTL tests, safe for concurrent use.
type FakeClock struct{ ns atomic.Int64 }

// NewFakeClock returns a clock set to a fixed instant.
func NewFakeClock() *FakeClock {
	c := &FakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

// Now returns the clock's time in Unix nanoseconds.
func (c *FakeClock) Now() int64 { return c.ns.Load() }

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// WithClock returns opts with the clock replaced by c.
func WithClock(opts Options, c *FakeClock) Options {
	opts.now = c.Now
	return opts
}

// CleanExpired runs one round of the background expiry cleaner now. Its
// time budget is a minute rather than the worker's 10 ms, so that the round
// ends by the sampling rule (few expired keys left), not by the clock of a
// loaded machine.
func CleanExpired(db *DB) error {
	return db.cleanExpired(context.Background(), time.Now().Add(time.Minute))
}

// WALBytes returns the bytes in the live WAL segments.
func WALBytes(db *DB) int64 { return db.walSize() }

// HoldWriter takes the writer lock, as a long write would, and returns the
// function that releases it.
func HoldWriter(db *DB) (release func()) {
	db.writeSem <- struct{}{}
	return func() { <-db.writeSem }
}
