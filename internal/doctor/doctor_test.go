package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery/discoverytest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/doctor"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

const controller = "argocd-application-controller"

// world is one upstream issuer, its discovery published on an https server
// that also stands for the downstream's TLS endpoint, and a fake downstream.
type world struct {
	t      *testing.T
	dir    string
	iss    *discoverytest.Issuer
	srv    *httptest.Server
	mux    *http.ServeMux
	caFile string
	now    time.Time
	down   *fakeDownstream
	// served is what the server publishes; swap it to go stale.
	mu     sync.Mutex
	served *discoverytest.Issuer
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, dir: t.TempDir(), now: time.Unix(1_800_000_000, 0)}
	mux := http.NewServeMux()
	w.mux = mux
	w.srv = httptest.NewUnstartedServer(mux)
	w.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes refused on purpose
	w.srv.StartTLS()
	t.Cleanup(w.srv.Close)
	w.iss = discoverytest.NewIssuer(t, "https://hub.internal:6443")
	w.served = w.iss
	mux.HandleFunc("/pub/.well-known/openid-configuration", func(rw http.ResponseWriter, _ *http.Request) {
		w.mu.Lock()
		defer w.mu.Unlock()
		rw.Write(w.served.Document(w.srv.URL + "/pub/openid/v1/jwks"))
	})
	mux.HandleFunc("/pub/openid/v1/jwks", func(rw http.ResponseWriter, _ *http.Request) {
		w.mu.Lock()
		defer w.mu.Unlock()
		rw.Write(w.served.JWKS())
	})
	w.caFile = filepath.Join(w.dir, "ca.crt")
	writeFile(t, w.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.srv.Certificate().Raw}))
	w.down = &fakeDownstream{user: "hub:system:serviceaccount:argocd:" + controller, denied: map[string]bool{}}
	return w
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// config is the federation of the world; edit changes the YAML first.
func (w *world) config(edit func(string) string) (*config.Federation, *config.Downstream) {
	w.t.Helper()
	y := fmt.Sprintf(`apiVersion: argocd-k8s-federate.io/v1alpha1
kind: Federation
upstream:
  name: hub
  issuer: %s
  discoveryURL: %s/pub/.well-known/openid-configuration
  caFile: ca.crt
  token:
    mountPath: %s
downstreams:
- name: down
  server: %s
  caFile: ca.crt
  access:
    namespaces: [shop, apps]
`, w.iss.URL, w.srv.URL, filepath.Join(w.dir, "tokens"), w.srv.URL)
	if edit != nil {
		y = edit(y)
	}
	path := filepath.Join(w.dir, "federation.yaml")
	f, err := config.Decode([]byte(y), path)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := f.Complete(); err != nil {
		w.t.Fatal(err)
	}
	return f, &f.Downstreams[0]
}

// token writes a fresh controller token for audience into the token file.
func (w *world) token(audience string) {
	w.t.Helper()
	tok := w.iss.Token(w.t, "argocd", controller, audience, w.now.Add(-5*time.Minute), time.Hour)
	writeFile(w.t, filepath.Join(w.dir, "tokens", "down"), []byte(tok))
}

func (w *world) env() doctor.Env {
	return doctor.Env{
		Now:        func() time.Time { return w.now },
		ReadFile:   os.ReadFile,
		HTTPClient: discovery.HTTPClient,
		Downstream: func(server string, caPEM []byte, token string) (doctor.Downstream, error) {
			w.down.token = token
			return w.down, nil
		},
	}
}

type fakeDownstream struct {
	mu     sync.Mutex
	token  string
	user   string
	err    error
	denied map[string]bool // "namespace/probe"
	rules  []doctor.Rule
	asked  int
}

func (f *fakeDownstream) WhoAmI(context.Context) (string, error) { return f.user, f.err }

func (f *fakeDownstream) Allowed(_ context.Context, p doctor.Probe) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	return !f.denied[p.Namespace+"/"+p.String()] && !f.denied[p.Namespace+"/*"], nil
}

