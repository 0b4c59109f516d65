package config

import (
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/version"
)

// Defaults that match a stock ArgoCD install.
const (
	DefaultNamespace         = "argocd"
	DefaultControllerName    = "argocd-application-controller"
	DefaultServerName        = "argocd-server"
	DefaultTokenMountPath    = plugin.DefaultTokenDir
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
	if op := u.ArgoCD.Operator; op != nil && op.Name != "" {
		// argocd-operator's names: <name>-application-controller running
		// container argocd-application-controller as service account
		// <name>-argocd-application-controller; the same for the server.
		setDefault(&u.ArgoCD.Controller.Name, op.Name+"-application-controller")
		setDefault(&u.ArgoCD.Controller.Container, DefaultControllerName)
		setDefault(&u.ArgoCD.Controller.ServiceAccount, op.Name+"-"+DefaultControllerName)
		setDefault(&u.ArgoCD.Server.Name, op.Name+"-server")
		setDefault(&u.ArgoCD.Server.Container, DefaultServerName)
		setDefault(&u.ArgoCD.Server.ServiceAccount, op.Name+"-"+DefaultServerName)
	}
	defaultWorkload(&u.ArgoCD.Controller, KindStatefulSet, DefaultControllerName)
	defaultWorkload(&u.ArgoCD.Server, KindDeployment, DefaultServerName)
	if p := u.IdentityProvider; p != nil {
		// Every downstream's token comes from the provider.
		setDefault(&u.Token.Source, SourceIdentityProvider)
		setDefault(&p.UsernameClaim, "sub")
		if p.Grant == GrantClientCredentials {
			if p.ClientSecret == nil {
				p.ClientSecret = &ClientSecretRef{}
			}
			setDefault(&p.ClientSecret.SecretName, DefaultClientSecretName)
			setDefault(&p.ClientSecret.Key, DefaultClientSecretKey)
		}
	}
	if u.People != nil {
		defaultPeople(u.People)
	}
	setDefault(&u.Token.Source, SourceProjected)
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
	for i := range u.Workloads {
		w := &u.Workloads[i]
		setDefault(&w.ServiceAccount, w.Name)
		if len(w.Containers) == 0 && w.Name != "" {
			w.Containers = []string{w.Name}
		}
	}
	for i := range f.Downstreams {
		d := &f.Downstreams[i]
		if u.Token.SharedAudience != "" && u.IdentityProvider == nil {
			setDefault(&d.Audience, u.Token.SharedAudience)
		}
		setDefault(&d.Audience, d.Name)
		if u.IdentityProvider != nil {
			// Not u.Token.Source: a source given there is refused, not
			// inherited.
			setDefault(&d.TokenSource, SourceIdentityProvider)
		}
		setDefault(&d.TokenSource, u.Token.Source)
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
