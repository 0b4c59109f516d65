package credential

import (
	"errors"
	"io/fs"
	"strconv"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// ReadTokenFile reads a token file: a regular file of at most MaxTokenSize
// bytes (a larger one is a ProblemTooLarge *Error). Other errors are the
// file system's and fileio's (errors.Is tells fs.ErrNotExist,
// fs.ErrPermission, syscall.EISDIR and fileio.ErrNotRegular apart), for the
// caller to explain.
//
// A file that is missing is read once more: the kubelet swaps a projected
// volume's ..data symlink and then removes the previous directory, so a read
// that resolved the old link just before can miss the file once.
func ReadTokenFile(path string) ([]byte, error) {
	data, err := fileio.ReadFile(path, MaxTokenSize)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = fileio.ReadFile(path, MaxTokenSize)
	}
	if errors.Is(err, fileio.ErrTooLarge) {
		return nil, &Error{Problem: ProblemTooLarge, Msg: "token is larger than " + strconv.Itoa(MaxTokenSize/1024) + " KiB"}
	}
	return data, err
}
