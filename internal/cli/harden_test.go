package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Unbounded and blocking reads: every file a command reads from a path the
// user names is a regular file within a stated size, or a clear error, and
// a named pipe or an endless device never blocks or grows the process.
func TestUnboundedAndBlockingReadsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// A tree to --check with a named pipe in it, and a discovery copy.
	tree := filepath.Join(dir, "tree")
	if _, stderr, code := run(t, "generate", "-f", example, "-o", tree); code != 0 {
		t.Fatal(stderr)
	}
	if err := syscall.Mkfifo(filepath.Join(tree, "upstream", "hub", "cluster-staging.yaml.fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	from := filepath.Join(dir, "from")
	if err := os.MkdirAll(filepath.Join(from, ".well-known"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(from, ".well-known", "openid-configuration"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "https://bucket.example.com/hub"
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"generate -f a pipe", []string{"generate", "-f", fifo, "-o", filepath.Join(dir, "out")}, "read federation config: " + fifo + " is a named pipe"},
		{"generate -f endless", []string{"generate", "-f", "/dev/zero", "-o", filepath.Join(dir, "out")}, "read federation config: /dev/zero is a device"},
		{"doctor --token-file a pipe", []string{"doctor", "-f", example, "--downstream", "prod-eu", "--token-file", fifo}, "is a named pipe, not a regular file"},
		{"doctor --secret a pipe", []string{"doctor", "--secret", fifo}, "read --secret: " + fifo + " is a named pipe"},
		{"doctor --secret endless", []string{"doctor", "--secret", "/dev/zero"}, "read --secret: /dev/zero is a device"},
		{"publish --token-file a pipe", []string{"discovery", "publish", "--from", from, "--base-url", base, "-o", filepath.Join(dir, "pub"), "--token-file", fifo}, "read --token-file: " + fifo + " is a named pipe"},
		{"publish --from with a pipe", []string{"discovery", "publish", "--from", from, "--base-url", base, "-o", filepath.Join(dir, "pub")}, "openid-configuration is a named pipe"},
		{"fetch --issuer-ca a pipe", []string{"discovery", "fetch", "--issuer", base, "--issuer-ca", fifo}, "read --issuer-ca: " + fifo + " is a named pipe"},
		{"check --base-url-ca endless", []string{"discovery", "check", "--issuer", base, "--base-url", base, "--base-url-ca", "/dev/zero"}, "read --base-url-ca: /dev/zero is a device"},
		{"generate --check a tree with a pipe", []string{"generate", "-f", example, "-o", tree, "--check"}, "cluster-staging.yaml.fifo is a named pipe"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			type result struct {
				output string
				code   int
			}
			done := make(chan result, 1)
			go func() {
				stdout, stderr, code := run(t, tt.args...)
				done <- result{stdout + stderr, code}
			}()
			select {
			case r := <-done:
				if r.code != 1 || !strings.Contains(r.output, tt.want) {
					t.Errorf("exit %d, output %q; want 1 and %q", r.code, r.output, tt.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("blocked")
			}
		})
	}
}
