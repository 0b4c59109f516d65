package generate

import (
	"fmt"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// KubeconfigVolume is the volume of an upstream workload's kubeconfig
// ConfigMap.
const KubeconfigVolume = "argocd-k8s-federate-kubeconfig"

// workloads renders, for each upstream workload, upstream/<hub>/workloads/<name>/:
// a Component patching its pod template (the plugin, the projected tokens
// of the downstreams it reaches, its kubeconfig and KUBECONFIG), the
// kubeconfig's ConfigMap, the identity provider's CA in its namespace and,
// when it reaches token-request downstreams (or the provider's, with
// JWTBearer), the Role that lets it request its own tokens.
func (t *Tree) workloads(dir string, f *config.Federation) error {
	for i := range f.Upstream.Workloads {
		if err := t.workload(dir+"workloads/", f, &f.Upstream.Workloads[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tree) workload(parent string, f *config.Federation, w *config.UpstreamWorkload) error {
	u := &f.Upstream
	dir := parent + w.Name + "/"
	reaches := f.Reaches(w)
	k := kustomization{typeMeta: typeMeta{APIVersion: "kustomize.config.k8s.io/v1alpha1", Kind: "Component"}}

	cm, err := kubeconfigConfigMap(f, w, reaches)
	if err != nil {
		return err
	}
	if err := t.addYAML(dir+"kubeconfig.yaml", cm); err != nil {
		return err
	}
	k.Resources = append(k.Resources, "kubeconfig.yaml")
	if requestsTokens(f, w) {
		if err := t.addYAML(dir+plugin.TokenRequestFile, selfTokenRBAC(u.Name, w.Namespace, w.ServiceAccount)...); err != nil {
			return err
		}
		k.Resources = append(k.Resources, plugin.TokenRequestFile)
	}

	if cm, ok := oidcCAConfigMap(f, config.WorkloadOIDCCAConfigMap(w.Name), w.Namespace); ok {
		if err := t.addYAML(dir+OIDCCAFile, cm); err != nil {
			return err
		}
		k.Resources = append(k.Resources, OIDCCAFile)
	}

	a := podAdditionsFor(f, reaches, config.WorkloadOIDCCAConfigMap(w.Name))
	a.Volumes = append(a.Volumes, volume{Name: KubeconfigVolume, ConfigMap: &configMapVolume{Name: config.KubeconfigConfigMap(w.Name)}})
	a.Mounts = append(a.Mounts, volumeMount{Name: KubeconfigVolume, MountPath: config.KubeconfigDir, ReadOnly: true})
	env := []envVar{{Name: "KUBECONFIG", Value: config.KubeconfigDir + "/" + config.KubeconfigKey}}

	group, version := "apps", "apps/v1"
	if w.Kind == config.KindJob || w.Kind == config.KindCronJob {
		group, version = "batch", "batch/v1"
	}
	p := workloadPatch{typeMeta: typeMeta{APIVersion: version, Kind: w.Kind}, Metadata: objectMeta{Name: w.Name}}
	pod := &podTemplatePatch{}
	podPath := "spec.template.spec"
	if w.Kind == config.KindCronJob {
		p.Spec.JobTemplate = &jobTemplatePatch{Spec: workloadSpecPatch{Template: pod}}
		podPath = "spec.jobTemplate.spec.template.spec"
	} else {
		p.Spec.Template = pod
	}
	pod.Spec.Volumes = a.Volumes
	pod.Spec.InitContainers = a.InitContainers
	sel := selector{Group: group, Kind: w.Kind, Name: w.Name}
	for _, c := range w.Containers {
		pod.Spec.Containers = append(pod.Spec.Containers, container{Name: c, Env: env, VolumeMounts: a.Mounts})
		main := podPath + ".containers.[name=" + c + "]"
		k.Replacements = append(k.Replacements,
			guard(sel, main+".image"),
			guard(sel, main+".volumeMounts.[name="+KubeconfigVolume+"].mountPath"))
	}
	name := "patch-" + strings.ToLower(w.Kind) + "-" + w.Name + ".yaml"
	if err := t.addYAML(dir+name, p); err != nil {
		return err
	}
	k.Patches = append(k.Patches, patch{Path: name, Target: exactly(sel)})

	y, err := toYAML(k)
	if err != nil {
		return err
	}
	t.add(dir+"kustomization.yaml", []byte(Header+workloadComponentComment(w)+string(y)))
	return nil
}

// workloadComponentComment says how to use a workload's Component, and what
// its guards are for.
func workloadComponentComment(w *config.UpstreamWorkload) string {
	return comment(`
The Component of workload ` + w.Name + ` (` + w.Kind + ` in namespace ` + w.Namespace + `): add it to the
kustomization that deploys the workload (components: [<this directory>]).
Its containers ` + strings.Join(w.Containers, ", ") + ` get KUBECONFIG, the kubeconfig in the ConfigMap
` + config.KubeconfigConfigMap(w.Name) + ` (no credential: each context runs the plugin), and the plugin.

The replacements below change nothing: each copies a field onto itself, so
that kustomize build fails when the workload or one of its containers is
missing instead of succeeding with the workload unpatched. When one fails,
set upstream.workloads (kind, name, containers) to match the workload and
generate again. See docs/config.md, "Other workloads".`)
}

// kubeconfigClusterOf is downstream d as a kubeconfig's cluster: its name,
// server and CA.
func kubeconfigClusterOf(d *config.Downstream) kubeconfigCluster {
	var c kubeconfigCluster
	c.Name = d.Name
	c.Cluster.Server = d.Server
	if pem := d.PEM(); pem != "" {
		c.Cluster.CertificateAuthorityData = []byte(pem)
	}
	return c
}

// kubeconfigConfigMap is the ConfigMap that holds upstream workload w's
// kubeconfig: one context per downstream it reaches, each running the
// plugin as the downstream's cluster Secret does (argocd.Exec). Nothing in
// it is secret.
func kubeconfigConfigMap(f *config.Federation, w *config.UpstreamWorkload, reaches []*config.Downstream) (configMap, error) {
	kc := kubeconfig{APIVersion: "v1", Kind: "Config"}
	grants := map[string]config.Grant{}
	for _, d := range reaches {
		for _, g := range f.WorkloadGrants(d) {
			if g.UpstreamWorkload.Name == w.Name {
				grants[d.Name] = g
			}
		}
	}
	for _, d := range reaches {
		kc.Clusters = append(kc.Clusters, kubeconfigClusterOf(d))

		var x kubeconfigContext
		x.Name = d.Name
		x.Context.Cluster, x.Context.User = d.Name, d.Name
		if g := grants[d.Name]; len(g.Namespaces) == 1 {
			x.Context.Namespace = g.Namespaces[0]
		}
		kc.Contexts = append(kc.Contexts, x)

		exec := argocd.Exec(f, d)
		var usr kubeconfigUser
		usr.Name = d.Name
		usr.User.Exec = execConfig{
			APIVersion: exec.APIVersion, Command: exec.Command, Args: exec.Args,
			InstallHint: exec.InstallHint, InteractiveMode: "Never",
		}
		kc.Users = append(kc.Users, usr)
	}
	if len(reaches) == 1 {
		kc.CurrentContext = reaches[0].Name
	}
	y, err := toYAML(kc)
	if err != nil {
		return configMap{}, fmt.Errorf("render the kubeconfig of workload %s: %w", w.Name, err)
	}
	return configMap{
		typeMeta: typeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		Metadata: objectMeta{Name: config.KubeconfigConfigMap(w.Name), Namespace: w.Namespace, Labels: config.ObjectLabels(f.Upstream.Name, nil)},
		Data:     map[string]string{config.KubeconfigKey: string(y)},
	}, nil
}
