package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Etcd is one etcd server; several API servers share it under their own
// --etcd-prefix.
type Etcd struct {
	URL string
	*process
}

// StartEtcd starts etcd in dir and waits until it serves.
func StartEtcd(tb testing.TB, dir string) *Etcd {
	tb.Helper()
	bin := Binary(tb, "etcd")
	client, peer := FreePort(tb), FreePort(tb)
	url := "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	p := startProcess(tb, "etcd", filepath.Join(dir, "etcd.log"), bin,
		"--name=test",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+url, "--advertise-client-urls="+url,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=test="+peerURL,
		"--unsafe-no-fsync",
	)
	e := &Etcd{URL: url, process: p}
	p.waitReady(tb, startTimeout(), func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
	return e
}

// APIServerConfig configures one kube-apiserver.
type APIServerConfig struct {
	// Name identifies the control plane (logs, etcd prefix, files).
	Name string
	// AuthenticationConfig is a file for --authentication-config.
	AuthenticationConfig string
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
}

// APIServer is one running kube-apiserver with its own CA (serving and
// client), its own service-account issuer (its https URL) and signing key.
type APIServer struct {
	Name string
	// URL is https://127.0.0.1:<port>; also the service-account issuer.
	URL string
	// CAPEM is the CA of the serving certificate (and of client certs).
	CAPEM []byte
	// CAFile holds CAPEM.
	CAFile string
	// Kubeconfig is an admin (system:masters) kubeconfig file.
	Kubeconfig string
	// Dir holds the API server's files and log.
	Dir string

	tb    testing.TB
	etcd  *Etcd
	cfg   APIServerConfig
	port  int
	ca    *CA
	admin tls.Certificate
	proc  *process
}

// StartAPIServer starts a kube-apiserver on etcd and waits until it is
// ready.
func StartAPIServer(tb testing.TB, dir string, etcd *Etcd, cfg APIServerConfig) *APIServer {
	tb.Helper()
	a := NewAPIServer(tb, dir, etcd, cfg)
	a.Start()
	return a
}

// NewAPIServer prepares a kube-apiserver (port, certificates, keys,
// kubeconfig) without starting it, so that its URL and CA can go into
// configuration it needs at start-up.
func NewAPIServer(tb testing.TB, dir string, etcd *Etcd, cfg APIServerConfig) *APIServer {
	tb.Helper()
	a := &APIServer{Name: cfg.Name, Dir: filepath.Join(dir, cfg.Name), tb: tb, etcd: etcd, cfg: cfg, port: FreePort(tb)}
	a.URL = "https://127.0.0.1:" + strconv.Itoa(a.port)
	must(tb, os.MkdirAll(a.Dir, 0o755))

	ca, err := NewCA(cfg.Name + "-ca")
	must(tb, err)
	a.ca, a.CAPEM, a.CAFile = ca, ca.CertPEM, filepath.Join(a.Dir, "ca.crt")
	writeFile(tb, a.CAFile, ca.CertPEM, 0o644)
	serving, servingKey, err := ca.Issue(cfg.Name, nil, []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	must(tb, err)
	writeFile(tb, filepath.Join(a.Dir, "serving.crt"), serving, 0o644)
	writeFile(tb, filepath.Join(a.Dir, "serving.key"), servingKey, 0o600)
	adminCert, adminKey, err := ca.Issue("admin", []string{"system:masters"}, nil, nil)
	must(tb, err)
	a.admin, err = tls.X509KeyPair(adminCert, adminKey)
	must(tb, err)
	a.Kubeconfig = filepath.Join(a.Dir, "admin.kubeconfig")
	writeFile(tb, a.Kubeconfig, kubeconfig(cfg.Name, a.URL, ca.CertPEM, adminCert, adminKey), 0o600)
	must(tb, WriteRSAKey(filepath.Join(a.Dir, "sa.key"), filepath.Join(a.Dir, "sa.pub")))
	return a
}

// SetAuthenticationConfig sets --authentication-config for the next Start.
func (a *APIServer) SetAuthenticationConfig(path string) { a.cfg.AuthenticationConfig = path }

// Start (re)starts the process with the same port, certificates and issuer.
func (a *APIServer) Start() {
	tb := a.tb
	tb.Helper()
	args := []string{
		"--advertise-address=127.0.0.1",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(a.port),
		"--etcd-servers=" + a.etcd.URL,
		"--etcd-prefix=/" + a.Name,
		"--cert-dir=" + filepath.Join(a.Dir, "certs"),
		"--tls-cert-file=" + filepath.Join(a.Dir, "serving.crt"),
		"--tls-private-key-file=" + filepath.Join(a.Dir, "serving.key"),
		"--client-ca-file=" + a.CAFile,
		"--service-account-issuer=" + a.URL,
		"--service-account-key-file=" + filepath.Join(a.Dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(a.Dir, "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/24",
		"--authorization-mode=RBAC",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--endpoint-reconciler-type=none",
	}
	if a.cfg.AuthenticationConfig != "" {
		args = append(args, "--authentication-config="+a.cfg.AuthenticationConfig)
	}
	args = append(args, a.cfg.ExtraArgs...)
	a.proc = startProcess(tb, a.Name, filepath.Join(a.Dir, "kube-apiserver.log"), Binary(tb, "kube-apiserver"), args...)
	a.proc.waitReady(tb, startTimeout(), func(ctx context.Context) error {
		b, err := a.Do(ctx, http.MethodGet, "/readyz", nil)
		if err != nil {
			return fmt.Errorf("%w: %s", err, b)
		}
		return nil
	})
}

// Stop stops the process; Start brings it back.
func (a *APIServer) Stop() { a.proc.stop() }

// RotateSigningKey replaces the service-account signing key (tokens signed
// with the old key stop verifying); restart the API server to use it.
func (a *APIServer) RotateSigningKey() {
	must(a.tb, WriteRSAKey(filepath.Join(a.Dir, "sa.key"), filepath.Join(a.Dir, "sa.pub")))
}

// ServiceAccountPublicKeyPEM is the PKIX PEM public key of the API server's
// current service-account signing key (JWKFromRSAPublicKeyPEM makes
// it a JWK with the kid of its tokens).
func (a *APIServer) ServiceAccountPublicKeyPEM() []byte {
	b, err := os.ReadFile(filepath.Join(a.Dir, "sa.pub"))
	must(a.tb, err)
	return b
}

// Log is the path of the API server's log.
func (a *APIServer) Log() string { return filepath.Join(a.Dir, "kube-apiserver.log") }

// HTTPClient is an admin client of this API server.
func (a *APIServer) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(a.CAPEM)
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs:      pool,
			Certificates: []tls.Certificate{a.admin},
		}},
	}
}

