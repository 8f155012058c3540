//go:build !linux

package index

// adviseHuge does nothing where transparent huge pages are not available.
func adviseHuge([]byte) {}
