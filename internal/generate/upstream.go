package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// upstream renders upstream/<name>/: a kustomize Component that patches the
// ArgoCD controller and server with the projected tokens and the plugin, and
// holds one ArgoCD cluster Secret per downstream.
func (t *Tree) upstream(f *config.Federation) error {
	u := &f.Upstream
	dir := "upstream/" + u.Name + "/"
	k := kustomization{typeMeta: typeMeta{APIVersion: "kustomize.config.k8s.io/v1alpha1", Kind: "Component"}}

	workloads := []config.Workload{u.ArgoCD.Controller, u.ArgoCD.Server}
	for _, w := range workloads {
		name := "patch-" + strings.ToLower(w.Kind) + "-" + w.Name + ".yaml"
		if err := t.addYAML(dir+name, workloadPatchFor(f, w)); err != nil {
			return err
		}
		k.Patches = append(k.Patches, patch{Path: name})
	}

	if namespaced(f) {
		name := "patch-configmap-argocd-cm.yaml"
		t.add(dir+name, []byte(Header+respectRBACPatch))
		k.Patches = append(k.Patches, patch{Path: name})
	}

	downstreams := append([]config.Downstream(nil), f.Downstreams...)
	sort.Slice(downstreams, func(i, j int) bool { return downstreams[i].Name < downstreams[j].Name })
	// One Secret per downstream, rendered in parallel, added in name order.
	secrets := make([]Tree, len(downstreams))
	errs := make([]error, len(downstreams))
	parallel(len(downstreams), func(i int) {
		d := &downstreams[i]
		s, err := clusterSecret(f, d)
		if err == nil {
			err = secrets[i].addYAML(dir+d.ArgoCD.SecretName+".yaml", s)
		}
		errs[i] = err
	})
	for i := range downstreams {
		if errs[i] != nil {
			return errs[i]
		}
		t.Files = append(t.Files, secrets[i].Files...)
		k.Resources = append(k.Resources, downstreams[i].ArgoCD.SecretName+".yaml")
	}
	return t.addYAML(dir+"kustomization.yaml", k)
}

// respectRBACPatch makes ArgoCD skip the resource types it may not list. A
// downstream granted by namespace (a RoleBinding to admin, say) does not let
// the controller list every namespaced type there (podtemplates,
// csistoragecapacities, events.k8s.io events are not in admin), and without
// this ArgoCD fails to build its cache of the cluster and never syncs.
const respectRBACPatch = `# Downstreams granted by namespace do not let ArgoCD list every resource type
# there: with respectRBAC it skips those types instead of failing to build its
# cluster cache. Set "strict" in your own patch after this Component if you prefer.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
  resource.respectRBAC: normal
`

// namespaced reports whether any downstream is granted by namespace.
func namespaced(f *config.Federation) bool {
	for _, d := range f.Downstreams {
		if !d.Access.ClusterWide {
			return true
		}
	}
	return false
}

// audiences are the distinct token audiences of a federation, sorted.
func audiences(f *config.Federation) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range f.Downstreams {
		if !seen[d.Audience] {
			seen[d.Audience] = true
			out = append(out, d.Audience)
		}
	}
	sort.Strings(out)
	return out
}

