package minikv_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikv/minikv"
	"github.com/minikv/minikv/internal/testseed"
)

// This file holds the unit tests of the core engine's public behaviour
// (issue 2) and the helpers, prefixed core, that the property, model and
// lock tests share.

// fileState fingerprints one file of a database directory.
type fileState struct {
	size    int64
	mode    fs.FileMode
	modTime time.Time
	sum     [32]byte
}

// fingerprint returns the name, size, mode, modification time and
// SHA-256 of every entry in dir, so that a test can show an operation left
// the directory exactly as it was.
func fingerprint(dir string) (map[string]fileState, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]fileState, len(des))
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			return nil, err
		}
		f := fileState{size: fi.Size(), mode: fi.Mode(), modTime: fi.ModTime()}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(filepath.Join(dir, de.Name()))
			if err != nil {
				return nil, err
			}
			f.sum = sha256.Sum256(data)
		}
		out[de.Name()] = f
	}
	return out, nil
}

// diffFingerprints describes how two fingerprints differ, or returns "".
func diffFingerprints(before, after map[string]fileState) string {
	var diffs []string
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			diffs = append(diffs, name+" removed")
		case a != b:
			diffs = append(diffs, fmt.Sprintf("%s changed (size %d -> %d, mode %v -> %v, mtime %v -> %v, content same: %v)",
				name, b.size, a.size, b.mode, a.mode, b.modTime, a.modTime, a.sum == b.sum))
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			diffs = append(diffs, name+" created")
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}

// copyDir copies the regular files of src into the new directory dst.
func copyDir(src, dst string) error {
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	des, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// listWithExt returns the names in dir that end in ext, sorted.
func listWithExt(dir, ext string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ext) {
			names = append(names, de.Name())
		}
	}
	return names, nil
}

// dbContents returns every live key of db with its value, read with a
// full scan, and checks that Count, Exists and Get agree with the scan.
func dbContents(db *minikv.DB) (map[string]string, error) {
	got := map[string]string{}
	for item, err := range db.All("") {
		if err != nil {
			return nil, fmt.Errorf("All: %w", err)
		}
		got[item.Key] = string(item.Value)
	}
	n, err := db.Count()
	if err != nil {
		return nil, fmt.Errorf("Count: %w", err)
	}
	if n != len(got) {
		return nil, fmt.Errorf("Count = %d, but a full scan found %d keys", n, len(got))
	}
	for k, v := range got {
		b, err := db.Get(k)
		if err != nil || string(b) != v {
			return nil, fmt.Errorf("Get(%q) = %q, %v; the scan found %q", k, b, err, v)
		}
		if ok, err := db.Exists(k); !ok || err != nil {
			return nil, fmt.Errorf("Exists(%q) = %v, %v for a scanned key", k, ok, err)
		}
	}
	return got, nil
}

// checkContents compares db's contents with the model want and
// returns a description of the first differences, or "".
func checkContents(db *minikv.DB, want map[string]string) string {
	got, err := dbContents(db)
	if err != nil {
		return err.Error()
	}
	if maps.Equal(got, want) {
		return ""
	}
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("missing %s", shortString(k)))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %s, want %s", shortString(k), shortString(g), shortString(w)))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected %s", shortString(k)))
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
	}
	return fmt.Sprintf("contents differ from the model (%d keys, want %d): %s", len(got), len(want), strings.Join(diffs, "; "))
}

