package config

import (
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/version"
)

// Defaults that match a stock ArgoCD install.
const (
	DefaultNamespace         = "argocd"
	DefaultControllerName    = "argocd-application-controller"
	DefaultServerName        = "argocd-server"
	DefaultTokenMountPath    = "/var/run/secrets/argocd-k8s-federate"
	DefaultExpirationSeconds = 3600
	DefaultPluginDir         = "/var/run/argocd-k8s-federate"
	DefaultImageRepository   = "ghcr.io/argocd-k8s-federate/argocd-k8s-federate-plugin"
	DefaultControllerRole    = "admin"
	PresetViewer             = "viewer"
	DefaultOIDCCADir         = "/etc/kubernetes/pki/argocd-k8s-federate"
	MinExpirationSeconds     = 600
	MaxExpirationSeconds     = 86400
)

// DefaultImage is the plugin image of this build's version.
func DefaultImage() string { return DefaultImageRepository + ":" + version.Version }

// Default fills every field left empty with its documented default. It is
// idempotent and never overrides what the file says.
func (f *Federation) Default() {
	u := &f.Upstream
	setDefault(&u.ArgoCD.Namespace, DefaultNamespace)
	defaultWorkload(&u.ArgoCD.Controller, KindStatefulSet, DefaultControllerName)
	defaultWorkload(&u.ArgoCD.Server, KindDeployment, DefaultServerName)
	setDefault(&u.Token.MountPath, DefaultTokenMountPath)
	if u.Token.ExpirationSeconds == 0 {
		u.Token.ExpirationSeconds = DefaultExpirationSeconds
	}
	setDefault(&u.Plugin.Delivery, DeliveryInitContainer)
	if u.Plugin.Delivery == DeliveryInitContainer {
		setDefault(&u.Plugin.Image, DefaultImage())
		setDefault(&u.Plugin.ImagePullPolicy, "IfNotPresent")
		setDefault(&u.Plugin.Dir, DefaultPluginDir)
	}
	for i := range f.Downstreams {
		d := &f.Downstreams[i]
		if u.Token.SharedAudience != "" {
			setDefault(&d.Audience, u.Token.SharedAudience)
		}
		setDefault(&d.Audience, d.Name)
		if u.Name != "" {
			setDefault(&d.UsernamePrefix, u.Name+":")
		}
		if d.Access.Controller.empty() {
			d.Access.Controller.ClusterRole = DefaultControllerRole
		}
		if d.Access.Server.empty() {
			d.Access.Server.Preset = PresetViewer
		}
		if d.Name != "" {
			setDefault(&d.ArgoCD.SecretName, "cluster-"+d.Name)
		}
		setDefault(&d.APIServer.AuthenticationConfigVersion, AuthnV1)
		if u.Name != "" {
			setDefault(&d.APIServer.OIDCCAFile, DefaultOIDCCADir+"/"+u.Name+"-ca.crt")
		}
	}
}

func defaultWorkload(w *Workload, kind, name string) {
	setDefault(&w.Kind, kind)
	setDefault(&w.Name, name)
	setDefault(&w.Container, w.Name)
	setDefault(&w.ServiceAccount, w.Name)
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

func (r Role) empty() bool {
	return r.Preset == "" && r.ClusterRole == "" && len(r.Rules) == 0
}

// CommandPath is the absolute path of the plugin inside the ArgoCD containers.
func (p Plugin) CommandPath() string {
	if p.Delivery == DeliveryPreinstalled {
		return p.Command
	}
	return p.Dir + "/" + PluginBinary
}

// TokenFile is the file name, inside the token mount, of the token for one
// audience: the audience with every character that is not safe in a file
// name replaced by '-'.
func TokenFile(audience string) string {
	b := []byte(audience)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	name := string(b)
	if name == "" || name == "." || name == ".." || name[0] == '.' {
		name = "token-" + name
	}
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

// TokenPath is the absolute path of a downstream's token in the pods.
func (f *Federation) TokenPath(d *Downstream) string {
	return f.Upstream.Token.MountPath + "/" + TokenFile(d.Audience)
}

// ServiceAccountSubject is the sub claim of a service account's tokens.
func ServiceAccountSubject(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// User is the username a downstream sees for one ArgoCD service account.
func (f *Federation) User(d *Downstream, w Workload) string {
	return d.UsernamePrefix + ServiceAccountSubject(f.Upstream.ArgoCD.Namespace, w.ServiceAccount)
}
