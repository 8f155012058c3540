package minikv_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minikv/minikv"
)

// bkFill writes a mix of plain keys, keys with a TTL and a deleted key, and
// returns what a copy must hold.
func bkFill(t *testing.T, db *minikv.DB) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range 200 {
		k, v := fmt.Sprintf("key:%03d", i), fmt.Sprintf("value-%d", i)
		if err := db.Set(k, []byte(v)); err != nil {
			t.Fatalf("Set(%s): %v", k, err)
		}
		want[k] = v
	}
	if err := db.SetWithTTL("ttl:a", []byte("expires later"), time.Hour); err != nil {
		t.Fatal(err)
	}
	want["ttl:a"] = "expires later"
	if err := db.Set("bin", []byte{0, 1, 2, 0xff}); err != nil {
		t.Fatal(err)
	}
	want["bin"] = string([]byte{0, 1, 2, 0xff})
	if err := db.Delete("key:007"); err != nil {
		t.Fatal(err)
	}
	delete(want, "key:007")
	return want
}

// bkContents reads every key and value of db.
func bkContents(t *testing.T, db *minikv.DB) map[string]string {
	t.Helper()
	got := map[string]string{}
	for item, err := range db.All("") {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		got[item.Key] = string(item.Value)
	}
	return got
}

func bkEqual(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("copy holds %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("copy[%q] = %q (present %v), want %q", k, g, ok, v)
		}
	}
}

func TestBackupTo_OpensAsCopy(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{})
	want := bkFill(t, db)
	if err := db.Compact(); err != nil { // half in the snapshot, half in the WAL
		t.Fatal(err)
	}
	if err := db.Set("after-compaction", []byte("x")); err != nil {
		t.Fatal(err)
	}
	want["after-compaction"] = "x"

	dst := filepath.Join(t.TempDir(), "copy")
	if err := db.BackupTo(dst); err != nil {
		t.Fatalf("BackupTo: %v", err)
	}
	names, _ := os.ReadDir(dst)
	if len(names) != 3 {
		t.Errorf("backup directory holds %d files, want a MANIFEST, a snapshot and a LOCK", len(names))
	}
	// A read-only handle on the copy takes the lock and keeps a writer out.
	ro, err := minikv.Open(minikv.Options{Dir: dst, ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of the copy: %v", err)
	}
	if w, err := minikv.Open(minikv.Options{Dir: dst}); !errors.Is(err, minikv.ErrLocked) {
		if err == nil {
			w.Close()
		}
		t.Errorf("writer beside a reader of the copy: %v, want ErrLocked", err)
	}
	ro.Close()
	cp, _ := openTestDB(t, minikv.Options{Dir: dst})
	bkEqual(t, bkContents(t, cp), want)
	if ttl, err := cp.TTL("ttl:a"); err != nil || ttl <= 59*time.Minute {
		t.Errorf("TTL(ttl:a) in copy = %v, %v; want about an hour", ttl, err)
	}
	if err := cp.Set("new", []byte("writable")); err != nil {
		t.Errorf("copy does not take writes: %v", err)
	}
	if _, err := db.Get("new"); !errors.Is(err, minikv.ErrNotFound) {
		t.Errorf("a write to the copy reached the original: %v", err)
	}
}

func TestBackup_StreamRestore(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{})
	want := bkFill(t, db)
	var buf bytes.Buffer
	if err := db.Backup(&buf); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("MINIKVSN")) {
		t.Errorf("stream starts with %q, want the snapshot magic", buf.Bytes()[:8])
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if err := minikv.Restore(&buf, dst); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	cp, _ := openTestDB(t, minikv.Options{Dir: dst})
	bkEqual(t, bkContents(t, cp), want)
}

func TestBackup_LeavesOutExpiredKeys(t *testing.T) {
	clock := minikv.NewFakeClock()
	db, _ := openTestDB(t, minikv.WithClock(minikv.Options{TTLCleanInterval: -1}, clock))
	if err := db.SetWithTTL("short", []byte("v"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWithTTL("long", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	dst := filepath.Join(t.TempDir(), "copy")
	if err := db.BackupTo(dst); err != nil {
		t.Fatal(err)
	}
	cp, _ := openTestDB(t, minikv.WithClock(minikv.Options{Dir: dst, ReadOnly: true}, clock))
	bkEqual(t, bkContents(t, cp), map[string]string{"long": "v"})
	if ttl, err := cp.TTL("long"); err != nil || ttl != time.Hour-2*time.Second {
		t.Errorf("TTL(long) = %v, %v; want %v", ttl, err, time.Hour-2*time.Second)
	}
}

func TestBackup_FromReadOnlyHandle(t *testing.T) {
	db, dir := openTestDB(t, minikv.Options{})
	want := bkFill(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, _ := openTestDB(t, minikv.Options{Dir: dir, ReadOnly: true})
	dst := filepath.Join(t.TempDir(), "copy")
	if err := ro.BackupTo(dst); err != nil {
		t.Fatalf("BackupTo from a read-only handle: %v", err)
	}
	cp, _ := openTestDB(t, minikv.Options{Dir: dst})
	bkEqual(t, bkContents(t, cp), want)
}

// TestBackup_ConsistentUnderWrites moves units between two counters in
// batches while backups run; every copy must hold the same total.
func TestBackup_ConsistentUnderWrites(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever})
	const total = 1000
	if err := db.Set("a", []byte(strconv.Itoa(total))); err != nil {
		t.Fatal(err)
	}
	if err := db.Set("b", []byte("0")); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			b := db.NewBatch()
			b.Set("a", []byte(strconv.Itoa(total-i%total)))
			b.Set("b", []byte(strconv.Itoa(i%total)))
			b.Set(fmt.Sprintf("filler:%d", i%500), bytes.Repeat([]byte("f"), 100))
			if err := b.Write(); err != nil {
				t.Errorf("batch: %v", err)
				return
			}
		}
	})
	for i := range 20 {
		var buf bytes.Buffer
		if err := db.Backup(&buf); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), fmt.Sprint("copy", i))
		if err := minikv.Restore(&buf, dst); err != nil {
			t.Fatal(err)
		}
		cp, err := minikv.Open(minikv.Options{Dir: dst, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		got := bkContents(t, cp)
		cp.Close()
		a, _ := strconv.Atoi(got["a"])
		b, _ := strconv.Atoi(got["b"])
		if a+b != total {
			t.Fatalf("backup %d holds a=%q b=%q: a half-applied batch", i, got["a"], got["b"])
		}
	}
	stop.Store(true)
	wg.Wait()
}