// shortString quotes s, eliding the middle of a long one.
func shortString(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q...(%d bytes)", s[:32], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// dbOp is one write of a generated or random sequence.
type dbOp struct {
	Del   bool
	Key   string
	Value []byte
}

// String describes op briefly. gopter formats every generated argument,
// and printing large values byte by byte would dominate the run time.
func (op dbOp) String() string {
	if op.Del {
		return "del " + shortString(op.Key)
	}
	return "set " + shortString(op.Key) + "=" + shortString(string(op.Value))
}

// apply performs op on db and on the model.
func apply(db *minikv.DB, model map[string]string, op dbOp) error {
	if op.Del {
		delete(model, op.Key)
		return db.Delete(op.Key)
	}
	model[op.Key] = string(op.Value)
	return db.Set(op.Key, op.Value)
}

// applyAll performs ops on db and on the model.
func applyAll(db *minikv.DB, model map[string]string, ops []dbOp) error {
	for i, op := range ops {
		if err := apply(db, model, op); err != nil {
			return fmt.Errorf("op %d (delete=%v key %s): %w", i, op.Del, shortString(op.Key), err)
		}
	}
	return nil
}

// keyOfLen returns a key of n pseudo-random bytes drawn from seed.
func keyOfLen(n int, seed int64) string {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return string(b)
}

// dbCall is one public method, called with valid arguments.
type dbCall struct {
	name string
	call func(db *minikv.DB) error
}

// fixtureKey holds an integer in the databases that the call tables
// run against, so that every write call would succeed on a writable,
// open handle.
const fixtureKey = "core:n"

// writeCalls lists every method that writes.
func writeCalls() []dbCall {
	return []dbCall{
		{"Set", func(db *minikv.DB) error { return db.Set("core:new", []byte("v")) }},
		{"Delete", func(db *minikv.DB) error { return db.Delete(fixtureKey) }},
		{"SetWithTTL", func(db *minikv.DB) error { return db.SetWithTTL("core:new", []byte("v"), time.Hour) }},
		{"Expire", func(db *minikv.DB) error { return db.Expire(fixtureKey, time.Hour) }},
		{"Persist", func(db *minikv.DB) error { return db.Persist(fixtureKey) }},
		{"Batch.Write", func(db *minikv.DB) error {
			b := db.NewBatch()
			b.Set("core:b1", []byte("1"))
			b.Delete(fixtureKey)
			return b.Write()
		}},
		{"SetNX", func(db *minikv.DB) error { _, err := db.SetNX("core:new", []byte("v")); return err }},
		{"Incr", func(db *minikv.DB) error { _, err := db.Incr(fixtureKey); return err }},
		{"Decr", func(db *minikv.DB) error { _, err := db.Decr(fixtureKey); return err }},
		{"IncrBy", func(db *minikv.DB) error { _, err := db.IncrBy(fixtureKey, 7); return err }},
		{"CompareAndSwap", func(db *minikv.DB) error {
			_, err := db.CompareAndSwap(fixtureKey, []byte("41"), []byte("42"))
			return err
		}},
		{"GetAndSet", func(db *minikv.DB) error { _, err := db.GetAndSet(fixtureKey, []byte("1")); return err }},
		{"SetWithContext", func(db *minikv.DB) error {
			return db.SetWithContext(context.Background(), "core:new", []byte("v"))
		}},
		{"Compact", func(db *minikv.DB) error { return db.Compact() }},
	}
}

// readCalls lists every method that only reads and returns an error.
func readCalls() []dbCall {
	iterErr := func(it minikv.Iterator, err error) error {
		if err != nil {
			return err
		}
		defer it.Close()
		for it.Next() {
		}
		return it.Error()
	}
	seqErr := func(seq func(func(minikv.Item, error) bool)) error {
		var last error
		for _, err := range seq {
			last = err
		}
		return last
	}
	return []dbCall{
		{"Get", func(db *minikv.DB) error { _, err := db.Get(fixtureKey); return err }},
		{"View", func(db *minikv.DB) error { return db.View(fixtureKey, func([]byte) error { return nil }) }},
		{"Exists", func(db *minikv.DB) error { _, err := db.Exists(fixtureKey); return err }},
		{"TTL", func(db *minikv.DB) error { _, err := db.TTL(fixtureKey); return err }},
		{"Scan", func(db *minikv.DB) error { return iterErr(db.Scan("core:", 0)) }},
		{"ScanRange", func(db *minikv.DB) error { return iterErr(db.ScanRange("a", "z", 10)) }},
		{"Keys", func(db *minikv.DB) error { _, err := db.Keys("core:*"); return err }},
		{"Count", func(db *minikv.DB) error { _, err := db.Count(); return err }},
		{"GetWithContext", func(db *minikv.DB) error {
			_, err := db.GetWithContext(context.Background(), fixtureKey)
			return err
		}},
		{"DumpKeys", func(db *minikv.DB) error { return db.DumpKeys(io.Discard) }},
		{"All", func(db *minikv.DB) error { return seqErr(db.All("")) }},
		{"Range", func(db *minikv.DB) error { return seqErr(db.Range("a", "")) }},
	}
}

// closeOK closes db and reports a failure through t.
func closeOK(t testing.TB, db *minikv.DB) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestDB_InputValidation checks that an empty or oversized key or value
// gets its error from every method, and that nothing reaches the WAL, the
// index or the next open.
func TestDB_InputValidation(t *testing.T) {
	opts := minikv.Options{SyncMode: minikv.SyncNever}
	db, dir := openTestDB(t, opts)
	opts.Dir = dir
	if err := db.Set("keep", []byte("me")); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("k", minikv.MaxKeySize+1)
	huge := make([]byte, minikv.MaxValueSize+1)
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"Set empty key", func() error { return db.Set("", []byte("v")) }, minikv.ErrEmptyKey},
		{"Set empty key and empty value", func() error { return db.Set("", nil) }, minikv.ErrEmptyKey},
		{"Set oversized key", func() error { return db.Set(long, []byte("v")) }, minikv.ErrKeyTooLarge},
		{"Set oversized value", func() error { return db.Set("big", huge) }, minikv.ErrValueTooLarge},
		{"Set oversized key and value", func() error { return db.Set(long, huge) }, minikv.ErrKeyTooLarge},
		{"Get empty key", func() error { _, err := db.Get(""); return err }, minikv.ErrEmptyKey},
		{"Get oversized key", func() error { _, err := db.Get(long); return err }, minikv.ErrKeyTooLarge},
		{"Delete empty key", func() error { return db.Delete("") }, minikv.ErrEmptyKey},
		{"Delete oversized key", func() error { return db.Delete(long) }, minikv.ErrKeyTooLarge},
		{"Exists empty key", func() error { _, err := db.Exists(""); return err }, minikv.ErrEmptyKey},
		{"Exists oversized key", func() error { _, err := db.Exists(long); return err }, minikv.ErrKeyTooLarge},
		{"View empty key", func() error { return db.View("", func([]byte) error { return nil }) }, minikv.ErrEmptyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			walBefore := minikv.WALBytes(db)
			if err := tt.op(); !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if n, err := db.Count(); n != 1 || err != nil {
				t.Errorf("Count = %d, %v after a rejected call, want 1", n, err)
			}
			if w := minikv.WALBytes(db); w != walBefore {
				t.Errorf("WAL grew from %d to %d bytes on a rejected call", walBefore, w)
			}
			if _, err := db.Get("big"); !errors.Is(err, minikv.ErrNotFound) {
				t.Errorf("Get(big) = %v, want ErrNotFound", err)
			}
		})
	}
	db = reopen(t, db, opts)
	if msg := checkContents(db, map[string]string{"keep": "me"}); msg != "" {
		t.Errorf("after reopen: %s", msg)
	}
}

// TestDB_SizeLimitsAccepted checks that the largest key and value and an
// empty value are stored and read back, also after reopen.
func TestDB_SizeLimitsAccepted(t *testing.T) {
	opts := minikv.Options{SyncMode: minikv.SyncNever}
	db, dir := openTestDB(t, opts)
	opts.Dir = dir
	key := strings.Repeat("K", minikv.MaxKeySize)
	value := bytes.Repeat([]byte{0xA5}, minikv.MaxValueSize)
	value[0], value[len(value)-1] = 1, 2
	tests := []struct {
		name  string
		key   string
		value []byte
	}{
		{"one-byte key, empty value", "k", nil},
		{"key of MaxKeySize bytes", key, []byte("v")},
		{"value of MaxValueSize bytes", "big", value},
	}
	want := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.Set(tt.key, tt.value); err != nil {
				t.Fatalf("Set: %v", err)
			}
			got, err := db.Get(tt.key)
			if err != nil || !bytes.Equal(got, tt.value) {
				t.Fatalf("Get: %d bytes, %v; want %d bytes", len(got), err, len(tt.value))
			}
		})
		want[tt.key] = string(tt.value)
	}
	db = reopen(t, db, opts)
	if msg := checkContents(db, want); msg != "" {
		t.Errorf("after reopen: %s", msg)
	}
}

