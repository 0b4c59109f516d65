// Package integration proves that the federation works against real
// Kubernetes API servers: kube-apiserver and etcd processes built from the
// pinned versions, trust and RBAC from the generator's output, the plugin
// binary driven by client-go's exec authenticator from the rest.Config that
// ArgoCD's own code builds from the generated cluster Secret.
package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/util/db"
	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

const (
	argocdNS       = "argocd"
	controllerSA   = "argocd-application-controller"
	serverSA       = "argocd-server"
	unprivilegedSA = "unprivileged"
	allowedNS      = "apps"
	otherNS        = "other"
)

// env is the set of control planes every scenario runs against: two hubs
// (hub-a, hub-b) that the downstream trusts through the generated
// AuthenticationConfiguration, and a third (hub-c) that it does not.
type env struct {
	dir              string
	hubA, hubB, hubC *testenv.APIServer
	down             *testenv.APIServer
	downAdmin        *kubernetes.Clientset
	// out is the generated tree; pluginDir and tokenDir are the "pod" paths
	// the generated cluster Secrets point at.
	out, pluginDir, tokenDir string
	// configs are the hubs' federation configs as written.
	configs []testenv.FederationConfig
}

func TestIntegration(t *testing.T) {
	e := setup(t)
	t.Run("ControllerIdentity", e.testControllerIdentity)
	t.Run("ServerIdentity", e.testServerIdentity)
	t.Run("Refusals", e.testRefusals)
	t.Run("Rotation", e.testRotation)
	t.Run("MultiHub", e.testMultiHub)
	t.Run("TokenRequest", e.testTokenRequest)
}

func setup(t *testing.T) *env {
	te := testenv.NewEnv(t)
	e := &env{dir: te.Dir}
	startHub := func(name string) *testenv.APIServer {
		return te.StartUpstream(testenv.UpstreamConfig{
			Name: name, Namespace: argocdNS, ServiceAccounts: []string{controllerSA, serverSA, unprivilegedSA}, AnonymousDiscovery: true,
		})
	}
	e.hubA, e.hubB, e.hubC = startHub("hub-a"), startHub("hub-b"), startHub("hub-c")

	// The downstream trusts hub-a and hub-b: one federation config each,
	// generated together; otherNS exists and is granted to nobody.
	e.pluginDir = filepath.Join(e.dir, "pod", "plugin")
	e.tokenDir = filepath.Join(e.dir, "pod", "tokens")
	var configs []testenv.FederationConfig
	for _, hub := range []*testenv.APIServer{e.hubA, e.hubB} {
		configs = append(configs, testenv.FederationConfig{
			Hub:            hub.Name,
			Issuer:         hub.URL,
			CAFile:         hub.CAFile,
			TokenMountPath: e.tokenDir,
			PluginDir:      e.pluginDir,
			PluginImage:    "argocd-k8s-federate-plugin:test",
			Namespaces:     []string{allowedNS},
		})
	}
	fed := te.Federate(testenv.FederationSetup{
		Downstream:      "down",
		Configs:         configs,
		OtherNamespaces: []string{otherNS},
		RunCLI: func(args ...string) error {
			return command(cli(t), args...)
		},
		YAMLToJSON: yaml.YAMLToJSONStrict,
	})
	e.down, e.out, e.configs = fed.Down, fed.Out, fed.Configs
	e.downAdmin = adminClient(t, e.down)

	// The init container's job: install the plugin where the Secrets expect
	// it, into the (emptyDir) volume mounted there.
	must(t, os.MkdirAll(e.pluginDir, 0o755))
	run(t, plugin(t), "install", "--to", e.pluginDir)
	return e
}

// restConfig is what ArgoCD builds from the generated cluster Secret of
// hub's federation, with its own code (util/db, RawRestConfig).
func (e *env) restConfig(t *testing.T, hub string) *rest.Config {
	t.Helper()
	return restConfigFrom(t, e.out, hub)
}

// restConfigFrom is restConfig for the tree generated into out.
func restConfigFrom(t *testing.T, out, hub string) *rest.Config {
	t.Helper()
	return restConfigFor(t, out, hub, "down")
}

