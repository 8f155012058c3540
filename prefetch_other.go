//go:build !amd64

package minikv

// prefetch does nothing where no prefetch instruction is wired up.
func prefetch(addr uintptr) {}