// TestDB_CopiesInAndOut checks that Set copies the caller's buffer and that
// Get hands out a copy.
func TestDB_CopiesInAndOut(t *testing.T) {
	opts := minikv.Options{SyncMode: minikv.SyncNever}
	db, dir := openTestDB(t, opts)
	opts.Dir = dir
	buf := []byte("original")
	if err := db.Set("k", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "CHANGED!")
	got, err := db.Get("k")
	if err != nil || string(got) != "original" {
		t.Fatalf("after changing the caller's buffer, Get = %q, %v; want original", got, err)
	}
	copy(got, "XXXXXXXX")
	got = append(got[:0], "appended over"...)
	again, err := db.Get("k")
	if err != nil || string(again) != "original" {
		t.Fatalf("after changing Get's result, Get = %q, %v; want original", again, err)
	}
	var viewed []byte
	if err := db.View("k", func(v []byte) error { viewed = append(viewed, v...); return nil }); err != nil {
		t.Fatal(err)
	}
	if string(viewed) != "original" {
		t.Fatalf("View saw %q", viewed)
	}
	a, _ := db.Get("k")
	b, _ := db.Get("k")
	a[0] = 'O'
	if b[0] != 'o' {
		t.Fatal("two Get calls returned the same backing array")
	}
	db = reopen(t, db, opts)
	if msg := checkContents(db, map[string]string{"k": "original"}); msg != "" {
		t.Errorf("after reopen: %s", msg)
	}
}

// TestDB_DeleteAndExists walks a key through set, delete and set again,
// checking Exists and Get at each step; deleting a missing key succeeds.
func TestDB_DeleteAndExists(t *testing.T) {
	db, _ := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever})
	tests := []struct {
		name       string
		op         func() error
		key        string
		wantExists bool
	}{
		{"delete of a key never written", func() error { return db.Delete("never") }, "never", false},
		{"set", func() error { return db.Set("a", []byte("1")) }, "a", true},
		{"set empty value", func() error { return db.Set("e", []byte{}) }, "e", true},
		{"delete of a written key", func() error { return db.Delete("a") }, "a", false},
		{"delete twice", func() error { return db.Delete("a") }, "a", false},
		{"set after delete", func() error { return db.Set("a", []byte("2")) }, "a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); err != nil {
				t.Fatalf("op: %v", err)
			}
			ok, err := db.Exists(tt.key)
			if err != nil || ok != tt.wantExists {
				t.Fatalf("Exists(%q) = %v, %v; want %v", tt.key, ok, err, tt.wantExists)
			}
			_, err = db.Get(tt.key)
			if tt.wantExists != (err == nil) || (!tt.wantExists && !errors.Is(err, minikv.ErrNotFound)) {
				t.Fatalf("Get(%q) error = %v with Exists %v", tt.key, err, tt.wantExists)
			}
		})
	}
	got, err := db.Get("e")
	if err != nil || len(got) != 0 {
		t.Errorf("Get of an empty value = %q, %v; want an empty value and no error", got, err)
	}
}

// TestOpen_PermissionsAndManifest checks that Open creates missing parent
// directories with mode 0700, that every file is 0600, and that the MANIFEST
// names the snapshot after Compact.
func TestOpen_PermissionsAndManifest(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "a", "db")
	db, err := minikv.Open(minikv.Options{Dir: dir, SyncMode: minikv.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 50 {
		if err := db.Set(fmt.Sprint("k", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := db.Set("after", []byte("compaction")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 || !fi.IsDir() {
		t.Errorf("directory mode = %v, want drwx------", fi.Mode())
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
			t.Errorf("%s: mode %v, want -rw-------", de.Name(), fi.Mode())
		}
		seen[filepath.Ext(de.Name())] = true
		seen[de.Name()] = true
	}
	for _, want := range []string{"MANIFEST", "LOCK", ".wal", ".snap"} {
		if !seen[want] {
			t.Errorf("no %s in the directory after Open, writes and Compact (have %v)", want, slices.Sorted(maps.Keys(seen)))
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := listWithExt(dir, ".snap")
	if len(snaps) != 1 || !bytes.Contains(data, []byte(snaps[0])) {
		t.Errorf("MANIFEST %q does not name the snapshot %v", data, snaps)
	}
}

// TestOpen_ManifestOnFresh checks that a new database has a MANIFEST from
// its first Open.
func TestOpen_ManifestOnFresh(t *testing.T) {
	db, dir := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever})
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatalf("no MANIFEST after opening a new database: %v", err)
	}
	if _, err := db.Get("x"); !errors.Is(err, minikv.ErrNotFound) {
		t.Fatalf("Get on a new database = %v, want ErrNotFound", err)
	}
}

// TestOpen_RequiresDir checks that Options.Dir is required.
func TestOpen_RequiresDir(t *testing.T) {
	db, err := minikv.Open(minikv.Options{})
	if err == nil {
		db.Close()
		t.Fatal("Open with no Dir succeeded")
	}
}

// readOnlyFixture creates a database whose directory holds a snapshot,
// WAL records after it, a torn tail and a stray temp file: everything a
// writable open would tidy up. It returns the directory and its contents.
func readOnlyFixture(t *testing.T) (string, map[string]string) {
	t.Helper()
	db, dir := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever})
	want := map[string]string{fixtureKey: "41"}
	if err := db.Set(fixtureKey, []byte("41")); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		k, v := fmt.Sprintf("core:%02d", i), fmt.Sprint("v", i)
		if err := db.Set(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		k := fmt.Sprintf("wal:%d", i)
		if err := db.Set(k, []byte(k)); err != nil {
			t.Fatal(err)
		}
		want[k] = k
	}
	if err := db.Delete("core:03"); err != nil {
		t.Fatal(err)
	}
	delete(want, "core:03")
	closeOK(t, db)
	wals, err := listWithExt(dir, ".wal")
	if err != nil || len(wals) == 0 {
		t.Fatalf("no WAL segment: %v", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, wals[len(wals)-1]), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0x11, 0x22, 0x33, 0x44, 0x55}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST.tmp"), []byte("half-written"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, want
}

// TestOpen_ReadOnly opens, read-only, a directory that a writer would tidy
// (torn tail, temp file, with and without a LOCK file): every write fails
// with ErrReadOnly, every read works, and no file changes in any way.
func TestOpen_ReadOnly(t *testing.T) {
	for _, withLock := range []bool{true, false} {
		t.Run(fmt.Sprintf("lock file present=%v", withLock), func(t *testing.T) {
			dir, want := readOnlyFixture(t)
			if !withLock {
				if err := os.Remove(filepath.Join(dir, "LOCK")); err != nil {
					t.Fatal(err)
				}
			}
			before, err := fingerprint(dir)
			if err != nil {
				t.Fatal(err)
			}
			db, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true})
			if err != nil {
				t.Fatalf("read-only Open: %v", err)
			}
			for _, c := range writeCalls() {
				if err := c.call(db); !errors.Is(err, minikv.ErrReadOnly) {
					t.Errorf("%s on a read-only handle = %v, want ErrReadOnly", c.name, err)
				}
			}
			for _, c := range readCalls() {
				if err := c.call(db); err != nil {
					t.Errorf("%s on a read-only handle = %v, want nil", c.name, err)
				}
			}
			if msg := checkContents(db, want); msg != "" {
				t.Errorf("read-only contents: %s", msg)
			}
			if s := db.Stats(); s.TornBytes != 5 {
				t.Errorf("Stats().TornBytes = %d, want the 5 bytes appended", s.TornBytes)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			after, err := fingerprint(dir)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffFingerprints(before, after); d != "" {
				t.Errorf("a read-only open changed the directory: %s", d)
			}
		})
	}
}