// restConfigFor is what ArgoCD builds from the cluster Secret of downstream
// down in the tree generated into out.
func restConfigFor(t *testing.T, out, hub, down string) *rest.Config {
	t.Helper()
	cluster, err := db.SecretToCluster(generatedSecret(t, filepath.Join(out, "upstream", hub, "cluster-"+down+".yaml")))
	must(t, err)
	cfg, err := cluster.RawRestConfig()
	must(t, err)
	if cfg.ExecProvider == nil || cfg.BearerToken != "" {
		t.Fatalf("ArgoCD's rest.Config is not exec-based: %+v", cfg)
	}
	return cfg
}

// kubelet writes a fresh token of hub's service account sa, with the
// audience of the downstream, where the projected volume would hold it.
func (e *env) kubelet(t *testing.T, hub *testenv.APIServer, sa, tokenFile string) string {
	t.Helper()
	tok, err := hub.RequestToken(context.Background(), argocdNS, sa, "down", 600)
	must(t, err)
	must(t, testenv.WriteTokenFile(tokenFile, tok))
	return tok
}

func (e *env) testControllerIdentity(t *testing.T) {
	ctx := context.Background()
	e.kubelet(t, e.hubA, controllerSA, filepath.Join(e.tokenDir, "down"))
	c, err := kubernetes.NewForConfig(e.restConfig(t, "hub-a"))
	must(t, err)

	want := "hub-a:system:serviceaccount:argocd:argocd-application-controller"
	if got := whoami(t, c); got != want {
		t.Fatalf("SelfSubjectReview username = %q, want %q", got, want)
	}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "federated"}, Data: map[string]string{"k": "v"}}
	if _, err := c.CoreV1().ConfigMaps(allowedNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ConfigMap in %s: %v", allowedNS, err)
	}
	must(t, c.CoreV1().ConfigMaps(allowedNS).Delete(ctx, cm.Name, metav1.DeleteOptions{}))
	dep := deployment("federated")
	if _, err := c.AppsV1().Deployments(allowedNS).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Deployment in %s: %v", allowedNS, err)
	}
	must(t, c.AppsV1().Deployments(allowedNS).Delete(ctx, dep.Name, metav1.DeleteOptions{}))

	_, err = c.CoreV1().ConfigMaps(otherNS).Create(ctx, cm, metav1.CreateOptions{})
	assertForbidden(t, "create ConfigMap in "+otherNS, err)
	_, err = c.AppsV1().Deployments(otherNS).List(ctx, metav1.ListOptions{})
	assertForbidden(t, "list Deployments in "+otherNS, err)
	_, err = c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	assertForbidden(t, "list Namespaces (cluster-wide)", err)
	_, err = c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "escalate"}}, metav1.CreateOptions{})
	assertForbidden(t, "create ClusterRole", err)
}

func (e *env) testServerIdentity(t *testing.T) {
	// argocd-server's pod: the same Secret, its own token in its own volume.
	serverTokens := filepath.Join(e.dir, "server-pod", "tokens", "down")
	e.kubelet(t, e.hubA, serverSA, serverTokens)
	cfg := e.restConfig(t, "hub-a")
	cfg.ExecProvider.Args = replaceArg(t, cfg.ExecProvider.Args, "--file", serverTokens)
	c, err := kubernetes.NewForConfig(cfg)
	must(t, err)

	if got, want := whoami(t, c), "hub-a:system:serviceaccount:argocd:argocd-server"; got != want {
		t.Fatalf("SelfSubjectReview username = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		attrs authzv1.ResourceAttributes
		want  bool
	}{
		{authzv1.ResourceAttributes{Namespace: allowedNS, Verb: "list", Resource: "pods"}, true},
		{authzv1.ResourceAttributes{Namespace: allowedNS, Verb: "get", Resource: "pods", Subresource: "log"}, true},
		{authzv1.ResourceAttributes{Namespace: allowedNS, Verb: "watch", Group: "apps", Resource: "deployments"}, true},
		{authzv1.ResourceAttributes{Namespace: allowedNS, Verb: "list", Resource: "events"}, true},
		{authzv1.ResourceAttributes{Namespace: allowedNS, Verb: "create", Group: "apps", Resource: "deployments"}, false},
		{authzv1.ResourceAttributes{Namespace: allowedNS, Verb: "delete", Resource: "pods"}, false},
		{authzv1.ResourceAttributes{Namespace: allowedNS, Verb: "get", Resource: "secrets"}, false},
		{authzv1.ResourceAttributes{Namespace: otherNS, Verb: "list", Resource: "pods"}, false},
		{authzv1.ResourceAttributes{Verb: "list", Resource: "nodes"}, false},
	} {
		r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(),
			&authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &tc.attrs}}, metav1.CreateOptions{})
		must(t, err)
		if r.Status.Allowed != tc.want {
			t.Errorf("server may %s %s/%s in %q: allowed=%v, want %v", tc.attrs.Verb, tc.attrs.Resource, tc.attrs.Subresource, tc.attrs.Namespace, r.Status.Allowed, tc.want)
		}
	}
}

