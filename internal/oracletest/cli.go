package oracletest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// MainModule is the module whose CLI the oracles build and run.
const MainModule = "github.com/argocd-k8s-federate/argocd-k8s-federate"

// RepoRoot is the main module's directory: the checkout the test runs in.
func RepoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatalf("find the repository root (these tests must run in a checkout): %v", err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatalf("the repository root %s has no readable go.mod: %v", root, err)
	}
	if !bytes.Contains(gomod, []byte("module "+MainModule+"\n")) {
		t.Fatalf("%s/go.mod is not module %s", root, MainModule)
	}
	return root
}

// GoCommand is the go tool that runs these tests.
func GoCommand(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the CLI and to find ArgoCD's modules: %v", err)
	}
	return gobin
}

// BuildCLI builds the main module's CLI into a temporary directory.
func BuildCLI(t *testing.T, root string) string {
	t.Helper()
	readInputs(t, root)
	bin := filepath.Join(t.TempDir(), "argocd-k8s-federate")
	cmd := exec.Command(GoCommand(t), "build", "-o", bin, "./cmd/argocd-k8s-federate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the CLI (go build ./cmd/argocd-k8s-federate in %s): %v\n%s", root, err, out)
	}
	return bin
}

// readInputs reads every file of the main module that can change what the
// CLI generates. go test caches a passing result until a file the test
// opened changes; the CLI is built and run in other processes, whose reads
// it does not see, so the test reads the sources itself.
func readInputs(t *testing.T, root string) {
	t.Helper()
	oracleData := filepath.Join(root, "e2e", "oracle", "testdata")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || p == filepath.Join(root, "e2e") || p == filepath.Join(root, "manifests")) {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".mod", ".sum", ".yaml", ".yml", ".json", ".crt", ".pem", ".txt", ".tmpl":
			_, err := os.ReadFile(p)
			return err
		}
		return nil
	})
	if err == nil {
		err = filepath.WalkDir(oracleData, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				_, err = os.ReadFile(p)
			}
			return err
		})
	}
	if err != nil {
		t.Fatalf("read the main module's sources: %v", err)
	}
}

// Generate runs `generate -f CONFIG -o DIR` and returns DIR.
func Generate(t *testing.T, bin, root, config string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(bin, "generate", "-f", filepath.Join(root, config), "-o", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("argocd-k8s-federate generate -f %s: %v\n%s", config, err, stderr.String())
	}
	return out
}

// ReadPEM reads a CA file of the want table; "" reads as "".
func ReadPEM(t *testing.T, root, file string) string {
	t.Helper()
	if file == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
