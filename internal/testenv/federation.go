package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Env is the control planes of one test: a directory (kept when the test
// fails) and one etcd that all its API servers share. It logs the test's
// wall time when the test ends.
type Env struct {
	Dir  string
	Etcd *Etcd

	tb    testing.TB
	start time.Time
}

// NewEnv makes the directory and starts etcd.
func NewEnv(tb testing.TB) *Env {
	tb.Helper()
	e := &Env{tb: tb, start: time.Now(), Dir: Dir(tb)}
	tb.Cleanup(func() { tb.Logf("wall time %v", time.Since(e.start).Round(time.Second)) })
	e.Etcd = StartEtcd(tb, e.Dir)
	return e
}

// UpstreamConfig is an upstream API server: the cluster ArgoCD runs in,
// whose service-account tokens downstreams trust.
type UpstreamConfig struct {
	Name string
	// ServiceAccounts are created in Namespace (ArgoCD's).
	Namespace       string
	ServiceAccounts []string
	// AnonymousDiscovery lets anonymous clients, as downstream API servers
	// are, read the issuer's discovery document and keys; without it the
	// issuer is private.
	AnonymousDiscovery bool
}

// StartUpstream starts an upstream API server and creates its service
// accounts.
func (e *Env) StartUpstream(cfg UpstreamConfig) *APIServer {
	tb := e.tb
	tb.Helper()
	a := StartAPIServer(tb, e.Dir, e.Etcd, APIServerConfig{Name: cfg.Name})
	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout())
	defer cancel()
	if cfg.AnonymousDiscovery {
		must(tb, a.AllowAnonymousDiscovery(ctx))
	}
	for _, sa := range cfg.ServiceAccounts {
		must(tb, a.CreateServiceAccount(ctx, cfg.Namespace, sa))
	}
	return a
}

// FederationConfig is a Federation config of one upstream and one
// downstream, with the fields the integration tests set. YAML renders it as
// the file an operator writes.
type FederationConfig struct {
	// Hub is upstream.name.
	Hub string
	// Issuer is upstream.issuer.
	Issuer string
	// DiscoveryURL, when set, is upstream.discoveryURL.
	DiscoveryURL string
	// CAFile is upstream.caFile: it verifies the issuer (or DiscoveryURL).
	CAFile string
	// TokenMountPath is upstream.token.mountPath, the directory of the token
	// files.
	TokenMountPath string
	// PluginDir, when set, is upstream.plugin.dir.
	PluginDir string
	// PluginImage is upstream.plugin.image.
	PluginImage string
	// TokenSource, when set, is upstream.token.source.
	TokenSource string

	// Downstream is downstreams[0].name; Federate sets it to the downstream
	// API server's name when empty.
	Downstream string
	// Server is downstreams[0].server; Federate sets it to the downstream
	// API server's URL when empty.
	Server string
	// DownstreamCAFile is downstreams[0].caFile; Federate sets it to the
	// downstream API server's CA file when empty.
	DownstreamCAFile string
	// Namespaces are downstreams[0].access.namespaces.
	Namespaces []string
	// Workloads are upstream.workloads, each granted in the downstream.
	Workloads []WorkloadConfig
	// IdentityProvider, when set, is upstream.identityProvider: the
	// downstream trusts that OpenID provider instead of the hub's issuer.
	IdentityProvider *IdentityProviderConfig
	// People, when set, is upstream.people, and its grant in the
	// downstream (access.people).
	People *PeopleConfig
}

// PeopleConfig is upstream.people and one group's grant in
// downstreams[0].access.people.
type PeopleConfig struct {
	// Issuer, CAFile and ClientID are the fields of the same names.
	Issuer, CAFile, ClientID string
	// Group is granted ClusterRole in Namespaces.
	Group, ClusterRole string
	Namespaces         []string
}

// IdentityProviderConfig is upstream.identityProvider.
type IdentityProviderConfig struct {
	// Issuer, CAFile, Grant (JWTBearer, ClientCredentials) and ClientID are
	// the fields of the same names.
	Issuer, CAFile, Grant, ClientID string
	// AssertionAudience is assertionAudience (JWTBearer).
	AssertionAudience string
}

// WorkloadConfig is an entry of upstream.workloads and its grant in
// downstreams[0].access.workloads.
type WorkloadConfig struct {
	Name, Namespace, Kind, ServiceAccount string
	// Namespaces and ClusterRole are its grant in the downstream.
	Namespaces  []string
	ClusterRole string
}

