package minikv_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/minikv/minikv"
)

// TestExtBatchSizeBoundsWAL is the regression test of a batch that passed
// the MaxBatchSize check but encoded to a WAL record larger than recovery
// accepts: Size counted only keys and values, while each operation also
// costs an op code, an expiry and two lengths in the record, up to 12
// times the counted bytes for one-byte keys. Such a batch made the next
// Open fail with ErrCorrupt. The WAL bytes of a written batch must stay
// within what Size reports, plus the record's framing.
func TestExtBatchSizeBoundsWAL(t *testing.T) {
	db, _, opts := extOpen(t)
	tests := []struct {
		name string
		fill func(minikv.Batch)
	}{
		{"one-byte keys, empty values", func(b minikv.Batch) {
			for range 2000 {
				b.Set("k", nil)
			}
		}},
		{"deletes", func(b minikv.Batch) {
			for i := range 2000 {
				b.Delete(fmt.Sprint(i % 10))
			}
		}},
		{"ttl sets", func(b minikv.Batch) {
			for i := range 2000 {
				b.SetWithTTL(fmt.Sprint(i%10), []byte("v"), 1e9)
			}
		}},
		{"mixed sizes", func(b minikv.Batch) {
			for i := range 300 {
				b.Set(fmt.Sprintf("key-%d", i), make([]byte, i*7))
				b.Delete("x")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := db.NewBatch()
			tt.fill(b)
			size := b.Size()
			before := minikv.WALBytes(db)
			if err := b.Write(); err != nil {
				t.Fatal(err)
			}
			// 4 CRC + 10 length + 9 type and time + 10 count.
			if grown := minikv.WALBytes(db) - before; grown > int64(size)+33 {
				t.Fatalf("a batch of Size %d took %d WAL bytes: Size does not bound the record", size, grown)
			}
		})
	}
	db = reopen(t, db, opts)
	if _, err := db.Get("k"); err != nil {
		t.Fatal(err)
	}
}

// TestExtBatchManyTinyOpsReopens writes the batch that first showed the
// bug: six million one-byte sets, 6 MB by the old count, a 72 MB record.
// Either Write refuses it or the database opens again with it. It needs
// about a gigabyte of memory and some seconds, so it runs only with
// MINIKV_SOAK=1.
func TestExtBatchManyTinyOpsReopens(t *testing.T) {
	if os.Getenv("MINIKV_SOAK") == "" {
		t.Skip("set MINIKV_SOAK=1 to run")
	}
	db, _, opts := extOpen(t)
	b := db.NewBatch()
	for range 6_000_000 {
		b.Set("k", nil)
	}
	err := b.Write()
	if err != nil && !errors.Is(err, minikv.ErrBatchTooLarge) {
		t.Fatal(err)
	}
	if err := db.Set("after", []byte("1")); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, opts)
	if _, err := db.Get("after"); err != nil {
		t.Fatal(err)
	}
}
