// Package install copies the running binary into a directory atomically, so
// that an init container running the plugin's FROM-scratch image can drop the
// plugin into an emptyDir shared with the ArgoCD containers: a reader of the
// directory sees either no file, the old file or the whole new one.
package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// Executable installs the running executable into dir under its own base
// name and returns the installed path.
func Executable(dir string) (string, error) {
	src, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the running executable: %w", err)
	}
	return File(src, dir)
}

// File copies src into dir under src's base name, atomically and mode 0755
// (fileio.WriteFile). It returns the installed path.
func File(src, dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no target directory")
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("target directory %q: %w: create it, or mount a volume (an emptyDir) there", dir, fs.ErrNotExist)
	case err != nil:
		return "", fmt.Errorf("target directory %q: %w", dir, err)
	case !info.IsDir():
		return "", fmt.Errorf("target %q is not a directory: --to must name the directory to install into", dir)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if same(src, dst) {
		return dst, nil
	}

	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("open the running executable: %w", err)
	}
	defer in.Close()

	if err := fileio.WriteFile(dst, in, 0o755); err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return "", notWritable(dir, err)
		}
		return "", fmt.Errorf("install %q: %w", dst, err)
	}
	return dst, nil
}

// notWritable explains why dir refused the file: permission or a read-only
// file system.
func notWritable(dir string, err error) error {
	if errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("target directory %q: %w: mount a writable volume (an emptyDir) there", dir, syscall.EROFS)
	}
	return fmt.Errorf("target directory %q: %w for uid %d: mount a writable volume (an emptyDir) there, or run as a user that may write to it",
		dir, fs.ErrPermission, os.Getuid())
}

// same reports whether dst already is src (installing a binary onto itself).
func same(src, dst string) bool {
	a, err := os.Stat(src)
	if err != nil {
		return false
	}
	b, err := os.Stat(dst)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}
