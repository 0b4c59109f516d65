package fileio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// Crash and concurrency leftovers: what an interrupted run left is cleaned,
// concurrent runs on one output are serialised, and the output never
// disappears while it is replaced.
func TestCrashAndConcurrencyLeftovers(t *testing.T) {
	ctx := context.Background()
	marker := fileio.File{Path: ".marker", Content: []byte("ours\n")}
	tree := func(n int) []fileio.File {
		return []fileio.File{{Path: "a/one.yaml", Content: []byte(fmt.Sprint(n))}, {Path: "two.yaml", Content: []byte(fmt.Sprint(n))}}
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")

	t.Run("a crashed run's trees beside the output are removed", func(t *testing.T) {
		for _, name := range []string{".out.new-123", ".out.new-456.old"} {
			if err := os.MkdirAll(filepath.Join(parent, name, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := fileio.ReplaceDir(ctx, dir, tree(0), marker); err != nil {
			t.Fatal(err)
		}
		if left, _ := filepath.Glob(filepath.Join(parent, ".out.new-*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("concurrent runs on one output", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { errs[i] = fileio.ReplaceDir(ctx, dir, tree(i), marker) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("run %d: %v", i, err)
			}
		}
		a, _ := os.ReadFile(filepath.Join(dir, "a", "one.yaml"))
		b, _ := os.ReadFile(filepath.Join(dir, "two.yaml"))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("the output mixes runs: %q and %q", a, b)
		}
		if left, _ := filepath.Glob(filepath.Join(parent, ".out.new-*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("the output is always there while it is replaced", func(t *testing.T) {
		var stop atomic.Bool
		missing := make(chan string, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for !stop.Load() {
				if _, err := os.Stat(filepath.Join(dir, ".marker")); err != nil {
					select {
					case missing <- err.Error():
					default:
					}
				}
			}
		}()
		for i := range 100 {
			if err := fileio.ReplaceDir(ctx, dir, tree(i), marker); err != nil {
				t.Fatal(err)
			}
		}
		stop.Store(true)
		<-done
		select {
		case m := <-missing:
			t.Errorf("a reader found no output during a replacement: %s", m)
		default:
		}
	})

	t.Run("a killed writer's temporary file is removed, a live one's kept", func(t *testing.T) {
		d := t.TempDir()
		dead := filepath.Join(d, ".plugin.tmp-111")
		live := filepath.Join(d, ".plugin.tmp-222")
		for _, p := range []string{dead, live} {
			if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		held, err := os.Open(live)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		if err := fileio.WriteFile(filepath.Join(d, "plugin"), strings.NewReader("binary"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the dead writer's %s is still there (%v)", dead, err)
		}
		if _, err := os.Stat(live); err != nil {
			t.Errorf("the live writer's %s was removed: %v", live, err)
		}
	})
}
