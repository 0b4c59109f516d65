package argocd_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// What For builds and Object encodes, Parse reads back the same, from the
// generated YAML (stringData) and from kubectl's view of it (data).
func TestRoundTrip(t *testing.T) {
	f, err := config.Load("../../examples/federation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 * len(f.Downstreams) {
		d := f.Downstreams[i%len(f.Downstreams)]
		if i >= len(f.Downstreams) {
			d.TokenSource = config.SourceTokenRequest
		}
		t.Run(d.Name+"/"+d.TokenSource, func(t *testing.T) {
			d := &d
			want := argocd.For(f, d)
			obj, err := want.Object()
			if err != nil {
				t.Fatal(err)
			}
			generated, err := yaml.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			// kubectl get secret -o yaml: base64 data instead of stringData.
			var m map[string]any
			if err := yaml.Unmarshal(generated, &m); err != nil {
				t.Fatal(err)
			}
			data := map[string][]byte{}
			for k, v := range m["stringData"].(map[string]any) {
				data[k] = []byte(v.(string))
			}
			delete(m, "stringData")
			m["data"] = data
			fromAPI, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			for name, in := range map[string][]byte{"stringData": generated, "data": fromAPI} {
				got, err := argocd.Parse(in, name)
				if err != nil {
					t.Fatal(err)
				}
				got.Source = ""
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: Parse(Object(For())) (-want +got):\n%s", name, diff)
				}
				if d.UsesTokenRequest() {
					args, err := got.TokenRequest()
					if err != nil {
						t.Fatal(err)
					}
					if got.PluginCommand() != "token-request" || args.Audience != d.Audience || args.Issuer != f.Upstream.Issuer ||
						args.ExpirationSeconds != f.Upstream.Token.ExpirationSeconds {
						t.Errorf("%s: plugin arguments %+v, want token-request --audience %s --issuer %s --expiration-seconds %d",
							name, args, d.Audience, f.Upstream.Issuer, f.Upstream.Token.ExpirationSeconds)
					}
					if _, err := got.TokenFile(); err == nil {
						t.Errorf("%s: TokenFile() of token-request's arguments: want an error", name)
					}
					continue
				}
				args, err := got.TokenFile()
				if err != nil {
					t.Fatal(err)
				}
				if got.PluginCommand() != "token-file" || args.File != f.TokenPath(d) || args.Audience != d.Audience || args.Issuer != f.Upstream.Issuer {
					t.Errorf("%s: plugin arguments %+v, want --file %s --audience %s --issuer %s", name, args, f.TokenPath(d), d.Audience, f.Upstream.Issuer)
				}
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"a ConfigMap", "kind: ConfigMap\n", `kind is "ConfigMap", not Secret`},
		{"a ConfigMap with data", "kind: ConfigMap\ndata:\n  config: '{not base64}'\n", `kind is "ConfigMap", not Secret`},
		{"data not base64", "kind: Secret\ndata:\n  server: 'https://a'\n", "is not a Secret in YAML or JSON"},
		{"two documents", "kind: Secret\n---\nkind: Secret\n", "holds several YAML documents"},
		{"no server", "kind: Secret\nstringData:\n  name: a\n", "has no server"},
		{"bad config", "kind: Secret\nstringData:\n  server: https://a\n  config: '{'\n", "config is not ArgoCD's cluster config JSON"},
		{"not YAML", "kind: [", "is not a Secret in YAML or JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := argocd.Parse([]byte(tt.in), "s.yaml"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want %q", err, tt.want)
			}
		})
	}
}

// A Secret made by hand: a bearer token and insecure are read, and exec
// arguments of another plugin are not taken for token-file's.
func TestParseForeignSecret(t *testing.T) {
	in := `kind: Secret
metadata: {name: cluster-x, namespace: argocd, labels: {argocd.argoproj.io/secret-type: cluster}}
stringData:
  server: https://x.example.com
  config: '{"bearerToken": "t", "tlsClientConfig": {"insecure": true}, "execProviderConfig": {"command": "argocd-k8s-auth", "args": ["aws", "--cluster-name", "x"]}}'
`
	s, err := argocd.Parse([]byte(in), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasBearerToken || !s.Insecure || s.Exec.Command != "argocd-k8s-auth" || s.Labels[argocd.SecretTypeLabel] != "cluster" {
		t.Errorf("Parse = %+v", s)
	}
	if _, err := s.TokenFile(); err == nil {
		t.Error("TokenFile() of argocd-k8s-auth's arguments: want an error")
	}
}