func (f *fakeDownstream) Rules(context.Context, string) ([]doctor.Rule, error) { return f.rules, nil }

// statuses maps each check (with its scope) to its status.
func statuses(r *doctor.Report) map[string]doctor.Status {
	m := map[string]doctor.Status{}
	for _, c := range r.Checks {
		name := c.Check
		if c.Scope != "" {
			name += "[" + c.Scope + "]"
		}
		m[name] = c.Status
	}
	return m
}

func allPass() map[string]doctor.Status {
	m := map[string]doctor.Status{}
	for _, c := range []string{"token-file", "token-expiry", "token-audience", "token-issuer", "token-subject",
		"discovery", "discovery-keys", "downstream-tls", "downstream-auth", "username",
		"rbac[controller, apps]", "rbac[controller, shop]"} {
		m[c] = doctor.Pass
	}
	m["cluster-secret"] = doctor.Skip
	return m
}

func TestHealthy(t *testing.T) {
	w := newWorld(t)
	f, d := w.config(nil)
	w.token("down")
	r := doctor.Run(context.Background(), doctor.FromConfig(f, d), w.env())
	if diff := cmp.Diff(allPass(), statuses(r)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if !r.OK || r.Failed != 0 || r.Passed != 12 || r.Skipped != 1 {
		t.Errorf("summary: ok %v, %d passed, %d failed, %d skipped", r.OK, r.Passed, r.Failed, r.Skipped)
	}
	// admin promises 37 permissions in each namespace.
	if w.down.asked != 74 {
		t.Errorf("%d access reviews, want 74", w.down.asked)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"PASS  rbac [controller, apps] hub:system:serviceaccount:argocd:argocd-application-controller may do what ClusterRole admin promises in namespace apps (37 permissions)\n",
		"PASS  username         mapped to hub:system:serviceaccount:argocd:argocd-application-controller, the user the config binds\n",
		"13 checks: 12 passed, 0 failed, 1 skipped\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), w.down.token) {
		t.Error("the report prints the token")
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world) (*config.Federation, *config.Downstream)
		// want are the statuses that differ from allPass.
		want     map[string]doctor.Status
		failWith map[string][]string // check: substrings of message or fix
	}{
		{
			name: "wrong audience mount",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				w.token("other")
				return w.config(nil)
			},
			want: map[string]doctor.Status{"token-audience": doctor.Fail, "downstream-auth": doctor.Skip, "username": doctor.Skip, "rbac": doctor.Skip,
				"rbac[controller, apps]": "", "rbac[controller, shop]": ""},
			failWith: map[string][]string{"token-audience": {`the token is for audience "other", downstream down accepts "down"`, `serviceAccountToken whose audience is "down"`}},
		},
		{
			name: "no token file",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				return w.config(nil)
			},
			want: map[string]doctor.Status{"token-file": doctor.Fail, "token-expiry": doctor.Skip, "token-audience": doctor.Skip, "token-issuer": doctor.Skip,
				"token-subject": doctor.Skip, "discovery-keys": doctor.Skip, "downstream-auth": doctor.Skip, "username": doctor.Skip, "rbac": doctor.Skip,
				"rbac[controller, apps]": "", "rbac[controller, shop]": ""},
			failWith: map[string][]string{"token-file": {"no such file", "--token-file", "kubectl -n argocd create token <service account> --audience down"}},
		},
		{
			name: "stale published keys",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				w.served = discoverytest.NewIssuer(w.t, w.iss.URL)
				w.served.Keys = w.iss.Keys
				w.iss = &discoverytest.Issuer{URL: w.iss.URL, Keys: w.iss.Keys}
				w.iss.Rotate(w.t)
				w.token("down")
				w.down.err = fmt.Errorf("%w: the downstream does not accept the token", doctor.ErrUnauthorized)
				return w.config(nil)
			},
			want: map[string]doctor.Status{"discovery-keys": doctor.Fail, "downstream-auth": doctor.Fail, "username": doctor.Skip, "rbac": doctor.Skip,
				"rbac[controller, apps]": "", "rbac[controller, shop]": ""},
			failWith: map[string][]string{
				"discovery-keys":  {"the published copy is stale", "argocd-k8s-federate discovery publish --base-url "},
				"downstream-auth": {"fix discovery-keys above"},
			},
		},
		{
			name: "missing RoleBinding",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				w.token("down")
				w.down.denied["shop/*"] = true
				return w.config(nil)
			},
			want: map[string]doctor.Status{"rbac[controller, shop]": doctor.Fail},
			failWith: map[string][]string{"rbac": {"is denied 37 of the 37 permissions ClusterRole admin promises in namespace shop",
				"RoleBinding argocd-k8s-federate:hub:controller in namespace shop binding ClusterRole admin", "kubectl apply -k downstream/down"}},
		},
		{
			name: "role lacks a permission",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				w.token("down")
				w.down.denied["apps/create rolebindings.rbac.authorization.k8s.io"] = true
				return w.config(nil)
			},
			want:     map[string]doctor.Status{"rbac[controller, apps]": doctor.Fail},
			failWith: map[string][]string{"rbac": {"is denied 1 of the 37", "create rolebindings.rbac.authorization.k8s.io", "lacks these permissions"}},
		},
		{
			name: "wrong downstream CA",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				w.token("down")
				other, err := testenv.NewCA("other")
				if err != nil {
					w.t.Fatal(err)
				}
				writeFile(w.t, filepath.Join(w.dir, "other-ca.crt"), other.CertPEM)
				return w.config(func(y string) string {
					i := strings.LastIndex(y, "caFile: ca.crt")
					return y[:i] + "caFile: other-ca.crt" + y[i+len("caFile: ca.crt"):]
				})
			},
			want: map[string]doctor.Status{"downstream-tls": doctor.Fail, "downstream-auth": doctor.Skip, "username": doctor.Skip, "rbac": doctor.Skip,
				"rbac[controller, apps]": "", "rbac[controller, shop]": ""},
			failWith: map[string][]string{"downstream-tls": {"certificate signed by unknown authority", "downstreams[down].caFile", "signed by an authority the CA bundle does not hold"}},
		},
		{
			name: "other prefix downstream",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				w.token("down")
				w.down.user = "oidc:system:serviceaccount:argocd:" + controller
				return w.config(nil)
			},
			want:     map[string]doctor.Status{"username": doctor.Fail},
			failWith: map[string][]string{"username": {"maps the token to oidc:system:serviceaccount:argocd:argocd-application-controller, but the config's RBAC binds hub:system"}},
		},
		{
			name: "expired token",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				w.token("down")
				w.now = w.now.Add(2 * time.Hour)
				return w.config(nil)
			},
			want: map[string]doctor.Status{"token-expiry": doctor.Fail, "downstream-auth": doctor.Skip, "username": doctor.Skip, "rbac": doctor.Skip,
				"rbac[controller, apps]": "", "rbac[controller, shop]": ""},
			failWith: map[string][]string{"token-expiry": {"the token expired 1h5m0s ago"}},
		},
		{
			name: "token not refreshed",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				w.token("down")
				w.now = w.now.Add(50 * time.Minute)
				return w.config(nil)
			},
			want:     map[string]doctor.Status{"token-expiry": doctor.Fail},
			failWith: map[string][]string{"token-expiry": {"due for replacement 7m0s ago", "nobody is refreshing it"}},
		},
		{
			name: "server's token with the controller's mount",
			setup: func(w *world) (*config.Federation, *config.Downstream) {
				tok := w.iss.Token(w.t, "argocd", "argocd-repo-server", "down", w.now.Add(-time.Minute), time.Hour)
				writeFile(w.t, filepath.Join(w.dir, "tokens", "down"), []byte(tok))
				w.down.user = "hub:system:serviceaccount:argocd:argocd-repo-server"
				return w.config(nil)
			},
			want:     map[string]doctor.Status{"token-subject": doctor.Fail, "rbac": doctor.Skip, "rbac[controller, apps]": "", "rbac[controller, shop]": ""},
			failWith: map[string][]string{"token-subject": {"sub is system:serviceaccount:argocd:argocd-repo-server, which is neither ArgoCD identity of the config"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			f, d := tt.setup(w)
			r := doctor.Run(context.Background(), doctor.FromConfig(f, d), w.env())
			want := allPass()
			for k, v := range tt.want {
				if v == "" {
					delete(want, k)
				} else {
					want[k] = v
				}
			}
			if diff := cmp.Diff(want, statuses(r)); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if r.OK {
				t.Error("report OK with a failure")
			}
			for check, subs := range tt.failWith {
				res, _ := r.Result(check)
				for _, c := range r.Checks {
					if c.Check == check && c.Status == doctor.Fail {
						res = c
					}
				}
				text := res.Message + "\n" + res.Fix
				for _, s := range subs {
					if !strings.Contains(text, s) {
						t.Errorf("%s lacks %q:\n%s", check, s, text)
					}
				}
			}
		})
	}
}