// TestOpen_ReadOnlyMissingDir checks that a read-only open does not create a
// missing directory.
func TestOpen_ReadOnlyMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	db, err := minikv.Open(minikv.Options{Dir: dir, ReadOnly: true})
	if err == nil {
		db.Close()
		t.Fatal("read-only Open of a missing directory succeeded")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only Open created the directory: %v", err)
	}
}

// TestDB_Closed checks that after Close every method returns ErrClosed, on
// writable and read-only handles, that Close twice is harmless and that an
// iterator made before Close stops with ErrClosed.
func TestDB_Closed(t *testing.T) {
	for _, ro := range []bool{false, true} {
		t.Run(fmt.Sprintf("read-only=%v", ro), func(t *testing.T) {
			db, dir := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever})
			if err := db.Set(fixtureKey, []byte("41")); err != nil {
				t.Fatal(err)
			}
			if ro {
				closeOK(t, db)
				var err error
				if db, err = minikv.Open(minikv.Options{Dir: dir, ReadOnly: true}); err != nil {
					t.Fatal(err)
				}
			}
			it, err := db.Scan("", 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			for _, c := range append(writeCalls(), readCalls()...) {
				if err := c.call(db); !errors.Is(err, minikv.ErrClosed) {
					t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
				}
			}
			if it.Next() || !errors.Is(it.Error(), minikv.ErrClosed) {
				t.Errorf("iterator made before Close: Error() = %v, want ErrClosed", it.Error())
			}
			if s := db.Stats(); s.KeyCount != 0 || s.MemoryUsage != 0 {
				t.Errorf("Stats after Close: KeyCount %d, MemoryUsage %d; want zero gauges", s.KeyCount, s.MemoryUsage)
			}
		})
	}
}