// workloadPatchFor is the strategic-merge patch that gives one ArgoCD
// workload its tokens and the plugin.
func workloadPatchFor(f *config.Federation, w config.Workload) workloadPatch {
	u := &f.Upstream
	p := workloadPatch{
		typeMeta: typeMeta{APIVersion: "apps/v1", Kind: w.Kind},
		// No namespace: the patch must match ArgoCD's install manifests,
		// which carry none until the GitOps repo's kustomization sets it.
		Metadata: objectMeta{Name: w.Name},
	}
	spec := &p.Spec.Template.Spec

	var sources []projectedSource
	for _, aud := range audiences(f) {
		sources = append(sources, projectedSource{ServiceAccountToken: serviceAccountToken{
			Audience:          aud,
			ExpirationSeconds: u.Token.ExpirationSeconds,
			Path:              config.TokenFile(aud),
		}})
	}
	spec.Volumes = append(spec.Volumes, volume{Name: TokenVolume, Projected: &projected{Sources: sources}})
	mounts := []volumeMount{{Name: TokenVolume, MountPath: u.Token.MountPath, ReadOnly: true}}

	if u.Plugin.Delivery == config.DeliveryInitContainer {
		spec.Volumes = append(spec.Volumes, volume{Name: PluginVolume, EmptyDir: &emptyDir{SizeLimit: "64Mi"}})
		mounts = append(mounts, volumeMount{Name: PluginVolume, MountPath: u.Plugin.Dir, ReadOnly: true})
		sc := &securityContext{ReadOnlyRootFilesystem: true, RunAsNonRoot: true}
		sc.Capabilities.Drop = []string{"ALL"}
		sc.SeccompProfile.Type = "RuntimeDefault"
		spec.InitContainers = []container{{
			Name:            InitContainerName,
			Image:           u.Plugin.Image,
			ImagePullPolicy: u.Plugin.ImagePullPolicy,
			Args:            []string{"install", "--to", u.Plugin.Dir},
			Resources: &resources{
				Requests: map[string]string{"cpu": "10m", "memory": "16Mi"},
				Limits:   map[string]string{"memory": "64Mi"},
			},
			SecurityContext: sc,
			VolumeMounts:    []volumeMount{{Name: PluginVolume, MountPath: u.Plugin.Dir}},
		}}
	}
	spec.Containers = []container{{Name: w.Container, VolumeMounts: mounts}}
	return p
}

// clusterSecret is the ArgoCD cluster Secret of one downstream: where it is,
// how to verify it, and the exec config that runs the plugin on the
// downstream's token file. It holds no credential.
func clusterSecret(f *config.Federation, d *config.Downstream) (secret, error) {
	u := &f.Upstream
	cfg := clusterConfig{
		ExecProviderConfig: execProviderConfig{
			Command: u.Plugin.CommandPath(),
			Args: []string{
				"token-file",
				"--file", f.TokenPath(d),
				"--audience", d.Audience,
				"--issuer", u.Issuer,
			},
			APIVersion:  ExecAPIVersion,
			InstallHint: installHint(u),
		},
	}
	if pem := d.PEM(); pem != "" {
		cfg.TLSClientConfig.CAData = []byte(pem)
	}
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return secret{}, fmt.Errorf("render cluster config of %s: %w", d.Name, err)
	}
	data := map[string]string{
		"name":   d.Name,
		"server": d.Server,
		"config": string(js) + "\n",
	}
	if d.ArgoCD.Project != "" {
		data["project"] = d.ArgoCD.Project
	}
	if !d.Access.ClusterWide {
		// ArgoCD must watch only what RBAC lets it see.
		ns := append([]string(nil), d.Access.Namespaces...)
		sort.Strings(ns)
		data["namespaces"] = strings.Join(ns, ",")
		data["clusterResources"] = "false"
	}
	l := labels(u.Name, d.ArgoCD.Labels)
	l[SecretTypeLabel] = "cluster"
	return secret{
		typeMeta: typeMeta{APIVersion: "v1", Kind: "Secret"},
		Metadata: objectMeta{
			Name:        d.ArgoCD.SecretName,
			Namespace:   u.ArgoCD.Namespace,
			Labels:      l,
			Annotations: d.ArgoCD.Annotations,
		},
		Type:       "Opaque",
		StringData: data,
	}, nil
}

func installHint(u *config.Upstream) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s is missing from this ArgoCD container. ", u.Plugin.CommandPath())
	if u.Plugin.Delivery == config.DeliveryInitContainer {
		fmt.Fprintf(&b, "The init container %s installs it: check that the argocd-k8s-federate Component is in the ArgoCD kustomization and read that init container's logs.", InitContainerName)
	} else {
		b.WriteString("upstream.plugin.delivery is Preinstalled: the ArgoCD image must contain it at that path.")
	}
	return b.String()
}
