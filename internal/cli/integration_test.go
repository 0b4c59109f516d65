package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/doctor"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

const (
	controllerSA = "argocd-application-controller"
	controllerID = "hub:system:serviceaccount:argocd:" + controllerSA
	appsNS       = "apps"
)

// federation is a private upstream whose discovery is published to a static
// https server, and a downstream that trusts it through discoveryURL, all
// set up with the CLI: discovery publish, generate, then the generated
// RBAC and authentication configuration.
type federation struct {
	dir               string
	up, down          *testenv.APIServer
	fed               *testenv.Federation
	downAdmin         kubernetes.Interface
	static            *httptest.Server
	staticCA          string
	published         string // the directory the static server serves under base
	base              string
	config            string
	out               string
	tokenFile         string
	controllerBinding rbacv1.RoleBinding
}

// TestIntegrationDiscoveryAndDoctor runs discovery and doctor against real
// API servers: one etcd, an upstream that refuses anonymous discovery, and a
// downstream started with the generated AuthenticationConfiguration.
func TestIntegrationDiscoveryAndDoctor(t *testing.T) {
	e := setupFederation(t)
	t.Run("PublishedDiscovery", e.testPublishedDiscovery)
	t.Run("Doctor", e.testDoctor)
	t.Run("KeyRotation", e.testKeyRotation)
}

func setupFederation(t *testing.T) *federation {
	env := testenv.NewEnv(t)
	e := &federation{dir: env.Dir}
	e.up = env.StartUpstream(testenv.UpstreamConfig{Name: "up", Namespace: "argocd", ServiceAccounts: []string{controllerSA, "argocd-server"}})

	// The bucket: a static https server of a directory, under a path.
	e.published = filepath.Join(e.dir, "published")
	must(t, os.MkdirAll(e.published, 0o755))
	mux := http.NewServeMux()
	mux.Handle("/oidc/hub/", http.StripPrefix("/oidc/hub", http.FileServer(http.Dir(e.published))))
	e.static = httptest.NewUnstartedServer(mux)
	e.static.Config.ErrorLog = log.New(io.Discard, "", 0)
	e.static.StartTLS()
	t.Cleanup(e.static.Close)
	e.base = e.static.URL + "/oidc/hub"
	e.staticCA = filepath.Join(e.dir, "bucket-ca.crt")
	must(t, os.WriteFile(e.staticCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.static.Certificate().Raw}), 0o644))

	stdout, stderr, code := run(t, "discovery", "publish", "--kubeconfig", e.up.Kubeconfig, "--base-url", e.base, "-o", e.published)
	if code != 0 {
		t.Fatalf("discovery publish: %d\n%s", code, stderr)
	}
	wantLines := "upstream:\n  issuer: " + e.up.URL + "\n  discoveryURL: " + e.base + "/.well-known/openid-configuration\n"
	if !strings.Contains(stdout, wantLines) {
		t.Fatalf("discovery publish printed\n%s\nwant the lines\n%s", stdout, wantLines)
	}

	// The federation config, with the lines publish printed.
	e.tokenFile = filepath.Join(e.dir, "pod", "tokens", "down")
	e.fed = env.Federate(testenv.FederationSetup{
		Downstream: "down",
		Configs: []testenv.FederationConfig{{
			Hub:            "hub",
			Issuer:         e.up.URL,
			DiscoveryURL:   e.base + "/.well-known/openid-configuration",
			CAFile:         e.staticCA,
			TokenMountPath: filepath.Dir(e.tokenFile),
			PluginImage:    "argocd-k8s-federate-plugin:test",
			Namespaces:     []string{appsNS},
		}},
		RunCLI: func(args ...string) error {
			if _, stderr, code := run(t, args...); code != 0 {
				return fmt.Errorf("exit code %d: %s", code, stderr)
			}
			return nil
		},
		YAMLToJSON: yaml.YAMLToJSONStrict,
	})
	e.down, e.config, e.out = e.fed.Down, e.fed.ConfigFiles[0], e.fed.Out

	cfg, err := clientcmd.BuildConfigFromFlags("", e.down.Kubeconfig)
	must(t, err)
	e.downAdmin, err = kubernetes.NewForConfig(cfg)
	must(t, err)
	for _, o := range e.fed.RBAC {
		if o.Kind == "RoleBinding" && o.Namespace == appsNS && strings.HasSuffix(o.Name, ":controller") {
			must(t, json.Unmarshal(o.JSON, &e.controllerBinding))
		}
	}
	if e.controllerBinding.Name == "" {
		t.Fatal("no controller RoleBinding in the generated RBAC")
	}
	return e
}

// mint writes a fresh controller token for audience into the pod's token
// file and returns it.
func (e *federation) mint(t *testing.T, audience string) string {
	t.Helper()
	tok, err := e.up.RequestToken(context.Background(), "argocd", controllerSA, audience, 600)
	must(t, err)
	must(t, testenv.WriteTokenFile(e.tokenFile, tok))
	return tok
}