// TestDB_SyncModesSurviveReopen checks a clean close and reopen in every
// sync mode.
func TestDB_SyncModesSurviveReopen(t *testing.T) {
	for _, mode := range []minikv.SyncMode{minikv.SyncAlways, minikv.SyncPeriodic, minikv.SyncNever} {
		t.Run(mode.String(), func(t *testing.T) {
			opts := minikv.Options{SyncMode: mode, SyncInterval: 5 * time.Millisecond}
			db, dir := openTestDB(t, opts)
			opts.Dir = dir
			model := map[string]string{}
			for i := range 60 {
				op := dbOp{Key: fmt.Sprint("k", i%17), Value: []byte(fmt.Sprint("v", i)), Del: i%5 == 4}
				if err := apply(db, model, op); err != nil {
					t.Fatal(err)
				}
			}
			db = reopen(t, db, opts)
			if msg := checkContents(db, model); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

// writeWAL opens a new database in dir, applies ops and closes it. It
// returns the WAL size after each op (ends[i] is the end of op i's record)
// and the models after each prefix (models[i] holds the first i ops).
func writeWAL(dir string, opts minikv.Options, ops []dbOp) (ends []int64, models []map[string]string, err error) {
	opts.Dir = dir
	opts.DisableAutoCompaction = true
	db, err := minikv.Open(opts)
	if err != nil {
		return nil, nil, err
	}
	model := map[string]string{}
	models = append(models, maps.Clone(model))
	for _, op := range ops {
		if err := apply(db, model, op); err != nil {
			return nil, nil, errors.Join(err, db.Close())
		}
		ends = append(ends, minikv.WALBytes(db))
		models = append(models, maps.Clone(model))
	}
	return ends, models, db.Close()
}

// tornOps returns the writes of the torn-tail tests: overwrites,
// deletes, an empty value and values of several sizes.
func tornOps() []dbOp {
	var ops []dbOp
	for i := range 14 {
		op := dbOp{Key: fmt.Sprintf("key-%d", i%5), Value: bytes.Repeat([]byte{byte('a' + i)}, 1+i*i%37)}
		switch i {
		case 6, 11:
			op = dbOp{Del: true, Key: fmt.Sprintf("key-%d", i%5-1)}
		case 9:
			op.Value = []byte{}
		}
		ops = append(ops, op)
	}
	return ops
}

// TestRecovery_TornTail cuts the last WAL segment at every byte offset of its
// last records (or of the whole segment, when the log has several) and
// checks each cut with checkCut. Under -short it checks every 7th
// offset and those at and next to each record boundary.
func TestRecovery_TornTail(t *testing.T) {
	tests := []struct {
		name        string
		segmentSize int64
		lastRecords int // cut every offset of this many last records (0: the whole last segment)
	}{
		{"one segment", 0, 4},
		{"several segments", 150, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			src := filepath.Join(root, "src")
			ops := tornOps()
			opts := minikv.Options{SyncMode: minikv.SyncNever, SegmentSize: tt.segmentSize}
			ends, models, err := writeWAL(src, opts, ops)
			if err != nil {
				t.Fatal(err)
			}
			wals, err := listWithExt(src, ".wal")
			if err != nil {
				t.Fatal(err)
			}
			if tt.segmentSize > 0 && len(wals) < 3 {
				t.Fatalf("want several segments, have %v", wals)
			}
			last := wals[len(wals)-1]
			data, err := os.ReadFile(filepath.Join(src, last))
			if err != nil {
				t.Fatal(err)
			}
			data = minikv.CutCloseMark(data) // as a writer killed after its last write left it
			total := ends[len(ends)-1]
			segStart := total - int64(len(data)) // the offset of the last segment in the log
			from := int64(0)
			if tt.lastRecords > 0 {
				from = ends[len(ends)-1-tt.lastRecords] - segStart
			}
			if from < 0 || segStart < 0 {
				t.Fatalf("the last segment (%d bytes) does not hold the last records (log of %d bytes)", len(data), total)
			}
			cuts := 0
			for cut := from; cut <= int64(len(data)); cut++ {
				if testing.Short() && !shortCut(cut-from, segStart+cut, int64(len(data))-cut, ends) {
					continue
				}
				checkCut(t, filepath.Join(root, fmt.Sprint("cut", cut)), src, last, data[:cut], segStart, ends, models)
				cuts++
				if t.Failed() {
					t.Fatalf("stopped after the failure at cut %d", cut)
				}
			}
			t.Logf("checked %d cut offsets of %s", cuts, last)
		})
	}
}

// shortCut reports whether the -short run of a cut-at-every-offset
// loop checks a cut: every 7th offset (i counts from the first), the last
// (left bytes after it), and those at and next to a record boundary
// (ends, in offsets of the log; at is the cut's).
func shortCut(i, at, left int64, ends []int64) bool {
	if i%7 == 0 || left == 0 {
		return true
	}
	for _, end := range ends {
		if at >= end-1 && at <= end+1 {
			return true
		}
	}
	return false
}

// checkCut copies src to dir with the WAL segment seg replaced by data
// (a prefix of it that starts at offset segStart of the log), opens it and
// checks that it holds exactly the writes whose records are whole, that
// TornBytes counts the rest, and that a write after the reopen survives
// the next restart.
func checkCut(t *testing.T, dir, src, seg string, data []byte, segStart int64, ends []int64, models []map[string]string) {
	t.Helper()
	if err := copyDir(src, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, seg), data, 0o600); err != nil {
		t.Fatal(err)
	}
	cut := segStart + int64(len(data))
	whole, wholeEnd := 0, int64(0) // writes whose records end before the cut
	for i, end := range ends {
		if end <= cut {
			whole, wholeEnd = i+1, end
		}
	}
	opts := minikv.Options{Dir: dir, SyncMode: minikv.SyncNever}
	db, err := minikv.Open(opts)
	if err != nil {
		t.Fatalf("cut at %d: Open: %v", len(data), err)
	}
	if msg := checkContents(db, models[whole]); msg != "" {
		t.Errorf("cut at %d (%d whole writes): %s", len(data), whole, msg)
	}
	if got := db.Stats().TornBytes; got != cut-wholeEnd {
		t.Errorf("cut at %d: TornBytes = %d, want %d", len(data), got, cut-wholeEnd)
	}
	if err := db.Set("after-cut", []byte(dir)); err != nil {
		t.Errorf("cut at %d: Set after reopen: %v", len(data), err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("cut at %d: Close: %v", len(data), err)
	}
	db, err = minikv.Open(opts)
	if err != nil {
		t.Fatalf("cut at %d: second Open: %v", len(data), err)
	}
	defer closeOK(t, db)
	want := maps.Clone(models[whole])
	want["after-cut"] = dir
	if msg := checkContents(db, want); msg != "" {
		t.Errorf("cut at %d, after a write and a restart: %s", len(data), msg)
	}
	if got := db.Stats().TornBytes; got != 0 {
		t.Errorf("cut at %d: TornBytes = %d on the second restart, want 0", len(data), got)
	}
}

// TestRecovery_WALTailPadding appends zero padding or garbage after the last
// record: Open keeps every record and the next write survives a restart.
func TestRecovery_WALTailPadding(t *testing.T) {
	tests := []struct {
		name     string
		tail     []byte
		wantTorn int64
	}{
		{"zero padding", make([]byte, 4096), -1},
		{"garbage", []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3}, 7},
		{"one byte", []byte{0x7f}, 1},
	}
	ops := tornOps()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			_, models, err := writeWAL(dir, minikv.Options{SyncMode: minikv.SyncNever}, ops)
			if err != nil {
				t.Fatal(err)
			}
			wals, _ := listWithExt(dir, ".wal")
			f, err := os.OpenFile(filepath.Join(dir, wals[len(wals)-1]), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tt.tail); err != nil {
				t.Fatal(err)
			}
			f.Close()
			opts := minikv.Options{Dir: dir, SyncMode: minikv.SyncNever}
			db, err := minikv.Open(opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if msg := checkContents(db, models[len(ops)]); msg != "" {
				t.Error(msg)
			}
			if torn := db.Stats().TornBytes; tt.wantTorn >= 0 && torn != tt.wantTorn {
				t.Errorf("TornBytes = %d, want %d", torn, tt.wantTorn)
			}
			if err := db.Set("next", []byte("write")); err != nil {
				t.Fatal(err)
			}
			db = reopen(t, db, opts)
			want := maps.Clone(models[len(ops)])
			want["next"] = "write"
			if msg := checkContents(db, want); msg != "" {
				t.Errorf("after a write and a restart: %s", msg)
			}
		})
	}
}

// damage is a way to damage a closed database directory.
type damage struct {
	name   string
	damage func(t *testing.T, dir string)
	file   string // the file the error must name ("" for any)
}

// flipIn flips one byte in the middle of the first file with ext.
func flipIn(ext string, at func(size int) int) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		names, _ := listWithExt(dir, ext)
		if len(names) == 0 {
			t.Fatalf("no %s file", ext)
		}
		p := filepath.Join(dir, names[0])
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[at(len(data))] ^= 0x20
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecovery_CorruptFiles damages a snapshot, the MANIFEST or the middle of the
// WAL: Open fails with ErrCorrupt naming the file, never a panic or an empty
// store, and changes nothing on disk.
func TestRecovery_CorruptFiles(t *testing.T) {
	middle := func(n int) int { return n / 2 }
	tests := []damage{
		{"snapshot body", flipIn(".snap", middle), ".snap"},
		{"snapshot magic", flipIn(".snap", func(int) int { return 0 }), ".snap"},
		{"snapshot footer", flipIn(".snap", func(n int) int { return n - 1 }), ".snap"},
		{"snapshot truncated", func(t *testing.T, dir string) {
			names, _ := listWithExt(dir, ".snap")
			if err := os.Truncate(filepath.Join(dir, names[0]), 30); err != nil {
				t.Fatal(err)
			}
		}, ".snap"},
		{"snapshot missing", func(t *testing.T, dir string) {
			names, _ := listWithExt(dir, ".snap")
			if err := os.Remove(filepath.Join(dir, names[0])); err != nil {
				t.Fatal(err)
			}
		}, "MANIFEST"},
		{"MANIFEST flipped", flipIn("MANIFEST", middle), "MANIFEST"},
		{"MANIFEST empty", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "MANIFEST"},
		{"MANIFEST missing beside a snapshot", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
				t.Fatal(err)
			}
		}, "MANIFEST"},
		{"WAL damaged before valid records", flipIn(".wal", func(int) int { return 6 }), ".wal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, dir := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever})
			for i := range 30 {
				if err := db.Set(fmt.Sprint("snap", i), []byte("in the snapshot")); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if err := db.Set(fmt.Sprint("wal", i), []byte("in the log")); err != nil {
					t.Fatal(err)
				}
			}
			closeOK(t, db)
			tt.damage(t, dir)
			before, err := fingerprint(dir)
			if err != nil {
				t.Fatal(err)
			}
			db2, err := minikv.Open(minikv.Options{Dir: dir})
			if err == nil {
				db2.Close()
				t.Fatal("Open of a damaged database succeeded")
			}
			if !errors.Is(err, minikv.ErrCorrupt) {
				t.Fatalf("Open error = %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tt.file) {
				t.Errorf("error %q does not name the %s file", err, tt.file)
			}
			after, err := fingerprint(dir)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffFingerprints(before, after); d != "" {
				t.Errorf("a failed Open changed the directory: %s", d)
			}
		})
	}
}

