package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery/discoverytest"
)

func TestDiscoveryAndDoctorFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"publish without flags", []string{"discovery", "publish"}, []string{"--base-url is required", "--output (-o) is required"}},
		{"publish to stdout", []string{"discovery", "publish", "--base-url", "https://b.example.com/x", "-o", "-"}, []string{"--output (-o) must be a directory"}},
		{"publish over http", []string{"discovery", "publish", "--base-url", "http://b.example.com/x", "-o", "d"}, []string{`--base-url: "http://b.example.com/x" uses http`}},
		{"two sources", []string{"discovery", "publish", "--base-url", "https://b.example.com", "-o", "d", "--from", "x", "--issuer", "https://i.example.com"},
			[]string{"--kubeconfig/--context, --issuer and --from are different sources"}},
		{"issuer CA alone", []string{"discovery", "fetch", "--issuer-ca", "ca.crt"}, []string{"--issuer-ca verifies --issuer"}},
		{"http issuer", []string{"discovery", "fetch", "--issuer", "http://i.example.com"}, []string{"must be an https URL"}},
		{"check format", []string{"discovery", "check", "--base-url", "https://b.example.com", "-o", "yaml"}, []string{`--output (-o) is "yaml": text or json`}},
		{"check without base URL", []string{"discovery", "check"}, []string{"--base-url is required"}},
		{"doctor without inputs", []string{"doctor"}, []string{"give the federation config (-f FILE, with --downstream NAME) or the cluster Secret"}},
		{"doctor downstream without config", []string{"doctor", "--secret", "s.yaml", "--downstream", "x"}, []string{"--downstream names a downstream of the federation config"}},
		{"doctor of which downstream", []string{"doctor", "-f", example}, []string{"has 3 downstreams: choose one with --downstream (prod-eu, staging, platform)"}},
		{"doctor of an unknown downstream", []string{"doctor", "-f", example, "--downstream", "prod"}, []string{`has no downstream "prod"; its downstreams are: prod-eu, staging, platform`}},
		{"doctor of a ConfigMap", []string{"doctor", "--secret", example}, []string{`kind is "Federation", not Secret`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tt.args...)
			if code != 1 || stdout != "" {
				t.Errorf("code %d, stdout %q; want 1 and nothing", code, stdout)
			}
			if strings.Count(stderr, "error: ") != 1 {
				t.Errorf("want one error report, got %q", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestDiscoveryPublishFrom publishes, offline, what fetch -o DIR wrote.
func TestDiscoveryPublishFrom(t *testing.T) {
	iss := discoverytest.NewIssuer(t, "https://hub.internal:6443")
	fetched := filepath.Join(t.TempDir(), "fetched")
	for path, data := range map[string][]byte{
		".well-known/openid-configuration": iss.Document(iss.URL + "/openid/v1/jwks"),
		"openid/v1/jwks":                   iss.JWKS(),
	} {
		p := filepath.Join(fetched, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "bucket")
	base := "https://storage.example.com/oidc/hub"
	stdout, stderr, code := run(t, "discovery", "publish", "--from", fetched, "--base-url", base+"/", "-o", out)
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	wantOut := `# Set-up: the upstream keeps its issuer https://hub.internal:6443; downstreams read the published copy
# through discoveryURL, which only the structured AuthenticationConfiguration supports
# (Kubernetes 1.30 and later; not --oidc-* flags, not Gardener's OpenIDConnect).
# (To use the other set-up instead, set the upstream's --service-account-issuer=https://storage.example.com/oidc/hub.)
upstream:
  issuer: https://hub.internal:6443
  discoveryURL: https://storage.example.com/oidc/hub/.well-known/openid-configuration
  # caFile, ca or useSystemRoots: true must verify the certificate of storage.example.com
  # (useSystemRoots: true for a public bucket)
`
	if stdout != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, wantOut)
	}
	for _, w := range []string{
		out + "/.well-known/openid-configuration is served at " + base + "/.well-known/openid-configuration",
		out + "/openid/v1/jwks is served at " + base + "/openid/v1/jwks",
		"discovery check --base-url " + base,
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	var doc map[string]any
	data, err := os.ReadFile(filepath.Join(out, ".well-known", "openid-configuration"))
	if err != nil || json.Unmarshal(data, &doc) != nil || doc["jwks_uri"] != base+"/openid/v1/jwks" || doc["issuer"] != iss.URL {
		t.Errorf("published document %s (%v)", data, err)
	}
	keys, err := os.ReadFile(filepath.Join(out, "openid", "v1", "jwks"))
	if err != nil || string(keys) != string(iss.JWKS()) {
		t.Errorf("published keys differ from the fetched ones (%v)", err)
	}

	// The config disagrees: nothing is written.
	cfg := filepath.Join(t.TempDir(), "federation.yaml")
	ca, err := os.ReadFile("../config/testdata/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(`apiVersion: argocd-k8s-federate.io/v1alpha1
kind: Federation
upstream:
  name: hub
  issuer: https://hub.internal:6443
  caFile: ca.crt
downstreams:
- name: down
  server: https://down.example.com
  caFile: ca.crt
  access:
    namespaces: [apps]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other")
	_, stderr, code = run(t, "discovery", "publish", "--from", fetched, "--base-url", base, "-o", other, "-f", cfg)
	if code != 1 || !strings.Contains(stderr, "nothing written") || !strings.Contains(stderr, "set upstream.discoveryURL: "+base+"/.well-known/openid-configuration") {
		t.Errorf("code %d: %s", code, stderr)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("a refused publish wrote %s", other)
	}
}
