package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/magiconair/properties"
)

// TestRecordCodec checks that a record reads back whole, and field by
// field.
func TestRecordCodec(t *testing.T) {
	rec := map[string][]byte{"field0": []byte("a"), "field1": {}, "field2": make([]byte, 300)}
	got, err := decodeRecord(encodeRecord(rec), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rec) {
		t.Fatalf("got %d fields, want %d", len(got), len(rec))
	}
	for f, v := range rec {
		if string(got[f]) != string(v) {
			t.Errorf("field %s: got %q, want %q", f, got[f], v)
		}
	}
	got, err = decodeRecord(encodeRecord(rec), []string{"field1"})
	if _, ok := got["field1"]; err != nil || len(got) != 1 || !ok {
		t.Errorf("only field1: got %v, %v", got, err)
	}
}

// TestRecordCodecCorrupt checks that a cut or garbled value is an error.
func TestRecordCodecCorrupt(t *testing.T) {
	b := encodeRecord(map[string][]byte{"field0": []byte("value")})
	for _, v := range [][]byte{b[:len(b)-1], b[:3], {0xff}, {2, 'f'}} {
		if _, err := decodeRecord(v, nil); err == nil {
			t.Errorf("%q: no error", v)
		}
	}
}

// TestYCSBDB checks the adapter on the map: insert, read, a whole update,
// and the refusal of a partial one.
func TestYCSBDB(t *testing.T) {
	p := properties.NewProperties()
	p.Set(ycsbDirProp, t.TempDir())
	p.Set("fieldcount", "2")
	db, err := ycsbCreator{"map"}.open(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec := map[string][]byte{"field0": []byte("x"), "field1": []byte("y")}
	if err := db.Insert(ctx, "t", "k", rec); err != nil {
		t.Fatal(err)
	}
	rec["field1"] = []byte("z")
	if err := db.Update(ctx, "t", "k", rec); err != nil {
		t.Fatal(err)
	}
	got, err := db.Read(ctx, "t", "k", nil)
	if err != nil || string(got["field1"]) != "z" || len(got) != 2 {
		t.Fatalf("read: %v, %v", got, err)
	}
	if err := db.takeErr(); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, "t", "k", map[string][]byte{"field0": nil}); err == nil {
		t.Error("partial update: no error")
	}
	if err := db.takeErr(); err == nil {
		t.Error("partial update not counted")
	}
}

// TestIncr checks on every engine that concurrent increments add up.
func TestIncr(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			r := &run{name: e.name, eng: e.new(), dur: 50 * time.Millisecond}
			if err := r.eng.open(t.TempDir(), false); err != nil {
				t.Fatal(err)
			}
			v, err := r.incrRate()
			err = errors.Join(err, r.eng.close())
			if err != nil || v <= 0 {
				t.Fatalf("%.0f ops/s: %v", v, err)
			}
		})
	}
}