func (e *env) testRefusals(t *testing.T) {
	ctx := context.Background()
	bearer := func(tok string) *kubernetes.Clientset {
		cfg := &rest.Config{Host: e.down.URL, BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: e.down.CAPEM}}
		c, err := kubernetes.NewForConfig(cfg)
		must(t, err)
		return c
	}
	mint := func(hub *testenv.APIServer, sa, aud string) string {
		tok, err := hub.RequestToken(ctx, argocdNS, sa, aud, 600)
		must(t, err)
		return tok
	}

	t.Run("OtherAudience", func(t *testing.T) {
		_, err := bearer(mint(e.hubA, controllerSA, "somewhere-else")).CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
		assertUnauthorized(t, err)
	})
	t.Run("TamperedSignature", func(t *testing.T) {
		tok := mint(e.hubA, controllerSA, "down")
		i := strings.LastIndexByte(tok, '.') + 5
		flipped := map[byte]byte{'A': 'B'}[tok[i]]
		if flipped == 0 {
			flipped = 'A'
		}
		tampered := tok[:i] + string(flipped) + tok[i+1:]
		_, err := bearer(tampered).CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
		assertUnauthorized(t, err)
	})
	// A valid token of the trusted hub, for the right audience, but of a
	// service account that is not ArgoCD's: the claimValidationRules refuse
	// it at authentication, so it is not even system:authenticated.
	t.Run("OtherServiceAccountOfTheHub", func(t *testing.T) {
		c := bearer(mint(e.hubA, unprivilegedSA, "down"))
		_, err := c.CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
		assertUnauthorized(t, err)
		_, err = c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
		assertUnauthorized(t, err)
	})
	t.Run("UntrustedIssuer", func(t *testing.T) {
		_, err := bearer(mint(e.hubC, controllerSA, "down")).CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
		assertUnauthorized(t, err)
	})
}