func TestClusterSecret(t *testing.T) {
	w := newWorld(t)
	f, d := w.config(nil)
	w.token("down")
	want := doctor.FromConfig(f, d).Want
	wantArgs, err := want.TokenFile()
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(w.caFile)
	secret := func(namespaces string, data bool) []byte {
		cfg, _ := json.Marshal(map[string]any{
			"execProviderConfig": map[string]any{"command": want.Exec.Command, "apiVersion": "client.authentication.k8s.io/v1",
				"args": []string{"token-file", "--file", wantArgs.File, "--audience", "down", "--issuer=" + w.iss.URL}},
			"tlsClientConfig": map[string]any{"insecure": false, "caData": ca},
		})
		values := map[string]string{"name": "down", "server": w.srv.URL, "config": string(cfg), "namespaces": namespaces, "clusterResources": "false"}
		obj := map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "cluster-down", "namespace": "argocd", "labels": map[string]string{"argocd.argoproj.io/secret-type": "cluster"}}}
		if data {
			enc := map[string][]byte{}
			for k, v := range values {
				enc[k] = []byte(v)
			}
			obj["data"] = enc
		} else {
			obj["stringData"] = values
		}
		b, _ := json.Marshal(obj)
		return b
	}

	for _, data := range []bool{false, true} {
		s, err := argocd.Parse(secret("shop,apps", data), "s.json")
		if err != nil {
			t.Fatal(err)
		}
		tgt := doctor.FromConfig(f, d)
		tgt.Secret = s
		r := doctor.Run(context.Background(), tgt, w.env())
		if res, _ := r.Result(doctor.CheckClusterSecret); res.Status != doctor.Pass {
			t.Errorf("data=%v: %+v", data, res)
		}
	}

	s, err := argocd.Parse(secret("shop,payments", false), "s.json")
	if err != nil {
		t.Fatal(err)
	}
	tgt := doctor.FromConfig(f, d)
	tgt.Secret = s
	r := doctor.Run(context.Background(), tgt, w.env())
	res, _ := r.Result(doctor.CheckClusterSecret)
	if res.Status != doctor.Fail || !strings.Contains(res.Message, `namespaces are "payments,shop", the config grants apps,shop`) {
		t.Errorf("namespace mismatch: %+v", res)
	}

	// Only the Secret: what needs the config is skipped, RBAC is checked
	// per Secret namespace.
	w.down.rules = []doctor.Rule{
		{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
		{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	}
	r = doctor.Run(context.Background(), doctor.FromSecret(s), w.env())
	got := statuses(r)
	for check, st := range map[string]doctor.Status{
		"token-audience": doctor.Pass, "token-issuer": doctor.Pass, "token-subject": doctor.Skip,
		"discovery": doctor.Skip, "downstream-auth": doctor.Pass, "username": doctor.Pass,
		"rbac[payments]": doctor.Pass, "rbac[shop]": doctor.Pass, "cluster-secret": doctor.Pass,
	} {
		if got[check] != st {
			t.Errorf("secret only: %s is %q, want %q", check, got[check], st)
		}
	}
	w.down.rules = w.down.rules[:1]
	r = doctor.Run(context.Background(), doctor.FromSecret(s), w.env())
	if got := statuses(r); got["rbac[shop]"] != doctor.Fail {
		t.Errorf("secret only, no grant: %v", got)
	}

}

func TestUnreadableDiscovery(t *testing.T) {
	w := newWorld(t)
	w.token("down")
	f, d := w.config(func(y string) string {
		return strings.Replace(y, "/pub/.well-known", "/gone/.well-known", 1)
	})
	r := doctor.Run(context.Background(), doctor.FromConfig(f, d), w.env())
	res, _ := r.Result(doctor.CheckDiscovery)
	if res.Status != doctor.Fail || !strings.Contains(res.Message, "404 Not Found") || !strings.Contains(res.Fix, "nothing is published at") {
		t.Errorf("discovery: %+v", res)
	}
	if got := statuses(r)["discovery-keys"]; got != doctor.Skip {
		t.Errorf("discovery-keys %s, want skip", got)
	}
}

// TestDiscoveryDowngrade: the published discovery read in clear fails the
// discovery check, and its fix says how to serve it over https.
func TestDiscoveryDowngrade(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a request went out in clear")
	}))
	defer plain.Close()
	tests := []struct {
		name string
		// serve answers the document at /case/.well-known/openid-configuration.
		serve   func(w *world) http.HandlerFunc
		message []string
		fix     []string
	}{
		{"jwks_uri is http", func(w *world) http.HandlerFunc {
			return func(rw http.ResponseWriter, _ *http.Request) {
				rw.Write(w.served.Document(plain.URL + "/openid/v1/jwks"))
			}
		}, []string{"/case/.well-known/openid-configuration names jwks_uri " + plain.URL + "/openid/v1/jwks, which is not https"},
			[]string{"argocd-k8s-federate discovery publish --base-url ", "/case -o DIR", "writes jwks_uri https://"}},
		{"redirected to http", func(*world) http.HandlerFunc {
			return func(rw http.ResponseWriter, r *http.Request) {
				http.Redirect(rw, r, plain.URL+"/.well-known/openid-configuration", http.StatusMovedPermanently)
			}
		}, []string{"/case/.well-known/openid-configuration redirects to " + plain.URL + "/.well-known/openid-configuration, which is not https"},
			[]string{"without redirecting to http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.token("down")
			w.mux.HandleFunc("/case/.well-known/openid-configuration", tt.serve(w))
			f, d := w.config(func(y string) string { return strings.Replace(y, "/pub/.well-known", "/case/.well-known", 1) })
			r := doctor.Run(context.Background(), doctor.FromConfig(f, d), w.env())
			res, _ := r.Result(doctor.CheckDiscovery)
			if res.Status != doctor.Fail {
				t.Fatalf("discovery: %+v, want a failure", res)
			}
			for _, m := range tt.message {
				if !strings.Contains(res.Message, m) {
					t.Errorf("message lacks %q: %s", m, res.Message)
				}
			}
			for _, m := range tt.fix {
				if !strings.Contains(res.Fix, m) {
					t.Errorf("fix lacks %q: %s", m, res.Fix)
				}
			}
		})
	}
}

