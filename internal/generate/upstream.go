package generate

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/parallel"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// upstream renders upstream/<name>/: a kustomize Component that patches the
// ArgoCD controller and server with the plugin and the projected tokens, and
// holds one ArgoCD cluster Secret per downstream (and, for token-request
// downstreams, the RBAC, admission policy and audiences ConfigMap).
func (t *Tree) upstream(ctx context.Context, f *config.Federation) error {
	u := &f.Upstream
	dir := "upstream/" + u.Name + "/"
	k := kustomization{typeMeta: typeMeta{APIVersion: "kustomize.config.k8s.io/v1alpha1", Kind: "Component"}}

	if err := t.podPatches(dir, f, &k); err != nil {
		return err
	}

	downstreams := append([]config.Downstream(nil), f.Downstreams...)
	sort.Slice(downstreams, func(i, j int) bool { return downstreams[i].Name < downstreams[j].Name })
	// One Secret per downstream, rendered in parallel, added in name order.
	secrets := make([]Tree, len(downstreams))
	// Each downstream's entry of configs.clusterCredentials in the Helm
	// values, rendered from the same Secret.
	helm := make([][]byte, len(downstreams))
	errs := make([]error, len(downstreams))
	parallel.Do(len(downstreams), func(i int) {
		d := &downstreams[i]
		if errs[i] = ctx.Err(); errs[i] != nil {
			return
		}
		cs := argocd.For(f, d)
		s, err := cs.Object()
		if err == nil {
			err = secrets[i].addYAML(dir+d.ArgoCD.SecretName+".yaml", s)
		}
		if err == nil && config.HelmKeyable(cs.ClusterName) {
			helm[i], err = helmCredentialYAML(cs)
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
	files, err := t.tokenRequestFiles(dir, f)
	if err != nil {
		return err
	}
	k.Resources = append(k.Resources, files...)
	if cm, ok := oidcCAConfigMap(f, config.OIDCCAConfigMap, u.ArgoCD.Namespace); ok {
		if err := t.addYAML(dir+OIDCCAFile, cm); err != nil {
			return err
		}
		k.Resources = append(k.Resources, OIDCCAFile)
	}
	if u.ArgoCD.Operator != nil {
		if err := t.operatorPatch(dir, f); err != nil {
			return err
		}
	}
	if err := t.helmValuesFile(dir, f, helm); err != nil {
		return err
	}
	if err := t.workloads(dir, f); err != nil {
		return err
	}
	return t.addKustomization(dir, k)
}

// addKustomization renders dir's kustomization.yaml.
func (t *Tree) addKustomization(dir string, k kustomization) error {
	y, err := toYAML(k)
	if err != nil {
		return fmt.Errorf("render %skustomization.yaml: %w", dir, err)
	}
	t.add(dir+"kustomization.yaml", []byte(Header+componentComment+string(y)))
	return nil
}

// podPatches adds to dir, and to k, the patches of the ArgoCD pods (the
// plugin, and the projected tokens of the downstreams that use them) and of
// argocd-cm, each with its guards. Each patch selects its target by kind and
// name, in any namespace (the manifests have none until the GitOps
// kustomization sets one, Helm's output has one), and a guard makes the
// build fail where it did not land on the running workload's main container.
func (t *Tree) podPatches(dir string, f *config.Federation, k *kustomization) error {
	a := argoCDPodAdditions(f)
	if len(a.Mounts) > 0 {
		for _, w := range f.Upstream.ArgoCD.Workloads() {
			name := "patch-" + strings.ToLower(w.Kind) + "-" + w.Name + ".yaml"
			if err := t.addYAML(dir+name, workloadPatchFor(w, a)); err != nil {
				return err
			}
			sel := selector{Group: "apps", Kind: w.Kind, Name: w.Name}
			k.Patches = append(k.Patches, patch{Path: name, Target: exactly(sel)})
			main := "spec.template.spec.containers.[name=" + w.Container + "]"
			// The first mount stands for all: the patch adds them together.
			k.Replacements = append(k.Replacements,
				guard(sel, main+".image"),
				guard(sel, main+".volumeMounts.[name="+a.Mounts[0].Name+"].mountPath"))
		}
	}
	if namespaced(f) {
		name := "patch-configmap-argocd-cm.yaml"
		t.add(dir+name, []byte(Header+respectRBACPatch))
		sel := selector{Version: "v1", Kind: "ConfigMap", Name: "argocd-cm"}
		k.Patches = append(k.Patches, patch{Path: name, Target: exactly(sel)})
		k.Replacements = append(k.Replacements, guard(sel, "data.[resource.respectRBAC]"))
	}
	return nil
}

// componentComment says what the guards of the Component are for: kustomize's
// own error is all an operator sees when one fails.
const componentComment = `#
# The replacements below change nothing: each copies a field onto itself, so
# that kustomize build fails when the field is missing instead of succeeding
# with ArgoCD unpatched. When one fails ("nothing selected by ..." or
# "fieldPath ... is missing for replacement source ..."), the workload, its
# kind or its main container is not what upstream.argocd says: set
# upstream.argocd.controller / server (kind, name, container; server.enabled:
# false for core-install.yaml) to match your ArgoCD and generate again.
# See docs/config.md, "ArgoCD as you installed it".
`

// exactly is a patch target that selects sel's kind and name literally.
func exactly(sel selector) *selector {
	sel.Kind = regexp.QuoteMeta(sel.Kind)
	sel.Name = regexp.QuoteMeta(sel.Name)
	return &sel
}

// guard is a replacement that copies fieldPath of the one resource sel
// selects onto itself: the build fails when there is no such resource, or
// several, or the field is missing.
func guard(sel selector, fieldPath string) replacement {
	sel = *exactly(sel)
	t := replacementTarget{Select: sel, FieldPaths: []string{fieldPath}}
	return replacement{Source: replacementSource{selector: sel, FieldPath: fieldPath}, Targets: []replacementTarget{t}}
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

// projectedAudiences are the distinct audiences of the projected tokens of
// downstreams, sorted: one volume source each.
func projectedAudiences(downstreams []*config.Downstream) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range downstreams {
		if d.UsesProjected() && !seen[d.Audience] {
			seen[d.Audience] = true
			out = append(out, d.Audience)
		}
	}
	sort.Strings(out)
	return out
}

// podAdditions is what every ArgoCD pod that runs the plugin gets, whatever
// way ArgoCD is installed: the projected token volume (one source per
// audience of the downstreams with projected tokens; none when every
// downstream uses token-request), the plugin's volume and the init container that fills it
// (delivery InitContainer), and the mounts of the main container. The
// Component's patches, and every other upstream output, are made of it.
type podAdditions struct {
	Volumes        []volume
	InitContainers []container
	Mounts         []volumeMount
}

// OIDCCAFile is the file, in upstream/<hub>/ and in each upstream
// workload's directory, of the ConfigMap that holds the identity provider's
// CA.
const OIDCCAFile = "oidc-ca.yaml"

// clientSecretMode is the mode of the client secret's file: readable by the
// containers' user whatever it is (the pods of a stock ArgoCD set no
// fsGroup, so the file is root's); only the containers that mount the
// volume see it.
const clientSecretMode int32 = 0o444

// oidcCAConfigMap is the ConfigMap named name, in namespace ns, that holds
// the identity provider's CA under config.OIDCCAKey, and whether there is
// one (not with useSystemRoots, nor without a provider). A CA is public.
func oidcCAConfigMap(f *config.Federation, name, ns string) (configMap, bool) {
	p := f.IdentityProvider()
	if p == nil || p.PEM() == "" {
		return configMap{}, false
	}
	return configMap{
		typeMeta: typeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		Metadata: objectMeta{Name: name, Namespace: ns, Labels: config.ObjectLabels(f.Upstream.Name, nil)},
		Data:     map[string]string{config.OIDCCAKey: p.PEM()},
	}, true
}

// argoCDPodAdditions are the additions of ArgoCD's pods, which reach every
// downstream.
func argoCDPodAdditions(f *config.Federation) podAdditions {
	var all []*config.Downstream
	for i := range f.Downstreams {
		all = append(all, &f.Downstreams[i])
	}
	return podAdditionsFor(f, all, config.OIDCCAConfigMap)
}

// podAdditionsFor are the additions of pods that reach downstreams: only
// their projected tokens are mounted (ArgoCD's pods reach every downstream,
// an upstream workload's those that grant it something), and, when they
// reach the identity provider's downstreams, its client secret
// (ClientCredentials) and its CA, from the ConfigMap caConfigMap of the
// pods' namespace.
func podAdditionsFor(f *config.Federation, downstreams []*config.Downstream, caConfigMap string) podAdditions {
	u := &f.Upstream
	var a podAdditions
	var sources []projectedSource
	for _, aud := range projectedAudiences(downstreams) {
		sources = append(sources, projectedSource{ServiceAccountToken: serviceAccountToken{
			Audience:          aud,
			ExpirationSeconds: u.Token.ExpirationSeconds,
			Path:              plugin.TokenFileName(aud),
		}})
	}
	if len(sources) > 0 {
		a.Volumes = append(a.Volumes, volume{Name: TokenVolume, Projected: &projected{Sources: sources}})
		a.Mounts = []volumeMount{{Name: TokenVolume, MountPath: u.Token.MountPath, ReadOnly: true}}
	}

	if u.Plugin.Delivery == config.DeliveryInitContainer {
		a.Volumes = append(a.Volumes, volume{Name: PluginVolume, EmptyDir: &emptyDir{SizeLimit: "64Mi"}})
		a.Mounts = append(a.Mounts, volumeMount{Name: PluginVolume, MountPath: u.Plugin.Dir, ReadOnly: true})
		sc := &securityContext{ReadOnlyRootFilesystem: true, RunAsNonRoot: true}
		sc.Capabilities.Drop = []string{"ALL"}
		sc.SeccompProfile.Type = "RuntimeDefault"
		a.InitContainers = []container{{
			Name:            config.InitContainerName,
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

	if p := u.IdentityProvider; p != nil && slices.ContainsFunc(downstreams, (*config.Downstream).UsesIdentityProvider) {
		if p.ClientSecretPath() != "" {
			mode := clientSecretMode
			a.Volumes = append(a.Volumes, volume{Name: config.ClientSecretVolume, Secret: &secretVolume{
				SecretName:  p.ClientSecret.SecretName,
				Items:       []keyToPath{{Key: p.ClientSecret.Key, Path: p.ClientSecret.Key}},
				DefaultMode: &mode,
			}})
			a.Mounts = append(a.Mounts, volumeMount{Name: config.ClientSecretVolume, MountPath: config.ClientSecretDir, ReadOnly: true})
		}
		if p.CAPath() != "" {
			a.Volumes = append(a.Volumes, volume{Name: config.OIDCCAVolume, ConfigMap: &configMapVolume{Name: caConfigMap}})
			a.Mounts = append(a.Mounts, volumeMount{Name: config.OIDCCAVolume, MountPath: config.OIDCCADir, ReadOnly: true})
		}
	}
	return a
}

// workloadPatchFor is the strategic-merge patch that gives one ArgoCD
// workload the additions a: its tokens and the plugin.
func workloadPatchFor(w config.Workload, a podAdditions) workloadPatch {
	p := workloadPatch{
		typeMeta: typeMeta{APIVersion: "apps/v1", Kind: w.Kind},
		// No namespace: the patch must match ArgoCD's install manifests,
		// which carry none until the GitOps repo's kustomization sets it.
		Metadata: objectMeta{Name: w.Name},
		Spec:     workloadSpecPatch{Template: &podTemplatePatch{}},
	}
	spec := &p.Spec.Template.Spec
	spec.Volumes = a.Volumes
	spec.InitContainers = a.InitContainers
	spec.Containers = []container{{Name: w.Container, VolumeMounts: a.Mounts}}
	return p
}

// PluginComponent is the Component that delivers the plugin to ArgoCD's
// pods (and sets argocd-cm's respectRBAC) for a federation whose
// downstreams all use token-request: the part of upstream/<hub>/ that does
// not change with the set of downstreams. The repository ships it for
// ArgoCD's default names as kustomize/plugin/, referenceable by URL.
func PluginComponent(f *config.Federation) (*Tree, error) {
	if len(f.Projected()) > 0 {
		return nil, fmt.Errorf("downstreams with projected tokens change the pod templates: the plugin Component holds only the plugin, for token-request downstreams")
	}
	t := &Tree{}
	k := kustomization{typeMeta: typeMeta{APIVersion: "kustomize.config.k8s.io/v1alpha1", Kind: "Component"}}
	if err := t.podPatches("", f, &k); err != nil {
		return nil, err
	}
	if err := t.addKustomization("", k); err != nil {
		return nil, err
	}
	sort.Slice(t.Files, func(i, j int) bool { return t.Files[i].Path < t.Files[j].Path })
	return t, nil
}
