package plugin_test

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential/credentialtest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/tokenrequest"
)

// These tests run token-request in-process, with the network half linked
// (as argocd-k8s-federate-token-request and the full CLI do).
func init() { plugin.TokenRequester = tokenrequest.Run }

// The command line the generator writes is the one the plugin parses.
func TestTokenRequestArgsRoundTrip(t *testing.T) {
	custom := plugin.DefaultTokenRequestOptions()
	custom.Audience, custom.ExpirationSeconds, custom.Issuer = "prod-eu", 7200, "https://hub.example.com"
	custom.APIServer, custom.ServiceAccountTokenFile, custom.CAFile = "https://[::1]:6443", "/t/sa token", "/t/ca.crt"
	custom.Timeout, custom.Policy.Skew = 3*time.Second, 15*time.Second
	withAudience := plugin.DefaultTokenRequestOptions()
	withAudience.Audience = "prod-eu"
	tests := []struct {
		name string
		o    plugin.TokenRequestOptions
		want []string
	}{
		{"defaults", plugin.DefaultTokenRequestOptions(), []string{"token-request"}},
		{"what generate writes", withAudience, []string{"token-request", "--audience", "prod-eu"}},
		{"every flag", custom, []string{"token-request", "--audience", "prod-eu", "--expiration-seconds", "7200", "--issuer", "https://hub.example.com",
			"--api-server", "https://[::1]:6443", "--service-account-token-file", "/t/sa token", "--ca-file", "/t/ca.crt", "--timeout", "3s", "--skew", "15s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.o.Args()
			if diff := cmp.Diff(tt.want, args); diff != "" {
				t.Fatalf("Args() (-want +got):\n%s", diff)
			}
			got, err := plugin.ParseTokenRequestArgs(args)
			if err != nil {
				t.Fatalf("ParseTokenRequestArgs(%q): %v", args, err)
			}
			if diff := cmp.Diff(tt.o, got); diff != "" {
				t.Errorf("parsed back (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTokenRequestArgs(t *testing.T) {
	o, err := plugin.ParseTokenRequestArgs([]string{"token-request", "-audience=a", "--expiration-seconds", "600", "-api-server", "https://h"})
	if err != nil || o.Audience != "a" || o.ExpirationSeconds != 600 || o.APIServer != "https://h" || o.CAFile != plugin.InClusterCAFile {
		t.Errorf("ParseTokenRequestArgs = %+v, %v", o, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "do not start with the command token-request"},
		{[]string{"token-file", "--audience", "a"}, "do not start with the command token-request"},
		{[]string{"token-request", "--file", "x"}, "flag provided but not defined: -file"},
		{[]string{"token-request", "--expiration-seconds", "1h"}, `invalid value "1h" for flag -expiration-seconds`},
		{[]string{"token-request", "a"}, `unexpected argument "a"`},
	} {
		if _, err := plugin.ParseTokenRequestArgs(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTokenRequestArgs(%q) error = %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestTokenRequestOptionsValidate(t *testing.T) {
	valid := plugin.DefaultTokenRequestOptions()
	valid.Audience = "a"
	if err := valid.Validate(); err != nil {
		t.Errorf("Validate() of the defaults with an audience = %v", err)
	}
	for _, edge := range []int64{plugin.MinExpirationSeconds, plugin.MaxExpirationSeconds} {
		o := valid
		o.ExpirationSeconds = edge
		if err := o.Validate(); err != nil {
			t.Errorf("Validate() with --expiration-seconds %d = %v", edge, err)
		}
	}
	bad := plugin.TokenRequestOptions{ExpirationSeconds: 599, Timeout: 0, Policy: credential.DefaultPolicy()}
	bad.Policy.Skew = -time.Second
	err := bad.Validate()
	want := "--audience is required: the downstream's audience, which its API server's AuthenticationConfiguration lists; " +
		"--expiration-seconds 599 must be between 600 and 86400; " +
		"--service-account-token-file must not be empty (default /var/run/secrets/kubernetes.io/serviceaccount/token); " +
		"--ca-file must not be empty (default /var/run/secrets/kubernetes.io/serviceaccount/ca.crt); " +
		"--timeout 0s must be positive; --skew -1s must not be negative"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
	valid.ExpirationSeconds = plugin.MaxExpirationSeconds + 1
	if err := valid.Validate(); err == nil || !strings.Contains(err.Error(), "--expiration-seconds 86401 must be between 600 and 86400") {
		t.Errorf("Validate() = %v, want the expiration refused", err)
	}
}

// podFiles are a pod's token (bound to the pod, as the kubelet mounts it),
// and a CA file, in a temporary directory.
type podFiles struct {
	dir, token, ca string
	raw            string
}

func newPodFiles(t *testing.T, t0 time.Time, caPEM []byte) podFiles {
	t.Helper()
	dir := t.TempDir()
	raw := credentialtest.Token(credentialtest.Claims("https://kubernetes.default.svc.cluster.local", t0, time.Hour))
	if caPEM == nil {
		caPEM = []byte("not a certificate\n")
	}
	return podFiles{dir: dir, raw: raw, token: writeFile(t, dir, "token", raw), ca: writeFile(t, dir, "ca.crt", string(caPEM))}
}

// TestTokenRequestRefusesBeforeAsking covers what is refused before any
// request is sent: not in a pod, the pod's token, the CA, the URL.
func TestTokenRequestRefusesBeforeAsking(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request was sent: %s %s", r.Method, r.URL)
	}))
	defer srv.Close()
	p := newPodFiles(t, t0, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	file := func(name, content string) string { return writeFile(t, p.dir, name, content) }
	claims := func(drop ...string) string {
		c := credentialtest.Claims("a", t0, time.Hour)
		kube := c["kubernetes.io"].(map[string]any)
		for _, k := range drop {
			delete(c, k)
			delete(kube, k)
		}
		return credentialtest.Token(c)
	}
	tr := func(more ...string) []string {
		return append([]string{"token-request", "--audience", "a", "--api-server", srv.URL, "--service-account-token-file", p.token, "--ca-file", p.ca}, more...)
	}
	prefix := "argocd-k8s-federate-plugin token-request: "
	inPod := map[string]string{plugin.ServiceHostEnv: "10.96.0.1", plugin.ServicePortEnv: "443"}

	tests := []struct {
		name string
		args []string
		env  map[string]string
		now  time.Time
		want []string
	}{
		// Not in a pod.
		{name: "KUBERNETES_SERVICE_HOST unset and no --api-server", args: []string{"token-request", "--audience", "a"},
			want: []string{prefix + "KUBERNETES_SERVICE_HOST is not set, so this is not a pod", "the kubelet sets KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT", "give --api-server URL"}},
		{name: "KUBERNETES_SERVICE_PORT unset", args: []string{"token-request", "--audience", "a"}, env: map[string]string{plugin.ServiceHostEnv: "10.96.0.1"},
			want: []string{`KUBERNETES_SERVICE_PORT is not set (KUBERNETES_SERVICE_HOST is "10.96.0.1")`}},
		{name: "the pod's token is not mounted", args: tr("--service-account-token-file", filepath.Join(p.dir, "absent")),
			want: []string{`read the pod's service-account token "` + filepath.Join(p.dir, "absent") + `": file does not exist`, "automountServiceAccountToken must not be false"}},
		{name: "in a pod without the token mount (the default path)", args: []string{"token-request", "--audience", "a", "--service-account-token-file", filepath.Join(p.dir, "sa", "token")}, env: inPod,
			want: []string{"no service-account token is mounted in this container", "automountServiceAccountToken must not be false"}},

		// The pod's own token.
		{name: "not bound to a pod (kubectl create token)", args: tr("--service-account-token-file", file("unbound", claims("pod"))),
			want: []string{"is not bound to a pod (it has no kubernetes.io.pod claim)", "kubectl create token", "automountServiceAccountToken must not be false"}},
		{name: "legacy Secret token", args: tr("--service-account-token-file", file("legacy", credentialtest.Token(`{"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:argocd:argocd"}`))),
			want: []string{"is not bound to a pod: token has no exp claim, as a legacy Secret token", "automountServiceAccountToken"}},
		{name: "no service account", args: tr("--service-account-token-file", file("nosa", claims("serviceaccount", "sub"))),
			want: []string{"names no service account", "sub \"\""}},
		{name: "service account from sub", args: tr("--service-account-token-file", file("subsa", claims("namespace", "serviceaccount")), "--ca-file", filepath.Join(p.dir, "absent-ca")),
			want: []string{"read --ca-file"}},
		{name: "expired", args: tr(), now: t0.Add(2 * time.Hour),
			want: []string{"the pod's service-account token " + `"` + p.token + `"` + " expired at 2026-01-02T04:04:05Z (1h0m0s ago)", "kubelet is not refreshing it"}},
		{name: "not a JWT", args: tr("--service-account-token-file", file("kubeconfig", "apiVersion: v1\nkind: Config\n")),
			want: []string{"does not hold a JWT", "--service-account-token-file names the wrong file"}},
		{name: "empty", args: tr("--service-account-token-file", file("empty", "")),
			want: []string{"token is empty", "--service-account-token-file names the wrong file"}},
		{name: "a directory", args: tr("--service-account-token-file", p.dir),
			want: []string{"is a directory", "not its directory"}},

		// The CA.
		{name: "CA file missing", args: tr("--ca-file", filepath.Join(p.dir, "absent-ca")),
			want: []string{`read --ca-file "` + filepath.Join(p.dir, "absent-ca") + `": file does not exist`, "ca.crt beside the service-account token"}},
		{name: "CA file without a certificate", args: tr("--ca-file", file("notca", "hello\n")),
			want: []string{"holds no PEM certificate", "signed the API server's serving certificate"}},

		// The URL.
		{name: "http refused", args: tr("--api-server", "http://"+strings.TrimPrefix(srv.URL, "https://")),
			want: []string{"the scheme must be https"}},
		{name: "no scheme", args: tr("--api-server", "127.0.0.1:6443"),
			want: []string{"--api-server"}},
		{name: "user and password refused, not printed", args: tr("--api-server", "https://admin:hunter2@127.0.0.1:6443"),
			want: []string{"a URL with a user name or password is refused", "https://admin:xxxxx@127.0.0.1:6443"}},
		{name: "query refused", args: tr("--api-server", srv.URL+"?x=1"),
			want: []string{"a query or fragment is refused"}},
		{name: "no host", args: tr("--api-server", "https:///api"),
			want: []string{"has no host"}},

		// Flags and KUBERNETES_EXEC_INFO.
		{name: "no audience", args: []string{"token-request"},
			want: []string{"--audience is required"}},
		{name: "every flag problem together", args: []string{"token-request", "--expiration-seconds", "60", "--timeout", "0s"},
			want: []string{"--audience is required", "; --expiration-seconds 60 must be between 600 and 86400; --timeout 0s must be positive"}},
		{name: "exec info v1alpha1", args: tr(), env: execInfo("client.authentication.k8s.io/v1alpha1"),
			want: []string{`KUBERNETES_EXEC_INFO asks for apiVersion "client.authentication.k8s.io/v1alpha1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = t0.Add(time.Minute)
			}
			got := run(tt.args, fakeEnv{vars: tt.env, now: now})
			checkFailure(t, got, tt.want, p.raw)
			if strings.Contains(got.stderr, "hunter2") {
				t.Errorf("stderr has the URL's password: %q", got.stderr)
			}
		})
	}
}

// checkFailure checks exit code 1, nothing on stdout, and one line on stderr
// with every want and not the token.
func checkFailure(t *testing.T, got result, want []string, token string) {
	t.Helper()
	if got.code != 1 {
		t.Errorf("exit code = %d, want 1", got.code)
	}
	if got.stdout != "" {
		t.Errorf("stdout = %q, want nothing", got.stdout)
	}
	if strings.Count(got.stderr, "\n") != 1 || !strings.HasSuffix(got.stderr, "\n") {
		t.Errorf("stderr is not exactly one line: %q", got.stderr)
	}
	for _, w := range want {
		if !strings.Contains(got.stderr, w) {
			t.Errorf("stderr = %q\nwant it to contain %q", got.stderr, w)
		}
	}
	_, payload, _ := strings.Cut(token, ".")
	if token != "" && (strings.Contains(got.stderr, token) || strings.Contains(got.stderr, payload[:20])) {
		t.Errorf("stderr contains a token: %q", got.stderr)
	}
}

// TestTokenRequestAnswers covers answers a real API server does not give
// (TestIntegrationTokenRequest in cmd/argocd-k8s-federate-plugin covers
// those it gives): redirects, bodies that are not a Status, a proxy's page,
// an oversized answer, a token for something else; and the request as sent,
// down to the headers an API server does not check. The server here only
// plays back an answer and records the request.
func TestTokenRequestAnswers(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	issued := credentialtest.Token(credentialtest.Claims("downstream-a", t0, time.Hour))
	created := func(token string) string {
		return `{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","spec":{},"status":{"token":"` + token + `","expirationTimestamp":"2026-01-02T04:04:05Z"}}`
	}
	status := func(code int, reason, msg string) string {
		b, _ := json.Marshal(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": msg, "reason": reason, "code": code})
		return string(b)
	}
	tests := []struct {
		name     string
		code     int
		header   map[string]string
		body     string
		args     []string
		want     []string
		wantCred bool
	}{
		{name: "201 Created", code: 201, body: created(issued), wantCred: true},
		{name: "--issuer matches", code: 201, body: created(issued), args: []string{"--issuer", "https://upstream.example.com/issuer"}, wantCred: true},
		{name: "wrong issuer", code: 201, body: created(issued), args: []string{"--issuer", "https://other.example.com"},
			want: []string{`token was issued by "https://upstream.example.com/issuer", want "https://other.example.com"`, "--service-account-issuer is not --issuer"}},
		{name: "token for another audience", code: 201, body: created(credentialtest.Token(credentialtest.Claims("downstream-b", t0, time.Hour))),
			want: []string{`token is for audience ["downstream-b"], want "downstream-a"`}},
		{name: "no token in the status", code: 201, body: `{"kind":"TokenRequest","status":{}}`,
			want: []string{"answered 201 Created with a TokenRequest but no token in its status"}},
		{name: "not JSON", code: 201, body: `<html>`,
			want: []string{"answered 201 Created with no TokenRequest"}},
		{name: "a token that is not a JWT", code: 201, body: created("abc"),
			want: []string{"the token the API server", "1 dot-separated segments"}},
		{name: "redirect not followed", code: 302, header: map[string]string{"Location": "https://elsewhere.example.com/login"},
			want: []string{`answered 302 with a redirect to "https://elsewhere.example.com/login", which is not followed`}},
		{name: "404", code: 404, body: status(404, "NotFound", `serviceaccounts "argocd-application-controller" not found`),
			want: []string{"has no service account argocd-application-controller in namespace argocd (404 Not Found: serviceaccounts \"argocd-application-controller\" not found)"}},
		{name: "404 for the pod", code: 404, body: `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"argocd-application-controller-0\" not found","reason":"NotFound","details":{"name":"argocd-application-controller-0","kind":"pods"},"code":404}`,
			want: []string{"has no pod argocd-application-controller-0 in namespace argocd, which the pod's own token from", "the pod was deleted"}},
		{name: "admission by a 422", code: 422, body: status(422, "Invalid", `serviceaccounts "x" is invalid: : ValidatingAdmissionPolicy 'p' with binding 'b' denied request: failed expression`),
			want: []string{`admission refused system:serviceaccount:argocd:argocd-application-controller a token for audience "downstream-a" (422 Unprocessable Entity: `, "ConfigMap argocd-k8s-federate-token-audiences", "upstream/<hub>/token-audiences.yaml", "add the downstream to the federation config, run generate and apply"}},
		{name: "admission by a 403 (validation reason Forbidden) is not RBAC", code: 403, body: status(403, "Forbidden", `serviceaccounts "x" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: no`),
			want: []string{`a token for audience "downstream-a" (403 Forbidden: `, "ConfigMap argocd-k8s-federate-token-audiences"}},
		{name: "other status with its message", code: 500, body: status(500, "InternalError", "Internal error occurred: etcd\nunavailable"),
			want: []string{"answered 500 Internal Server Error: Internal error occurred: etcd unavailable"}},
		{name: "a proxy's page, cut", code: 502, body: "<html>" + strings.Repeat("bad gateway ", 200) + "</html>",
			want: []string{"answered 502 Bad Gateway: <html>bad gateway", "..."}},
		{name: "a body that quotes the pod's token", code: 400, body: "you sent Bearer {{POD_TOKEN}}",
			want: []string{"you sent Bearer [the pod's token]"}},
		{name: "oversized", code: 201, body: strings.Repeat(" ", 200<<10),
			want: []string{"answered 201 Created with more than 128 KiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type request struct {
				r    *http.Request
				body []byte
			}
			requests := make(chan request, 1)
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				select {
				case requests <- request{r, body}:
				default:
					t.Errorf("more than one request: %s %s", r.Method, r.URL)
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			p := newPodFiles(t, t0.Add(-time.Minute), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
			tt.body = strings.ReplaceAll(tt.body, "{{POD_TOKEN}}", p.raw)
			args := append([]string{"token-request", "--audience", "downstream-a", "--api-server", srv.URL + "/", "--service-account-token-file", p.token, "--ca-file", p.ca}, tt.args...)
			res := run(args, fakeEnv{now: t0.Add(time.Minute)})

			select {
			case got := <-requests:
				checkRequest(t, got.r, got.body, p.raw)
			default:
				t.Fatalf("no request was sent; stderr %q", res.stderr)
			}
			if !tt.wantCred {
				checkFailure(t, res, tt.want, p.raw)
				return
			}
			if res.code != 0 || res.stderr != "" {
				t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
			}
			want := credential.NewExecCredential(credential.APIVersionV1, issued, t0.Add(48*time.Minute))
			var cred credential.ExecCredential
			if err := json.Unmarshal([]byte(res.stdout), &cred); err != nil {
				t.Fatalf("stdout: %v: %q", err, res.stdout)
			}
			if diff := cmp.Diff(want, cred); diff != "" {
				t.Errorf("ExecCredential (-want +got):\n%s", diff)
			}
		})
	}
}

// checkRequest checks the request the plugin sent.
func checkRequest(t *testing.T, r *http.Request, body []byte, podToken string) {
	t.Helper()
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/namespaces/argocd/serviceaccounts/argocd-application-controller/token" || r.URL.RawQuery != "" {
		t.Errorf("request %s %s, want POST /api/v1/namespaces/argocd/serviceaccounts/argocd-application-controller/token", r.Method, r.URL)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer " + podToken,
		"Content-Type":  "application/json",
		"Accept":        "application/json",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "argocd-k8s-federate-plugin/dev (") {
		t.Errorf("User-Agent = %q, want the plugin's name and version", ua)
	}
	var tr map[string]any
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatalf("body: %v", err)
	}
	want := map[string]any{
		"apiVersion": "authentication.k8s.io/v1",
		"kind":       "TokenRequest",
		"spec": map[string]any{
			"audiences":         []any{"downstream-a"},
			"expirationSeconds": float64(3600),
			"boundObjectRef": map[string]any{
				"apiVersion": "v1", "kind": "Pod",
				"name": "argocd-application-controller-0", "uid": "b38f5a1e-87c3-4009-b2c6-755d83c4283d",
			},
		},
	}
	if diff := cmp.Diff(want, tr); diff != "" {
		t.Errorf("TokenRequest sent (-want +got):\n%s", diff)
	}
}

// TestTokenRequestInClusterURL: the URL is built from the kubelet's
// variables as client-go's rest.InClusterConfig builds it, an IPv6 address
// in brackets; nothing listens on port 1.
func TestTokenRequestInClusterURL(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	p := newPodFiles(t, t0, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	for host, want := range map[string]string{
		"127.0.0.1": "cannot reach the API server https://127.0.0.1:1: ",
		"::1":       "cannot reach the API server https://[::1]:1: ",
	} {
		t.Run(host, func(t *testing.T) {
			got := run([]string{"token-request", "--audience", "a", "--service-account-token-file", p.token, "--ca-file", p.ca},
				fakeEnv{vars: map[string]string{plugin.ServiceHostEnv: host, plugin.ServicePortEnv: "1"}, now: t0})
			checkFailure(t, got, []string{want, "a NetworkPolicy must allow egress to the kubernetes Service"}, p.raw)
		})
	}
}
