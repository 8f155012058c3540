package testseed_test

import (
	"testing"

	"github.com/minikv/minikv/internal/testseed"
)

// TestSeed_FromEnv checks that MINIKV_SEED decides the seed.
func TestSeed_FromEnv(t *testing.T) {
	t.Setenv("MINIKV_SEED", "18446744073709551615")
	if got := testseed.Seed(t); got != 1<<64-1 {
		t.Fatalf("Seed = %d, want the largest uint64 MINIKV_SEED names", got)
	}
	t.Setenv("MINIKV_SEED", "42")
	if got := testseed.Seed(t); got != 42 {
		t.Fatalf("Seed = %d, want 42", got)
	}
}
