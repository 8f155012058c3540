//go:build !linux

package minikv

// adviseHuge does nothing where transparent huge pages are not available.
func adviseHuge([]byte) {}
