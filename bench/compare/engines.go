package main

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"path/filepath"
	"strconv"
	"sync"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/dgraph-io/badger/v4"
	"github.com/minikv/minikv"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
	"github.com/tidwall/buntdb"
	bolt "go.etcd.io/bbolt"
)

// An engine is one store under test, driven through its ordinary public
// API. Every method may be called from several goroutines at once, except
// open and close. get returns a copy of the value that the caller owns;
// scan reads (and touches) up to n entries under prefix and returns how
// many it read; incr adds 1 to the base-10 integer stored under key (a
// missing key counts as 0) atomically, the way a user of the engine would
// write such a read-modify-write, and returns the new value.
type engine interface {
	open(dir string, durable bool) error
	close() error
	writeBatch(keys, values [][]byte) error
	get(key []byte) ([]byte, error)
	set(key, value []byte) error
	scan(prefix []byte, n int) (int, error)
	incr(key []byte) (int64, error)
}

// errUnsupported marks a figure an engine cannot produce (the map has no
// disk, so no fsync and no reopen).
var errUnsupported = errors.New("not supported")

// engines lists the stores in the order of the table's columns, with the
// module path whose version the table reports.
var engines = []struct {
	name   string
	module string
	new    func() engine
}{
	{"map", "", func() engine { return &mapEngine{} }},
	{"minikv", "github.com/minikv/minikv", func() engine { return &minikvEngine{} }},
	{"buntdb", "github.com/tidwall/buntdb", func() engine { return &buntEngine{} }},
	{"bbolt", "go.etcd.io/bbolt", func() engine { return &boltEngine{} }},
	{"badger", "github.com/dgraph-io/badger/v4", func() engine { return &badgerEngine{} }},
	{"pebble", "github.com/cockroachdb/pebble/v2", func() engine { return &pebbleEngine{} }},
	{"goleveldb", "github.com/syndtr/goleveldb", func() engine { return &levelEngine{} }},
}

// str views b as a string without copying, for lookups only: the store
// must not keep it. Callers never modify b while the string is in use.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// incremented returns the counter value v plus 1, or 1 where the counter
// was not found.
func incremented(v string, found bool) (int64, error) {
	if !found {
		return 1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("counter value %q: %w", v, err)
	}
	return n + 1, nil
}

// keyLocks hands out one mutex per key, for the engines without
// transactions: their read-modify-write holds the key's mutex around its
// Get and its Set.
type keyLocks struct{ m sync.Map } // string -> *sync.Mutex

// of returns the mutex of key, made on first use.
func (l *keyLocks) of(key []byte) *sync.Mutex {
	if mu, ok := l.m.Load(str(key)); ok {
		return mu.(*sync.Mutex)
	}
	mu, _ := l.m.LoadOrStore(string(key), new(sync.Mutex))
	return mu.(*sync.Mutex)
}

// --- plain map -----------------------------------------------------------

// mapEngine is the baseline: a map behind a RWMutex, no disk.
type mapEngine struct {
	mu sync.RWMutex // guards m
	m  map[string][]byte
}

func (e *mapEngine) open(dir string, durable bool) error {
	if durable {
		return errUnsupported
	}
	if e.m == nil {
		e.m = make(map[string][]byte)
	}
	return nil
}

func (e *mapEngine) close() error { return nil }

func (e *mapEngine) writeBatch(keys, values [][]byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, k := range keys {
		e.m[string(k)] = bytes.Clone(values[i])
	}
	return nil
}

func (e *mapEngine) get(key []byte) ([]byte, error) {
	e.mu.RLock()
	v, ok := e.m[str(key)]
	e.mu.RUnlock()
	if !ok {
		return nil, errors.New("not found")
	}
	return bytes.Clone(v), nil
}

func (e *mapEngine) set(key, value []byte) error {
	k, v := string(key), bytes.Clone(value)
	e.mu.Lock()
	e.m[k] = v
	e.mu.Unlock()
	return nil
}

func (e *mapEngine) scan(prefix []byte, n int) (int, error) { return 0, errUnsupported }