// testRotation replaces the token file with freshly minted tokens while one
// client keeps sending requests: none may be refused, and the client must
// pick the new tokens up (the plugin runs again).
func (e *env) testRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tokenFile := filepath.Join(e.dir, "rotation", "down")
	e.kubelet(t, e.hubA, controllerSA, tokenFile)

	cfg := e.restConfig(t, "hub-a")
	cfg.ExecProvider.Args = replaceArg(t, cfg.ExecProvider.Args, "--file", tokenFile)
	// Tokens from TokenRequest live at least 10 minutes; a skew of all but
	// 3 s of that brings the plugin's expiry (exp - skew) within seconds, as
	// the rotation point of a short-lived token would, and a 2 s poll
	// interval stands for the 30 s one while the file is not yet replaced.
	cfg.ExecProvider.Args = append(cfg.ExecProvider.Args, "--skew", "597s", "--poll-interval", "2s")
	// Count the plugin's runs with a wrapper around it.
	runs := filepath.Join(e.dir, "rotation", "runs")
	wrapper := filepath.Join(e.dir, "rotation", "plugin")
	must(t, os.WriteFile(wrapper, []byte("#!/bin/sh\necho run >> "+runs+"\nexec "+cfg.ExecProvider.Command+" \"$@\"\n"), 0o755))
	cfg.ExecProvider.Command = wrapper
	c, err := kubernetes.NewForConfig(cfg)
	must(t, err)

	var requests, refused atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := c.CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
			requests.Add(1)
			if err != nil {
				refused.Add(1)
				t.Errorf("request %d refused: %v", requests.Load(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	tokens := map[string]bool{}
	for range 4 {
		time.Sleep(4 * time.Second)
		tokens[e.kubelet(t, e.hubA, controllerSA, tokenFile)] = true
	}
	time.Sleep(4 * time.Second)
	close(stop)
	<-done
	data, _ := os.ReadFile(runs)
	n := strings.Count(string(data), "run")
	t.Logf("%d requests through 4 token rotations, %d refused, plugin ran %d times", requests.Load(), refused.Load(), n)
	if n < 4 {
		t.Errorf("the plugin ran %d times in %d rotations: client-go did not pick up the new tokens", n, len(tokens))
	}
}

// testTokenRequest: hub-a's config with upstream.token.source TokenRequest.
// The cluster Secret ArgoCD parses runs token-request: client-go execs the
// plugin, which asks hub-a's TokenRequest API for a token of the pod's own
// service account bound to the pod, and down sees exactly the controller's
// prefixed user. Before the generated Role is applied the plugin's error
// names it; with the generated admission policy, an audience of no
// downstream is refused by hub-a itself.
func (e *env) testTokenRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := e.configs[0]
	cfg.TokenSource = "TokenRequest"
	file := filepath.Join(e.dir, "hub-a-token-request.yaml")
	must(t, cfg.Write(file))
	out := filepath.Join(e.dir, "out-token-request")
	run(t, cli(t), "generate", "-o", out, "-f", file)

	// The controller's pod and its own token, as the kubelet mounts it.
	podTokenFile := filepath.Join(e.dir, "controller-pod", "serviceaccount", "token")
	_, err := e.hubA.StartPod(ctx, argocdNS, "argocd-application-controller-0", controllerSA, podTokenFile)
	must(t, err)

	rc := restConfigFrom(t, out, "hub-a")
	if len(rc.ExecProvider.Args) == 0 || rc.ExecProvider.Args[0] != "token-request" {
		t.Fatalf("the cluster Secret runs %q, want token-request", rc.ExecProvider.Args)
	}
	// Outside a pod: what the in-pod defaults would be.
	rc.ExecProvider.Args = append(rc.ExecProvider.Args,
		"--api-server", e.hubA.URL, "--service-account-token-file", podTokenFile, "--ca-file", e.hubA.CAFile)
	pluginRun := func(args []string) (string, error) {
		b, err := exec.Command(rc.ExecProvider.Command, args...).CombinedOutput()
		return string(b), err
	}

	if out, err := pluginRun(rc.ExecProvider.Args); err == nil || !strings.Contains(out, "apply the Role argocd-k8s-federate-token-argocd-application-controller and its RoleBinding") {
		t.Errorf("without the generated Role: err %v, %s", err, out)
	}
	for _, f := range []string{"token-request.yaml", "token-audiences.yaml"} {
		data, err := os.ReadFile(filepath.Join(out, "upstream", "hub-a", f))
		must(t, err)
		must(t, e.hubA.ApplyYAML(ctx, data, yaml.YAMLToJSONStrict))
	}
	// RBAC and the policy reach the API server's caches asynchronously.
	var last string
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := pluginRun(append(replaceArg(t, rc.ExecProvider.Args, "--audience", "not-a-downstream"), "--issuer", e.hubA.URL))
		if err != nil && strings.Contains(out, "admission refused") {
			if !strings.Contains(out, "argocd-k8s-federate-token-audiences") {
				t.Errorf("the admission refusal does not name the audiences ConfigMap: %s", out)
			}
			break
		}
		last = out
		if time.Now().After(deadline) {
			t.Fatalf("an audience of no downstream is not refused by admission after a minute: %s", last)
		}
		time.Sleep(time.Second)
	}

	c, err := kubernetes.NewForConfig(rc)
	must(t, err)
	if got, want := whoami(t, c), "hub-a:system:serviceaccount:argocd:argocd-application-controller"; got != want {
		t.Fatalf("SelfSubjectReview username through token-request = %q, want %q", got, want)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "via-token-request"}}
	if _, err := c.CoreV1().ConfigMaps(allowedNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ConfigMap in %s through token-request: %v", allowedNS, err)
	}
	must(t, c.CoreV1().ConfigMaps(allowedNS).Delete(ctx, cm.Name, metav1.DeleteOptions{}))
	_, err = c.CoreV1().ConfigMaps(otherNS).Create(ctx, cm, metav1.CreateOptions{})
	assertForbidden(t, "create ConfigMap in "+otherNS+" through token-request", err)
}

