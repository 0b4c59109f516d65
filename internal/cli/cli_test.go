package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the CLI in-process and returns its streams and exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

const example = "../../examples/federation.yaml"

func TestGenerateWritesAndChecks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "federation")
	_, stderr, code := run(t, "generate", "-f", example, "-o", dir)
	if code != 0 {
		t.Fatalf("generate: code %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "wrote 34 files to "+dir) {
		t.Errorf("stderr = %q", stderr)
	}
	if !strings.Contains(stderr, `warning: ../../examples/federation.yaml: downstream "platform" grants ArgoCD the whole cluster`) {
		t.Errorf("no cluster-wide warning in %q", stderr)
	}

	stdout, stderr, code := run(t, "generate", "-f", example, "-o", dir, "--check")
	if code != 0 || stdout != "" || !strings.Contains(stderr, "is up to date (34 files)") {
		t.Fatalf("check of a fresh tree: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	if err := os.Remove(filepath.Join(dir, "upstream", "hub", "cluster-staging.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "downstream", "prod-eu", "kustomization.yaml"), []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = run(t, "generate", "-f", example, "-o", dir, "--check")
	wantOut := "changed: downstream/prod-eu/kustomization.yaml\nmissing: upstream/hub/cluster-staging.yaml\n"
	if code != 1 || stdout != wantOut {
		t.Errorf("check of an edited tree: code %d, stdout %q, want %q", code, stdout, wantOut)
	}
	if !strings.Contains(stderr, "error: "+dir+" is not what the config yields (2 files differ): run argocd-k8s-federate generate -f "+example+" -o "+dir) {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestGenerateStream(t *testing.T) {
	stdout, _, code := run(t, "generate", "-f", example, "-o", "-")
	if code != 0 || !strings.HasPrefix(stdout, "# Source: downstream/platform/apiserver/README.md\n") {
		t.Fatalf("code %d, stdout starts %q", code, stdout[:min(len(stdout), 80)])
	}
}

func TestGenerateErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: argocd-k8s-federate.io/v1alpha1\nkind: Federation\nupstream:\n  name: hub\n  issuer: http://hub\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no flags", []string{"generate"}, []string{"--filename (-f) is required", "--output (-o) is required"}},
		{"check of stdout", []string{"generate", "-f", example, "-o", "-", "--check"}, []string{"--check compares a directory"}},
		{"missing file", []string{"generate", "-f", "nope.yaml", "-o", out}, []string{"read federation config: open nope.yaml: no such file or directory"}},
		{"bad config", []string{"generate", "-f", bad, "-o", out}, []string{
			bad + ": 3 problems:",
			`upstream.issuer: "http://hub" uses http; only https is accepted`,
			"upstream.caFile: no CA for the issuer's TLS certificate",
			"downstreams: list at least one downstream cluster",
		}},
		{"unknown flag", []string{"generate", "--frobnicate"}, []string{"unknown flag: --frobnicate"}},
		{"config inside the output", []string{"generate", "-f", filepath.Join(out, "federation.yaml"), "-o", out}, []string{"is inside the output directory " + out + ", which generate replaces as a whole"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tt.args...)
			if code != 1 || stdout != "" {
				t.Errorf("code %d, stdout %q; want 1 and nothing", code, stdout)
			}
			if !strings.HasPrefix(stderr, "error: ") || strings.Count(stderr, "error: ") != 1 {
				t.Errorf("want one error report, got %q", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a failed run wrote %s", out)
			}
		})
	}
}

func TestVersionAndCompletion(t *testing.T) {
	stdout, _, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "argocd-k8s-federate dev") {
		t.Errorf("version: %d %q", code, stdout)
	}
	stdout, _, code = run(t, "completion", "bash")
	if code != 0 || !strings.Contains(stdout, "argocd-k8s-federate") {
		t.Errorf("completion bash: %d, %d bytes", code, len(stdout))
	}
}

func TestTokenFileDelegatesToThePlugin(t *testing.T) {
	stdout, stderr, code := run(t, "token-file", "--file", filepath.Join(t.TempDir(), "missing"))
	if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "missing") {
		t.Errorf("code %d, stdout %q, stderr %q; want one line naming the file", code, stdout, stderr)
	}
}

func TestTokenRequestDelegatesToThePlugin(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	stdout, stderr, code := run(t, "token-request", "--audience", "prod-eu")
	want := "argocd-k8s-federate token-request: KUBERNETES_SERVICE_HOST is not set"
	if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("code %d, stdout %q, stderr %q; want one line starting %q", code, stdout, stderr, want)
	}
	stdout, _, code = run(t, "token-request", "--help")
	if code != 0 || !strings.Contains(stdout, "Usage:\n  argocd-k8s-federate token-request --audience AUD") || !strings.Contains(stdout, "--api-server URL") {
		t.Errorf("token-request --help: code %d, stdout %q", code, stdout)
	}
}

// Ctrl-C: an interrupted generate writes nothing and says so, with the
// shell's exit code for SIGINT.
func TestCtrlCStopsGenerateCheckAndDoctor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "out")
	for _, args := range [][]string{
		{"generate", "-f", example, "-o", out},
		{"generate", "-f", example, "-o", out, "--check"},
		{"doctor", "-f", example, "--downstream", "prod-eu", "--token-file", example},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(ctx, args, IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
		if code != ExitInterrupted || !strings.Contains(stderr.String(), "error: interrupted: ") || stdout.Len() != 0 {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want %d, nothing, interrupted", args[0], code, stdout.String(), stderr.String(), ExitInterrupted)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an interrupted run wrote %s", out)
	}
}
