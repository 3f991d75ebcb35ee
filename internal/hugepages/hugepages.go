// Package hugepages asks Linux to back large in-memory tables with 2 MB
// pages.
package hugepages

import (
	"syscall"
	"unsafe"
)

// Advise asks Linux to back table with 2 MB pages. A lookup that reads one
// entry at random in tens of MB would, with 4 KB pages, nearly always also
// miss the TLB and walk the page tables. Only advice: without transparent
// huge pages the table works as before.
func Advise[T any](table []T) {
	if len(table) == 0 {
		return
	}
	var zero T
	b := unsafe.Slice((*byte)(unsafe.Pointer(&table[0])), uintptr(len(table))*unsafe.Sizeof(zero))
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}