// incr holds the map's lock around the read and the write.
func (e *mapEngine) incr(key []byte) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.m[str(key)]
	n, err := incremented(str(v), ok)
	if err != nil {
		return 0, err
	}
	e.m[string(key)] = strconv.AppendInt(nil, n, 10)
	return n, nil
}

// --- MiniKV --------------------------------------------------------------

type minikvEngine struct{ db *minikv.DB }

func (e *minikvEngine) open(dir string, durable bool) error {
	mode := minikv.SyncNever
	if durable {
		mode = minikv.SyncAlways
	}
	db, err := minikv.Open(minikv.Options{Dir: dir, SyncMode: mode})
	e.db = db
	return err
}

func (e *minikvEngine) close() error { return e.db.Close() }

func (e *minikvEngine) writeBatch(keys, values [][]byte) error {
	b := e.db.NewBatch()
	for i, k := range keys {
		b.Set(str(k), values[i])
	}
	return b.Write()
}

func (e *minikvEngine) get(key []byte) ([]byte, error) { return e.db.Get(str(key)) }

func (e *minikvEngine) set(key, value []byte) error { return e.db.Set(str(key), value) }

// incr is MiniKV's own atomic Incr.
func (e *minikvEngine) incr(key []byte) (int64, error) { return e.db.Incr(str(key)) }

func (e *minikvEngine) scan(prefix []byte, n int) (int, error) {
	it, err := e.db.Scan(str(prefix), n)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	got := 0
	for it.Next() {
		touch(it.Key(), it.Value())
		got++
	}
	return got, it.Error()
}

// --- BuntDB --------------------------------------------------------------

type buntEngine struct{ db *buntdb.DB }

func (e *buntEngine) open(dir string, durable bool) error {
	db, err := buntdb.Open(filepath.Join(dir, "data.db"))
	if err != nil {
		return err
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		return err
	}
	cfg.SyncPolicy = buntdb.Never
	if durable {
		cfg.SyncPolicy = buntdb.Always
	}
	e.db = db
	return db.SetConfig(cfg)
}

func (e *buntEngine) close() error { return e.db.Close() }

func (e *buntEngine) writeBatch(keys, values [][]byte) error {
	return e.db.Update(func(tx *buntdb.Tx) error {
		for i, k := range keys {
			if _, _, err := tx.Set(string(k), string(values[i]), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *buntEngine) get(key []byte) ([]byte, error) {
	var out []byte
	err := e.db.View(func(tx *buntdb.Tx) error {
		v, err := tx.Get(str(key))
		out = []byte(v)
		return err
	})
	return out, err
}

func (e *buntEngine) set(key, value []byte) error {
	return e.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(string(key), string(value), nil)
		return err
	})
}

// incr reads, parses and writes the counter in one Update transaction.
func (e *buntEngine) incr(key []byte) (int64, error) {
	var n int64
	err := e.db.Update(func(tx *buntdb.Tx) error {
		v, err := tx.Get(str(key))
		if err != nil && !errors.Is(err, buntdb.ErrNotFound) {
			return err
		}
		if n, err = incremented(v, err == nil); err != nil {
			return err
		}
		_, _, err = tx.Set(string(key), strconv.FormatInt(n, 10), nil)
		return err
	})
	return n, err
}

func (e *buntEngine) scan(prefix []byte, n int) (int, error) {
	got := 0
	p := str(prefix)
	err := e.db.View(func(tx *buntdb.Tx) error {
		return tx.AscendGreaterOrEqual("", p, func(k, v string) bool {
			if len(k) < len(p) || k[:len(p)] != p {
				return false
			}
			touch(k, []byte(v))
			got++
			return got < n
		})
	})
	return got, err
}

// --- bbolt ---------------------------------------------------------------

var boltBucket = []byte("kv")

// boltEngine uses one Update transaction per write (bbolt's Batch, which
// delays writers to coalesce them, is not used).
type boltEngine struct{ db *bolt.DB }

func (e *boltEngine) open(dir string, durable bool) error {
	db, err := bolt.Open(filepath.Join(dir, "data.db"), 0o600, &bolt.Options{NoSync: !durable})
	if err != nil {
		return err
	}
	e.db = db
	return db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
}

func (e *boltEngine) close() error { return e.db.Close() }

func (e *boltEngine) writeBatch(keys, values [][]byte) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		for i, k := range keys {
			if err := b.Put(k, values[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *boltEngine) get(key []byte) ([]byte, error) {
	var out []byte
	err := e.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get(key)
		if v == nil {
			return errors.New("not found")
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

func (e *boltEngine) set(key, value []byte) error {
	return e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(boltBucket).Put(key, value) })
}

// incr reads, parses and writes the counter in one Update transaction.
func (e *boltEngine) incr(key []byte) (int64, error) {
	var n int64
	err := e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		v := b.Get(key)
		var err error
		if n, err = incremented(str(v), v != nil); err != nil {
			return err
		}
		return b.Put(key, strconv.AppendInt(nil, n, 10))
	})
	return n, err
}

func (e *boltEngine) scan(prefix []byte, n int) (int, error) {
	got := 0
	err := e.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && got < n; k, v = c.Next() {
			touch(str(k), bytes.Clone(v))
			got++
		}
		return nil
	})
	return got, err
}

