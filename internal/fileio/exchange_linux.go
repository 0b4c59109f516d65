//go:build linux && (amd64 || arm64)

package fileio

import (
	"syscall"
	"unsafe"
)

// renameat2 is not in the syscall package; its number per architecture.
const (
	sysRenameat2   = sysRenameat2Arch
	atFDCWD        = -0x64
	renameExchange = 0x2
)

// exchange swaps the directories a and b in one step (renameat2
// RENAME_EXCHANGE): a reader, or a crash, sees one tree or the other at
// each path, never none.
func exchange(a, b string) error {
	pa, err := syscall.BytePtrFromString(a)
	if err != nil {
		return err
	}
	pb, err := syscall.BytePtrFromString(b)
	if err != nil {
		return err
	}
	fd := atFDCWD
	_, _, errno := syscall.Syscall6(sysRenameat2, uintptr(fd), uintptr(unsafe.Pointer(pa)), uintptr(fd), uintptr(unsafe.Pointer(pb)), renameExchange, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
