package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/prop"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

// ycsbCreator is the ycsb.DBCreator of one of the harness's engines.
type ycsbCreator struct{ name string }

// Create opens the engine without fsync in the directory that the
// property ycsbDirProp names.
func (c ycsbCreator) Create(p *properties.Properties) (ycsb.DB, error) { return c.open(p) }

// open is Create with the adapter's own type.
func (c ycsbCreator) open(p *properties.Properties) (*ycsbDB, error) {
	dir, ok := p.Get(ycsbDirProp)
	if !ok {
		return nil, fmt.Errorf("property %s is not set", ycsbDirProp)
	}
	eng, err := newEngine(c.name)
	if err != nil {
		return nil, err
	}
	if err := eng.open(dir, false); err != nil {
		return nil, fmt.Errorf("open %s: %w", c.name, err)
	}
	return &ycsbDB{eng: eng, fields: p.GetInt(prop.FieldCount, int(prop.FieldCountDefault))}, nil
}

// ycsbDB is a ycsb.DB over one of the harness's engines, through the
// engine's ordinary API as the other figures use it. A record is one
// value, encoded by encodeRecord, under the key "table/key". The harness
// runs every phase with writeallfields=true, so that an update carries the
// whole record: Update is then the same plain put as Insert on every
// engine, with no read before it; an update of fewer fields is refused
// rather than merged.
type ycsbDB struct {
	eng     engine
	fields  int                    // fieldcount: the fields of a whole record
	inserts atomic.Int64           // records inserted
	sample  atomic.Pointer[string] // the key of an inserted record
	errs    atomic.Int64           // operations failed since takeErr
	first   atomic.Pointer[error]  // the first of them
}

// Close closes the engine.
func (db *ycsbDB) Close() error { return db.eng.close() }

// InitThread keeps no per-thread state.
func (db *ycsbDB) InitThread(ctx context.Context, _, _ int) context.Context { return ctx }

// CleanupThread has nothing to clean up.
func (db *ycsbDB) CleanupThread(context.Context) {}

// Read returns the fields of the record (all of them when fields is
// empty).
func (db *ycsbDB) Read(_ context.Context, table, key string, fields []string) (map[string][]byte, error) {
	r, err := db.read(table, key, fields)
	if err != nil {
		return nil, db.fail(err)
	}
	return r, nil
}

// read is Read without the error count.
func (db *ycsbDB) read(table, key string, fields []string) (map[string][]byte, error) {
	v, err := db.eng.get(rowKey(table, key))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(fields) >= db.fields {
		fields = nil // every field: readallfields
	}
	r, err := decodeRecord(v, fields)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return r, nil
}

// Update replaces the record with values, which must be a whole record.
func (db *ycsbDB) Update(_ context.Context, table, key string, values map[string][]byte) error {
	if len(values) != db.fields {
		return db.fail(fmt.Errorf("update %s: %d of %d fields; only whole records (writeallfields=true) are supported",
			key, len(values), db.fields))
	}
	return db.put("update", table, key, values)
}

// Insert stores the record.
func (db *ycsbDB) Insert(_ context.Context, table, key string, values map[string][]byte) error {
	if err := db.put("insert", table, key, values); err != nil {
		return err
	}
	db.inserts.Add(1)
	db.sample.CompareAndSwap(nil, &key)
	return nil
}

// put stores values as one value under the record's key.
func (db *ycsbDB) put(op, table, key string, values map[string][]byte) error {
	if err := db.eng.set(rowKey(table, key), encodeRecord(values)); err != nil {
		return db.fail(fmt.Errorf("%s %s: %w", op, key, err))
	}
	return nil
}

// Scan is not supported: workloads A and F do not scan.
func (db *ycsbDB) Scan(context.Context, string, string, int, []string) ([]map[string][]byte, error) {
	return nil, db.fail(fmt.Errorf("scan: %w", errUnsupported))
}

// Delete is not supported: no core workload deletes.
func (db *ycsbDB) Delete(context.Context, string, string) error {
	return db.fail(fmt.Errorf("delete: %w", errUnsupported))
}

// fail counts err and keeps the first one: go-ycsb's client does not stop
// on an operation's error, and only counts it in its measurement.
func (db *ycsbDB) fail(err error) error {
	db.errs.Add(1)
	db.first.CompareAndSwap(nil, &err)
	return err
}

// takeErr returns the errors since its last call, as the first one and
// their number, or nil, and starts counting anew. It runs between phases.
func (db *ycsbDB) takeErr() error {
	n := db.errs.Swap(0)
	first := db.first.Swap(nil)
	if first == nil {
		return nil
	}
	return fmt.Errorf("%d operations failed, the first: %w", n, *first)
}

// checkLoad checks that the load inserted records records and that one of
// them reads back whole.
func (db *ycsbDB) checkLoad(records int) error {
	if n := db.inserts.Load(); n != int64(records) {
		return fmt.Errorf("%d records inserted, want %d", n, records)
	}
	key := db.sample.Load()
	if key == nil {
		return errors.New("no record inserted")
	}
	r, err := db.read(prop.TableNameDefault, *key, nil)
	if err != nil {
		return err
	}
	if len(r) != db.fields {
		return fmt.Errorf("record %s has %d fields, want %d", *key, len(r), db.fields)
	}
	for f, v := range r {
		if len(v) != ycsbFieldLength {
			return fmt.Errorf("record %s: field %s has %d bytes, want %d", *key, f, len(v), ycsbFieldLength)
		}
	}
	return nil
}

// rowKey returns the engine key of a record: "table/key".
func rowKey(table, key string) []byte {
	b := make([]byte, 0, len(table)+1+len(key))
	return append(append(append(b, table...), '/'), key...)
}

// encodeRecord returns record r as one value: for each field its name and
// then its value, each preceded by its length as a uvarint.
func encodeRecord(r map[string][]byte) []byte {
	size := 0
	for f, v := range r {
		size += 2*binary.MaxVarintLen32 + len(f) + len(v)
	}
	b := make([]byte, 0, size)
	for f, v := range r {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// decodeRecord returns the fields of a value made by encodeRecord: all of
// them when fields is empty, else those named in fields. The values share
// b's memory.
func decodeRecord(b []byte, fields []string) (map[string][]byte, error) {
	r := make(map[string][]byte, max(len(fields), ycsbFieldCount))
	for len(b) > 0 {
		f, rest, err := cutField(b)
		if err != nil {
			return nil, err
		}
		v, rest, err := cutField(rest)
		if err != nil {
			return nil, err
		}
		if len(fields) == 0 || slices.Contains(fields, str(f)) {
			r[string(f)] = v
		}
		b = rest
	}
	return r, nil
}

// cutField splits a field made by encodeRecord, a uvarint length and that
// many bytes, off the front of b.
func cutField(b []byte) (field, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errors.New("corrupt record")
	}
	end := k + int(n)
	return b[k:end:end], b[end:], nil
}