func TestBackupTo_RefusesUnsafeTargets(t *testing.T) {
	db, dir := openTestDB(t, minikv.Options{})
	if err := db.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dst  string
	}{
		{"empty name", ""},
		{"own directory", dir},
		{"own directory, other spelling", filepath.Join(dir, ".", "")},
		{"non-empty directory", full},
		{"a file", file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.BackupTo(tt.dst); err == nil {
				t.Errorf("BackupTo(%q) = nil, want an error", tt.dst)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(full, "keep.txt")); err != nil || string(b) != "mine" {
		t.Errorf("BackupTo touched a non-empty directory: %q, %v", b, err)
	}
}

func TestRestore_RejectsDamagedStreams(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{})
	bkFill(t, db)
	var buf bytes.Buffer
	if err := db.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	tests := []struct {
		name   string
		stream []byte
	}{
		{"empty", nil},
		{"header only", good[:28]},
		{"truncated", good[:len(good)-5]},
		{"flipped byte", flipped},
		{"not a snapshot", bytes.Repeat([]byte("x"), 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "restored")
			err := minikv.Restore(bytes.NewReader(tt.stream), dst)
			if !errors.Is(err, minikv.ErrCorrupt) {
				t.Fatalf("Restore = %v, want ErrCorrupt", err)
			}
			if names, _ := os.ReadDir(dst); len(names) != 0 {
				t.Errorf("Restore left %v behind", names)
			}
		})
	}
}

func TestRestore_RefusesNonEmptyDir(t *testing.T) {
	db, dir := openTestDB(t, minikv.Options{})
	var buf bytes.Buffer
	if err := db.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	if err := minikv.Restore(&buf, dir); err == nil {
		t.Error("Restore over a live database = nil, want an error")
	}
}

type bkFailingWriter struct{ after int }

func (w *bkFailingWriter) Write(p []byte) (int, error) {
	if w.after < len(p) {
		return 0, errors.New("disk full")
	}
	w.after -= len(p)
	return len(p), nil
}

func TestBackup_Errors(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{})
	if err := db.Set("k", bytes.Repeat([]byte("v"), 4<<20)); err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(&bkFailingWriter{after: 1 << 20}); err == nil {
		t.Error("Backup to a failing writer = nil, want its error")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(&bytes.Buffer{}); !errors.Is(err, minikv.ErrClosed) {
		t.Errorf("Backup after Close = %v, want ErrClosed", err)
	}
	if err := db.BackupTo(filepath.Join(t.TempDir(), "x")); !errors.Is(err, minikv.ErrClosed) {
		t.Errorf("BackupTo after Close = %v, want ErrClosed", err)
	}
}

// bkFailingReader yields the first n bytes of a snapshot header, then
// fails.
type bkFailingReader struct{ n int }

func (r *bkFailingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), r.n)
	copy(p[:n], "MINIKVSN\x01\x00\x00\x00")
	r.n -= n
	return n, nil
}

// TestRestore_RemovesWhatItCreated: on any failure Restore removes the
// files it wrote and the directories it made, parents included, keeps a
// directory that was there, and names the operation once.
func TestRestore_RemovesWhatItCreated(t *testing.T) {
	tests := []struct {
		name    string
		stream  func() io.Reader
		message string
	}{
		{"damaged stream", func() io.Reader { return strings.NewReader("garbage") },
			"minikv: restore: corrupt database file backup stream: file too short"},
		{"failing reader", func() io.Reader { return &bkFailingReader{n: 20} },
			"minikv: restore: connection reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			err := minikv.Restore(tt.stream(), filepath.Join(parent, "a", "b", "c"))
			if err == nil || err.Error() != tt.message {
				t.Errorf("Restore = %v, want %q", err, tt.message)
			}
			if names, _ := os.ReadDir(parent); len(names) != 0 {
				t.Errorf("Restore left %v in the parent", names)
			}
			existing := t.TempDir()
			if err := minikv.Restore(tt.stream(), existing); err == nil {
				t.Fatal("Restore = nil")
			}
			if names, err := os.ReadDir(existing); err != nil || len(names) != 0 {
				t.Errorf("Restore left %v in a directory that was there (%v)", names, err)
			}
		})
	}
}

// TestRestore_KeepsANonEmptyDir: Restore refuses a directory with files
// and removes nothing from it.
func TestRestore_KeepsANonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := minikv.Restore(strings.NewReader("garbage"), dir)
	if err == nil || strings.Count(err.Error(), "minikv:") != 1 {
		t.Errorf("Restore = %v, want one error with one prefix", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("Restore touched a non-empty directory: %q, %v", b, err)
	}
}