// --- Badger --------------------------------------------------------------

type badgerEngine struct{ db *badger.DB }

func (e *badgerEngine) open(dir string, durable bool) error {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(durable))
	e.db = db
	return err
}

func (e *badgerEngine) close() error { return e.db.Close() }

func (e *badgerEngine) writeBatch(keys, values [][]byte) error {
	return e.db.Update(func(txn *badger.Txn) error {
		for i, k := range keys {
			if err := txn.Set(k, values[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *badgerEngine) get(key []byte) ([]byte, error) {
	var out []byte
	err := e.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

func (e *badgerEngine) set(key, value []byte) error {
	return e.db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) })
}

// incr reads, parses and writes the counter in one Update transaction,
// and runs it again when it conflicts with another writer of the counter.
func (e *badgerEngine) incr(key []byte) (int64, error) {
	for {
		n, err := e.incrOnce(key)
		if !errors.Is(err, badger.ErrConflict) {
			return n, err
		}
	}
}

// incrOnce is one attempt of incr.
func (e *badgerEngine) incrOnce(key []byte) (int64, error) {
	var n int64
	err := e.db.Update(func(txn *badger.Txn) error {
		var v []byte
		item, err := txn.Get(key)
		found := err == nil
		switch {
		case found:
			if v, err = item.ValueCopy(nil); err != nil {
				return err
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if n, err = incremented(str(v), found); err != nil {
			return err
		}
		return txn.Set(key, strconv.AppendInt(nil, n, 10))
	})
	return n, err
}

func (e *badgerEngine) scan(prefix []byte, n int) (int, error) {
	got := 0
	err := e.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchSize = n
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix) && got < n; it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			touch(str(it.Item().Key()), v)
			got++
		}
		return nil
	})
	return got, err
}

// --- Pebble --------------------------------------------------------------

type pebbleEngine struct {
	db    *pebble.DB
	wo    *pebble.WriteOptions
	locks keyLocks // of the counters of incr
}

func (e *pebbleEngine) open(dir string, durable bool) error {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	e.db, e.wo = db, pebble.NoSync
	if durable {
		e.wo = pebble.Sync
	}
	return err
}

func (e *pebbleEngine) close() error { return e.db.Close() }

func (e *pebbleEngine) writeBatch(keys, values [][]byte) error {
	b := e.db.NewBatch()
	for i, k := range keys {
		if err := b.Set(k, values[i], nil); err != nil {
			return err
		}
	}
	return b.Commit(e.wo)
}

func (e *pebbleEngine) get(key []byte) ([]byte, error) {
	v, closer, err := e.db.Get(key)
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	return out, closer.Close()
}

func (e *pebbleEngine) set(key, value []byte) error { return e.db.Set(key, value, e.wo) }

// incr holds the counter's mutex around a Get and a Set: Pebble has no
// read-write transactions.
func (e *pebbleEngine) incr(key []byte) (int64, error) {
	mu := e.locks.of(key)
	mu.Lock()
	defer mu.Unlock()
	n, err := e.incremented(key)
	if err != nil {
		return 0, err
	}
	return n, e.db.Set(key, strconv.AppendInt(nil, n, 10), e.wo)
}

// incremented returns the counter under key plus 1.
func (e *pebbleEngine) incremented(key []byte) (int64, error) {
	v, closer, err := e.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := incremented(str(v), true)
	return n, errors.Join(err, closer.Close())
}

func (e *pebbleEngine) scan(prefix []byte, n int) (int, error) {
	upper := append(bytes.Clone(prefix[:len(prefix)-1]), prefix[len(prefix)-1]+1)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return 0, err
	}
	got := 0
	for ok := it.First(); ok && got < n; ok = it.Next() {
		touch(str(it.Key()), bytes.Clone(it.Value()))
		got++
	}
	return got, errors.Join(it.Error(), it.Close())
}

