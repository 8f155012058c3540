// Command batch moves money between two accounts with atomic batches while
// concurrent readers check the total. Each transfer writes both balances
// in one Batch, so no reader ever sees money in flight: the sum of the two
// accounts is the same in every view of the store.
package main

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/minikv/minikv"
)

const (
	total     = 1000
	transfers = 2000
	readers   = 4
)

// balances reads both accounts from one scan. An iterator sees the store
// as it was when it was created, so the two values come from the same
// instant; two separate Gets could straddle a transfer.
func balances(db *minikv.DB) (alice, bob int, err error) {
	it, err := db.Scan("account:", 0)
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	for it.Next() {
		n, err := strconv.Atoi(string(it.Value()))
		if err != nil {
			return 0, 0, err
		}
		switch it.Key() {
		case "account:alice":
			alice = n
		case "account:bob":
			bob = n
		}
	}
	return alice, bob, it.Error()
}

// transfer moves amount from alice to bob (or back, when negative) in one
// atomic batch. Only one goroutine transfers, so the balances it read
// cannot change before its batch is written.
func transfer(db *minikv.DB, amount int) error {
	alice, bob, err := balances(db)
	if err != nil {
		return err
	}
	amount = max(-bob, min(alice, amount)) // no overdraft
	b := db.NewBatch()
	b.Set("account:alice", []byte(strconv.Itoa(alice-amount)))
	b.Set("account:bob", []byte(strconv.Itoa(bob+amount)))
	return b.Write()
}

func main() {
	dir, err := os.MkdirTemp("", "minikv-batch-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := minikv.Open(minikv.Options{Dir: dir, SyncMode: minikv.SyncNever})
	if err != nil {
		log.Fatal(err)
	}
	b := db.NewBatch()
	b.Set("account:alice", []byte(strconv.Itoa(total)))
	b.Set("account:bob", []byte("0"))
	if err := b.Write(); err != nil {
		log.Fatal(err)
	}

	var done atomic.Bool
	var reads, torn atomic.Int64
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for !done.Load() {
				alice, bob, err := balances(db)
				if err != nil {
					log.Fatal(err)
				}
				reads.Add(1)
				if alice+bob != total {
					torn.Add(1)
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range transfers {
		if err := transfer(db, rng.IntN(201)-100); err != nil {
			log.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	alice, bob, err := balances(db)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d transfers done: alice %d, bob %d, total %d\n", transfers, alice, bob, alice+bob)
	fmt.Printf("%d readers saw a half-applied transfer %d times (in %d reads)\n", readers, torn.Load(), reads.Load())

	// A batch with one invalid operation writes nothing at all.
	b = db.NewBatch()
	b.Set("account:alice", []byte("0"))
	b.Set("", []byte("an empty key is invalid"))
	fmt.Printf("invalid batch: %v\n", b.Write())
	alice, bob, _ = balances(db)
	fmt.Printf("after the invalid batch: alice %d, bob %d\n", alice, bob)

	// Batches are durable as a whole: reopen and read again.
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
	if db, err = minikv.Open(minikv.Options{Dir: dir}); err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	alice, bob, _ = balances(db)
	fmt.Printf("after reopening: alice %d, bob %d, total %d\n", alice, bob, alice+bob)
}
