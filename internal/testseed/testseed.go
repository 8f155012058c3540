// Package testseed gives the randomised tests of every MiniKV package one
// way to choose their seed and to replay it: the environment variable
// MINIKV_SEED.
package testseed

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Seed returns the seed of t: the one MINIKV_SEED names, or else one from
// the clock. It logs the seed with how to replay it, and fails t when
// MINIKV_SEED is not an unsigned integer.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MINIKV_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("MINIKV_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with MINIKV_SEED=%d go test -run '^%s$' in this package)", seed, seed, t.Name())
	return seed
}
