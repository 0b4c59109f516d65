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

// The identity provider's files in the pods that reach its downstreams, and
// the objects they come from.
const (
	// DefaultClientSecretName and DefaultClientSecretKey are the Secret (in
	// upstream.argocd.namespace, created by the user) and its key that hold
	// the client secret of grant ClientCredentials.
	DefaultClientSecretName = "argocd-k8s-federate-oidc-client"
	DefaultClientSecretKey  = "client-secret"
	// ClientSecretVolume is the pods' volume of that Secret, mounted
	// read-only at ClientSecretDir.
	ClientSecretVolume = "argocd-k8s-federate-oidc-client"
	ClientSecretDir    = "/var/run/secrets/argocd-k8s-federate-oidc"
	// OIDCCAConfigMap is the generated ConfigMap (in upstream/<hub>/) that
	// holds the provider's CA under OIDCCAKey; OIDCCAVolume mounts it
	// read-only at OIDCCADir.
	OIDCCAConfigMap = "argocd-k8s-federate-oidc-ca"
	OIDCCAKey       = "ca.crt"
	OIDCCAVolume    = "argocd-k8s-federate-oidc-ca"
	OIDCCADir       = "/etc/argocd-k8s-federate/oidc-ca"
)

// WorkloadOIDCCAConfigMap is the ConfigMap that holds the provider's CA in
// the namespace of upstream workload name.
func WorkloadOIDCCAConfigMap(name string) string { return OIDCCAConfigMap + "-" + name }

// ClientSecretPath is the path of the client secret in the pods ("" unless
// grant ClientCredentials).
func (p *IdentityProvider) ClientSecretPath() string {
	if p.Grant != GrantClientCredentials || p.ClientSecret == nil {
		return ""
	}
	return ClientSecretDir + "/" + p.ClientSecret.Key
}

// CAPath is the path of the provider's CA in the pods ("" with
// useSystemRoots).
func (p *IdentityProvider) CAPath() string {
	if p.UseSystemRoots {
		return ""
	}
	return OIDCCADir + "/" + OIDCCAKey
}

// IdentityProvider is upstream.identityProvider, or nil.
func (f *Federation) IdentityProvider() *IdentityProvider { return f.Upstream.IdentityProvider }

// AssertionAudience is the audience of the jwt-bearer assertions the hub's
// service accounts request for themselves (grant JWTBearer), else "".
func (f *Federation) AssertionAudience() string {
	if p := f.IdentityProvider(); p != nil && p.Grant == GrantJWTBearer {
		return p.AssertionAudience
	}
	return ""
}

// Identity is the value of the username claim the downstreams see in the
// tokens of the hub's identity whose service-account subject is sub: sub
// itself, or with grant ClientCredentials the client id (every identity of
// the hub is the one client). Grants make their User of it.
func (f *Federation) Identity(sub string) string {
	if p := f.IdentityProvider(); p != nil && p.Grant == GrantClientCredentials {
		return p.ClientID
	}
	return sub
}

// TrustedIssuer is the issuer the downstreams trust: the identity
// provider's, or the hub's own.
func (f *Federation) TrustedIssuer() string {
	if p := f.IdentityProvider(); p != nil {
		return p.Issuer
	}
	return f.Upstream.Issuer
}

// UsernameClaim is the claim the downstreams map to the username: sub, or
// identityProvider.usernameClaim.
func (f *Federation) UsernameClaim() string {
	if p := f.IdentityProvider(); p != nil && p.UsernameClaim != "" {
		return p.UsernameClaim
	}
	return "sub"
}

// UsesIdentityProvider reports whether the plugin gets d's tokens from
// upstream.identityProvider (oidc-token).
func (d *Downstream) UsesIdentityProvider() bool { return d.TokenSource == SourceIdentityProvider }

// UsesProjected reports whether d's tokens are projected into the pods
// (token-file): the default source.
func (d *Downstream) UsesProjected() bool {
	return !d.UsesTokenRequest() && !d.UsesIdentityProvider()
}

// UsesTokenRequest reports whether the plugin asks the TokenRequest API for
// d's tokens (token-request) rather than reading a projected token.
func (d *Downstream) UsesTokenRequest() bool { return d.TokenSource == SourceTokenRequest }

// Projected are the downstreams whose tokens the kubelet projects into the
// ArgoCD pods: the ones the pod templates depend on.
func (f *Federation) Projected() []*Downstream {
	var out []*Downstream
	for i := range f.Downstreams {
		if d := &f.Downstreams[i]; d.UsesProjected() {
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