func (e *env) testMultiHub(t *testing.T) {
	ctx := context.Background()
	tokenFile := filepath.Join(e.dir, "hub-b-pod", "tokens", "down")
	e.kubelet(t, e.hubB, controllerSA, tokenFile)
	cfg := e.restConfig(t, "hub-b")
	cfg.ExecProvider.Args = replaceArg(t, cfg.ExecProvider.Args, "--file", tokenFile)
	c, err := kubernetes.NewForConfig(cfg)
	must(t, err)
	if got, want := whoami(t, c), "hub-b:system:serviceaccount:argocd:argocd-application-controller"; got != want {
		t.Fatalf("hub-b's controller is %q, want %q", got, want)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "from-hub-b"}}
	if _, err := c.CoreV1().ConfigMaps(allowedNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("hub-b's controller cannot create in %s: %v", allowedNS, err)
	}
	// And hub-a still works beside it.
	e.kubelet(t, e.hubA, controllerSA, filepath.Join(e.tokenDir, "down"))
	a, err := kubernetes.NewForConfig(e.restConfig(t, "hub-a"))
	must(t, err)
	if got, want := whoami(t, a), "hub-a:system:serviceaccount:argocd:argocd-application-controller"; got != want {
		t.Fatalf("hub-a's controller is %q, want %q", got, want)
	}
}

func whoami(t *testing.T, c *kubernetes.Clientset) string {
	t.Helper()
	r, err := c.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectReview: %v", err)
	}
	return r.Status.UserInfo.Username
}

func assertForbidden(t *testing.T, what string, err error) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: want 403 Forbidden, got %v", what, err)
	}
}

func assertUnauthorized(t *testing.T, err error) {
	t.Helper()
	if !apierrors.IsUnauthorized(err) {
		t.Errorf("want 401 Unauthorized, got %v", err)
	}
}

func replaceArg(t *testing.T, args []string, flag, value string) []string {
	t.Helper()
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == flag && i+1 < len(out) {
			out[i+1] = value
			return out
		}
	}
	t.Fatalf("no %s in %q", flag, args)
	return nil
}

func deployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}}},
			},
		},
	}
}

func adminClient(t *testing.T, a *testenv.APIServer) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", a.Kubeconfig)
	must(t, err)
	c, err := kubernetes.NewForConfig(cfg)
	must(t, err)
	return c
}

var (
	cliPath, pluginPath string
	// binDir holds the binaries for the whole run: a test's TempDir would
	// go with the test that built them first.
	binDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "argocd-k8s-federate-integration-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli and plugin build the project's binaries once per test run.
func cli(t *testing.T) string {
	if cliPath == "" {
		cliPath = build(t, "./cmd/argocd-k8s-federate")
	}
	return cliPath
}

// plugin is the plugin binary, with its token-request half beside it.
func plugin(t *testing.T) string {
	if pluginPath == "" {
		pluginPath = build(t, "./cmd/argocd-k8s-federate-plugin")
		half := build(t, "./cmd/argocd-k8s-federate-token-request")
		must(t, os.Rename(half, filepath.Join(filepath.Dir(pluginPath), filepath.Base(half))))
	}
	return pluginPath
}

func build(t *testing.T, pkg string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	must(t, err)
	out := filepath.Join(binDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func run(t *testing.T, bin string, args ...string) {
	t.Helper()
	must(t, command(bin, args...))
}

// command runs bin; its error carries the command line and the output.
func command(bin string, args ...string) error {
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, b)
	}
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