func TestReadFileErrors(t *testing.T) {
	w := newWorld(t)
	f, d := w.config(nil)
	env := w.env()
	env.ReadFile = func(string) ([]byte, error) { return nil, fs.ErrPermission }
	r := doctor.Run(context.Background(), doctor.FromConfig(f, d), env)
	res, _ := r.Result(doctor.CheckTokenFile)
	if res.Status != doctor.Fail || !strings.Contains(res.Fix, "fsGroup") {
		t.Errorf("permission: %+v", res)
	}
}

// A token-request downstream: no token file to read (the token checks say
// how to get one), the cluster Secret is compared with token-request's
// arguments, and with --token-file the rest of the path is checked as usual.
func TestTokenRequestDownstream(t *testing.T) {
	w := newWorld(t)
	f, d := w.config(func(y string) string {
		return strings.Replace(y, "  caFile: ca.crt\n  access:", "  caFile: ca.crt\n  tokenSource: TokenRequest\n  access:", 1)
	})
	tgt := doctor.FromConfig(f, d)
	if tgt.TokenFile != "" || tgt.Want.PluginCommand() != "token-request" {
		t.Fatalf("target %+v runs %q", tgt, tgt.Want.PluginCommand())
	}
	r := doctor.Run(context.Background(), tgt, w.env())
	res, _ := r.Result(doctor.CheckTokenFile)
	if res.Status != doctor.Skip || !strings.Contains(res.Message, "token-request") ||
		!strings.Contains(res.Fix, "kubectl -n argocd create token argocd-application-controller --audience down") {
		t.Errorf("token-file for a token-request downstream: %+v", res)
	}

	// The Secret the config yields passes; another audience does not.
	for _, tc := range []struct {
		audience string
		status   doctor.Status
	}{{"down", doctor.Pass}, {"other", doctor.Fail}} {
		s := *tgt.Want
		exec := *s.Exec
		exec.Args = []string{"token-request", "--audience", tc.audience, "--issuer", f.Upstream.Issuer}
		s.Exec = &exec
		tgt := doctor.FromConfig(f, d)
		tgt.Secret = &s
		r := doctor.Run(context.Background(), tgt, w.env())
		if res, _ := r.Result(doctor.CheckClusterSecret); res.Status != tc.status ||
			tc.status == doctor.Fail && !strings.Contains(res.Message, `the plugin's --audience is "other", the config says "down"`) {
			t.Errorf("audience %s: %+v", tc.audience, res)
		}
	}

	// With a token (kubectl create token), the downstream checks run.
	w.token("down")
	tgt = doctor.FromConfig(f, d)
	tgt.TokenFile = filepath.Join(w.dir, "tokens", "down")
	r = doctor.Run(context.Background(), tgt, w.env())
	if got := statuses(r); got["token-file"] != doctor.Pass || got["downstream-auth"] != doctor.Pass {
		t.Errorf("with --token-file: %v", got)
	}
}

