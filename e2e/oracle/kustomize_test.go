package oracle

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v2/common"
	"github.com/argoproj/argo-cd/v2/util/db"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oracletest"
)

// argocdModule ships ArgoCD's install manifests; its version is the one
// this module requires (go.mod), the version the ArgoCD oracle runs.
const argocdModule = "github.com/argoproj/argo-cd/v2"

// builtinClusterRoles exist in every Kubernetes cluster.
var builtinClusterRoles = []string{"admin", "cluster-admin", "edit", "view"}

// TestKustomizeBuildsDownstreams builds every generated downstream
// kustomization with kustomize's krusty, decodes each object strictly into
// the RBAC API types, and checks the bindings: one RoleBinding per
// namespace and ArgoCD user with namespaced access, ClusterRoleBindings only
// with cluster-wide access, and every role they name either built in or in
// the same build.
func TestKustomizeBuildsDownstreams(t *testing.T) {
	root := oracletest.RepoRoot(t)
	bin := oracletest.BuildCLI(t, root)
	for _, tc := range oracletest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			out := oracletest.Generate(t, bin, root, tc.Config)
			dirs, err := filepath.Glob(filepath.Join(out, "downstream", "*"))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range dirs {
				got = append(got, filepath.Base(d))
			}
			var want []string
			for _, c := range tc.Clusters {
				want = append(want, c.Name)
			}
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("directories in downstream/ (-want +got):\n%s", diff)
			}
			for _, c := range tc.Clusters {
				t.Run(c.Name, func(t *testing.T) {
					dir := filepath.Join(out, "downstream", c.Name)
					m := kustomizeBuild(t, dir)
					checkDownstreamRBAC(t, tc, c, m)
				})
			}
		})
	}
}

// binding is one subject's grant, as the downstream API server sees it.
type binding struct {
	Kind      string // RoleBinding or ClusterRoleBinding
	Namespace string
	User      string
}

func checkDownstreamRBAC(t *testing.T, tc oracletest.Case, c oracletest.Downstream, m resmap.ResMap) {
	definedRoles := map[string]bool{}
	var roleRefs []rbacv1.RoleRef
	var got []binding
	for _, doc := range resmapDocuments(t, m) {
		switch doc.Kind {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			if err := oracletest.DecodeStrict(doc, &r); err != nil {
				t.Error(err)
				continue
			}
			definedRoles[r.Name] = true
			if len(r.Rules) == 0 && r.AggregationRule == nil {
				t.Errorf("ClusterRole %s grants nothing", r.Name)
			}
		case "RoleBinding":
			var b rbacv1.RoleBinding
			if err := oracletest.DecodeStrict(doc, &b); err != nil {
				t.Error(err)
				continue
			}
			if b.Namespace == "" {
				t.Errorf("RoleBinding %s has no namespace: kubectl apply -k would put it in the current namespace", b.Name)
			}
			roleRefs = append(roleRefs, b.RoleRef)
			for _, s := range b.Subjects {
				got = append(got, binding{"RoleBinding", b.Namespace, subjectUser(t, s)})
			}
		case "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			if err := oracletest.DecodeStrict(doc, &b); err != nil {
				t.Error(err)
				continue
			}
			roleRefs = append(roleRefs, b.RoleRef)
			for _, s := range b.Subjects {
				got = append(got, binding{"ClusterRoleBinding", "", subjectUser(t, s)})
			}
		default:
			t.Errorf("unexpected %s %s in the downstream kustomization", doc.API, doc.Kind)
		}
		if doc.API != "rbac.authorization.k8s.io/v1" {
			t.Errorf("%s has apiVersion %s, want rbac.authorization.k8s.io/v1", doc.Kind, doc.API)
		}
	}

	users := tc.Users(c)
	var want []binding
	for _, u := range users {
		if c.ClusterWide() {
			want = append(want, binding{"ClusterRoleBinding", "", u})
			continue
		}
		for _, ns := range c.Namespaces {
			want = append(want, binding{"RoleBinding", ns, u})
		}
	}
	for u, namespaces := range c.WorkloadUsers {
		if namespaces == nil {
			want = append(want, binding{"ClusterRoleBinding", "", u})
		}
		for _, ns := range namespaces {
			want = append(want, binding{"RoleBinding", ns, u})
		}
	}
	less := func(a, b binding) bool { return fmt.Sprint(a) < fmt.Sprint(b) }
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(less)); diff != "" {
		t.Errorf("bindings of the ArgoCD users and the workloads' (-want +got):\n%s", diff)
	}
	for _, ref := range roleRefs {
		if ref.APIGroup != rbacv1.GroupName || ref.Kind != "ClusterRole" {
			t.Errorf("roleRef %+v: want a ClusterRole of %s", ref, rbacv1.GroupName)
			continue
		}
		if !definedRoles[ref.Name] && !slices.Contains(builtinClusterRoles, ref.Name) {
			t.Errorf("roleRef names ClusterRole %q, which is neither built in nor in this kustomization", ref.Name)
		}
	}
}

