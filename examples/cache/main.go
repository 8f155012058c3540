// Command cache puts a MiniKV store in front of a slow function as a
// read-through cache: a lookup is served from the store when it can be,
// and otherwise computed, stored with a TTL and returned. It counts hits
// and misses, then waits for the entries to expire to show that an expired
// entry is a miss again.
//
// Then it bounds a cache by memory instead of time: a store with
// MaxMemory 2 MiB and EvictLRU takes lookups of 200,000 users, a few of
// them popular, and keeps the ones read most recently, evicting the rest;
// it prints its hit rate and shows that its memory stayed within the
// limit.
package main

import (
	"errors"
	"fmt"
	"log"
	"math/rand"
	"os"
	"strconv"
	"time"

	"github.com/minikv/minikv"
)

// slowProfile stands for an expensive call: a remote service, a large
// query, a rendering.
func slowProfile(user string) (string, error) {
	time.Sleep(20 * time.Millisecond)
	return "profile of " + user, nil
}

// cache is a read-through cache over a load function.
type cache struct {
	db           *minikv.DB
	ttl          time.Duration // 0: entries stay until evicted
	load         func(key string) (string, error)
	hits, misses int
}

// get returns the value for key, from the store when it holds a live
// entry, and otherwise from load, storing the result for ttl (or without
// one, to stay until evicted).
func (c *cache) get(key string) (string, bool, error) {
	v, err := c.db.Get("cache:" + key)
	if err == nil {
		c.hits++
		return string(v), true, nil
	}
	if !errors.Is(err, minikv.ErrNotFound) { // expired and evicted entries are not found too
		return "", false, err
	}
	c.misses++
	s, err := c.load(key)
	if err != nil {
		return "", false, err
	}
	if c.ttl > 0 {
		err = c.db.SetWithTTL("cache:"+key, []byte(s), c.ttl)
	} else {
		err = c.db.Set("cache:"+key, []byte(s))
	}
	if err != nil {
		return "", false, err
	}
	return s, false, nil
}

func main() {
	dir, err := os.MkdirTemp("", "minikv-cache-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// SyncNever suits a cache: an entry lost to a power cut is one more
	// miss, and writes do not wait for the disk.
	db, err := minikv.Open(minikv.Options{Dir: dir, SyncMode: minikv.SyncNever})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	c := &cache{db: db, ttl: 500 * time.Millisecond, load: slowProfile}
	lookup := func(user string) {
		v, hit, err := c.get(user)
		if err != nil {
			log.Fatal(err)
		}
		how := "miss, computed"
		if hit {
			how = "hit"
		}
		fmt.Printf("%-6s -> %q (%s)\n", user, v, how)
	}
	for _, user := range []string{"ada", "grace", "ada", "ada", "linus", "grace"} {
		lookup(user)
	}
	ttl, err := db.TTL("cache:ada")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("cache:ada expires in at most %v\n", ttl.Round(100*time.Millisecond))
	fmt.Printf("hits %d, misses %d\n", c.hits, c.misses)

	time.Sleep(600 * time.Millisecond)
	fmt.Println("after the TTL:")
	lookup("ada")
	fmt.Printf("hits %d, misses %d\n", c.hits, c.misses)

	if err := boundedCache(); err != nil {
		log.Fatal(err)
	}
}

// boundedCache runs a read-through cache bounded by memory: entries have
// no TTL, and the store evicts the least recently used ones to stay within
// MaxMemory.
func boundedCache() error {
	dir, err := os.MkdirTemp("", "minikv-lru-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	const limit = 2 << 20
	db, err := minikv.Open(minikv.Options{
		Dir:       dir,
		SyncMode:  minikv.SyncNever,
		MaxMemory: limit,           // Stats().MemoryUsage stays within 2 MiB
		Eviction:  minikv.EvictLRU, // a full cache drops what was used longest ago
	})
	if err != nil {
		return err
	}
	defer db.Close()

	// A fast loader this time: 200 bytes per user, computed.
	c := &cache{db: db, load: func(user string) (string, error) {
		return fmt.Sprintf("profile of %s %0180d", user, 0), nil
	}}
	// Lookups follow a Zipf distribution, as the keys of real caches
	// often do: a few users are asked for all the time, most rarely.
	users := rand.NewZipf(rand.New(rand.NewSource(1)), 1.1, 1, 200_000-1)
	peak := int64(0)
	for i := range 200_000 {
		if _, _, err := c.get("user" + strconv.FormatUint(users.Uint64(), 10)); err != nil {
			return err
		}
		if i%1000 == 0 {
			peak = max(peak, db.Stats().MemoryUsage)
		}
	}
	s := db.Stats()
	fmt.Printf("bounded cache: %d lookups, hit rate %.0f%%, %d entries held, %d evicted\n",
		c.hits+c.misses, 100*float64(c.hits)/float64(c.hits+c.misses), s.KeyCount, s.Evicted)
	fmt.Printf("memory within the limit: %v\n", max(peak, s.MemoryUsage) <= limit)
	return nil
}