// workloadConfig adds upstream workload ci-runner (namespace ci), granted
// the viewer preset in apps of the downstream.
func workloadConfig(y string) string {
	y = strings.Replace(y, "downstreams:", "  workloads:\n  - name: ci-runner\n    namespace: ci\n    kind: Deployment\ndownstreams:", 1)
	return y + "    workloads:\n    - name: ci-runner\n      namespaces: [apps]\n      preset: viewer\n"
}

// TestWorkloadPath: --workload checks the workload's token, its user and
// only its own grants, and skips the cluster Secret; ArgoCD's path given
// the workload's token says to add --workload.
func TestWorkloadPath(t *testing.T) {
	w := newWorld(t)
	f, d := w.config(workloadConfig)
	tok := w.iss.Token(t, "ci", "ci-runner", "down", w.now.Add(-5*time.Minute), time.Hour)
	writeFile(t, filepath.Join(w.dir, "tokens", "down"), []byte(tok))
	w.down.user = "hub:system:serviceaccount:ci:ci-runner"

	r := doctor.Run(context.Background(), doctor.FromWorkload(f, d, f.Workload("ci-runner")), w.env())
	want := map[string]doctor.Status{}
	for _, c := range []string{"token-file", "token-expiry", "token-audience", "token-issuer", "token-subject",
		"discovery", "discovery-keys", "downstream-tls", "downstream-auth", "username", "rbac[workload:ci-runner, apps]"} {
		want[c] = doctor.Pass
	}
	want["cluster-secret"] = doctor.Skip
	if diff := cmp.Diff(want, statuses(r)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if r.Workload != "ci-runner" {
		t.Errorf("report workload %q", r.Workload)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text.String(), "doctor: workload ci-runner, downstream down") {
		t.Errorf("report starts %q", strings.SplitN(text.String(), "\n", 2)[0])
	}

	r = doctor.Run(context.Background(), doctor.FromConfig(f, d), w.env())
	res, _ := r.Result(doctor.CheckTokenSubject)
	if res.Status != doctor.Fail || !strings.Contains(res.Message, "add --workload ci-runner") {
		t.Errorf("ArgoCD's path with the workload's token: token-subject %s %q", res.Status, res.Message)
	}
	// and the workload's path with the controller's token.
	w.token("down")
	r = doctor.Run(context.Background(), doctor.FromWorkload(f, d, f.Workload("ci-runner")), w.env())
	res, _ = r.Result(doctor.CheckTokenSubject)
	if res.Status != doctor.Fail || !strings.Contains(res.Message, "leave out --workload") {
		t.Errorf("the workload's path with the controller's token: token-subject %s %q", res.Status, res.Message)
	}
}

// TestIdentityProviderDownstream: doctor does not check an oidc-token
// downstream's token yet, and says so; the cluster Secret is compared, and
// a Secret running oidc-token without a config is no crash either.
func TestIdentityProviderDownstream(t *testing.T) {
	w := newWorld(t)
	f, d := w.config(func(y string) string {
		return strings.Replace(y, "  token:\n", "  identityProvider:\n    issuer: https://login.example.com/realms/platform\n    useSystemRoots: true\n    grant: ClientCredentials\n    clientID: argocd-hub\n  token:\n", 1)
	})
	tgt := doctor.FromConfig(f, d)
	if tgt.TokenFile != "" || tgt.IdentityProvider != "https://login.example.com/realms/platform" || tgt.Want.PluginCommand() != "oidc-token" {
		t.Fatalf("target %+v runs %q", tgt, tgt.Want.PluginCommand())
	}
	r := doctor.Run(context.Background(), tgt, w.env())
	for check, st := range statuses(r) {
		res, _ := r.Result(check)
		if check == doctor.CheckClusterSecret {
			continue
		}
		if st != doctor.Skip || !strings.Contains(res.Message, "not checked yet for oidc-token") {
			t.Errorf("%s: %+v", check, res)
		}
	}
	for _, tc := range []struct {
		client string
		status doctor.Status
	}{{"argocd-hub", doctor.Pass}, {"other", doctor.Fail}} {
		s := *tgt.Want
		exec := *s.Exec
		exec.Args = slices.Clone(exec.Args)
		exec.Args[slices.Index(exec.Args, "--client-id")+1] = tc.client
		s.Exec = &exec
		tgt := doctor.FromConfig(f, d)
		tgt.Secret = &s
		r := doctor.Run(context.Background(), tgt, w.env())
		if res, _ := r.Result(doctor.CheckClusterSecret); res.Status != tc.status ||
			tc.status == doctor.Fail && !strings.Contains(res.Message, `the plugin's --client-id is "other"`) {
			t.Errorf("client %s: %+v", tc.client, res)
		}
		// Without the config.
		r = doctor.Run(context.Background(), doctor.FromSecret(&s), w.env())
		if res, _ := r.Result(doctor.CheckTokenFile); res.Status != doctor.Skip {
			t.Errorf("from the Secret alone: %+v", res)
		}
	}
}