func subjectUser(t *testing.T, s rbacv1.Subject) string {
	t.Helper()
	if s.Kind != rbacv1.UserKind || s.APIGroup != rbacv1.GroupName || s.Namespace != "" {
		t.Errorf("subject %+v: want a User of %s (the prefixed token subject)", s, rbacv1.GroupName)
	}
	return s.Name
}

// TestKustomizeComponentOnArgoCDInstall applies each generated upstream
// Component to ArgoCD's real install.yaml, the way a GitOps repository
// does (namespace: argocd, resources: [install.yaml], components: [...]),
// builds it with krusty and checks the controller StatefulSet and the
// server Deployment: the projected token volume (one source per audience),
// its read-only mount, the plugin's delivery, ArgoCD's own volumes and
// mounts untouched, and the cluster Secrets in ArgoCD's namespace, whose
// token file is the one the kubelet writes for their audience.
func TestKustomizeComponentOnArgoCDInstall(t *testing.T) {
	root := oracletest.RepoRoot(t)
	bin := oracletest.BuildCLI(t, root)
	install := argocdInstallManifest(t)

	baseDir := filepath.Join(t.TempDir(), "argocd")
	writeArgoCDKustomization(t, baseDir, install, "")
	base := indexResources(t, kustomizeBuild(t, baseDir))

	for _, tc := range oracletest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			out := oracletest.Generate(t, bin, root, tc.Config)
			dir := filepath.Join(t.TempDir(), "argocd")
			writeArgoCDKustomization(t, dir, install, filepath.Join(out, "upstream", tc.Upstream))
			built := indexResources(t, kustomizeBuild(t, dir))

			workloads := []struct{ kind, name string }{
				{"StatefulSet", oracletest.ControllerName},
				{"Deployment", oracletest.ServerName},
			}
			for _, w := range workloads {
				t.Run(w.kind+"/"+w.name, func(t *testing.T) {
					id := resourceID{w.kind, oracletest.ArgoCDNamespace, w.name}
					b, ok := base[id]
					if !ok {
						t.Fatalf("ArgoCD's install.yaml has no %v", id)
					}
					p, ok := built[id]
					if !ok {
						t.Fatalf("the build has no %v", id)
					}
					checkWorkload(t, tc, w.name, podSpec(t, b), podSpec(t, p))
				})
			}

			t.Run("cluster Secrets", func(t *testing.T) {
				checkBuiltSecrets(t, tc, built, podSpec(t, built[resourceID{"StatefulSet", oracletest.ArgoCDNamespace, oracletest.ControllerName}]))
			})

			t.Run("rest of install.yaml unchanged", func(t *testing.T) {
				anyNamespaced := false
				for _, c := range tc.Clusters {
					anyNamespaced = anyNamespaced || !c.ClusterWide()
				}
				for id, doc := range base {
					if id == (resourceID{"StatefulSet", oracletest.ArgoCDNamespace, oracletest.ControllerName}) || id == (resourceID{"Deployment", oracletest.ArgoCDNamespace, oracletest.ServerName}) {
						continue
					}
					if id == (resourceID{"ConfigMap", oracletest.ArgoCDNamespace, "argocd-cm"}) && anyNamespaced {
						// Namespaced downstreams need ArgoCD to skip the types
						// RBAC does not let it list there.
						if got := built[id]; !strings.Contains(string(got.YAML), "resource.respectRBAC: normal") {
							t.Errorf("argocd-cm lacks resource.respectRBAC: normal although a downstream is namespaced:\n%s", got.YAML)
						}
						continue
					}
					got, ok := built[id]
					if !ok {
						t.Errorf("%v from install.yaml is missing from the build", id)
						continue
					}
					if diff := cmp.Diff(string(doc.YAML), string(got.YAML)); diff != "" {
						t.Errorf("%v changed (-install.yaml +build):\n%s", id, diff)
					}
				}
				var added []string
				for id := range built {
					if _, ok := base[id]; !ok {
						added = append(added, fmt.Sprint(id))
					}
				}
				var want []string
				for _, c := range tc.Clusters {
					want = append(want, fmt.Sprint(resourceID{"Secret", oracletest.ArgoCDNamespace, c.SecretName}))
				}
				if p := tc.IdentityProvider; p != nil && p.CAFile != "" {
					// The provider's CA; never a Secret of the client's.
					want = append(want, fmt.Sprint(resourceID{"ConfigMap", oracletest.ArgoCDNamespace, oracletest.OIDCCAConfigMap}))
				}
				if tc.HasTokenRequest() {
					// The token-request source's objects. kustomize's namespace
					// transformer does not know that the admission policy and its
					// binding are cluster-scoped; the API server drops the field.
					policy := "argocd-k8s-federate-" + tc.Upstream + "-token-audiences"
					for _, id := range []resourceID{
						{"ConfigMap", oracletest.ArgoCDNamespace, "argocd-k8s-federate-token-audiences"},
						{"Role", oracletest.ArgoCDNamespace, "argocd-k8s-federate-token-" + tc.ControllerSA},
						{"RoleBinding", oracletest.ArgoCDNamespace, "argocd-k8s-federate-token-" + tc.ControllerSA},
						{"Role", oracletest.ArgoCDNamespace, "argocd-k8s-federate-token-" + tc.ServerSA},
						{"RoleBinding", oracletest.ArgoCDNamespace, "argocd-k8s-federate-token-" + tc.ServerSA},
						{"ValidatingAdmissionPolicy", oracletest.ArgoCDNamespace, policy},
						{"ValidatingAdmissionPolicyBinding", oracletest.ArgoCDNamespace, policy},
					} {
						want = append(want, fmt.Sprint(id))
					}
				}
				if diff := cmp.Diff(want, added, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
					t.Errorf("objects the Component adds to install.yaml (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// tokenSource is one serviceAccountToken projection.
type tokenSource struct {
	Audience          string
	ExpirationSeconds int64
}

func checkWorkload(t *testing.T, tc oracletest.Case, containerName string, base, got *corev1.PodSpec) {
	main := container(got.Containers, containerName)
	if main == nil {
		t.Fatalf("no container %s (the generated patch must name ArgoCD's main container)", containerName)
	}
	baseMain := container(base.Containers, containerName)
	if baseMain == nil {
		t.Fatalf("ArgoCD's install.yaml has no container %s", containerName)
	}

	var wantAdded []string
	if len(tc.Audiences()) == 0 {
		// Every downstream on token-request: no token volume at all.
		if m := mount(main.VolumeMounts, tc.MountPath); m != nil {
			t.Errorf("every downstream uses token-request, yet %s mounts %s at %s", containerName, m.Name, tc.MountPath)
		}
		for _, v := range got.Volumes {
			if v.Projected != nil && volume(base.Volumes, v.Name) == nil {
				t.Errorf("every downstream uses token-request, yet the patch adds the projected volume %s", v.Name)
			}
		}
	} else {
		wantAdded = append(wantAdded, checkTokenVolume(t, tc, containerName, main, got))
	}
	if tc.IdentityProvider != nil {
		wantAdded = append(wantAdded, checkIdentityProviderVolumes(t, tc, containerName, main, got)...)
	}

	// The plugin's delivery.
	newInit := added(base.InitContainers, got.InitContainers)
	if tc.PluginDir == "" {
		if len(newInit) > 0 {
			t.Errorf("delivery Preinstalled, yet the patch adds init containers %v", names(newInit))
		}
		if dir := path.Dir(tc.Command); mount(main.VolumeMounts, dir) != nil && mount(baseMain.VolumeMounts, dir) == nil {
			t.Errorf("delivery Preinstalled, yet something is mounted over %s, hiding the preinstalled plugin", dir)
		}
	} else {
		if path.Dir(tc.Command) != tc.PluginDir {
			t.Fatalf("test table: command %s is not in pluginDir %s", tc.Command, tc.PluginDir)
		}
		pluginMount := mount(main.VolumeMounts, tc.PluginDir)
		if pluginMount == nil {
			t.Fatalf("container %s mounts nothing at %s (plugin dir)", containerName, tc.PluginDir)
		}
		plugin := volume(got.Volumes, pluginMount.Name)
		if plugin == nil || plugin.EmptyDir == nil {
			t.Errorf("volume %q mounted at %s is not an emptyDir: %+v", pluginMount.Name, tc.PluginDir, plugin)
		}
		wantAdded = append(wantAdded, pluginMount.Name)
		if len(newInit) != 1 {
			t.Fatalf("want exactly one init container added, got %v", names(newInit))
		}
		ic := newInit[0]
		if diff := cmp.Diff([]string{"install", "--to", tc.PluginDir}, slices.Concat(ic.Command, ic.Args)); diff != "" {
			t.Errorf("init container %s command and args (-want +got):\n%s", ic.Name, diff)
		}
		if tc.Image != "" && ic.Image != tc.Image {
			t.Errorf("init container image = %q, want %q", ic.Image, tc.Image)
		}
		if ic.Image == "" {
			t.Errorf("init container %s has no image", ic.Name)
		}
		if m := mount(ic.VolumeMounts, tc.PluginDir); m == nil || m.Name != pluginMount.Name || m.ReadOnly {
			t.Errorf("init container %s must mount volume %s read-write at %s; mounts: %+v", ic.Name, pluginMount.Name, tc.PluginDir, ic.VolumeMounts)
		}
	}

	// The patch merges: ArgoCD's own volumes, mounts and containers stay.
	var gotAdded []string
	for _, v := range got.Volumes {
		if volume(base.Volumes, v.Name) == nil {
			gotAdded = append(gotAdded, v.Name)
		}
	}
	if diff := cmp.Diff(wantAdded, gotAdded, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("volumes the patch adds (-want +got):\n%s", diff)
	}
	for _, v := range base.Volumes {
		if diff := cmp.Diff(&v, volume(got.Volumes, v.Name)); diff != "" {
			t.Errorf("ArgoCD's volume %s changed (-install.yaml +build):\n%s", v.Name, diff)
		}
	}
	for _, m := range baseMain.VolumeMounts {
		if diff := cmp.Diff(&m, mount(main.VolumeMounts, m.MountPath)); diff != "" {
			t.Errorf("ArgoCD's mount at %s changed (-install.yaml +build):\n%s", m.MountPath, diff)
		}
	}
	for _, ic := range base.InitContainers {
		if diff := cmp.Diff(&ic, container(got.InitContainers, ic.Name)); diff != "" {
			t.Errorf("ArgoCD's init container %s changed (-install.yaml +build):\n%s", ic.Name, diff)
		}
	}
	for _, c := range base.Containers {
		g := container(got.Containers, c.Name)
		if g == nil {
			t.Errorf("ArgoCD's container %s is gone", c.Name)
			continue
		}
		c, g := c.DeepCopy(), g.DeepCopy()
		c.VolumeMounts, g.VolumeMounts = nil, nil
		if diff := cmp.Diff(c, g); diff != "" {
			t.Errorf("ArgoCD's container %s changed beyond its volume mounts (-install.yaml +build):\n%s", c.Name, diff)
		}
	}
	if len(got.Containers) != len(base.Containers) {
		t.Errorf("containers: install.yaml has %v, the build %v", names(base.Containers), names(got.Containers))
	}
	if got.ServiceAccountName != base.ServiceAccountName {
		t.Errorf("serviceAccountName changed from %q to %q", base.ServiceAccountName, got.ServiceAccountName)
	}
}

// checkIdentityProviderVolumes checks what the pods get for the identity
// provider: the user's Secret of the client secret (only its key, not
// optional) with client-credentials, the provider's CA ConfigMap unless it
// is publicly trusted, each mounted read-only where the plugin's arguments
// say. It returns the volumes' names.
func checkIdentityProviderVolumes(t *testing.T, tc oracletest.Case, containerName string, main *corev1.Container, got *corev1.PodSpec) []string {
	p := tc.IdentityProvider
	var names []string
	secretMount := mount(main.VolumeMounts, oracletest.ClientSecretDir)
	if !p.ClientCredentials() {
		if secretMount != nil {
			t.Errorf("grant %s, yet %s mounts %s at %s", p.Grant, containerName, secretMount.Name, oracletest.ClientSecretDir)
		}
	} else if secretMount == nil {
		t.Errorf("container %s mounts nothing at %s (the client secret)", containerName, oracletest.ClientSecretDir)
	} else {
		v := volume(got.Volumes, secretMount.Name)
		switch {
		case !secretMount.ReadOnly:
			t.Errorf("the client secret is mounted read-write")
		case v == nil || v.Secret == nil:
			t.Errorf("volume %s at %s is not a Secret volume: %+v", secretMount.Name, oracletest.ClientSecretDir, v)
		case v.Secret.SecretName != p.SecretName || len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != p.SecretKey || v.Secret.Items[0].Path != p.SecretKey:
			t.Errorf("client secret volume %+v: want Secret %s, only its key %s", v.Secret, p.SecretName, p.SecretKey)
		case v.Secret.Optional != nil && *v.Secret.Optional:
			t.Errorf("the client secret volume is optional: a pod without the Secret would start and fail every sync")
		}
		names = append(names, secretMount.Name)
	}
	caMount := mount(main.VolumeMounts, oracletest.OIDCCADir)
	if p.CAFile == "" {
		if caMount != nil {
			t.Errorf("system roots, yet %s mounts %s at %s", containerName, caMount.Name, oracletest.OIDCCADir)
		}
	} else if caMount == nil {
		t.Errorf("container %s mounts nothing at %s (the provider's CA)", containerName, oracletest.OIDCCADir)
	} else {
		v := volume(got.Volumes, caMount.Name)
		if !caMount.ReadOnly || v == nil || v.ConfigMap == nil || v.ConfigMap.Name != oracletest.OIDCCAConfigMap {
			t.Errorf("the provider's CA at %s: mount %+v, volume %+v; want ConfigMap %s read-only", oracletest.OIDCCADir, caMount, v, oracletest.OIDCCAConfigMap)
		}
		names = append(names, caMount.Name)
	}
	return names
}

// checkTokenVolume checks the projected tokens: one source per distinct
// audience, mounted read-only at the configured path. It returns the
// volume's name.
func checkTokenVolume(t *testing.T, tc oracletest.Case, containerName string, main *corev1.Container, got *corev1.PodSpec) string {
	tokenMount := mount(main.VolumeMounts, tc.MountPath)
	if tokenMount == nil {
		t.Fatalf("container %s mounts nothing at %s (token mountPath); mounts: %+v", containerName, tc.MountPath, main.VolumeMounts)
	}
	if !tokenMount.ReadOnly {
		t.Errorf("the token volume is mounted read-write at %s; want readOnly", tc.MountPath)
	}
	tokens := volume(got.Volumes, tokenMount.Name)
	if tokens == nil || tokens.Projected == nil {
		t.Fatalf("volume %q mounted at %s is not a projected volume: %+v", tokenMount.Name, tc.MountPath, tokens)
	}
	var gotSources []tokenSource
	for _, s := range tokens.Projected.Sources {
		if s.ServiceAccountToken == nil {
			t.Errorf("projected volume %s has a source that is not a serviceAccountToken: %+v", tokens.Name, s)
			continue
		}
		var exp int64
		if s.ServiceAccountToken.ExpirationSeconds != nil {
			exp = *s.ServiceAccountToken.ExpirationSeconds
		}
		gotSources = append(gotSources, tokenSource{s.ServiceAccountToken.Audience, exp})
	}
	var wantSources []tokenSource
	for _, aud := range tc.Audiences() {
		wantSources = append(wantSources, tokenSource{aud, tc.ExpirationSeconds})
	}
	if diff := cmp.Diff(wantSources, gotSources); diff != "" {
		t.Errorf("serviceAccountToken sources of volume %s (-want +got):\n%s", tokens.Name, diff)
	}
	return tokens.Name

}

// checkBuiltSecrets finds the cluster Secrets in the build and checks,
// through ArgoCD's own parsing, that each one's token file is the file the
// kubelet projects for its audience.
func checkBuiltSecrets(t *testing.T, tc oracletest.Case, built map[resourceID]oracletest.Document, controller *corev1.PodSpec) {
	paths := map[string]string{} // token file path -> audience
	if main := container(controller.Containers, oracletest.ControllerName); main != nil {
		if m := mount(main.VolumeMounts, tc.MountPath); m != nil {
			if v := volume(controller.Volumes, m.Name); v != nil && v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.ServiceAccountToken != nil {
						paths[path.Join(tc.MountPath, s.ServiceAccountToken.Path)] = s.ServiceAccountToken.Audience
					}
				}
			}
		}
	}
	for _, c := range tc.Clusters {
		doc, ok := built[resourceID{"Secret", oracletest.ArgoCDNamespace, c.SecretName}]
		if !ok {
			t.Errorf("no Secret %s in namespace %s in the build", c.SecretName, oracletest.ArgoCDNamespace)
			continue
		}
		s := &corev1.Secret{}
		if err := oracletest.DecodeStrict(doc, s); err != nil {
			t.Error(err)
			continue
		}
		if s.Labels[common.LabelKeySecretType] != common.LabelValueSecretTypeCluster {
			t.Errorf("Secret %s lacks label %s: %s", s.Name, common.LabelKeySecretType, common.LabelValueSecretTypeCluster)
		}
		cluster, err := db.SecretToCluster(oracletest.AsStored(s))
		if err != nil {
			t.Errorf("Secret %s: ArgoCD's SecretToCluster: %v", s.Name, err)
			continue
		}
		e := cluster.Config.ExecProviderConfig
		if e == nil {
			t.Errorf("Secret %s: no execProviderConfig", s.Name)
			continue
		}
		if c.TokenRequest || tc.IdentityProvider != nil {
			if diff := cmp.Diff(tc.ExecArgs(c), e.Args); diff != "" {
				t.Errorf("Secret %s: the plugin's arguments (-want +got):\n%s", s.Name, diff)
			}
			continue
		}
		file, aud := flagValue(e.Args, "--file"), flagValue(e.Args, "--audience")
		projected, ok := paths[file]
		switch {
		case !ok:
			t.Errorf("Secret %s: the plugin reads %s, which is not a token the kubelet projects (projected: %v)", s.Name, file, oracletest.SortedKeys(paths))
		case projected != aud:
			t.Errorf("Secret %s: the plugin reads %s (the token for audience %q) but says --audience %q", s.Name, file, projected, aud)
		case aud != c.Audience:
			t.Errorf("Secret %s: audience %q, want %q", s.Name, aud, c.Audience)
		}
	}
}

func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// argocdInstallManifest is install.yaml of the argo-cd/v2 module this
// module requires, from the module cache.
func argocdInstallManifest(t *testing.T) string {
	t.Helper()
	gobin := oracletest.GoCommand(t)
	var mod struct{ Path, Version, Dir string }
	out, err := exec.Command(gobin, "list", "-m", "-json", argocdModule).Output()
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err != nil {
		t.Fatalf("go list -m -json %s: %v", argocdModule, err)
	}
	if mod.Dir == "" {
		out, err := exec.Command(gobin, "mod", "download", "-json", argocdModule+"@"+mod.Version).Output()
		if err == nil {
			err = json.Unmarshal(out, &mod)
		}
		if err != nil || mod.Dir == "" {
			t.Fatalf("%s@%s is not in the module cache and go mod download failed (the Go module proxy must be reachable): %v\n%s", argocdModule, mod.Version, err, out)
		}
	}
	install := filepath.Join(mod.Dir, "manifests", "install.yaml")
	if _, err := os.Stat(install); err != nil {
		t.Fatalf("ArgoCD's install manifests: %v", err)
	}
	return install
}

// writeArgoCDKustomization writes dir/kustomization.yaml installing ArgoCD
// from a copy of install.yaml into namespace argocd, plus component if set.
func writeArgoCDKustomization(t *testing.T, dir, install, component string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(install)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "install.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + oracletest.ArgoCDNamespace + "\nresources:\n- install.yaml\n"
	if component != "" {
		rel, err := filepath.Rel(dir, component)
		if err != nil {
			t.Fatal(err)
		}
		k += "components:\n- " + filepath.ToSlash(rel) + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kustomizeBuild is `kustomize build DIR` with kustomize's own library.
func kustomizeBuild(t *testing.T, dir string) resmap.ResMap {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return m
}

// resmapDocuments renders the built objects as YAML documents.
func resmapDocuments(t *testing.T, m resmap.ResMap) []oracletest.Document {
	t.Helper()
	var docs []oracletest.Document
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatalf("render %s: %v", r.CurId(), err)
		}
		docs = append(docs, oracletest.Document{File: r.CurId().String(), YAML: y, Kind: r.GetKind(), API: r.GetApiVersion()})
	}
	return docs
}

type resourceID struct{ kind, namespace, name string }

func (id resourceID) String() string {
	return strings.Join([]string{id.kind, id.namespace, id.name}, "/")
}

// indexResources keys the built objects by kind, namespace and name.
func indexResources(t *testing.T, m resmap.ResMap) map[resourceID]oracletest.Document {
	t.Helper()
	out := map[resourceID]oracletest.Document{}
	for i, doc := range resmapDocuments(t, m) {
		r := m.Resources()[i]
		id := resourceID{doc.Kind, r.GetNamespace(), r.GetName()}
		if _, dup := out[id]; dup {
			t.Errorf("the build holds %v twice", id)
		}
		out[id] = doc
	}
	return out
}

// podSpec decodes a StatefulSet's or Deployment's pod template strictly.
func podSpec(t *testing.T, doc oracletest.Document) *corev1.PodSpec {
	t.Helper()
	switch doc.Kind {
	case "StatefulSet":
		var s appsv1.StatefulSet
		if err := oracletest.DecodeStrict(doc, &s); err != nil {
			t.Fatal(err)
		}
		return &s.Spec.Template.Spec
	case "Deployment":
		var d appsv1.Deployment
		if err := oracletest.DecodeStrict(doc, &d); err != nil {
			t.Fatal(err)
		}
		return &d.Spec.Template.Spec
	}
	t.Fatalf("%s is a %s, want a StatefulSet or Deployment", doc.File, doc.Kind)
	return nil
}

func container(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func mount(ms []corev1.VolumeMount, mountPath string) *corev1.VolumeMount {
	for i := range ms {
		if ms[i].MountPath == mountPath {
			return &ms[i]
		}
	}
	return nil
}

func volume(vs []corev1.Volume, name string) *corev1.Volume {
	for i := range vs {
		if vs[i].Name == name {
			return &vs[i]
		}
	}
	return nil
}

// added are the containers of got that base does not have.
func added(base, got []corev1.Container) []corev1.Container {
	var out []corev1.Container
	for _, c := range got {
		if container(base, c.Name) == nil {
			out = append(out, c)
		}
	}
	return out
}

func names(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}
