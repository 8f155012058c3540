package minikv

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minikv/minikv/internal/vfs"
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

// CleanExpired deletes every key due now, as the background cleaner does,
// with a budget of a minute rather than the worker's 10 ms, so that it ends
// when no key is due, not by the clock of a loaded machine.
func CleanExpired(db *DB) error {
	_, err := db.cleanExpired(context.Background(), time.Now().Add(time.Minute))
	return err
}

// CleanTick runs one tick of the background cleaner, as its worker does.
func CleanTick(db *DB) { db.cleanRound(context.Background()) }

// WALBytes returns the bytes in the live WAL segments.
func WALBytes(db *DB) int64 { return db.walSize() }

// HoldWriter takes the writer lock, as a long write would, and returns the
// function that releases it.
func HoldWriter(db *DB) (release func()) {
	db.writeSem <- struct{}{}
	return func() { <-db.writeSem }
}

// SyncGate holds back the fsyncs of data files (not of directories) while
// it is shut, so that tests can keep writers waiting for a group commit.
type SyncGate struct {
	mu      sync.Mutex
	open    chan struct{} // closed while the gate is open
	Waiting atomic.Int64  // fsyncs waiting at the gate
}

// WithSyncGate returns opts with the operating system's file system behind
// a new, open gate.
func WithSyncGate(opts Options) (Options, *SyncGate) {
	g := &SyncGate{open: make(chan struct{})}
	close(g.open)
	opts.fs = gatedFS{osFS{}, g}
	return opts, g
}

// Shut makes later fsyncs wait until Open.
func (g *SyncGate) Shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

// Open lets every waiting and later fsync through.
func (g *SyncGate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *SyncGate) wait() {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	g.Waiting.Add(1)
	<-ch
	g.Waiting.Add(-1)
}

type gatedFS struct {
	osFS
	g *SyncGate
}

func (fs gatedFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := fs.osFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return gatedFile{f, fs.g}, nil
}

type gatedFile struct {
	vfs.File
	g *SyncGate
}

func (f gatedFile) Sync() error {
	f.g.wait()
	return f.File.Sync()
}

// SetStatsOff turns the operation counters and latency sampling of db on
// or off, so that a benchmark can measure their cost. Call it before db is
// shared between goroutines.
func SetStatsOff(db *DB, off bool) { db.stats.off = off }

// CutCloseMark returns the bytes of a WAL segment without the recDurable
// record that Close appends after the last write, as a writer that was
// killed after its last write would have left them.
func CutCloseMark(data []byte) []byte { return cutCloseMark(data) }

// cutCloseMark is CutCloseMark for the white-box tests.
func cutCloseMark(data []byte) []byte {
	off, last := 0, -1
	for off < len(data) {
		r, ok := readRecord(data[off:])
		if !ok {
			break
		}
		last = -1
		if r.typ == recDurable {
			last = off
		}
		off += r.size
	}
	if last < 0 {
		return data
	}
	return data[:last]
}

// CloseMarkSize returns the size of the recDurable record that Close
// appends to a segment of size bytes.
func CloseMarkSize(size int64) int64 {
	return int64(len(appendRecord(nil, recDurable, 0, size, nil)))
}
