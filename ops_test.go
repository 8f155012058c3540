package minikv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// TestExtClosedReadOnlyWrites is the regression test of writes to a closed
// read-only database returning ErrReadOnly: the read-only check came first,
// but after Close every method must return ErrClosed.
func TestExtClosedReadOnlyWrites(t *testing.T) {
	opts, _ := extOpts(t)
	db, err := minikv.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	opts.ReadOnly = true
	rdb, err := minikv.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
	b := rdb.NewBatch()
	b.Set("k", nil)
	for name, err := range map[string]error{
		"Set": rdb.Set("k", nil), "Delete": rdb.Delete("k"), "SetWithTTL": rdb.SetWithTTL("k", nil, time.Second),
		"Expire": rdb.Expire("k", time.Second), "Persist": rdb.Persist("k"), "Batch.Write": b.Write(),
		"Compact": rdb.Compact(), "SetWithContext": rdb.SetWithContext(context.Background(), "k", nil),
	} {
		if !errors.Is(err, minikv.ErrClosed) {
			t.Errorf("%s on a closed read-only DB: %v; want ErrClosed", name, err)
		}
	}
}
