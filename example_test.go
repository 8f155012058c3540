package minikv_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/minikv/minikv"
)

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
	v, err := db.Get("greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", v)

	// Reopen: the write is in the log.
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
	db, err = minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	v, err = db.Get("greeting")
	fmt.Printf("after reopen: %s, %v\n", v, err)
	// Output:
	// hello
	// after reopen: hello, <nil>
}

func ExampleDB_Delete() {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	db.Set("session:1", []byte("alive"))
	if err := db.Delete("session:1"); err != nil {
		log.Fatal(err)
	}
	_, err = db.Get("session:1")
	fmt.Println(errors.Is(err, minikv.ErrNotFound))
	ok, err := db.Exists("session:1")
	fmt.Println(ok, err)
	// Deleting a missing key is not an error.
	fmt.Println(db.Delete("session:1"))
	// Output:
	// true
	// false <nil>
	// <nil>
}

func ExampleDB_Scan() {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	for _, kv := range [][2]string{{"user:2", "grace"}, {"city:1", "paris"}, {"user:1", "ada"}, {"user:3", "linus"}} {
		db.Set(kv[0], []byte(kv[1]))
	}
	it, err := db.Scan("user:", 2)
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("%s=%s\n", it.Key(), it.Value())
	}
	if err := it.Error(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// user:1=ada
	// user:2=grace
}

func ExampleDB_SetWithTTL() {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.SetWithTTL("token", []byte("abc"), time.Hour); err != nil {
		log.Fatal(err)
	}
	ttl, err := db.TTL("token")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("expires within the hour:", ttl > 59*time.Minute && ttl <= time.Hour)

	db.Set("forever", []byte("x"))
	ttl, _ = db.TTL("forever")
	fmt.Println("no expiry:", ttl < 0)

	_, err = db.TTL("missing")
	fmt.Println(errors.Is(err, minikv.ErrNotFound))
	fmt.Println(errors.Is(db.SetWithTTL("token", nil, 0), minikv.ErrInvalidTTL))
	// Output:
	// expires within the hour: true
	// no expiry: true
	// true
	// true
}

func ExampleDB_NewBatch() {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	db.Set("stale", []byte("old"))
	b := db.NewBatch()
	b.Set("a", []byte("1"))
	b.Set("b", []byte("2"))
	b.Set("a", []byte("3")) // later operations on a key win
	b.Delete("stale")
	fmt.Println("buffered bytes:", b.Size())
	if err := b.Write(); err != nil {
		log.Fatal(err)
	}
	keys, _ := db.Keys("*")
	a, _ := db.Get("a")
	fmt.Println(keys, string(a))
	// Output:
	// buffered bytes: 11
	// [a b] 3
}

func ExampleDB_Incr() {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	n, _ := db.Incr("visits") // a missing key counts as 0
	fmt.Println(n)
	n, _ = db.IncrBy("visits", 10)
	fmt.Println(n)
	n, _ = db.Decr("visits")
	fmt.Println(n)

	db.Set("name", []byte("ada"))
	_, err = db.Incr("name")
	fmt.Println(errors.Is(err, minikv.ErrInvalidValue))
	// Output:
	// 1
	// 11
	// 10
	// true
}

func ExampleDB_CompareAndSwap() {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	db.Set("state", []byte("pending"))
	swapped, _ := db.CompareAndSwap("state", []byte("pending"), []byte("done"))
	fmt.Println(swapped)
	swapped, _ = db.CompareAndSwap("state", []byte("pending"), []byte("failed"))
	fmt.Println(swapped)
	v, _ := db.Get("state")
	fmt.Println(string(v))
	// Output:
	// true
	// false
	// done
}

func ExampleDB_Keys() {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	for _, k := range []string{"user:10", "user:2", "user:1", "order:7", "user:1/profile"} {
		db.Set(k, []byte("x"))
	}
	keys, err := db.Keys("user:?")
	fmt.Println(keys, err)
	keys, _ = db.Keys("user:1*")
	fmt.Println(keys)
	keys, _ = db.Keys("[ou]*:[^1]*")
	fmt.Println(keys)
	// Output:
	// [user:1 user:2] <nil>
	// [user:1 user:1/profile user:10]
	// [order:7 user:2]
}

func ExampleDB_All() {
	dir, err := os.MkdirTemp("", "minikv-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	db.Set("fruit:pear", []byte("green"))
	db.Set("fruit:apple", []byte("red"))
	db.Set("veg:leek", []byte("white"))
	for item, err := range db.All("fruit:") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(item.Key, string(item.Value))
	}
	// Output:
	// fruit:apple red
	// fruit:pear green
}
