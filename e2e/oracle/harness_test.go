package oracle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The main module, whose CLI these tests build and run.
const mainModule = "github.com/argocd-k8s-federate/argocd-k8s-federate"

// What a stock ArgoCD install and the generator's documented defaults give.
const (
	argocdNamespace  = "argocd"
	controllerName   = "argocd-application-controller"
	serverName       = "argocd-server"
	defaultMount     = "/var/run/secrets/argocd-k8s-federate"
	defaultPluginDir = "/var/run/argocd-k8s-federate"
	pluginBinary     = "argocd-k8s-federate-plugin"
	execAPIVersion   = "client.authentication.k8s.io/v1"
)

// federationCase is one federation config and, written out by hand from
// that config, what ArgoCD and kustomize must find in its generated tree.
// The expectations are deliberately not computed by the generator's code.
type federationCase struct {
	name   string // subtest name
	config string // path relative to the repository root
	// upstream is upstream.name: the output is under upstream/<upstream>/.
	upstream string
	issuer   string
	// command is the absolute path of the plugin inside the ArgoCD containers.
	command string
	// pluginDir is the emptyDir the init container installs the plugin
	// into; "" for delivery: Preinstalled (no init container).
	pluginDir string
	// image is the init container's image ("" for Preinstalled).
	image string
	// mountPath and expirationSeconds of the projected token volume.
	mountPath         string
	expirationSeconds int64
	// The ArgoCD service accounts the downstream RBAC binds.
	controllerSA, serverSA string
	clusters               []wantCluster
}

// wantCluster is one downstream as ArgoCD must see it.
type wantCluster struct {
	secretName string
	name       string
	server     string
	// caFile is the PEM the Secret's caData must hold, relative to the
	// repository root; "" means system roots (no caData).
	caFile         string
	audience       string
	tokenFile      string // the token's file name in mountPath
	usernamePrefix string
	// namespaces ArgoCD may deploy into; nil means cluster-wide access.
	namespaces []string
	project    string
	// labels and annotations the config asks for on the cluster Secret.
	labels      map[string]string
	annotations map[string]string
}

func (c wantCluster) clusterWide() bool { return c.namespaces == nil }

func (tc federationCase) tokenPath(c wantCluster) string { return tc.mountPath + "/" + c.tokenFile }

// audiences are the distinct audiences of the case's downstreams, sorted.
func (tc federationCase) audiences() []string {
	var out []string
	for _, c := range tc.clusters {
		if !slices.Contains(out, c.audience) {
			out = append(out, c.audience)
		}
	}
	sort.Strings(out)
	return out
}

