package install_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/install"
)

func TestFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "argocd-k8s-federate-plugin")
	if err := os.WriteFile(src, []byte("\x7fELF new"), 0o700); err != nil {
		t.Fatal(err)
	}

	t.Run("into an empty directory", func(t *testing.T) {
		dir := t.TempDir()
		got, err := install.File(src, dir)
		if err != nil {
			t.Fatalf("File() error = %v", err)
		}
		checkInstalled(t, dir, got, "\x7fELF new")
	})

	t.Run("replaces an older copy", func(t *testing.T) {
		dir := t.TempDir()
		old := filepath.Join(dir, "argocd-k8s-federate-plugin")
		if err := os.WriteFile(old, []byte("\x7fELF old"), 0o555); err != nil {
			t.Fatal(err)
		}
		got, err := install.File(src, dir)
		if err != nil {
			t.Fatalf("File() error = %v", err)
		}
		checkInstalled(t, dir, got, "\x7fELF new")
	})

	t.Run("onto itself", func(t *testing.T) {
		got, err := install.File(src, filepath.Dir(src))
		if err != nil || got != src {
			t.Fatalf("File() = %q, %v; want %q", got, err, src)
		}
	})

	errTests := []struct {
		name string
		dir  string
		want string
	}{
		{name: "no directory", dir: "", want: "no target directory"},
		{name: "missing directory", dir: filepath.Join(t.TempDir(), "plugins"), want: "file does not exist: create it, or mount a volume (an emptyDir) there"},
		{name: "a file", dir: src, want: "is not a directory"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := install.File(src, tt.dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("File() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}

	t.Run("missing source leaves nothing behind", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := install.File(filepath.Join(dir, "absent"), dir); err == nil {
			t.Fatal("File() succeeded with a missing source")
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 0 {
			t.Errorf("directory holds %v, want nothing", entries)
		}
	})
}

// checkInstalled asserts dir holds exactly the installed file, with content
// and mode 0755, and no temporary file.
func checkInstalled(t *testing.T, dir, got, content string) {
	t.Helper()
	want := filepath.Join(dir, "argocd-k8s-federate-plugin")
	if got != want {
		t.Errorf("File() = %q, want %q", got, want)
	}
	data, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(content, string(data)); diff != "" {
		t.Errorf("installed content mismatch (-want +got):\n%s", diff)
	}
	info, err := os.Stat(want)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != 0o755 {
		t.Errorf("mode = %v, want -rwxr-xr-x", info.Mode())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the binary (no temporary file)", len(entries))
	}
}
