package minikv_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/minikv/minikv"
)

func ExampleDB_Delete() {
	db, done := exampleDB()
	defer done()

	db.Set("session:1", []byte("alive"))
	if err := db.Delete("session:1"); err != nil {
		log.Fatal(err)
	}
	_, err := db.Get("session:1")
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

func ExampleDB_Incr() {
	db, done := exampleDB()
	defer done()

	n, _ := db.Incr("visits") // a missing key counts as 0
	fmt.Println(n)
	n, _ = db.IncrBy("visits", 10)
	fmt.Println(n)
	n, _ = db.Decr("visits")
	fmt.Println(n)

	db.Set("name", []byte("ada"))
	_, err := db.Incr("name")
	fmt.Println(errors.Is(err, minikv.ErrInvalidValue))
	// Output:
	// 1
	// 11
	// 10
	// true
}