// federationCases are the configs every oracle judges: the shipped example
// and the test configs in testdata/.
func federationCases() []federationCase {
	const td = "e2e/oracle/testdata/"
	const certs = td + "certs/"
	initContainer := func(tc federationCase) federationCase {
		tc.pluginDir = defaultPluginDir
		tc.command = defaultPluginDir + "/" + pluginBinary
		return tc
	}
	return []federationCase{
		initContainer(federationCase{
			name:              "example",
			config:            "examples/federation.yaml",
			upstream:          "hub",
			issuer:            "https://hub.k8s.example.com",
			image:             "ghcr.io/argocd-k8s-federate/argocd-k8s-federate-plugin:v0.1.0",
			mountPath:         defaultMount,
			expirationSeconds: 3600,
			controllerSA:      controllerName,
			serverSA:          serverName,
			clusters: []wantCluster{
				{
					secretName: "cluster-platform", name: "platform", server: "https://platform.k8s.example.com",
					audience: "platform", tokenFile: "platform", usernamePrefix: "argocd-hub:",
				},
				{
					secretName: "cluster-prod-eu", name: "prod-eu", server: "https://prod-eu.k8s.example.com:6443",
					caFile: "examples/certs/prod-eu-ca.crt", audience: "prod-eu", tokenFile: "prod-eu", usernamePrefix: "hub:",
					namespaces: []string{"shop", "payments"}, project: "production",
					labels: map[string]string{"env": "prod", "region": "eu"},
				},
				{
					secretName: "cluster-staging", name: "staging", server: "https://staging.k8s.example.com:6443",
					caFile: "examples/certs/staging-ca.crt", audience: "staging", tokenFile: "staging", usernamePrefix: "hub:",
					namespaces: []string{"shop"}, labels: map[string]string{"env": "staging"},
				},
			},
		}),
		initContainer(federationCase{
			name:              "namespaced",
			config:            td + "namespaced.yaml",
			upstream:          "hub-a",
			issuer:            "https://hub-a.example.net",
			image:             "registry.example.net/argocd-k8s-federate-plugin:v9.9.9",
			mountPath:         defaultMount,
			expirationSeconds: 3600,
			controllerSA:      controllerName,
			serverSA:          serverName,
			clusters: []wantCluster{
				{
					secretName: "cluster-alpha", name: "alpha", server: "https://alpha.example.net:6443",
					caFile: certs + "alpha-ca.crt", audience: "alpha", tokenFile: "alpha", usernamePrefix: "hub-a:",
					namespaces: []string{"web", "api"},
				},
				{
					// Inline CA: the same PEM as certs/beta-ca.crt.
					secretName: "cluster-beta", name: "beta", server: "https://beta.example.net",
					caFile: certs + "beta-ca.crt", audience: "https://beta.example.net/argocd",
					tokenFile: "https---beta.example.net-argocd", usernamePrefix: "federated-hub-a:",
					namespaces: []string{"jobs"},
				},
			},
		}),
		{
			name:              "clusterwide",
			config:            td + "clusterwide.yaml",
			upstream:          "hub-b",
			issuer:            "https://issuer.hub-b.example.net/cluster",
			command:           "/opt/argocd-k8s-federate/" + pluginBinary,
			pluginDir:         "/opt/argocd-k8s-federate",
			image:             "", // the default image: its tag is the CLI's version
			mountPath:         "/var/run/secrets/federation",
			expirationSeconds: 7200,
			controllerSA:      controllerName,
			serverSA:          serverName,
			clusters: []wantCluster{
				{
					secretName: "cluster-delta", name: "delta", server: "https://delta.example.net:6443",
					caFile: certs + "delta-ca.crt", audience: "delta", tokenFile: "delta", usernamePrefix: "hub-b:",
					namespaces: []string{"apps"},
				},
				{
					secretName: "cluster-gamma", name: "gamma", server: "https://gamma.example.net:6443",
					caFile: certs + "gamma-ca.crt", audience: "gamma", tokenFile: "gamma", usernamePrefix: "hub-b:",
				},
				{
					secretName: "cluster-public", name: "public", server: "https://api.public.example.com",
					audience: "public", tokenFile: "public", usernamePrefix: "hub-b:",
				},
			},
		},
		{
			name:              "preinstalled",
			config:            td + "preinstalled.yaml",
			upstream:          "hub-c",
			issuer:            "https://hub-c.example.net",
			command:           "/usr/local/bin/argocd-k8s-federate-plugin",
			mountPath:         defaultMount,
			expirationSeconds: 3600,
			controllerSA:      controllerName,
			serverSA:          serverName,
			clusters: []wantCluster{
				{
					secretName: "cluster-alpha", name: "alpha", server: "https://alpha.example.net:6443",
					caFile: certs + "alpha-ca.crt", audience: "alpha", tokenFile: "alpha", usernamePrefix: "hub-c:",
					namespaces: []string{"web"},
				},
				{
					secretName: "cluster-gamma", name: "gamma", server: "https://gamma.example.net:6443",
					caFile: certs + "gamma-ca.crt", audience: "gamma", tokenFile: "gamma", usernamePrefix: "hub-c:",
				},
			},
		},
		initContainer(federationCase{
			name:              "shared-audience",
			config:            td + "shared-audience.yaml",
			upstream:          "fleet",
			issuer:            "https://fleet.example.net",
			mountPath:         defaultMount,
			expirationSeconds: 600,
			controllerSA:      controllerName,
			serverSA:          serverName,
			clusters: []wantCluster{
				{
					secretName: "cluster-alpha", name: "alpha", server: "https://alpha.example.net:6443",
					caFile: certs + "alpha-ca.crt", audience: "argocd-fleet.example.net", tokenFile: "argocd-fleet.example.net",
					usernamePrefix: "fleet:", namespaces: []string{"web"},
				},
				{
					secretName: "cluster-beta", name: "beta", server: "https://beta.example.net",
					caFile: certs + "beta-ca.crt", audience: "argocd-fleet.example.net", tokenFile: "argocd-fleet.example.net",
					usernamePrefix: "fleet:", namespaces: []string{"web", "batch"},
				},
				{
					secretName: "cluster-gamma", name: "gamma", server: "https://gamma.example.net:6443",
					caFile: certs + "gamma-ca.crt", audience: "argocd-fleet.example.net", tokenFile: "argocd-fleet.example.net",
					usernamePrefix: "fleet:", namespaces: []string{"web"},
				},
			},
		}),
		initContainer(federationCase{
			name:              "project-labels",
			config:            td + "project-labels.yaml",
			upstream:          "hub-d",
			issuer:            "https://hub-d.example.net",
			mountPath:         defaultMount,
			expirationSeconds: 3600,
			controllerSA:      "argocd-controller-federated",
			serverSA:          "argocd-server-federated",
			clusters: []wantCluster{
				{
					secretName: "alpha-cluster", name: "alpha", server: "https://alpha.example.net:6443",
					caFile: certs + "alpha-ca.crt", audience: "alpha", tokenFile: "alpha", usernamePrefix: "hub-d:",
					namespaces: []string{"web", "api", "batch"}, project: "team-alpha",
					labels:      map[string]string{"env": "prod", "example.net/region": "eu-west-1", "tier": "1"},
					annotations: map[string]string{"example.net/owner": "team-alpha@example.net"},
				},
				{
					secretName: "cluster-delta", name: "delta", server: "https://delta.example.net:6443",
					caFile: certs + "delta-ca.crt", audience: "delta", tokenFile: "delta", usernamePrefix: "hub-d:",
					namespaces: []string{"apps"}, project: "team-delta",
					labels: map[string]string{"env": "staging"},
				},
			},
		}),
	}
}