// TestRecovery_MissingManifestWithWAL checks that a directory with WAL records
// but no MANIFEST is ErrCorrupt.
func TestRecovery_MissingManifestWithWAL(t *testing.T) {
	db, dir := openTestDB(t, minikv.Options{SyncMode: minikv.SyncNever})
	if err := db.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	closeOK(t, db)
	if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	db2, err := minikv.Open(minikv.Options{Dir: dir})
	if err == nil {
		db2.Close()
		t.Fatal("Open of a WAL without its MANIFEST succeeded (it would have to guess what is live)")
	}
	if !errors.Is(err, minikv.ErrCorrupt) {
		t.Fatalf("error = %v, want ErrCorrupt", err)
	}
}

// TestRecovery_MissingMiddleSegment checks that a gap in the WAL segment numbers
// is ErrCorrupt naming the missing segment.
func TestRecovery_MissingMiddleSegment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	if _, _, err := writeWAL(dir, minikv.Options{SyncMode: minikv.SyncNever, SegmentSize: 150}, tornOps()); err != nil {
		t.Fatal(err)
	}
	wals, _ := listWithExt(dir, ".wal")
	if len(wals) < 3 {
		t.Fatalf("want 3 segments or more, have %v", wals)
	}
	if err := os.Remove(filepath.Join(dir, wals[1])); err != nil {
		t.Fatal(err)
	}
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err == nil {
		db.Close()
		t.Fatal("Open with a WAL segment missing in the middle succeeded")
	}
	if !errors.Is(err, minikv.ErrCorrupt) || !strings.Contains(err.Error(), wals[1]) {
		t.Fatalf("error = %v, want ErrCorrupt naming %s", err, wals[1])
	}
}

// TestModel_PointOps runs random sequences of Set, Delete, Get, Exists, Count,
// close-and-reopen and Compact against a plain map. Small segments and a
// small MaxWALSize make segment rotation and background compaction happen
// while the sequence runs. Under -short each mode runs a quarter of the
// steps.
func TestModel_PointOps(t *testing.T) {
	tests := []struct {
		mode  minikv.SyncMode
		steps int
	}{
		{minikv.SyncNever, 4000},
		{minikv.SyncPeriodic, 1500},
		{minikv.SyncAlways, 400},
	}
	for _, tt := range tests {
		if testing.Short() {
			tt.steps /= 4
		}
		t.Run(tt.mode.String(), func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(testseed.Seed(t))))
			opts := minikv.Options{
				SyncMode:     tt.mode,
				SyncInterval: 2 * time.Millisecond,
				SegmentSize:  int64(512 << rng.Intn(4)),
				MaxWALSize:   int64(4096 << rng.Intn(4)),
			}
			db, dir := openTestDB(t, opts)
			opts.Dir = dir
			runModel(t, rng, db, opts, tt.steps)
		})
	}
}

// runModel performs steps random operations on db and on a map and
// fails at the first difference. It closes the handles it opens.
func runModel(t *testing.T, rng *rand.Rand, db *minikv.DB, opts minikv.Options, steps int) {
	model := map[string]string{}
	nkeys := 8 + rng.Intn(120)
	key := func() string {
		if rng.Intn(20) == 0 {
			return keyOfLen(1+rng.Intn(40), rng.Int63())
		}
		return fmt.Sprintf("k%03d", rng.Intn(nkeys))
	}
	value := func() []byte {
		switch rng.Intn(10) {
		case 0:
			return []byte{}
		case 1:
			return bytes.Repeat([]byte{byte(rng.Intn(256))}, 500+rng.Intn(5000))
		}
		return []byte(fmt.Sprintf("v%d-%d", rng.Intn(1000), rng.Int63()))
	}
	var reopens, compactions int
	for step := range steps {
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("step %d: %s", step, fmt.Sprintf(format, args...))
		}
		switch r := rng.Intn(100); {
		case r < 40:
			k, v := key(), value()
			if err := db.Set(k, v); err != nil {
				fail("Set(%s): %v", shortString(k), err)
			}
			model[k] = string(v)
		case r < 55:
			k := key()
			if err := db.Delete(k); err != nil {
				fail("Delete(%s): %v", shortString(k), err)
			}
			delete(model, k)
		case r < 80:
			k := key()
			got, err := db.Get(k)
			want, ok := model[k]
			if ok && (err != nil || string(got) != want) {
				fail("Get(%s) = %s, %v; want %s", shortString(k), shortString(string(got)), err, shortString(want))
			}
			if !ok && !errors.Is(err, minikv.ErrNotFound) {
				fail("Get(%s) of a missing key = %s, %v", shortString(k), shortString(string(got)), err)
			}
		case r < 90:
			k := key()
			_, want := model[k]
			if got, err := db.Exists(k); got != want || err != nil {
				fail("Exists(%s) = %v, %v; want %v", shortString(k), got, err, want)
			}
		case r < 94:
			if n, err := db.Count(); n != len(model) || err != nil {
				fail("Count = %d, %v; want %d", n, err, len(model))
			}
		case r < 97:
			if err := db.Close(); err != nil {
				fail("Close: %v", err)
			}
			var err error
			if db, err = minikv.Open(opts); err != nil {
				fail("reopen: %v", err)
			}
			reopened := db
			t.Cleanup(func() { reopened.Close() })
			reopens++
			if msg := checkContents(db, model); msg != "" {
				fail("after reopen: %s", msg)
			}
		default:
			if err := db.Compact(); err != nil {
				fail("Compact: %v", err)
			}
			compactions++
		}
	}
	if msg := checkContents(db, model); msg != "" {
		t.Fatalf("at the end: %s", msg)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("%d steps, %d keys at the end, %d reopens, %d explicit compactions", steps, len(model), reopens, compactions)
}

