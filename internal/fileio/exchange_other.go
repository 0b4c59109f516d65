//go:build !(linux && (amd64 || arm64))

package fileio

import "syscall"

// exchange is not available here: ReplaceDir falls back to two renames.
func exchange(a, b string) error { return syscall.ENOSYS }
