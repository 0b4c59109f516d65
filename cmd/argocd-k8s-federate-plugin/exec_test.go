package main_test

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential/credentialtest"
)

// TestClientGoExec builds the real plugin binary and lets client-go's own
// exec authenticator run it against a TLS server that, like an API server,
// accepts a token it issued only while the token has not expired.
func TestClientGoExec(t *testing.T) {
	bin := buildPlugin(t)

	for _, apiVersion := range []string{credential.APIVersionV1, credential.APIVersionV1beta1} {
		t.Run(apiVersion, func(t *testing.T) {
			srv := newAPIServer(t)
			kl := credentialtest.NewKubelet(t, srv.key, time.Hour)
			kl.Rotate(t)
			client := srv.client(t, &clientcmdapi.ExecConfig{
				APIVersion: apiVersion,
				Command:    bin,
				Args:       []string{"token-file", "--file", kl.Path(), "--audience", "downstream-a"},
			})
			for range 3 {
				if code := get(t, client, srv.URL); code != http.StatusOK {
					t.Fatalf("GET = %d, want 200", code)
				}
			}
			if got := srv.stats(); got.refused != 0 || got.distinct != 1 || got.accepted != 3 {
				t.Errorf("server saw %+v, want 3 accepted requests with one token", got)
			}
		})
	}

	t.Run("expired token: the request fails with the plugin's error", func(t *testing.T) {
		srv := newAPIServer(t)
		tokenFile := filepath.Join(t.TempDir(), "token")
		claims := credentialtest.Claims("downstream-a", time.Now().Add(-2*time.Hour), time.Hour)
		if err := os.WriteFile(tokenFile, []byte(credentialtest.Signed(srv.key, claims)), 0o600); err != nil {
			t.Fatal(err)
		}
		client := srv.client(t, &clientcmdapi.ExecConfig{
			APIVersion: credential.APIVersionV1, Command: bin, Args: []string{"token-file", "--file", tokenFile},
		})
		resp, err := client.Get(srv.URL + "/api")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET succeeded with an expired token (status %d)", resp.StatusCode)
		}
		if !strings.Contains(err.Error(), "exit code 1") {
			t.Errorf("GET error = %v, want the plugin's exit code 1", err)
		}
		if got := srv.stats(); got.accepted+got.refused != 0 {
			t.Errorf("the server was called (%+v): client-go sent a request without a credential", got)
		}
	})

	// The file is replaced with a new token (as the kubelet does, a little
	// after 80% of the TTL) while the old one runs out and three clients keep
	// making requests side by side: the plugin asked for v1, for v1beta1,
	// and, for contrast, the hand-written bash script, which emits no expiry, so
	// client-go keeps its old token until a request is refused. The TTL is 10s instead of the kubelet's 600s
	// minimum, so --skew and --poll-interval shrink with it.
	t.Run("rotation", func(t *testing.T) {
		if testing.Short() {
			t.Skip("takes 13s")
		}
		dir := t.TempDir()
		srv := newAPIServer(t)
		kl := credentialtest.NewKubelet(t, srv.key, 10*time.Second)
		args := []string{"token-file", "--file", kl.Path(), "--audience", "downstream-a", "--skew", "1s", "--poll-interval", "1s"}
		plugins := map[string]*countingPlugin{}
		clients := map[string]*http.Client{}
		for _, v := range []string{credential.APIVersionV1, credential.APIVersionV1beta1} {
			plugins[v] = newCountingPlugin(t, filepath.Join(dir, path.Base(v)), bin)
			clients[v] = srv.client(t, &clientcmdapi.ExecConfig{APIVersion: v, Command: plugins[v].wrapper, Args: args})
		}
		const script = "bash script"
		clients[script] = srv.client(t, &clientcmdapi.ExecConfig{
			APIVersion: credential.APIVersionV1,
			Command:    "bash",
			Args:       []string{"-c", credentialtest.HandWrittenScript(kl.Path())},
		})

		got := runRotation(t, kl, srv.URL, clients)

		for v, p := range plugins {
			t.Run(v, func(t *testing.T) {
				st, runs := got[v], p.runs(t)
				t.Logf("%d requests accepted, %d refused, %d tokens, %d plugin runs", st.accepted, st.refused, st.distinct, runs)
				if st.refused != 0 {
					t.Errorf("%d requests refused, want 0", st.refused)
				}
				if st.distinct != 2 {
					t.Errorf("server accepted %d distinct tokens, want 2: the plugin was not re-run after the rotation", st.distinct)
				}
				// First run; at the rotation point (file not replaced yet: poll
				// for 1s); after it. A run on every request would be hundreds.
				if runs < 2 || runs > 6 {
					t.Errorf("the plugin ran %d times, want 2 to 6", runs)
				}
				if got, err := credential.ParseExecInfo(p.execInfo(t)); err != nil || got != v {
					t.Errorf("client-go's KUBERNETES_EXEC_INFO %q parsed as %q, %v; want %q", p.execInfo(t), got, err, v)
				}
			})
		}
		t.Run(script, func(t *testing.T) {
			st := got[script]
			t.Logf("%d requests accepted, %d refused, %d tokens", st.accepted, st.refused, st.distinct)
			if st.refused != 1 || st.distinct != 2 {
				t.Errorf("server saw %+v, want exactly 1 refused request (no expiry: client-go keeps the old token until a 401) and 2 tokens", st)
			}
		})
	})
}