// repoRoot is the main module's directory: two levels above this package
// (go test runs a package's tests in its directory).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatalf("find the repository root: %v", err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatalf("the repository root %s has no readable go.mod (these tests must run from e2e/oracle in a checkout): %v", root, err)
	}
	if !bytes.Contains(gomod, []byte("module "+mainModule+"\n")) {
		t.Fatalf("%s/go.mod is not module %s", root, mainModule)
	}
	return root
}

// goCommand is the go tool that runs these tests.
func goCommand(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the CLI and to find ArgoCD's install manifests: %v", err)
	}
	return gobin
}

// buildCLI builds the main module's CLI into a temporary directory.
func buildCLI(t *testing.T, root string) string {
	t.Helper()
	readInputs(t, root)
	bin := filepath.Join(t.TempDir(), "argocd-k8s-federate")
	cmd := exec.Command(goCommand(t), "build", "-o", bin, "./cmd/argocd-k8s-federate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the CLI (go build ./cmd/argocd-k8s-federate in %s): %v\n%s", root, err, out)
	}
	return bin
}

// readInputs reads every file of the main module that can change what the
// CLI generates. go test caches a passing result until a file the test
// opened changes; the CLI is built and run in other processes, whose reads
// it does not see, so the test reads the sources itself.
func readInputs(t *testing.T, root string) {
	t.Helper()
	oracleData := filepath.Join(root, "e2e", "oracle", "testdata")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || p == filepath.Join(root, "e2e") || p == filepath.Join(root, "manifests")) {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".mod", ".sum", ".yaml", ".yml", ".json", ".crt", ".pem", ".txt", ".tmpl":
			_, err := os.ReadFile(p)
			return err
		}
		return nil
	})
	if err == nil {
		err = filepath.WalkDir(oracleData, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				_, err = os.ReadFile(p)
			}
			return err
		})
	}
	if err != nil {
		t.Fatalf("read the main module's sources: %v", err)
	}
}