// The golden databases in testdata were written by this package with the
// fake clock, one for each WAL format. Opening them checks that the on-disk
// formats, which the SPEC freezes, can still be read: a snapshot, then WAL
// records of every type (set, delete, batch) after it. golden-v1 holds WAL
// records of the first format, without durable points; golden-v2 those of
// the current one, and the mark that Close leaves. Regenerate only the
// current one, and only for a new format version, with
// MINIKV_UPDATE_GOLDEN=1.
const goldenDir = "testdata/golden-v2"

// goldenDirs are every golden database, the oldest first.
var goldenDirs = []string{"testdata/golden-v1", goldenDir}

// goldenBig is the value of the key "big" in the golden database.
func goldenBig() []byte {
	b := make([]byte, 5000)
	for i := range b {
		b[i] = byte(i * 31)
	}
	return b
}

// writeGolden writes the golden database into dir.
func writeGolden(dir string) error {
	clock := minikv.NewFakeClock()
	db, err := minikv.Open(minikv.WithClock(minikv.Options{Dir: dir, TTLCleanInterval: -1}, clock))
	if err != nil {
		return err
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	b := db.NewBatch()
	b.Set("batch-a", []byte("A"))
	b.Delete("\x00\xff")
	b.SetWithTTL("batch-ttl", []byte("T"), 2*time.Hour)
	return errors.Join(
		db.Set("alpha", []byte("1")),
		db.Set("beta", []byte{}),
		db.Set("\x00\xff", all),
		db.SetWithTTL("ttl", []byte("expires"), 1000*time.Hour),
		db.Set("gone", []byte("deleted before the snapshot")),
		db.Delete("gone"),
		db.Compact(),
		db.Set("alpha", []byte("2")),
		db.Delete("beta"),
		b.Write(),
		db.Set("big", goldenBig()),
		db.Close(),
		os.Remove(filepath.Join(dir, "LOCK")),
	)
}

// TestFormat_Golden opens a copy of the golden database and checks every
// key, the TTLs and the recovery figures.
func TestFormat_Golden(t *testing.T) {
	if os.Getenv("MINIKV_UPDATE_GOLDEN") == "1" {
		if err := os.RemoveAll(goldenDir); err != nil {
			t.Fatal(err)
		}
		if err := writeGolden(goldenDir); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote", goldenDir)
	}
	for _, golden := range goldenDirs {
		t.Run(filepath.Base(golden), func(t *testing.T) { checkGolden(t, golden) })
	}
}

// checkGolden opens a copy of the golden database in golden and checks
// it.
func checkGolden(t *testing.T, golden string) {
	dir := filepath.Join(t.TempDir(), "db")
	if err := copyDir(golden, dir); err != nil {
		t.Fatal(err)
	}
	clock := minikv.NewFakeClock()
	db, err := minikv.Open(minikv.WithClock(minikv.Options{Dir: dir, TTLCleanInterval: -1}, clock))
	if err != nil {
		t.Fatalf("Open of the golden database: %v", err)
	}
	defer db.Close()
	// A writable open says, before it writes, that the WAL may now hold
	// records of the current format.
	if man, err := os.ReadFile(filepath.Join(dir, "MANIFEST")); err != nil || !strings.HasPrefix(string(man), "minikv-manifest 2\n") {
		t.Errorf("MANIFEST after a writable open: %q, %v; want version 2", man, err)
	}
	want := map[string]string{
		"alpha":     "2",
		"ttl":       "expires",
		"batch-a":   "A",
		"batch-ttl": "T",
		"big":       string(goldenBig()),
	}
	if msg := checkContents(db, want); msg != "" {
		t.Fatal(msg)
	}
	st := db.Stats()
	if st.RecoveredKeys != 4 || st.RecoveredRecords != 4 || st.TornBytes != 0 {
		t.Errorf("recovery loaded %d snapshot keys and %d records (%d torn bytes); want 4, 4, 0",
			st.RecoveredKeys, st.RecoveredRecords, st.TornBytes)
	}
	for k, ttl := range map[string]time.Duration{"ttl": 1000 * time.Hour, "batch-ttl": 2 * time.Hour, "alpha": -1} {
		if got, err := db.TTL(k); err != nil || (ttl > 0 && got != ttl) || (ttl < 0 && got >= 0) {
			t.Errorf("TTL(%s) = %v, %v; want %v", k, got, err, ttl)
		}
	}
	clock.Advance(2 * time.Hour)
	delete(want, "batch-ttl")
	if msg := checkContents(db, want); msg != "" {
		t.Errorf("two hours later: %s", msg)
	}
}

// TestDB_CloseDuringWrites closes a database while goroutines write and
// read. Every call returns success or ErrClosed, and every write that
// returned nil is there after a reopen.
func TestDB_CloseDuringWrites(t *testing.T) {
	for _, mode := range []minikv.SyncMode{minikv.SyncAlways, minikv.SyncNever} {
		t.Run(mode.String(), func(t *testing.T) {
			opts := minikv.Options{SyncMode: mode, SegmentSize: 4096, MaxWALSize: 16384}
			db, dir := openTestDB(t, opts)
			opts.Dir = dir
			const writers = 4
			acked := make([][]string, writers)
			errs := make(chan error, writers)
			started := make(chan struct{}, writers)
			for w := range writers {
				go func() {
					var failure error
					defer func() { errs <- failure }()
					for i := 0; ; i++ {
						if i == 20 {
							started <- struct{}{}
						}
						k := fmt.Sprintf("w%d-%05d", w, i)
						err := db.Set(k, []byte(k))
						if errors.Is(err, minikv.ErrClosed) {
							return
						}
						if err != nil {
							failure = fmt.Errorf("Set(%s): %w", k, err)
							return
						}
						acked[w] = append(acked[w], k)
						v, err := db.Get(k)
						if errors.Is(err, minikv.ErrClosed) {
							return
						}
						if err != nil || string(v) != k {
							failure = fmt.Errorf("Get(%s) right after its Set = %q, %v", k, v, err)
							return
						}
					}
				}()
			}
			for range writers {
				<-started
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close during writes: %v", err)
			}
			for range writers {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			db2, err := minikv.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			total := 0
			for _, keys := range acked {
				for _, k := range keys {
					if v, err := db2.Get(k); err != nil || string(v) != k {
						t.Fatalf("acknowledged write %s after reopen: %q, %v", k, v, err)
					}
				}
				total += len(keys)
			}
			if n, _ := db2.Count(); n < total {
				t.Errorf("Count = %d after %d acknowledged writes", n, total)
			}
			t.Logf("%d acknowledged writes before Close", total)
		})
	}
}

// TestRecovery_DamageInSealedSegment damages a WAL segment that is not the last
// one. With valid records in a later segment that is ErrCorrupt, and
// SalvageCorruptWAL opens the prefix before the damage; with only an empty
// segment after it, it is a torn tail. Either way the later segments must
// not come back: a write after the open, and a restart, show exactly the
// prefix and the write.
func TestRecovery_DamageInSealedSegment(t *testing.T) {
	tests := []struct {
		name        string
		emptyAfter  bool // replace every later segment by an empty file
		wantCorrupt bool
	}{
		{"valid records after the damage", false, true},
		// A segment is fsynced before the next one is created, so damage
		// in a sealed segment is never what a crash leaves, even when the
		// segments after it are empty.
		{"only an empty segment after the damage", true, true},
	}
	ops := tornOps()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			ends, models, err := writeWAL(dir, minikv.Options{SyncMode: minikv.SyncNever, SegmentSize: 150}, ops)
			if err != nil {
				t.Fatal(err)
			}
			wals, _ := listWithExt(dir, ".wal")
			if len(wals) < 3 {
				t.Fatalf("want 3 segments or more, have %v", wals)
			}
			first, err := os.ReadFile(filepath.Join(dir, wals[0]))
			if err != nil {
				t.Fatal(err)
			}
			// Cut the first segment inside its last record.
			whole := 0
			for i, end := range ends {
				if end < int64(len(first)) {
					whole = i + 1
				}
			}
			cut := ends[whole-1] + 3
			if err := os.WriteFile(filepath.Join(dir, wals[0]), first[:cut], 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.emptyAfter {
				for _, w := range wals[1:] {
					if err := os.WriteFile(filepath.Join(dir, w), nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			opts := minikv.Options{Dir: dir, SyncMode: minikv.SyncNever}
			db, err := minikv.Open(opts)
			if tt.wantCorrupt {
				if !errors.Is(err, minikv.ErrCorrupt) || !strings.Contains(err.Error(), wals[0]) {
					if err == nil {
						db.Close()
					}
					t.Fatalf("Open = %v, want ErrCorrupt naming %s", err, wals[0])
				}
				opts.SalvageCorruptWAL = true
				if db, err = minikv.Open(opts); err != nil {
					t.Fatalf("salvaging Open: %v", err)
				}
			} else if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if msg := checkContents(db, models[whole]); msg != "" {
				t.Errorf("after the open: %s", msg)
			}
			if err := db.Set("after", []byte("damage")); err != nil {
				t.Fatal(err)
			}
			opts.SalvageCorruptWAL = false
			db = reopen(t, db, opts)
			want := maps.Clone(models[whole])
			want["after"] = "damage"
			if msg := checkContents(db, want); msg != "" {
				t.Errorf("after a write and a restart: %s", msg)
			}
		})
	}
}

func init() { children["core-fsize"] = fileSizeChild }

// fileSizeChild writes 1000-byte values to a new database until a
// write fails, as it must under the file size limit its parent set. It
// checks that the failure wraps EFBIG, that every later write is refused
// with the same cause while reads go on, and prints how many writes were
// acknowledged.
func fileSizeChild() int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		return 1
	}
	// A segment as large as the file size limit (ulimit -f 64: 64 blocks
	// of 512 bytes) means that the write after the failed one would go to
	// a new segment, where the operating system would accept it: only the
	// database itself can refuse it.
	const segLimit = 64 * 512
	db, err := minikv.Open(minikv.Options{Dir: os.Getenv(childDirEnv), SegmentSize: segLimit})
	if err != nil {
		return fail("Open: %v", err)
	}
	defer db.Close()
	value := bytes.Repeat([]byte("v"), 1000)
	acked := 0
	for ; acked < 100; acked++ {
		if err = db.Set(fmt.Sprintf("k%05d", acked), value); err != nil {
			break
		}
	}
	if err == nil {
		// The segments were preallocated and mapped: no record crosses
		// a segment's end, so none reached the limit. A record larger
		// than a segment is written with write(2), which does.
		err = db.Set(fmt.Sprintf("k%05d", acked), bytes.Repeat([]byte("w"), 2*segLimit))
	}
	if !errors.Is(err, syscall.EFBIG) {
		return fail("write %d: error %v does not wrap EFBIG", acked, err)
	}
	later := []dbCall{
		{"Set", func(db *minikv.DB) error { return db.Set("small", []byte("x")) }},
		{"Delete", func(db *minikv.DB) error { return db.Delete("k00000") }},
		{"Batch.Write", func(db *minikv.DB) error { b := db.NewBatch(); b.Set("b", nil); return b.Write() }},
	}
	for _, c := range later {
		if err := c.call(db); !errors.Is(err, syscall.EFBIG) {
			return fail("%s after the failed write = %v, want an error wrapping EFBIG", c.name, err)
		}
	}
	if v, err := db.Get("k00000"); err != nil || !bytes.Equal(v, value) {
		return fail("Get after the failed write = %d bytes, %v", len(v), err)
	}
	if _, err := db.Get(fmt.Sprintf("k%05d", acked)); !errors.Is(err, minikv.ErrNotFound) {
		return fail("the failed write is visible: Get = %v", err)
	}
	fmt.Println(acked)
	return 0
}

// TestDB_WriteFailureRefusesWrites runs a child under a file size limit
// (ulimit -f), so that a WAL append really fails with EFBIG. The child
// checks that the database then refuses writes with that cause and keeps
// serving reads; a reopen without the limit has every acknowledged write,
// not the failed one, and takes new writes that survive a restart.
func TestDB_WriteFailureRefusesWrites(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell's ulimit")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(sh, "-c", `ulimit -f 64 && exec "$0" -test.run='^$'`, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=core-fsize", childDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	acked, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || acked == 0 {
		t.Fatalf("child printed %q: %v", out, err)
	}
	opts := minikv.Options{Dir: dir, SyncMode: minikv.SyncNever}
	db, err := minikv.Open(opts)
	if err != nil {
		t.Fatalf("Open after the failed write: %v", err)
	}
	defer db.Close()
	want := map[string]string{}
	for i := range acked {
		want[fmt.Sprintf("k%05d", i)] = strings.Repeat("v", 1000)
	}
	if msg := checkContents(db, want); msg != "" {
		t.Fatalf("after the failed write: %s", msg)
	}
	if err := db.Set("after", []byte("limit")); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, opts)
	want["after"] = "limit"
	if msg := checkContents(db, want); msg != "" {
		t.Fatalf("after a write and a restart: %s", msg)
	}
	t.Logf("%d writes acknowledged before the limit", acked)
}
