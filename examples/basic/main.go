// Command basic opens a MiniKV store in a temporary directory, writes,
// reads, deletes and scans keys, then closes the store and reopens it to
// show that the data survived.
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/minikv/minikv"
)

func main() {
	dir, err := os.MkdirTemp("", "minikv-basic-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	for _, kv := range [][2]string{{"user:1", "ada"}, {"user:2", "grace"}, {"user:3", "linus"}, {"city:1", "paris"}} {
		if err := db.Set(kv[0], []byte(kv[1])); err != nil {
			log.Fatal(err)
		}
	}
	v, err := db.Get("user:2")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("get user:2 = %s\n", v)

	if err := db.Delete("user:3"); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Get("user:3"); err != nil {
		fmt.Printf("get user:3 after delete: %v\n", err)
	}

	it, err := db.Scan("user:", 0)
	if err != nil {
		log.Fatal(err)
	}
	for it.Next() {
		fmt.Printf("scan %s = %s\n", it.Key(), it.Value())
	}
	if err := it.Error(); err != nil {
		log.Fatal(err)
	}
	it.Close()

	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
	db, err = minikv.Open(minikv.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	n, err := db.Count()
	if err != nil {
		log.Fatal(err)
	}
	v, err = db.Get("user:1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("after reopen: %d keys, user:1 = %s\n", n, v)
}
