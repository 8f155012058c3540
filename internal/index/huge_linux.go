package index

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugePage = 2 << 20

// adviseHuge asks the kernel to back the 2 MiB-aligned interior of b with
// transparent huge pages, before b is first touched. The index reads the
// arena and the hash table at random, and with 4 KiB pages nearly every
// such read also misses the TLB; huge pages remove most of those misses.
// The advice is only a hint: failure changes nothing but speed.
func adviseHuge(b []byte) {
	if len(b) < hugePage {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := (p + hugePage - 1) &^ (hugePage - 1)
	end := (p + uintptr(len(b))) &^ (hugePage - 1)
	if end <= start {
		return
	}
	_ = unix.Madvise(b[start-p:end-p], unix.MADV_HUGEPAGE)
}
