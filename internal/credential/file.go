package credential

import "github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"

// ReadTokenFile reads a token file: at most one byte more than MaxTokenSize,
// so that ParseToken refuses a larger file without reading all of it. Errors
// are the file system's (errors.Is tells fs.ErrNotExist, fs.ErrPermission
// and syscall.EISDIR apart), for the caller to explain.
func ReadTokenFile(path string) ([]byte, error) {
	return fileio.ReadAtMost(path, MaxTokenSize+1)
}
