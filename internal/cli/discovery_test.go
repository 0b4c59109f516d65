package cli

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
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

// downgrades is an upstream's discovery served over https, and the ways it
// can be led to plain http: redirects and a published jwks_uri; and an
// issuer that refuses anonymous clients, at /forbidden.
type downgrades struct {
	srv, plain *httptest.Server
	caFile     string
	plainHits  atomic.Int32
}

func newDowngrades(t *testing.T) *downgrades {
	t.Helper()
	d := &downgrades{}
	iss := discoverytest.NewIssuer(t, "https://hub.internal:6443")
	d.plain = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		d.plainHits.Add(1)
		w.Write(iss.JWKS())
	}))
	t.Cleanup(d.plain.Close)
	mux := http.NewServeMux()
	d.srv = httptest.NewTLSServer(mux)
	t.Cleanup(d.srv.Close)
	serve := func(prefix, jwksURI string) {
		mux.HandleFunc(prefix+"/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) { w.Write(iss.Document(jwksURI)) })
		mux.HandleFunc(prefix+"/openid/v1/jwks", func(w http.ResponseWriter, _ *http.Request) { w.Write(iss.JWKS()) })
	}
	serve("/live", d.srv.URL+"/live/openid/v1/jwks")
	serve("/pub", d.srv.URL+"/pub/openid/v1/jwks")
	serve("/pub-http-jwks", d.plain.URL+"/openid/v1/jwks")
	for _, prefix := range []string{"/live-to-http", "/pub-to-http"} {
		mux.HandleFunc(prefix+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, d.plain.URL+"/.well-known/openid-configuration", http.StatusFound)
		})
	}
	mux.HandleFunc("/forbidden/", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "forbidden", http.StatusForbidden) })
	d.caFile = filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(d.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDiscoveryCommandsRefuseDowngrade(t *testing.T) {
	d := newDowngrades(t)
	s := d.srv.URL
	live := []string{"--issuer", s + "/live", "--issuer-ca", d.caFile}
	check := func(base string, source ...string) []string {
		return append([]string{"discovery", "check", "--base-url", s + base, "--base-url-ca", d.caFile, "-o", "json"}, source...)
	}
	redirected := func(prefix string) string {
		return s + prefix + "/.well-known/openid-configuration redirects to " + d.plain.URL + "/.well-known/openid-configuration, which is not https"
	}
	redirectFix := "make " + strings.TrimPrefix(s, "https://") + " answer over https, without redirecting to http"
	out := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		name string
		args []string
		// want are in the error on stderr and, for check, in the JSON
		// (its problems when it could compare, else its error).
		want []string
		// compared: check compared and found the copy not in sync.
		compared bool
	}{
		{"check: published jwks_uri is http", check("/pub-http-jwks", live...), []string{
			s + "/pub-http-jwks/.well-known/openid-configuration names jwks_uri " + d.plain.URL + "/openid/v1/jwks, which is not https",
			"Publish again: publish writes jwks_uri " + s + "/pub-http-jwks/openid/v1/jwks"}, true},
		{"check: published copy redirected to http", check("/pub-to-http", live...), []string{redirected("/pub-to-http"), redirectFix}, false},
		{"check: live discovery redirected to http", check("/pub", "--issuer", s+"/live-to-http", "--issuer-ca", d.caFile), []string{redirected("/live-to-http"), redirectFix}, false},
		{"publish: live discovery redirected to http", []string{"discovery", "publish", "--issuer", s + "/live-to-http", "--issuer-ca", d.caFile, "--base-url", "https://storage.example.com/hub", "-o", out},
			[]string{redirected("/live-to-http"), redirectFix}, false},
		{"fetch: live discovery redirected to http", []string{"discovery", "fetch", "--issuer", s + "/live-to-http", "--issuer-ca", d.caFile},
			[]string{redirected("/live-to-http"), redirectFix}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tt.args...)
			if code != 1 || strings.Count(stderr, "error: ") != 1 {
				t.Fatalf("code %d, stderr %q; want 1 and one error", code, stderr)
			}
			got := stderr
			if tt.args[1] == "check" {
				var c discovery.Comparison
				if err := json.Unmarshal([]byte(stdout), &c); err != nil || c.InSync {
					t.Fatalf("stdout is not one comparison out of sync (%v):\n%s", err, stdout)
				}
				if tt.compared != (c.Error == "") {
					t.Errorf("error %q, want it set only when the check could not compare", c.Error)
				}
				got = strings.Join(c.Problems, "\n") + "\n" + c.Error
				if !tt.compared && !strings.Contains(stderr, c.Error) {
					t.Errorf("stderr %q differs from the JSON's error %q", stderr, c.Error)
				}
			} else if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused publish wrote %s", out)
	}
	if n := d.plainHits.Load(); n != 0 {
		t.Errorf("%d request(s) went out in clear", n)
	}

	// The text report of an http jwks_uri: the problem, then the fix.
	stdout, stderr, code := run(t, append([]string{"discovery", "check", "--base-url", s + "/pub-http-jwks", "--base-url-ca", d.caFile}, live...)...)
	if code != 1 || !strings.Contains(stdout, "STALE: "+s+"/pub-http-jwks/.well-known/openid-configuration names jwks_uri "+d.plain.URL) ||
		!strings.Contains(stdout, "fix: argocd-k8s-federate discovery publish --base-url "+s+"/pub-http-jwks -o DIR") ||
		!strings.Contains(stderr, "error: the discovery published at "+s+"/pub-http-jwks names its keys at "+d.plain.URL+"/openid/v1/jwks, which is not https: publish it again") {
		t.Errorf("code %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	// The same servers, nothing downgraded: in sync.
	if stdout, stderr, code := run(t, check("/pub", live...)...); code != 0 || !strings.Contains(stdout, `"inSync": true`) {
		t.Errorf("in sync: code %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

// TestDiscoveryCheckJSONMessages: -o json prints one object, with error set,
// whatever stops the check before it compares: invalid flags too.
func TestDiscoveryCheckJSONMessages(t *testing.T) {
	d := newDowngrades(t)
	s := d.srv.URL
	missingCA := filepath.Join(t.TempDir(), "missing.crt")
	tests := []struct {
		name    string
		args    []string
		baseURL string
		// want are in the JSON's error, which stderr repeats.
		want []string
	}{
		{"no base URL", nil, "", []string{"--base-url is required: the https URL the discovery is published at"}},
		{"http base URL", []string{"--base-url", "http://b.example.com/x"}, "http://b.example.com/x",
			[]string{`--base-url: "http://b.example.com/x" uses http: API servers fetch discovery only over https`}},
		{"http issuer", []string{"--base-url", "https://b.example.com/x/", "--issuer", "http://i.example.com"}, "https://b.example.com/x",
			[]string{`--issuer "http://i.example.com" must be an https URL (the upstream's --service-account-issuer)`}},
		{"every flag problem at once", []string{"--kubeconfig", "k", "--issuer", "http://i.example.com", "--base-url", "b.example.com"}, "b.example.com",
			[]string{"--kubeconfig/--context, --issuer and --from are different sources of the live discovery: give one",
				`--issuer "http://i.example.com" must be an https URL`, `--base-url: "b.example.com" is not a URL; expected https://host[/path]`}},
		{"issuer CA alone", []string{"--base-url", "https://b.example.com", "--issuer-ca", "ca.crt"}, "https://b.example.com",
			[]string{"--issuer-ca verifies --issuer: give --issuer too"}},
		{"issuer refuses anonymous clients", []string{"--base-url", s + "/pub", "--issuer", s + "/forbidden", "--issuer-ca", d.caFile}, s + "/pub",
			[]string{"GET " + s + "/forbidden/.well-known/openid-configuration: 403 Forbidden", "read it with a kubeconfig instead (--kubeconfig, --context)"}},
		{"unreadable base URL CA", []string{"--base-url", s + "/pub", "--issuer", s + "/live", "--issuer-ca", d.caFile, "--base-url-ca", missingCA}, s + "/pub",
			[]string{"read --base-url-ca: open " + missingCA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, append([]string{"discovery", "check", "-o", "json"}, tt.args...)...)
			if code != 1 {
				t.Errorf("code %d, want 1", code)
			}
			var c discovery.Comparison
			dec := json.NewDecoder(strings.NewReader(stdout))
			if err := dec.Decode(&c); err != nil || dec.More() {
				t.Fatalf("stdout is not one JSON object (%v):\n%s", err, stdout)
			}
			if c.InSync || c.BaseURL != tt.baseURL || c.Error == "" {
				t.Errorf("inSync %v, baseURL %q, error %q; want false, %q and an error", c.InSync, c.BaseURL, c.Error, tt.baseURL)
			}
			if stderr != "error: "+c.Error+"\n" {
				t.Errorf("stderr %q, want the JSON's error once", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(c.Error, w) {
					t.Errorf("error lacks %q:\n%s", w, c.Error)
				}
			}
		})
	}
}