// YAML renders the config. Every string is a double-quoted scalar (JSON's
// quoting, which YAML reads the same), whatever it holds.
func (c FederationConfig) YAML() []byte {
	q := func(s string) string {
		b, _ := json.Marshal(s) // a string always marshals
		return string(b)
	}
	var b bytes.Buffer
	b.WriteString("apiVersion: argocd-k8s-federate.io/v1alpha1\nkind: Federation\nupstream:\n")
	fmt.Fprintf(&b, "  name: %s\n  issuer: %s\n", q(c.Hub), q(c.Issuer))
	if c.DiscoveryURL != "" {
		fmt.Fprintf(&b, "  discoveryURL: %s\n", q(c.DiscoveryURL))
	}
	fmt.Fprintf(&b, "  caFile: %s\n  token:\n    mountPath: %s\n", q(c.CAFile), q(c.TokenMountPath))
	if c.TokenSource != "" {
		fmt.Fprintf(&b, "    source: %s\n", q(c.TokenSource))
	}
	b.WriteString("  plugin:\n")
	if c.PluginDir != "" {
		fmt.Fprintf(&b, "    dir: %s\n", q(c.PluginDir))
	}
	fmt.Fprintf(&b, "    image: %s\n", q(c.PluginImage))
	list := func(items []string) string {
		quoted := make([]string, len(items))
		for i, s := range items {
			quoted[i] = q(s)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	if p := c.IdentityProvider; p != nil {
		fmt.Fprintf(&b, "  identityProvider:\n    issuer: %s\n    caFile: %s\n    grant: %s\n    clientID: %s\n", q(p.Issuer), q(p.CAFile), q(p.Grant), q(p.ClientID))
		if p.AssertionAudience != "" {
			fmt.Fprintf(&b, "    assertionAudience: %s\n", q(p.AssertionAudience))
		}
	}
	if p := c.People; p != nil {
		fmt.Fprintf(&b, "  people:\n    issuer: %s\n    caFile: %s\n    clientID: %s\n", q(p.Issuer), q(p.CAFile), q(p.ClientID))
	}
	if len(c.Workloads) > 0 {
		b.WriteString("  workloads:\n")
		for _, w := range c.Workloads {
			fmt.Fprintf(&b, "  - name: %s\n    namespace: %s\n    kind: %s\n    serviceAccount: %s\n", q(w.Name), q(w.Namespace), q(w.Kind), q(w.ServiceAccount))
		}
	}
	fmt.Fprintf(&b, "downstreams:\n- name: %s\n  server: %s\n  caFile: %s\n  access:\n    namespaces: %s\n", q(c.Downstream), q(c.Server), q(c.DownstreamCAFile), list(c.Namespaces))
	if p := c.People; p != nil {
		fmt.Fprintf(&b, "    people:\n    - group: %s\n      namespaces: %s\n      clusterRole: %s\n", q(p.Group), list(p.Namespaces), q(p.ClusterRole))
	}
	if len(c.Workloads) > 0 {
		b.WriteString("    workloads:\n")
		for _, w := range c.Workloads {
			fmt.Fprintf(&b, "    - name: %s\n      namespaces: %s\n      clusterRole: %s\n", q(w.Name), list(w.Namespaces), q(w.ClusterRole))
		}
	}
	return b.Bytes()
}

// Write writes the config to path.
func (c FederationConfig) Write(path string) error {
	return os.WriteFile(path, c.YAML(), 0o644)
}

// FederationSetup is what Federate needs: the configs of the upstreams a
// downstream trusts, and the two things this package leaves to the test,
// which each does its own way with its own libraries.
type FederationSetup struct {
	// Downstream names the downstream API server.
	Downstream string
	// Configs are the upstreams' configs, one file each.
	Configs []FederationConfig
	// OtherNamespaces are created in the downstream besides the granted
	// ones (access.namespaces), which the RBAC needs.
	OtherNamespaces []string
	// Out, when set, is where the tree is generated (default Dir/out).
	Out string
	// RunCLI runs the argocd-k8s-federate command line with args
	// ("generate -o OUT -f FILE..."), in-process or as a binary.
	RunCLI func(args ...string) error
	// YAMLToJSON converts a YAML document to JSON
	// (sigs.k8s.io/yaml's YAMLToJSONStrict).
	YAMLToJSON func(yaml []byte) ([]byte, error)
}

// Federation is a downstream API server running with the
// AuthenticationConfiguration generate wrote for its upstreams, with the
// built-in roles aggregated and the generated RBAC applied.
type Federation struct {
	Down *APIServer
	// Configs are the configs as written, the downstream's fields filled.
	Configs []FederationConfig
	// ConfigFiles are their files, in the same order.
	ConfigFiles []string
	// Out is the generated tree.
	Out string
	// RBAC are the objects of the generated downstream kustomization, as
	// created in the downstream.
	RBAC []Object
}

// Object is one Kubernetes object created through the REST API.
type Object struct {
	Kind, Namespace, Name string
	// JSON is the object as sent.
	JSON json.RawMessage
}

// Federate prepares the downstream API server, writes the configs with its
// URL and CA into Dir (<hub>.yaml), generates into Dir/out, starts the
// downstream with the generated AuthenticationConfiguration and its
// controller manager (for the built-in roles the RBAC binds to), creates the
// namespaces and applies the generated RBAC. It fails the test on any error.
func (e *Env) Federate(s FederationSetup) *Federation {
	tb := e.tb
	tb.Helper()
	if s.Downstream == "" || len(s.Configs) == 0 || s.RunCLI == nil || s.YAMLToJSON == nil {
		tb.Fatal("testenv.Federate needs Downstream, Configs, RunCLI and YAMLToJSON")
	}
	f := &Federation{Down: NewAPIServer(tb, e.Dir, e.Etcd, APIServerConfig{Name: s.Downstream}), Out: s.Out}
	if f.Out == "" {
		f.Out = filepath.Join(e.Dir, "out")
	}
	namespaces := append([]string(nil), s.OtherNamespaces...)
	for _, c := range s.Configs {
		if c.Downstream == "" {
			c.Downstream = s.Downstream
		}
		if c.Server == "" {
			c.Server = f.Down.URL
		}
		if c.DownstreamCAFile == "" {
			c.DownstreamCAFile = f.Down.CAFile
		}
		path := filepath.Join(e.Dir, c.Hub+".yaml")
		must(tb, c.Write(path))
		f.Configs = append(f.Configs, c)
		f.ConfigFiles = append(f.ConfigFiles, path)
		namespaces = append(namespaces, c.Namespaces...)
		for _, w := range c.Workloads {
			namespaces = append(namespaces, w.Namespaces...)
		}
		if c.People != nil {
			namespaces = append(namespaces, c.People.Namespaces...)
		}
	}
	args := []string{"generate", "-o", f.Out}
	for _, file := range f.ConfigFiles {
		args = append(args, "-f", file)
	}
	if err := s.RunCLI(args...); err != nil {
		tb.Fatalf("%s: %v", strings.Join(args, " "), err)
	}

	dir := filepath.Join(f.Out, "downstream", s.Downstream)
	objects, err := readKustomization(dir, s.YAMLToJSON)
	must(tb, err)
	f.Down.SetAuthenticationConfig(filepath.Join(dir, "apiserver", "authentication-config.yaml"))
	f.Down.Start()
	f.Down.StartControllerManager()

	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout())
	defer cancel()
	created := map[string]bool{}
	for _, ns := range namespaces {
		if !created[ns] {
			must(tb, f.Down.CreateNamespace(ctx, ns))
			created[ns] = true
		}
	}
	for _, o := range objects {
		if b, err := f.Down.Do(ctx, http.MethodPost, o.path+"?fieldValidation=Strict", o.JSON); err != nil {
			tb.Fatalf("create %s %s (from %s): %v: %s", o.Kind, o.Name, o.file, err, b)
		}
		f.RBAC = append(f.RBAC, o.Object)
	}
	tb.Logf("control planes ready after %v", time.Since(e.start).Round(time.Second))
	return f
}

// rbacResources are the kinds a generated downstream kustomization holds:
// their resource names and whether they are namespaced.
var rbacResources = map[string]struct {
	resource   string
	namespaced bool
}{
	"ClusterRole":        {"clusterroles", false},
	"ClusterRoleBinding": {"clusterrolebindings", false},
	"Role":               {"roles", true},
	"RoleBinding":        {"rolebindings", true},
}

type kustomizedObject struct {
	Object
	file, path string
}

// readKustomization reads the objects of every file a kustomization.yaml
// lists as resources, and where each is created.
func readKustomization(dir string, yamlToJSON func([]byte) ([]byte, error)) ([]kustomizedObject, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	js, err := yamlToJSON(data)
	if err == nil {
		err = json.Unmarshal(js, &k)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "kustomization.yaml"), err)
	}
	var out []kustomizedObject
	for _, file := range k.Resources {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			js, err := yamlToJSON([]byte(doc))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(js, &meta); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			r, ok := rbacResources[meta.Kind]
			if !ok || meta.APIVersion != "rbac.authorization.k8s.io/v1" {
				return nil, fmt.Errorf("%s: unexpected %s %q in the downstream RBAC", file, meta.APIVersion, meta.Kind)
			}
			if r.namespaced == (meta.Metadata.Namespace == "") {
				return nil, fmt.Errorf("%s: %s %s with namespace %q", file, meta.Kind, meta.Metadata.Name, meta.Metadata.Namespace)
			}
			path := "/apis/rbac.authorization.k8s.io/v1/" + r.resource
			if r.namespaced {
				path = "/apis/rbac.authorization.k8s.io/v1/namespaces/" + url.PathEscape(meta.Metadata.Namespace) + "/" + r.resource
			}
			out = append(out, kustomizedObject{
				Object: Object{Kind: meta.Kind, Namespace: meta.Metadata.Namespace, Name: meta.Metadata.Name, JSON: js},
				file:   file,
				path:   path,
			})
		}
	}
	return out, nil
}
