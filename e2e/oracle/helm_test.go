package oracle

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oracletest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// The argo-helm chart's names for a release called argocd.
const (
	helmController          = "argocd-application-controller"
	helmControllerContainer = "application-controller"
	helmServer              = "argocd-server"
	helmServerContainer     = "server"
)

// TestHelmChartWithGeneratedValues renders the real argo-helm argo-cd chart
// with helm's own engine, once with its defaults and once with the generated
// helm-values.yaml, and judges the result as the kustomize oracle judges the
// Component: the controller's and the server's pods gain the tokens and the
// plugin and keep everything else, argocd-cm gets respectRBAC, and the
// Secrets the chart renders from configs.clusterCredentials pass ArgoCD's
// own SecretToCluster with the same cluster, scoping and exec plugin.
func TestHelmChartWithGeneratedValues(t *testing.T) {
	root := oracletest.RepoRoot(t)
	bin := oracletest.BuildCLI(t, root)
	ch := argoCDChart(t)
	base := indexRendered(t, renderChart(t, ch, nil))
	for _, tc := range oracletest.Cases() {
		switch tc.Name {
		case "example", "token-request", "identity-provider-client", "identity-provider-jwt":
			// The example has namespaced, cluster-wide, labelled and
			// projected downstreams; token-request mixes both sources; the
			// identity provider's add the client secret and the CA.
		default:
			continue
		}
		out := oracletest.Generate(t, bin, root, tc.Config)
		values, err := os.ReadFile(filepath.Join(out, "upstream", tc.Upstream, "helm-values.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		built := indexRendered(t, renderChart(t, ch, values))
		for _, w := range []struct{ kind, name, container string }{
			{"StatefulSet", helmController, helmControllerContainer},
			{"Deployment", helmServer, helmServerContainer},
		} {
			t.Run(w.kind+"/"+w.name, func(t *testing.T) {
				id := resourceID{w.kind, oracletest.ArgoCDNamespace, w.name}
				b, ok := base[id]
				if !ok {
					t.Fatalf("the chart renders no %v", id)
				}
				g, ok := built[id]
				if !ok {
					t.Fatalf("the chart with the generated values renders no %v", id)
				}
				checkWorkload(t, tc, w.container, podSpec(t, b), podSpec(t, g))
			})
		}
		t.Run("extraObjects", func(t *testing.T) {
			// The token-request source's objects and the provider's CA,
			// rendered by the chart from extraObjects, exactly as the
			// Component's files hold them.
			var files []byte
			for _, name := range []string{"token-request.yaml", "token-audiences.yaml", "oidc-ca.yaml"} {
				b, err := os.ReadFile(filepath.Join(out, "upstream", tc.Upstream, name))
				if errors.Is(err, fs.ErrNotExist) {
					continue // the count below says whether it should be there
				}
				if err != nil {
					t.Fatal(err)
				}
				files = append(append(files, b...), "\n---\n"...)
			}
			want := indexRendered(t, string(files))
			// 2 Roles, 2 RoleBindings, the admission policy, its binding and
			// the audiences ConfigMap; the provider's CA ConfigMap.
			wantN := 0
			if tc.HasTokenRequest() {
				wantN += 7
			}
			if p := tc.IdentityProvider; p != nil && p.CAFile != "" {
				wantN++
			}
			if len(want) != wantN {
				t.Errorf("want %d objects (token-request's, the provider's CA); the files hold %d", wantN, len(want))
			}

			for id, doc := range want {
				g, ok := built[id]
				if !ok {
					t.Errorf("the chart renders no %v", id)
					continue
				}
				var w, gm map[string]any
				if err := yaml.Unmarshal(doc.YAML, &w); err != nil {
					t.Fatal(err)
				}
				if err := yaml.Unmarshal(g.YAML, &gm); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(w, gm); diff != "" {
					t.Errorf("%v as the chart renders it (-file +chart):\n%s", id, diff)
				}
			}
		})
		t.Run("argocd-cm", func(t *testing.T) {
			cm, ok := built[resourceID{"ConfigMap", oracletest.ArgoCDNamespace, "argocd-cm"}]
			if !ok || !strings.Contains(string(cm.YAML), "resource.respectRBAC: normal") {
				t.Errorf("argocd-cm lacks resource.respectRBAC: normal:\n%s", cm.YAML)
			}
		})
		for _, c := range tc.Clusters {
			t.Run("Secret/"+c.Name, func(t *testing.T) {
				doc, ok := built[resourceID{"Secret", oracletest.ArgoCDNamespace, "argocd-cluster-" + c.Name}]
				if !ok {
					t.Fatalf("the chart renders no Secret argocd-cluster-%s", c.Name)
				}
				s := &corev1.Secret{}
				if err := oracletest.DecodeStrict(doc, s); err != nil {
					t.Fatal(err)
				}
				oracletest.CheckClusterSecret(t, argoCDv2, "ArgoCD v2's", root, tc, c, oracletest.AsStored(s))

				// doctor takes the chart's Secret for the one the config
				// yields (the check that needs no cluster).
				file := filepath.Join(t.TempDir(), "secret.yaml")
				if err := os.WriteFile(file, doc.YAML, 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(bin, "doctor", "-f", filepath.Join(root, tc.Config), "--downstream", c.Name,
					"--secret", file, "--token-file", filepath.Join(t.TempDir(), "no-token"), "-o", "json")
				stdout, _ := cmd.Output()
				var rep struct {
					Checks []struct{ Check, Status, Message string }
				}
				if err := json.Unmarshal(stdout, &rep); err != nil {
					t.Fatalf("doctor -o json: %v\n%s", err, stdout)
				}
				found := false
				for _, r := range rep.Checks {
					if r.Check == "cluster-secret" {
						found = true
						if r.Status != "pass" {
							t.Errorf("doctor's cluster-secret check of the chart's Secret: %s: %s", r.Status, r.Message)
						}
					}
				}
				if !found {
					t.Errorf("doctor ran no cluster-secret check: %s", stdout)
				}
			})
		}
	}
}

// TestComponentOnHelmChartOutput is the post-renderer route: the Component,
// configured with the chart's names, built by kustomize over the chart's own
// output (whose objects all carry a namespace).
func TestComponentOnHelmChartOutput(t *testing.T) {
	root := oracletest.RepoRoot(t)
	bin := oracletest.BuildCLI(t, root)
	rendered := renderChart(t, argoCDChart(t), nil)
	cfg := writeShapeConfig(t, root, "helm", "    controller:\n      container: "+helmControllerContainer+"\n    server:\n      container: "+helmServerContainer+"\n")
	component := filepath.Join(oracletest.Generate(t, bin, root, cfg), "upstream", "hub")

	dir := filepath.Join(t.TempDir(), "argocd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifests := filepath.Join(t.TempDir(), "chart.yaml")
	if err := os.WriteFile(manifests, []byte(rendered), 0o644); err != nil {
		t.Fatal(err)
	}
	writeShapeKustomization(t, dir, manifests, component)
	built := indexResources(t, kustomizeBuild(t, dir))
	for _, w := range []struct{ kind, name, container string }{
		{"StatefulSet", helmController, helmControllerContainer},
		{"Deployment", helmServer, helmServerContainer},
	} {
		spec := podSpec(t, built[resourceID{w.kind, oracletest.ArgoCDNamespace, w.name}])
		main := container(spec.Containers, w.container)
		if main == nil || main.Image == "" || mount(main.VolumeMounts, "/var/run/secrets/argocd-k8s-federate") == nil || container(spec.InitContainers, "install-argocd-k8s-federate") == nil {
			t.Errorf("%s %s is not patched in its main container %s: %+v", w.kind, w.name, w.container, spec)
		}
		if len(spec.Containers) != 1 {
			t.Errorf("%s %s has containers %v, want only the chart's %s", w.kind, w.name, names(spec.Containers), w.container)
		}
	}

	// The default config names ArgoCD's manifests' containers: on the chart
	// the build fails at a guard instead of adding an image-less container.
	def := writeShapeConfig(t, root, "default", "")
	writeShapeKustomization(t, dir, manifests, filepath.Join(oracletest.Generate(t, bin, root, def), "upstream", "hub"))
	if _, err := krustyBuild(dir); err == nil || !strings.Contains(err.Error(), "is missing for replacement source") {
		t.Errorf("the default config on the chart's output: want a guard to fail the build, got %v", err)
	}
}

// argoCDChart loads the argo-helm argo-cd chart from the module proxy's zip
// of the argo-helm repository, without its redis-ha dependency (a chart
// repository this machine cannot reach).
func argoCDChart(t *testing.T) *chart.Chart {
	t.Helper()
	versions, err := testenv.Versions()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(moduleDir(t, "github.com/argoproj/argo-helm", versions["ARGO_HELM_VERSION"]), "charts", "argo-cd")
	ch, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("load the chart %s: %v", dir, err)
	}
	var deps []*chart.Dependency
	for _, d := range ch.Metadata.Dependencies {
		if d.Name != "redis-ha" {
			deps = append(deps, d)
		}
	}
	ch.Metadata.Dependencies = deps
	return ch
}

// renderChart renders the chart as release argocd in namespace argocd for
// Kubernetes 1.34, with extra values (YAML) over its defaults, and returns
// the manifests as one YAML stream.
func renderChart(t *testing.T, ch *chart.Chart, extra []byte) string {
	t.Helper()
	vals := map[string]any{}
	if extra != nil {
		v, err := chartutil.ReadValues(extra)
		if err != nil {
			t.Fatalf("the generated values are not YAML Helm reads: %v", err)
		}
		vals = v
	}
	vals["redis-ha"] = map[string]any{"enabled": false}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.34.4", Major: "1", Minor: "34"}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "argocd", Namespace: oracletest.ArgoCDNamespace, IsInstall: true}, caps)
	if err != nil {
		t.Fatalf("the chart refuses the values: %v", err)
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatalf("render the chart: %v", err)
	}
	var b strings.Builder
	for _, name := range oracletest.SortedKeys(files) {
		if !strings.HasSuffix(name, ".yaml") || strings.TrimSpace(files[name]) == "" {
			continue
		}
		b.WriteString("---\n# Source: " + name + "\n" + files[name] + "\n")
	}
	return b.String()
}

// indexRendered keys the chart's objects by kind, namespace and name.
func indexRendered(t *testing.T, stream string) map[resourceID]oracletest.Document {
	t.Helper()
	out := map[resourceID]oracletest.Document{}
	for _, doc := range oracletest.SplitDocuments(t, "chart", []byte(stream)) {
		var meta struct {
			Metadata struct{ Name, Namespace string } `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc.YAML, &meta); err != nil {
			t.Fatalf("the chart renders an object that is not YAML: %v\n%s", err, doc.YAML)
		}
		out[resourceID{doc.Kind, meta.Metadata.Namespace, meta.Metadata.Name}] = doc
	}
	return out
}

// krustyBuild is kustomize build, for a build that is meant to fail.
func krustyBuild(dir string) (resmap.ResMap, error) {
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
}
