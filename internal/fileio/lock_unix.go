//go:build unix

package fileio

import (
	"os"
	"syscall"
)

// lock takes an exclusive lock on f, waiting for it; it is released when f
// is closed or the process ends.
func lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// tryLock takes an exclusive lock on f if no one holds one.
func tryLock(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
