package minikv_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// TestErrors_SayHowMuch: a refused key, value, batch, TTL or increment says
// what was given and what the limit is, and still matches its sentinel.
func TestErrors_SayHowMuch(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{})
	if err := db.Set("n", []byte("9223372036854775807")); err != nil {
		t.Fatal(err)
	}
	if err := db.Set("text", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	bigKey := strings.Repeat("k", minikv.MaxKeySize+1)
	bigValue := make([]byte, minikv.MaxValueSize+1)
	batchErr := func(fill func(b minikv.Batch)) error {
		b := db.NewBatch()
		fill(b)
		return b.Write()
	}
	_, incrText := db.Incr("text")
	_, incrOverflow := db.Incr("n")
	tests := []struct {
		name     string
		err      error
		sentinel error
		want     string
	}{
		{"key", db.Set(bigKey, nil), minikv.ErrKeyTooLarge,
			fmt.Sprintf("minikv: key too large: %d bytes, over the limit of %d", minikv.MaxKeySize+1, minikv.MaxKeySize)},
		{"value", db.Set("k", bigValue), minikv.ErrValueTooLarge,
			fmt.Sprintf("minikv: value too large: %d bytes, over the limit of %d", minikv.MaxValueSize+1, minikv.MaxValueSize)},
		{"ttl", db.SetWithTTL("k", nil, -5*time.Second), minikv.ErrInvalidTTL,
			"minikv: invalid ttl: -5s, a TTL must be positive"},
		{"expire", db.Expire("n", 0), minikv.ErrInvalidTTL,
			"minikv: invalid ttl: 0s, a TTL must be positive"},
		{"batch key", batchErr(func(b minikv.Batch) { b.Set("a", nil); b.Set(bigKey, nil) }), minikv.ErrKeyTooLarge,
			fmt.Sprintf("minikv: key too large: %d bytes, over the limit of %d (operation 2 of 2 in the batch)", minikv.MaxKeySize+1, minikv.MaxKeySize)},
		{"batch ttl", batchErr(func(b minikv.Batch) { b.SetWithTTL("a", nil, 0) }), minikv.ErrInvalidTTL,
			"minikv: invalid ttl: 0s, a TTL must be positive (operation 1 of 1 in the batch)"},
		{"batch size", batchErr(func(b minikv.Batch) {
			for i := 0; b.Size() <= minikv.MaxBatchSize; i++ {
				b.Set(fmt.Sprint(i), make([]byte, minikv.MaxValueSize))
			}
		}), minikv.ErrBatchTooLarge, "minikv: batch too large: "},
		{"incr text", incrText, minikv.ErrInvalidValue,
			`minikv: value is not an integer or would overflow: key "text" holds "abc", not a base-10 int64`},
		{"incr overflow", incrOverflow, minikv.ErrInvalidValue,
			`minikv: value is not an integer or would overflow: key "n" holds 9223372036854775807, and adding 1 overflows an int64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.sentinel) {
				t.Fatalf("error %v does not match %v", tt.err, tt.sentinel)
			}
			if got := tt.err.Error(); got != tt.want && !(strings.HasSuffix(tt.want, " ") && strings.HasPrefix(got, tt.want)) {
				t.Fatalf("message\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	if v, err := db.Get("n"); err != nil || string(v) != "9223372036854775807" {
		t.Fatalf("a refused Incr changed the value: %q, %v", v, err)
	}
}

// TestErrors_LongValueQuotedShort: a huge value named in an error is cut,
// so that the message stays one readable line.
func TestErrors_LongValueQuotedShort(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{})
	if err := db.Set("big", []byte(strings.Repeat("x\n", 5000))); err != nil {
		t.Fatal(err)
	}
	_, err := db.Incr("big")
	if !errors.Is(err, minikv.ErrInvalidValue) || len(err.Error()) > 200 || !strings.Contains(err.Error(), "(10000 bytes)") {
		t.Fatalf("error %q: want ErrInvalidValue, short, with the value's size", err)
	}
}

// TestOpen_NotADirectory: a file given as Dir is named as such, for a
// writer and a reader alike.
func TestOpen_NotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		_, err := minikv.Open(minikv.Options{Dir: file, ReadOnly: ro})
		if want := "minikv: " + file + " is not a directory"; err == nil || err.Error() != want || !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("ReadOnly=%v: Open of a file: %v; want %q matching ENOTDIR", ro, err, want)
		}
	}
}

// TestTTL_NoExpiry: a key without expiry has the TTL NoExpiry, which is
// negative.
func TestTTL_NoExpiry(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{})
	if err := db.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	ttl, err := db.TTL("k")
	if err != nil || ttl != minikv.NoExpiry || minikv.NoExpiry >= 0 {
		t.Fatalf("TTL = %v, %v; want NoExpiry (%v), negative", ttl, err, minikv.NoExpiry)
	}
}