// generate runs `generate -f CONFIG -o DIR` and returns DIR.
func generate(t *testing.T, bin, root, config string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(bin, "generate", "-f", filepath.Join(root, config), "-o", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("argocd-k8s-federate generate -f %s: %v\n%s", config, err, stderr.String())
	}
	return out
}

// document is one YAML document of a file.
type document struct {
	file string // for messages
	yaml []byte
	kind string
	api  string
}

// readDocuments splits a YAML stream into its documents, skipping empty ones
// (comments only).
func readDocuments(t *testing.T, file string) []document {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return splitDocuments(t, file, data)
}

func splitDocuments(t *testing.T, name string, data []byte) []document {
	t.Helper()
	var docs []document
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: not YAML: %v", name, err)
		}
		if string(bytes.TrimSpace(js)) == "null" {
			continue
		}
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, document{file: name, yaml: doc, kind: tm.Kind, api: tm.APIVersion})
	}
}

// strictDeserializer decodes YAML into the real API types the way the API
// server does with fieldValidation=Strict: unknown fields, fields in the
// wrong case and duplicate fields are errors.
var strictDeserializer = sync.OnceValue(func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
})

// decodeStrict decodes a document into a typed object strictly, so our
// output cannot drift from the real type.
func decodeStrict(doc document, into runtime.Object) error {
	if _, _, err := strictDeserializer().Decode(doc.yaml, nil, into); err != nil {
		return fmt.Errorf("%s: %s %s does not decode strictly into %T: %w", doc.file, doc.api, doc.kind, into, err)
	}
	return nil
}

// clusterSecrets reads every Secret of the upstream Component, keyed by
// name, in the form the API server stores: stringData merged into data.
func clusterSecrets(t *testing.T, out, upstream string) map[string]*corev1.Secret {
	t.Helper()
	dir := filepath.Join(out, "upstream", upstream)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML files in %s (%v)", dir, err)
	}
	secrets := map[string]*corev1.Secret{}
	for _, f := range files {
		for _, doc := range readDocuments(t, f) {
			if doc.kind != "Secret" {
				continue
			}
			s := &corev1.Secret{}
			if err := decodeStrict(doc, s); err != nil {
				t.Error(err)
				continue
			}
			if doc.api != "v1" {
				t.Errorf("%s: Secret %s has apiVersion %q, want v1", f, s.Name, doc.api)
			}
			if _, dup := secrets[s.Name]; dup {
				t.Errorf("%s: Secret %s is generated twice", f, s.Name)
			}
			secrets[s.Name] = asStored(s)
		}
	}
	return secrets
}

// asStored is what the API server makes of a Secret: stringData is written
// into data (and wins over it) and is never returned.
func asStored(s *corev1.Secret) *corev1.Secret {
	s = s.DeepCopy()
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	return s
}

// readPEM reads a CA file of the want table.
func readPEM(t *testing.T, root, file string) string {
	t.Helper()
	if file == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sortedKeys lists a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestDecodeStrictRefusesUnknownFields proves decodeStrict would notice a
// field the real type does not have.
func TestDecodeStrictRefusesUnknownFields(t *testing.T) {
	for name, y := range map[string]string{
		"unknown field":   "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringDatum: {a: b}\n",
		"wrong case":      "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringdata: {a: b}\n",
		"duplicate field": "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ntype: Opaque\ntype: Opaque\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := decodeStrict(document{file: name, yaml: []byte(y)}, &corev1.Secret{}); err == nil {
				t.Error("decodeStrict accepted it")
			}
		})
	}
}
