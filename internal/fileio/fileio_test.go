package fileio_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func TestReadAtMost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := fileio.ReadAtMost(path, 4); err != nil || string(b) != "0123" {
		t.Errorf("ReadAtMost(4) = %q, %v", b, err)
	}
	if _, err := fileio.ReadAtMost(filepath.Join(t.TempDir(), "absent"), 4); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadAtMost(absent) = %v, want fs.ErrNotExist", err)
	}
}
