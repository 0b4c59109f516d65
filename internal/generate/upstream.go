package generate

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/parallel"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// upstream renders upstream/<name>/: a kustomize Component that patches the
// ArgoCD controller and server with the projected tokens and the plugin, and
// holds one ArgoCD cluster Secret per downstream.
func (t *Tree) upstream(ctx context.Context, f *config.Federation) error {
	u := &f.Upstream
	dir := "upstream/" + u.Name + "/"
	k := kustomization{typeMeta: typeMeta{APIVersion: "kustomize.config.k8s.io/v1alpha1", Kind: "Component"}}

	// Each patch selects its target by kind and name, in any namespace (the
	// manifests have none until the GitOps kustomization sets one, Helm's
	// output has one), and a guard makes the build fail where it did not
	// land on the running workload's main container.
	for _, w := range u.ArgoCD.Workloads() {
		name := "patch-" + strings.ToLower(w.Kind) + "-" + w.Name + ".yaml"
		if err := t.addYAML(dir+name, workloadPatchFor(f, w)); err != nil {
			return err
		}
		sel := selector{Group: "apps", Kind: w.Kind, Name: w.Name}
		k.Patches = append(k.Patches, patch{Path: name, Target: exactly(sel)})
		main := "spec.template.spec.containers.[name=" + w.Container + "]"
		k.Replacements = append(k.Replacements,
			guard(sel, main+".image"),
			guard(sel, main+".volumeMounts.[name="+TokenVolume+"].mountPath"))
	}

	if namespaced(f) {
		name := "patch-configmap-argocd-cm.yaml"
		t.add(dir+name, []byte(Header+respectRBACPatch))
		sel := selector{Version: "v1", Kind: "ConfigMap", Name: "argocd-cm"}
		k.Patches = append(k.Patches, patch{Path: name, Target: exactly(sel)})
		k.Replacements = append(k.Replacements, guard(sel, "data.[resource.respectRBAC]"))
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
		if err == nil {
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
	if u.ArgoCD.Operator != nil {
		if err := t.operatorPatch(dir, f); err != nil {
			return err
		}
	}
	if err := t.helmValuesFile(dir, f, helm); err != nil {
		return err
	}
	y, err := toYAML(k)
	if err != nil {
		return fmt.Errorf("render %skustomization.yaml: %w", dir, err)
	}
	t.add(dir+"kustomization.yaml", []byte(Header+componentComment+string(y)))
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

// podAdditions is what every ArgoCD pod that runs the plugin gets, whatever
// way ArgoCD is installed: the projected token volume (one source per
// audience), the plugin's volume and the init container that fills it
// (delivery InitContainer), and the mounts of the main container. The
// Component's patches, and every other upstream output, are made of it.
type podAdditions struct {
	Volumes        []volume
	InitContainers []container
	Mounts         []volumeMount
}

func podAdditionsFor(f *config.Federation) podAdditions {
	u := &f.Upstream
	var a podAdditions
	var sources []projectedSource
	for _, aud := range audiences(f) {
		sources = append(sources, projectedSource{ServiceAccountToken: serviceAccountToken{
			Audience:          aud,
			ExpirationSeconds: u.Token.ExpirationSeconds,
			Path:              plugin.TokenFileName(aud),
		}})
	}
	a.Volumes = append(a.Volumes, volume{Name: TokenVolume, Projected: &projected{Sources: sources}})
	a.Mounts = []volumeMount{{Name: TokenVolume, MountPath: u.Token.MountPath, ReadOnly: true}}

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
	return a
}

// workloadPatchFor is the strategic-merge patch that gives one ArgoCD
// workload its tokens and the plugin.
func workloadPatchFor(f *config.Federation, w config.Workload) workloadPatch {
	p := workloadPatch{
		typeMeta: typeMeta{APIVersion: "apps/v1", Kind: w.Kind},
		// No namespace: the patch must match ArgoCD's install manifests,
		// which carry none until the GitOps repo's kustomization sets it.
		Metadata: objectMeta{Name: w.Name},
	}
	a := podAdditionsFor(f)
	spec := &p.Spec.Template.Spec
	spec.Volumes = a.Volumes
	spec.InitContainers = a.InitContainers
	spec.Containers = []container{{Name: w.Container, VolumeMounts: a.Mounts}}
	return p
}
