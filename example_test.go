package minikv_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/minikv/minikv"
)

// exampleDB opens a store in a new temporary directory and returns it
// with a function that closes it and removes the directory.
func exampleDB() (*minikv.DB, func()) {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	return db, func() {
		db.Close()
		os.RemoveAll(dir)
	}
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Set("greeting", []byte("hello")); err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	// Everything acknowledged before Close is there after a reopen.
	db, err = minikv.Open(minikv.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	v, err := db.Get("greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", v)
	// Output: hello
}

func ExampleDB_Get() {
	db, done := exampleDB()
	defer done()

	db.Set("user:1", []byte("ada"))
	v, err := db.Get("user:1")
	fmt.Printf("%s %v\n", v, err)

	_, err = db.Get("user:2")
	fmt.Println(errors.Is(err, minikv.ErrNotFound))
	// Output:
	// ada <nil>
	// true
}

func ExampleDB_SetWithTTL() {
	db, done := exampleDB()
	defer done()

	db.SetWithTTL("session:42", []byte("token"), time.Hour)
	ttl, _ := db.TTL("session:42")
	fmt.Println(ttl > 59*time.Minute && ttl <= time.Hour)

	db.Set("config", []byte("v1")) // no expiry
	ttl, _ = db.TTL("config")
	fmt.Println(ttl < 0)
	// Output:
	// true
	// true
}

func ExampleDB_NewBatch() {
	db, done := exampleDB()
	defer done()

	db.Set("stock:apples", []byte("10"))
	b := db.NewBatch()
	b.Set("stock:apples", []byte("7"))
	b.Set("order:1", []byte("3 apples"))
	b.Delete("cart:1")
	if err := b.Write(); err != nil { // all three, or none
		log.Fatal(err)
	}
	v, _ := db.Get("stock:apples")
	fmt.Printf("%s\n", v)
	// Output: 7
}

func ExampleDB_Scan() {
	db, done := exampleDB()
	defer done()

	for _, k := range []string{"user:3", "user:1", "city:1", "user:2"} {
		db.Set(k, []byte("v-"+k))
	}
	it, err := db.Scan("user:", 2) // at most two keys
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Println(it.Key(), string(it.Value()))
	}
	if err := it.Error(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// user:1 v-user:1
	// user:2 v-user:2
}

func ExampleDB_All() {
	db, done := exampleDB()
	defer done()

	db.Set("fruit:banana", []byte("yellow"))
	db.Set("fruit:apple", []byte("red"))
	db.Set("veg:leek", []byte("green"))
	for item, err := range db.All("fruit:") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(item.Key, string(item.Value))
	}
	// Output:
	// fruit:apple red
	// fruit:banana yellow
}

func ExampleDB_ScanRange() {
	db, done := exampleDB()
	defer done()

	for _, day := range []string{"2026-01-30", "2026-02-01", "2026-02-14", "2026-03-01"} {
		db.Set("log:"+day, nil)
	}
	it, _ := db.ScanRange("log:2026-02", "log:2026-03", 0) // February
	defer it.Close()
	for it.Next() {
		fmt.Println(it.Key())
	}
	// Output:
	// log:2026-02-01
	// log:2026-02-14
}

func ExampleDB_Keys() {
	db, done := exampleDB()
	defer done()

	for _, k := range []string{"user:1:name", "user:1:mail", "user:22:name", "group:1:name"} {
		db.Set(k, nil)
	}
	keys, _ := db.Keys("user:?:*")
	fmt.Println(keys)
	keys, _ = db.Keys("*:name")
	fmt.Println(keys)
	// Output:
	// [user:1:mail user:1:name]
	// [group:1:name user:1:name user:22:name]
}

func ExampleDB_IncrBy() {
	db, done := exampleDB()
	defer done()

	db.Incr("visits") // a missing key counts as 0
	n, _ := db.IncrBy("visits", 10)
	fmt.Println(n)

	db.Set("name", []byte("ada"))
	_, err := db.Incr("name")
	fmt.Println(errors.Is(err, minikv.ErrInvalidValue))
	// Output:
	// 11
	// true
}

func ExampleDB_CompareAndSwap() {
	db, done := exampleDB()
	defer done()

	db.Set("leader", []byte("node-a"))
	ok, _ := db.CompareAndSwap("leader", []byte("node-a"), []byte("node-b"))
	fmt.Println(ok)
	ok, _ = db.CompareAndSwap("leader", []byte("node-a"), []byte("node-c")) // stale
	fmt.Println(ok)
	v, _ := db.Get("leader")
	fmt.Printf("%s\n", v)
	// Output:
	// true
	// false
	// node-b
}

func ExampleDB_BackupTo() {
	db, done := exampleDB()
	defer done()
	db.Set("k", []byte("v"))

	parent, err := os.MkdirTemp("", "minikv-backup-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(parent)
	dest := filepath.Join(parent, "copy")
	if err := db.BackupTo(dest); err != nil { // reads and writes go on meanwhile
		log.Fatal(err)
	}

	backup, err := minikv.Open(minikv.Options{Dir: dest}) // the copy is a store
	if err != nil {
		log.Fatal(err)
	}
	defer backup.Close()
	v, _ := backup.Get("k")
	fmt.Printf("%s\n", v)
	// Output: v
}

func ExampleDB_Backup() {
	db, done := exampleDB()
	defer done()
	db.Set("k", []byte("v"))

	var stream bytes.Buffer // a file, a socket, an object store upload...
	if err := db.Backup(&stream); err != nil {
		log.Fatal(err)
	}

	parent, err := os.MkdirTemp("", "minikv-restore-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(parent)
	dest := filepath.Join(parent, "restored")
	if err := minikv.Restore(&stream, dest); err != nil {
		log.Fatal(err)
	}
	restored, err := minikv.Open(minikv.Options{Dir: dest})
	if err != nil {
		log.Fatal(err)
	}
	defer restored.Close()
	n, _ := restored.Count()
	fmt.Println(n)
	// Output: 1
}