// Do sends an admin request with a JSON body (nil for none) and returns the
// response body; a status >= 300 is an error carrying the body.
func (a *APIServer) Do(ctx context.Context, method, path string, body any) ([]byte, error) {
	return doJSON(ctx, a.HTTPClient(), method, a.URL+path, body)
}

// doJSON sends a request with a JSON body (nil for none) and returns the
// response body; a status >= 300 is an error carrying the body.
func doJSON(ctx context.Context, c *http.Client, method, url string, body any) ([]byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return do(c, req)
}

// AllowAnonymousDiscovery lets unauthenticated clients (downstream API
// servers) read the issuer's discovery document and keys.
func (a *APIServer) AllowAnonymousDiscovery(ctx context.Context) error {
	_, err := a.Do(ctx, http.MethodPost, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "ClusterRoleBinding",
		"metadata":   map[string]any{"name": "service-account-issuer-discovery-anonymous"},
		"roleRef":    map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:service-account-issuer-discovery"},
		"subjects":   []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}},
	})
	if err != nil {
		return err
	}
	// The authorizer sees the binding once its informer has it: wait, so
	// that a downstream's first fetch is not refused.
	anon := a.HTTPClient()
	anon.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/.well-known/openid-configuration", nil)
		if err != nil {
			return err
		}
		resp, err := anon.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("anonymous discovery still refused: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func kubeconfig(name, server string, ca, cert, key []byte) []byte {
	enc := func(b []byte) string { return base64Std(b) }
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: %[1]s-admin
  user:
    client-certificate-data: %[4]s
    client-key-data: %[5]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[1]s-admin
current-context: %[1]s
`, name, server, enc(ca), enc(cert), enc(key))
}

// StartControllerManager runs kube-controller-manager against this API
// server with only the clusterrole-aggregation controller, which fills the
// built-in aggregated ClusterRoles (admin, edit, view) as in a real cluster,
// and waits until admin holds rules.
func (a *APIServer) StartControllerManager() {
	tb := a.tb
	tb.Helper()
	p := startProcess(tb, a.Name+"-controller-manager", filepath.Join(a.Dir, "kube-controller-manager.log"), Binary(tb, "kube-controller-manager"),
		"--kubeconfig="+a.Kubeconfig,
		"--controllers=clusterrole-aggregation",
		"--leader-elect=false",
		"--secure-port=0",
	)
	p.waitReady(tb, startTimeout(), func(ctx context.Context) error {
		b, err := a.Do(ctx, http.MethodGet, "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", nil)
		if err != nil {
			return err
		}
		var role struct {
			Rules []json.RawMessage `json:"rules"`
		}
		if err := json.Unmarshal(b, &role); err != nil {
			return err
		}
		if len(role.Rules) == 0 {
			return fmt.Errorf("ClusterRole admin not aggregated yet")
		}
		return nil
	})
}
