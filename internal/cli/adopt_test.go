package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt/adopttest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

func adoptFixtures(t *testing.T) (dir string, fx []adopttest.Fixture) {
	t.Helper()
	m := adopttest.NewMaterial(t)
	fx = adopttest.Hub(m)
	dir = t.TempDir()
	for name, data := range map[string]string{"secrets.yaml": adopttest.YAML(fx), "hub-ca.crt": string(m.CAPEM)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, fx
}

func TestAuditAndImportFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "-f", "x.yaml", "--context", "hub"}, "different sources"},
		{[]string{"audit", "-f", "x.yaml", "-o", "yaml"}, "--output (-o) is \"yaml\""},
		{[]string{"import", "-f", "x.yaml"}, "--hub is required: upstream.name of the config; --issuer is required"},
		{[]string{"import", "-f", "x.yaml", "-o", "-", "--hub", "h", "--issuer", "https://h", "--issuer-ca-file", "ca", "--issuer-system-roots"}, "give one of"},
		{[]string{"audit", "--kubeconfig", "/nonexistent/kubeconfig"}, "load the hub's kubeconfig"},
	} {
		_, stderr, code := run(t, tt.args...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: code %d, stderr %q, want %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestAuditFromFile(t *testing.T) {
	dir, fx := adoptFixtures(t)
	stdout, stderr, code := run(t, "audit", "-f", filepath.Join(dir, "secrets.yaml"))
	if code != 1 || !strings.Contains(stdout, "SECRET") || !strings.Contains(stdout, "keep a static credential") || !strings.Contains(stderr, "keep a static credential") {
		t.Errorf("audit: code %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, _, code = run(t, "audit", "-f", filepath.Join(dir, "secrets.yaml"), "-o", "json")
	var r struct {
		Clusters []struct{ Kind string }
		Summary  struct{ Total, Static int }
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 1 || r.Summary.Total != len(fx) || len(r.Clusters) != len(fx) {
		t.Errorf("audit -o json: code %d, %v, %+v", code, err, r.Summary)
	}
	for _, f := range fx {
		for _, s := range f.Secrets {
			if strings.Contains(stdout, s) {
				t.Errorf("audit printed a secret of %s", f.Secret.Metadata.Name)
			}
		}
	}
}

func TestImportFromFile(t *testing.T) {
	dir, fx := adoptFixtures(t)
	out := filepath.Join(dir, "federation.yaml")
	_, stderr, code := run(t, "import", "-f", filepath.Join(dir, "secrets.yaml"), "--hub", "hub", "--issuer", "https://hub.example.com", "--issuer-ca-file", "hub-ca.crt", "-o", out)
	if code != 0 || !strings.Contains(stderr, "refused: Secret argocd/cluster-in-cluster") || !strings.Contains(stderr, "wrote "+out) {
		t.Fatalf("import: code %d\n%s", code, stderr)
	}
	f, err := config.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, x := range fx {
		if x.Refused != "" {
			refused++
		}
	}
	if len(f.Downstreams) != len(fx)-refused {
		t.Errorf("%d downstreams imported, want %d", len(f.Downstreams), len(fx)-refused)
	}
	// To stdout: the same config.
	stdout, _, code := run(t, "import", "-f", filepath.Join(dir, "secrets.yaml"), "--hub", "hub", "--issuer", "https://hub.example.com", "--issuer-ca-file", filepath.Join(dir, "hub-ca.crt"), "-o", "-")
	written, _ := os.ReadFile(out)
	if code != 0 || strings.Replace(stdout, filepath.Join(dir, "hub-ca.crt"), "hub-ca.crt", 1) != string(written) {
		t.Errorf("import -o -: code %d, differs from the file", code)
	}
	// Then generate takes it.
	if _, stderr, code := run(t, "generate", "-f", out, "-o", filepath.Join(dir, "out")); code != 0 {
		t.Errorf("generate of the imported config: %s", stderr)
	}
}