// runRotation makes requests with each client every 50ms, concurrently, from
// before the first token's rotation point until 3s after its exp, while the
// kubelet replaces the file 300ms after the rotation point. It returns what
// the server saw of each client.
func runRotation(t *testing.T, kl *credentialtest.Kubelet, url string, clients map[string]*http.Client) map[string]serverStats {
	t.Helper()
	iat := kl.Rotate(t)
	rotateAt := iat.Add(kl.TTL * 8 / 10).Add(300 * time.Millisecond)
	end := iat.Add(kl.TTL + 3*time.Second)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(time.Until(rotateAt))
		kl.Rotate(t)
	}()
	var mu sync.Mutex
	stats := map[string]serverStats{}
	for name, client := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st serverStats
			tokens := map[string]bool{}
			for time.Now().Before(end) {
				resp, err := client.Get(url + "/api")
				if err != nil {
					t.Errorf("%s: GET: %v", name, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					st.accepted++
					tokens[resp.Header.Get("X-Token-Exp")] = true
				case http.StatusUnauthorized:
					st.refused++
				default:
					t.Errorf("%s: GET = %d", name, resp.StatusCode)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			st.distinct = len(tokens)
			mu.Lock()
			stats[name] = st
			mu.Unlock()
		}()
	}
	wg.Wait()
	return stats
}

// buildPlugin builds the plugin and, beside it as the image has it, the
// token-request half it execs.
func buildPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for pkg, name := range map[string]string{".": "argocd-k8s-federate-plugin", "../argocd-k8s-federate-token-request": "argocd-k8s-federate-token-request"} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, name), pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return filepath.Join(dir, "argocd-k8s-federate-plugin")
}

// countingPlugin is a shell wrapper that counts its runs, records
// KUBERNETES_EXEC_INFO and execs the plugin.
type countingPlugin struct{ wrapper, runsFile, infoFile string }

func newCountingPlugin(t *testing.T, dir, bin string) *countingPlugin {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &countingPlugin{
		wrapper:  filepath.Join(dir, "counting-plugin"),
		runsFile: filepath.Join(dir, "runs"),
		infoFile: filepath.Join(dir, "exec-info"),
	}
	script := fmt.Sprintf("#!/bin/sh\necho run >> '%s'\nprintf '%%s' \"$KUBERNETES_EXEC_INFO\" > '%s'\nexec '%s' \"$@\"\n", p.runsFile, p.infoFile, bin)
	if err := os.WriteFile(p.wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *countingPlugin) runs(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(p.runsFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

func (p *countingPlugin) execInfo(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(p.infoFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func get(t *testing.T, client *http.Client, url string) int {
	t.Helper()
	resp, err := client.Get(url + "/api")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// apiServer accepts a bearer token only if it signed it and only while the
// token has not expired, and counts what it saw from all its clients.
type apiServer struct {
	*httptest.Server
	key []byte

	mu       sync.Mutex
	accepted int
	refused  int
	tokens   map[string]bool
}

type serverStats struct{ accepted, refused, distinct int }

func newAPIServer(t *testing.T) *apiServer {
	s := &apiServer{key: []byte("test-signing-key-" + t.Name()), tokens: map[string]bool{}}
	s.Server = httptest.NewTLSServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	exp, err := credentialtest.Verify(s.key, tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || err != nil || !time.Now().Before(exp) {
		s.refused++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`)
		return
	}
	s.accepted++
	s.tokens[tok] = true
	// Tells the client which token was accepted (the tests' tokens differ in exp).
	w.Header().Set("X-Token-Exp", strconv.FormatInt(exp.Unix(), 10))
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"kind":"APIVersions","versions":["v1"]}`)
}

func (s *apiServer) stats() serverStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return serverStats{accepted: s.accepted, refused: s.refused, distinct: len(s.tokens)}
}

// client returns an HTTP client built by client-go from a rest.Config with
// the exec provider, as ArgoCD builds one from a cluster Secret.
func (s *apiServer) client(t *testing.T, ec *clientcmdapi.ExecConfig) *http.Client {
	t.Helper()
	ec.InteractiveMode = clientcmdapi.NeverExecInteractiveMode
	cfg := &rest.Config{
		Host:            s.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})},
		ExecProvider:    ec,
		Timeout:         10 * time.Second,
	}
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatalf("rest.HTTPClientFor: %v", err)
	}
	return c
}

// TestTokenRequestHalf: install copies the plugin and its token-request half
// together; without the half, token-request says what is missing.
func TestTokenRequestHalf(t *testing.T) {
	bin := buildPlugin(t)
	to := t.TempDir()
	out, err := exec.Command(bin, "install", "--to", to).CombinedOutput()
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	for _, name := range []string{"argocd-k8s-federate-token-request", "argocd-k8s-federate-plugin"} {
		if fi, err := os.Stat(filepath.Join(to, name)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("install --to %s: %s: %v %v", to, name, fi, err)
		}
	}

	alone := filepath.Join(t.TempDir(), "argocd-k8s-federate-plugin")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(alone, "token-request", "--audience", "a")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	want := "argocd-k8s-federate-plugin token-request: " + filepath.Join(filepath.Dir(alone), "argocd-k8s-federate-token-request") + " is missing: "
	if err == nil || stdout.Len() > 0 || !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("token-request without its half: err %v, stdout %q, stderr %q; want one line starting %q", err, stdout.String(), stderr.String(), want)
	}
	if out, err := exec.Command(alone, "install", "--to", t.TempDir()).CombinedOutput(); err == nil || !strings.Contains(string(out), "install argocd-k8s-federate-token-request, which token-request runs, from beside this binary") {
		t.Errorf("install without the half: err %v: %s", err, out)
	}
}