// quietLogger drops Pebble's informational messages (WAL replay notes) and
// keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(format string, args ...any)  {}
func (quietLogger) Errorf(format string, args ...any) { log.Printf("pebble: "+format, args...) }
func (quietLogger) Fatalf(format string, args ...any) { log.Fatalf("pebble: "+format, args...) }

// --- goleveldb -----------------------------------------------------------

type levelEngine struct {
	db    *leveldb.DB
	wo    *opt.WriteOptions
	locks keyLocks // of the counters of incr
}

func (e *levelEngine) open(dir string, durable bool) error {
	db, err := leveldb.OpenFile(dir, nil)
	e.db, e.wo = db, &opt.WriteOptions{Sync: durable}
	return err
}

func (e *levelEngine) close() error { return e.db.Close() }

func (e *levelEngine) writeBatch(keys, values [][]byte) error {
	var b leveldb.Batch
	for i, k := range keys {
		b.Put(k, values[i])
	}
	return e.db.Write(&b, e.wo)
}

func (e *levelEngine) get(key []byte) ([]byte, error) { return e.db.Get(key, nil) }

func (e *levelEngine) set(key, value []byte) error { return e.db.Put(key, value, e.wo) }

// incr holds the counter's mutex around a Get and a Put: goleveldb's only
// transaction (OpenTransaction) shuts out every other writer of the
// database, so a user guards a counter with a mutex instead.
func (e *levelEngine) incr(key []byte) (int64, error) {
	mu := e.locks.of(key)
	mu.Lock()
	defer mu.Unlock()
	v, err := e.db.Get(key, nil)
	if err != nil && !errors.Is(err, leveldb.ErrNotFound) {
		return 0, err
	}
	n, err := incremented(str(v), err == nil)
	if err != nil {
		return 0, err
	}
	return n, e.db.Put(key, strconv.AppendInt(nil, n, 10), e.wo)
}

func (e *levelEngine) scan(prefix []byte, n int) (int, error) {
	it := e.db.NewIterator(util.BytesPrefix(prefix), nil)
	defer it.Release()
	got := 0
	for got < n && it.Next() {
		touch(str(it.Key()), bytes.Clone(it.Value()))
		got++
	}
	return got, it.Error()
}

// touchSink keeps the scans' reads from being optimised away.
var touchSink int

func touch(k string, v []byte) {
	if len(k) > 0 && len(v) > 0 {
		touchSink += int(k[0]) + int(v[0])
	}
}

func engineNames() []string {
	names := make([]string, len(engines))
	for i, e := range engines {
		names[i] = e.name
	}
	return names
}

func newEngine(name string) (engine, error) {
	for _, e := range engines {
		if e.name == name {
			return e.new(), nil
		}
	}
	return nil, fmt.Errorf("unknown engine %q (have %v)", name, engineNames())
}
