package fileio_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	files := []fileio.File{{Path: "openid/v1/jwks", Content: []byte("k1")}, {Path: ".well-known/openid-configuration", Content: []byte("d1")}}
	for round, content := range []string{"1", "2"} {
		for i := range files {
			files[i].Content = []byte(content)
		}
		if err := fileio.WriteFiles(dir, files); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f.Path))
			if err != nil || string(b) != content {
				t.Errorf("round %d: %s = %q, %v", round, f.Path, b, err)
			}
		}
	}
	// No temporary files are left behind.
	var all []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			all = append(all, rel)
		}
		return nil
	})
	if diff := cmp.Diff([]string{".well-known/openid-configuration", "openid/v1/jwks"}, all); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if err := fileio.WriteFiles(filepath.Join(dir, "openid", "v1", "jwks"), files); err == nil {
		t.Error("writing into a file succeeded")
	}
}

// A failed write leaves the old file and no temporary file.
func TestWriteFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := fileio.WriteFile(path, iotestErrReader{}, 0o644)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("WriteFile error = %v, want the reader's", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the old file", len(entries))
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("file = %q, want the old content", b)
	}
	// A missing directory is the file system's error, for callers to explain.
	err = fileio.WriteFile(filepath.Join(dir, "nope", "f"), bytes.NewReader(nil), 0o644)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile into a missing directory: %v, want fs.ErrNotExist", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

// ReadFile takes regular files within the limit and refuses everything else
// without blocking: a named pipe with no writer would hang a plain read.
func TestReadFileRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	if b, err := fileio.ReadFile(file, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("ReadFile(10 bytes, max 10) = %q, %v", b, err)
	}
	if b, err := fileio.ReadFile(link, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("ReadFile(symlink) = %q, %v", b, err)
	}
	for _, tt := range []struct {
		name, path string
		max        int64
		is         error
		msg        string
	}{
		{"too large", file, 9, fileio.ErrTooLarge, "is larger than 9 bytes"},
		{"named pipe", fifo, 10, fileio.ErrNotRegular, "is a named pipe, not a regular file: give a file"},
		{"device", "/dev/zero", 10, fileio.ErrNotRegular, "is a device"},
		{"directory", dir, 10, syscall.EISDIR, "is a directory"},
		{"missing", filepath.Join(dir, "absent"), 10, fs.ErrNotExist, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := fileio.ReadFile(tt.path, tt.max); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("ReadFile(%s) error = %v, want %v and %q", tt.path, err, tt.is, tt.msg)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("ReadFile(%s) blocked", tt.path)
			}
		})
	}
}
