package oracle

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oracletest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// TestComponentOnEveryUpstreamShape builds the generated Component with
// kustomize on every way ArgoCD's own manifests install it, v2 and v3: the
// build either patches the workloads that run (the controller, and the
// server where there is one) or fails, naming what it could not find. A
// build that succeeds with the running controller unpatched is the one
// outcome not allowed.
func TestComponentOnEveryUpstreamShape(t *testing.T) {
	root := oracletest.RepoRoot(t)
	bin := oracletest.BuildCLI(t, root)
	versions, err := testenv.Versions()
	if err != nil {
		t.Fatal(err)
	}
	modules := map[string]string{
		"v2": moduleDir(t, "github.com/argoproj/argo-cd/v2", versions["ARGOCD_VERSION"]),
		"v3": moduleDir(t, "github.com/argoproj/argo-cd/v3", versions["ARGOCD_V3_MANIFESTS_VERSION"]),
	}
	// The shapes: a file of manifests, or a kustomize directory.
	shapes := []struct{ name, path string }{
		{"install", "manifests/install.yaml"},
		{"ha-install", "manifests/ha/install.yaml"},
		{"namespace-install", "manifests/namespace-install.yaml"},
		{"core-install", "manifests/core-install.yaml"},
		{"controller-deployment", "manifests/ha/base/controller-deployment"},
	}
	// The configs, and the shapes each must build on; on the others the
	// build must fail with one of the guards' errors.
	configs := []struct {
		name, argocd string
		builds       []string
		controller   string // kind of the running controller
		server       bool
	}{
		{"default", "", []string{"install", "ha-install", "namespace-install"}, "StatefulSet", true},
		{"core", "    server:\n      enabled: false\n", []string{"install", "ha-install", "namespace-install", "core-install"}, "StatefulSet", false},
		{"controller-deployment", "    controller:\n      kind: Deployment\n", []string{"controller-deployment"}, "Deployment", true},
	}
	for _, c := range configs {
		out := oracletest.Generate(t, bin, root, writeShapeConfig(t, root, c.name, c.argocd))
		component := filepath.Join(out, "upstream", "hub")
		for version, mod := range modules {
			for _, s := range shapes {
				t.Run(fmt.Sprintf("%s/%s/%s", c.name, version, s.name), func(t *testing.T) {
					dir := filepath.Join(t.TempDir(), "argocd")
					writeShapeKustomization(t, dir, filepath.Join(mod, s.path), component)
					m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
					mustBuild := contains(c.builds, s.name)
					switch {
					case err != nil && mustBuild:
						t.Fatalf("kustomize build failed: %v", err)
					case err != nil:
						if msg := err.Error(); !strings.Contains(msg, "nothing selected by") && !strings.Contains(msg, "is missing for replacement source") {
							t.Fatalf("the build failed, but not at a guard of the Component: %v", err)
						}
						return
					case !mustBuild:
						t.Fatalf("kustomize build succeeded on a shape the config does not describe; what it patched:\n%s", summarize(t, indexResources(t, m)))
					}
					built := indexResources(t, m)
					checkRunningWorkload(t, built, c.controller, oracletest.ControllerName)
					if c.server {
						checkRunningWorkload(t, built, "Deployment", oracletest.ServerName)
					}
					// No pod template anywhere gained an image-less container.
					for id, doc := range built {
						if id.kind != "StatefulSet" && id.kind != "Deployment" {
							continue
						}
						for _, ct := range podSpec(t, doc).Containers {
							if ct.Image == "" && !(id.kind == "StatefulSet" && s.name == "controller-deployment") {
								t.Errorf("%v has a container %s without an image", id, ct.Name)
							}
						}
					}
				})
			}
		}
	}
}

// checkRunningWorkload: the workload is patched: the plugin's init
// container, and the token volume mounted in its main container, which
// keeps its image.
func checkRunningWorkload(t *testing.T, built map[resourceID]oracletest.Document, kind, name string) {
	t.Helper()
	doc, ok := built[resourceID{kind, oracletest.ArgoCDNamespace, name}]
	if !ok {
		t.Fatalf("the build has no %s %s", kind, name)
	}
	spec := podSpec(t, doc)
	if init := container(spec.InitContainers, "install-argocd-k8s-federate"); init == nil {
		t.Errorf("%s %s: no init container install-argocd-k8s-federate", kind, name)
	}
	main := container(spec.Containers, name)
	if main == nil || main.Image == "" {
		t.Fatalf("%s %s: its main container %s is missing or has no image: %+v", kind, name, name, spec.Containers)
	}
	if mount(main.VolumeMounts, "/var/run/secrets/argocd-k8s-federate") == nil {
		t.Errorf("%s %s: the token volume is not mounted in %s", kind, name, name)
	}
}

// summarize lists the workloads of a build and whether they are patched.
func summarize(t *testing.T, built map[resourceID]oracletest.Document) string {
	var b strings.Builder
	for id, doc := range built {
		if id.kind == "StatefulSet" || id.kind == "Deployment" {
			patched := container(podSpec(t, doc).InitContainers, "install-argocd-k8s-federate") != nil
			fmt.Fprintf(&b, "  %v patched=%v\n", id, patched)
		}
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// writeShapeConfig writes a federation config of one namespaced downstream
// with the given lines under upstream.argocd, and returns its path relative
// to the repository root (as generate takes it).
func writeShapeConfig(t *testing.T, root, name, argocd string) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := filepath.Abs(filepath.Join(root, "examples", "certs", "prod-eu-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := "apiVersion: argocd-k8s-federate.io/v1alpha1\nkind: Federation\nupstream:\n  name: hub\n  issuer: https://hub.k8s.example.com\n  caFile: " + ca + "\n"
	if argocd != "" {
		cfg += "  argocd:\n" + argocd
	}
	cfg += "downstreams:\n- name: prod-eu\n  server: https://prod-eu.k8s.example.com:6443\n  caFile: " + ca + "\n  access:\n    namespaces: [shop]\n"
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(root, filepath.Join(dir, name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// writeShapeKustomization is the GitOps repository's kustomization: ArgoCD
// from a manifests file or a kustomize directory, the namespace, and the
// Component.
func writeShapeKustomization(t *testing.T, dir, manifests, component string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	res := manifests
	if strings.HasSuffix(manifests, ".yaml") {
		data, err := os.ReadFile(manifests)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "argocd.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		res = "argocd.yaml"
	} else {
		// krusty takes a directory outside this one by a relative path.
		rel, err := filepath.Rel(dir, manifests)
		if err != nil {
			t.Fatal(err)
		}
		res = rel
	}
	rel, err := filepath.Rel(dir, component)
	if err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + oracletest.ArgoCDNamespace + "\nresources:\n- " + res + "\ncomponents:\n- " + rel + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
}

// moduleDir is the directory of a module version in the module cache,
// downloaded from the Go module proxy when it is not there.
func moduleDir(t *testing.T, module, version string) string {
	t.Helper()
	if version == "" {
		t.Fatalf("no version of %s in scripts/versions.env", module)
	}
	out, err := exec.Command(oracletest.GoCommand(t), "mod", "download", "-json", module+"@"+version).Output()
	var mod struct{ Dir string }
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s@%s (the Go module proxy must be reachable): %v\n%s", module, version, err, out)
	}
	return mod.Dir
}