// whoami asks the downstream who the token is (SelfSubjectReview).
func (e *federation) whoami(token string) (string, error) {
	c, err := kubernetes.NewForConfig(&rest.Config{Host: e.down.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: e.down.CAPEM}})
	if err != nil {
		return "", err
	}
	r, err := c.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return r.Status.UserInfo.Username, nil
}

// eventually retries f until it returns nil or timeout passes; the API
// servers apply authentication and RBAC changes asynchronously.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (e *federation) testPublishedDiscovery(t *testing.T) {
	// The upstream is private: anonymous clients, as downstreams are, are
	// refused its discovery, and fetch says what to do.
	_, stderr, code := run(t, "discovery", "fetch", "--issuer", e.up.URL, "--issuer-ca", e.up.CAFile)
	if code != 1 || !strings.Contains(stderr, "the issuer refuses anonymous clients") {
		t.Errorf("anonymous fetch: code %d, %s", code, stderr)
	}
	stdout, stderr, code := run(t, "discovery", "fetch", "--kubeconfig", e.up.Kubeconfig)
	var fetched struct {
		Document struct {
			Issuer string `json:"issuer"`
		} `json:"openid-configuration"`
		JWKS struct {
			Keys []map[string]any `json:"keys"`
		} `json:"jwks"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &fetched) != nil || fetched.Document.Issuer != e.up.URL || len(fetched.JWKS.Keys) != 1 {
		t.Errorf("fetch: code %d, %+v\n%s", code, fetched, stderr)
	}

	// The downstream reads the published copy and accepts the upstream's
	// token as the prefixed user.
	tok := e.mint(t, "down")
	eventually(t, time.Minute, func() error {
		user, err := e.whoami(tok)
		if err == nil && user != controllerID {
			t.Fatalf("the downstream maps the token to %q, want %q", user, controllerID)
		}
		return err
	})

	stdout, stderr, code = run(t, "discovery", "check", "--kubeconfig", e.up.Kubeconfig, "--base-url", e.base, "--base-url-ca", e.staticCA)
	if code != 0 || !strings.HasPrefix(stdout, "in sync: "+e.base+" publishes the 1 live signing key(s) of issuer "+e.up.URL) {
		t.Errorf("check: code %d\n%s%s", code, stdout, stderr)
	}

	// Publishing again checks the config and a real token too.
	_, stderr, code = run(t, "discovery", "publish", "--kubeconfig", e.up.Kubeconfig, "--base-url", e.base, "-o", e.published,
		"-f", e.config, "--token-file", e.tokenFile)
	if code != 0 || !strings.Contains(stderr, e.config+" says what this set-up needs") {
		t.Errorf("publish -f: code %d\n%s", code, stderr)
	}
}

// doctorJSON runs doctor with -o json and returns the report and the exit
// code.
func doctorJSON(t *testing.T, args ...string) (*doctor.Report, int) {
	t.Helper()
	stdout, stderr, code := run(t, append([]string{"doctor", "-o", "json"}, args...)...)
	var r doctor.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("doctor -o json: %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}
	return &r, code
}

// failing lists the failing checks of a report, with their scopes.
func failing(r *doctor.Report) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == doctor.Fail {
			name := c.Check
			if c.Scope != "" {
				name += "[" + c.Scope + "]"
			}
			out = append(out, name)
		}
	}
	return out
}

// expectFailing runs doctor until exactly the checks want fail (the API
// servers apply changes asynchronously) and returns that report.
func expectFailing(t *testing.T, want []string, args ...string) *doctor.Report {
	t.Helper()
	var r *doctor.Report
	eventually(t, 30*time.Second, func() error {
		var code int
		r, code = doctorJSON(t, args...)
		got := failing(r)
		if strings.Join(got, ",") != strings.Join(want, ",") || (code == 0) != (len(want) == 0) {
			return fmt.Errorf("doctor: exit %d, failing %q, want %q; report:\n%s", code, got, want, reportText(r))
		}
		return nil
	})
	return r
}

func reportText(r *doctor.Report) string {
	var b strings.Builder
	r.WriteText(&b)
	return b.String()
}

func (e *federation) testDoctor(t *testing.T) {
	ctx := context.Background()
	e.mint(t, "down")

	t.Run("Healthy", func(t *testing.T) {
		stdout, stderr, code := run(t, "doctor", "-f", e.config, "--downstream", "down")
		if code != 0 || strings.Contains(stdout, "FAIL") || !strings.Contains(stdout, "12 checks: 11 passed, 0 failed, 1 skipped") {
			t.Fatalf("doctor: code %d\n%s%s", code, stdout, stderr)
		}
		// With the generated cluster Secret, every check runs.
		r := expectFailing(t, nil, "-f", e.config, "--secret", filepath.Join(e.out, "upstream", "hub", "cluster-down.yaml"))
		if r.Passed != 12 || !r.OK {
			t.Errorf("with the Secret: %d passed\n%s", r.Passed, reportText(r))
		}
	})

	t.Run("WrongAudienceMount", func(t *testing.T) {
		e.mint(t, "somewhere-else")
		defer e.mint(t, "down")
		r := expectFailing(t, []string{doctor.CheckTokenAudience}, "-f", e.config)
		res, _ := r.Result(doctor.CheckTokenAudience)
		if !strings.Contains(res.Message, `the token is for audience "somewhere-else", downstream down accepts "down"`) {
			t.Errorf("token-audience: %+v", res)
		}
	})

	t.Run("MissingRoleBinding", func(t *testing.T) {
		rb := e.controllerBinding
		must(t, e.downAdmin.RbacV1().RoleBindings(appsNS).Delete(ctx, rb.Name, metav1.DeleteOptions{}))
		defer func() {
			rb.ResourceVersion = ""
			_, err := e.downAdmin.RbacV1().RoleBindings(appsNS).Create(ctx, &rb, metav1.CreateOptions{})
			must(t, err)
			expectFailing(t, nil, "-f", e.config)
		}()
		r := expectFailing(t, []string{doctor.CheckRBAC + "[controller, " + appsNS + "]"}, "-f", e.config)
		res, _ := r.Result(doctor.CheckRBAC)
		if !strings.Contains(res.Fix, "RoleBinding "+rb.Name+" in namespace "+appsNS) {
			t.Errorf("rbac fix: %s", res.Fix)
		}
	})

	t.Run("WrongCA", func(t *testing.T) {
		c := e.fed.Configs[0]
		c.DownstreamCAFile = e.up.CAFile
		wrong := filepath.Join(e.dir, "wrong-ca.yaml")
		must(t, c.Write(wrong))
		r := expectFailing(t, []string{doctor.CheckDownstreamTLS}, "-f", wrong)
		res, _ := r.Result(doctor.CheckDownstreamTLS)
		if !strings.Contains(res.Message, "certificate signed by unknown authority") || !strings.Contains(res.Fix, "downstreams[down].caFile") {
			t.Errorf("downstream-tls: %+v", res)
		}
	})
}

// testKeyRotation restarts the upstream with a new signing key: the copy is
// stale until published again, and check, the downstream and doctor agree.
func (e *federation) testKeyRotation(t *testing.T) {
	e.up.Stop()
	e.up.RotateSigningKey()
	e.up.Start()
	tok := e.mint(t, "down")
	th, err := discovery.ParseTokenHeader(tok)
	must(t, err)
	newKID := th.KeyID

	stdout, stderr, code := run(t, "discovery", "check", "--kubeconfig", e.up.Kubeconfig, "--base-url", e.base, "--base-url-ca", e.staticCA)
	if code != 1 || !strings.Contains(stdout, "STALE: ") || !strings.Contains(stdout, "lacks 1 live signing key(s) of the upstream: "+newKID) ||
		!strings.Contains(stderr, "lacks the live key(s) "+newKID) {
		t.Errorf("check after rotation: code %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("discovery check after the rotation:\n%s%s", stdout, stderr)
	stdout, _, code = run(t, "discovery", "check", "--kubeconfig", e.up.Kubeconfig, "--base-url", e.base, "--base-url-ca", e.staticCA, "-o", "json")
	var c discovery.Comparison
	if err := json.Unmarshal([]byte(stdout), &c); err != nil || code != 1 || c.InSync || strings.Join(c.MissingKeyIDs, ",") != newKID {
		t.Errorf("check -o json after rotation: code %d, %v\n%s", code, err, stdout)
	}

	if _, err := e.whoami(tok); !apierrors.IsUnauthorized(err) {
		t.Errorf("the downstream with stale keys: %v, want 401 Unauthorized", err)
	}
	r := expectFailing(t, []string{doctor.CheckDiscoveryKeys, doctor.CheckDownstreamAuth}, "-f", e.config)
	t.Logf("doctor with stale published keys:\n%s", reportText(r))
	res, _ := r.Result(doctor.CheckDiscoveryKeys)
	if !strings.Contains(res.Message, "signed with key "+newKID) || !strings.Contains(res.Fix, "discovery publish --base-url "+e.base) {
		t.Errorf("discovery-keys: %+v", res)
	}

	if _, stderr, code := run(t, "discovery", "publish", "--kubeconfig", e.up.Kubeconfig, "--base-url", e.base, "-o", e.published, "-f", e.config); code != 0 {
		t.Fatalf("publish again: %s", stderr)
	}
	if stdout, stderr, code := run(t, "discovery", "check", "--kubeconfig", e.up.Kubeconfig, "--base-url", e.base, "--base-url-ca", e.staticCA); code != 0 {
		t.Errorf("check after publishing again: code %d\n%s%s", code, stdout, stderr)
	}
	eventually(t, time.Minute, func() error {
		_, err := e.whoami(tok)
		return err
	})
	expectFailing(t, nil, "-f", e.config)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
