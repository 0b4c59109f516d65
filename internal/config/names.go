package config

import (
	"slices"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// The names derived from a completed config, one place each: where the
// plugin and the tokens are in the pods, who the downstream sees.

// Labels of every generated object.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "argocd-k8s-federate"
	UpstreamLabel  = "argocd-k8s-federate.io/upstream"
)

// ObjectLabels are the labels of a generated object of hub upstream ("" for
// objects of no one hub), with extra ones added.
func ObjectLabels(upstream string, extra map[string]string) map[string]string {
	l := map[string]string{ManagedByLabel: ManagedBy}
	if upstream != "" {
		l[UpstreamLabel] = upstream
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// InitContainerName is the init container that installs the plugin
// (delivery InitContainer).
const InitContainerName = "install-argocd-k8s-federate"

// CommandPath is the absolute path of the plugin inside the ArgoCD containers.
func (p Plugin) CommandPath() string {
	if p.Delivery == DeliveryPreinstalled {
		return p.Command
	}
	return p.Dir + "/" + plugin.Name
}

// UsesTokenRequest reports whether the plugin asks the TokenRequest API for
// d's tokens (token-request) rather than reading a projected token.
func (d *Downstream) UsesTokenRequest() bool { return d.TokenSource == SourceTokenRequest }

// Projected are the downstreams whose tokens the kubelet projects into the
// ArgoCD pods: the ones the pod templates depend on.
func (f *Federation) Projected() []*Downstream {
	var out []*Downstream
	for i := range f.Downstreams {
		if d := &f.Downstreams[i]; !d.UsesTokenRequest() {
			out = append(out, d)
		}
	}
	return out
}

// TokenRequested are the downstreams whose tokens the plugin requests.
func (f *Federation) TokenRequested() []*Downstream {
	var out []*Downstream
	for i := range f.Downstreams {
		if d := &f.Downstreams[i]; d.UsesTokenRequest() {
			out = append(out, d)
		}
	}
	return out
}

// TokenPath is the absolute path of a downstream's token in the pods.
func (f *Federation) TokenPath(d *Downstream) string {
	return plugin.TokenPath(f.Upstream.Token.MountPath, d.Audience)
}

// ServiceAccountSubject is the sub claim of a service account's tokens.
func ServiceAccountSubject(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// ArgoCDSubjects are the sub claims of ArgoCD's service accounts (without
// the server in core mode), sorted and distinct.
func (f *Federation) ArgoCDSubjects() []string {
	var subs []string
	for _, w := range f.Upstream.ArgoCD.Workloads() {
		subs = append(subs, ServiceAccountSubject(f.Upstream.ArgoCD.Namespace, w.ServiceAccount))
	}
	slices.Sort(subs)
	return slices.Compact(subs)
}

// KubeconfigDir is where the kubeconfig of an upstream workload is mounted
// in its containers; KUBECONFIG points at the file KubeconfigKey in it.
const (
	KubeconfigDir = "/etc/argocd-k8s-federate/kubeconfig"
	KubeconfigKey = "config"
)

// KubeconfigConfigMap is the ConfigMap that holds upstream workload name's
// kubeconfig.
func KubeconfigConfigMap(name string) string { return "argocd-k8s-federate-kubeconfig-" + name }

// ArgoCDName is the downstream's name in ArgoCD: argocd.clusterName, or its
// name.
func (d *Downstream) ArgoCDName() string {
	if d.ArgoCD.ClusterName != "" {
		return d.ArgoCD.ClusterName
	}
	return d.Name
}

// HelmKeyable reports whether the argo-helm chart can key a cluster by
// name in configs.clusterCredentials: the chart makes the key the cluster's
// name and the suffix of its Secret's name (argocd-cluster-<key>), so it
// must fit a Secret name.
func HelmKeyable(name string) bool {
	return len(name) <= 253-len("argocd-cluster-") && dnsSubdomain.MatchString(name)
}
