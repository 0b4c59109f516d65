// Package config is the Federation API: the one file an operator writes to
// describe an ArgoCD hub ("upstream") and the clusters it deploys into
// ("downstreams"). It decodes strictly, fills defaults and validates,
// reporting every problem at once with its field path and what would be valid.
//
// docs/config.md is the reference of every field; keep it in step.
package config

// The apiVersion and kind of a federation config file.
const (
	Group      = "argocd-k8s-federate.io"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
	Kind       = "Federation"
)

// Federation is one upstream (the cluster running ArgoCD) and the downstream
// clusters that trust its service-account issuer.
type Federation struct {
	APIVersion  string       `json:"apiVersion"`
	Kind        string       `json:"kind"`
	Upstream    Upstream     `json:"upstream"`
	Downstreams []Downstream `json:"downstreams"`

	// Source is the file the federation was read from ("" for in-memory
	// configs); relative CA files resolve against its directory.
	Source string `json:"-"`
}

// CertificateAuthority says how a TLS server is verified: by a CA bundle
// (from a file or inline PEM) or, only when said explicitly, by the system
// roots of whoever connects.
type CertificateAuthority struct {
	// CAFile is a PEM file, relative to the config file's directory.
	CAFile string `json:"caFile,omitempty"`
	// CA is an inline PEM bundle.
	CA string `json:"ca,omitempty"`
	// UseSystemRoots accepts the connecting side's system roots instead of a
	// CA (for publicly trusted certificates). Never implied by a missing CA.
	UseSystemRoots bool `json:"useSystemRoots,omitempty"`

	// pem is the resolved bundle (CA or the content of CAFile).
	pem string
}

// PEM returns the resolved CA bundle, or "" when system roots are used.
func (c CertificateAuthority) PEM() string { return c.pem }

// Upstream is the cluster that runs ArgoCD and issues the tokens.
type Upstream struct {
	// Name identifies the upstream in generated names and in the default
	// username prefix ("<name>:"). A DNS label.
	Name string `json:"name"`
	// Issuer is the upstream API server's --service-account-issuer: the iss
	// claim of its tokens. https, and never the shared default
	// https://kubernetes.default.svc.cluster.local.
	Issuer string `json:"issuer"`
	// DiscoveryURL is where downstreams fetch the discovery document when it
	// is published somewhere other than {issuer}/.well-known/openid-configuration.
	DiscoveryURL string `json:"discoveryURL,omitempty"`
	// The CA that verifies the issuer's (or discoveryURL's) serving certificate.
	CertificateAuthority `json:",inline"`

	ArgoCD ArgoCD `json:"argocd"`
	Token  Token  `json:"token"`
	Plugin Plugin `json:"plugin"`
	// IdentityProvider, when set, is the company's OpenID provider that
	// every downstream of this upstream trusts instead of the issuer above:
	// the plugin gets each downstream's token from it (oidc-token).
	IdentityProvider *IdentityProvider `json:"identityProvider,omitempty"`
	// Workloads are other workloads of the upstream that reach downstreams
	// with a kubeconfig (a CI runner, a reporting CronJob): each gets a
	// Component and a kubeconfig; downstreams[].access.workloads grant them.
	Workloads []UpstreamWorkload `json:"workloads,omitempty"`
	// People, when set, are the people who reach the downstreams with
	// kubectl, logged in to the company's OpenID provider through kubelogin
	// (browser or device code): the downstreams that grant them something
	// (downstreams[].access.people) trust the provider's ID tokens for
	// people, and generate writes their kubeconfig.
	People *People `json:"people,omitempty"`
}

// People is the OpenID provider people log in to, and how the downstreams
// map its ID tokens to users and groups.
type People struct {
	// Issuer is the provider's issuer URL: https, exactly the iss claim of
	// its ID tokens. It may be upstream.identityProvider's.
	Issuer string `json:"issuer"`
	// The CA that verifies the provider's TLS certificate (in the
	// downstream API servers and in kubelogin).
	CertificateAuthority `json:",inline"`
	// ClientID is the provider's client kubelogin logs in with: the aud of
	// the ID tokens. Required.
	ClientID string `json:"clientID"`
	// UsernameClaim is the ID token's claim the username comes from.
	// Default email (then email_verified, when present, must be true).
	UsernameClaim string `json:"usernameClaim,omitempty"`
	// UsernamePrefix goes before it. Default "oidc:". Never empty, never
	// system:, never a downstream's usernamePrefix.
	UsernamePrefix string `json:"usernamePrefix,omitempty"`
	// GroupsClaim is the claim that lists the person's groups. Default
	// groups.
	GroupsClaim string `json:"groupsClaim,omitempty"`
	// GroupsPrefix goes before each group. Default: usernamePrefix. Never
	// empty, never system:.
	GroupsPrefix string `json:"groupsPrefix,omitempty"`
	// ExtraScopes kubelogin asks for besides openid. Default [email,
	// groups].
	ExtraScopes []string `json:"extraScopes,omitempty"`
}

// PeopleAccess is what the people of one group may do in a downstream: a
// scope (namespaces or clusterWide) and exactly one role.
type PeopleAccess struct {
	// Group as the provider names it in the groups claim (without the
	// prefix).
	Group string `json:"group"`
	// Namespaces the group is granted (one RoleBinding each).
	Namespaces []string `json:"namespaces,omitempty"`
	// ClusterWide binds the role cluster-wide instead. Only when said
	// explicitly; then Namespaces is empty.
	ClusterWide bool `json:"clusterWide,omitempty"`
	// The role: exactly one of preset, clusterRole or rules.
	Role `json:",inline"`
}

// The grants of upstream.identityProvider.grant: how the hub gets a token
// from the provider.
const (
	// GrantJWTBearer: RFC 7523, a service-account token of the hub is the
	// assertion (the provider trusts the hub's issuer); no secret anywhere,
	// and each service account keeps its own identity.
	GrantJWTBearer = "JWTBearer"
	// GrantClientCredentials: one client of the provider, its secret in a
	// Secret the user creates; every identity of the hub is that client.
	GrantClientCredentials = "ClientCredentials"
	// GrantRefreshToken is refused for the hub (see validate.go): the
	// plugin's oidc-token --grant refresh-token is for tooling outside it.
	GrantRefreshToken = "RefreshToken"
)

// IdentityProviderGrants are the values upstream.identityProvider.grant
// accepts.
var IdentityProviderGrants = []string{GrantJWTBearer, GrantClientCredentials}

// IdentityProvider is an OpenID provider (Keycloak, Entra ID, Okta, Hydra)
// that the downstreams trust: the plugin asks it for each downstream's
// token, and the downstream API servers verify its tokens.
type IdentityProvider struct {
	// Issuer is the provider's issuer URL: https, exactly the iss claim of
	// its tokens. Never upstream.issuer.
	Issuer string `json:"issuer"`
	// The CA that verifies the provider's TLS certificate (in the hub's
	// pods and in the downstream API servers).
	CertificateAuthority `json:",inline"`
	// Grant is JWTBearer or ClientCredentials. Required.
	Grant string `json:"grant"`
	// ClientID is the provider's client the hub uses. Required.
	ClientID string `json:"clientID"`
	// ClientSecret is where the client secret is (ClientCredentials only):
	// a Secret the user creates in upstream.argocd.namespace; this tool
	// never generates it. Defaulted with ClientCredentials.
	ClientSecret *ClientSecretRef `json:"clientSecret,omitempty"`
	// AssertionAudience is the aud the provider wants in the jwt-bearer
	// assertion (JWTBearer only, required there).
	AssertionAudience string `json:"assertionAudience,omitempty"`
	// Scopes are the token request's scope parameter (joined with spaces).
	Scopes []string `json:"scopes,omitempty"`
	// UsernameClaim is the claim the downstreams take the username from.
	// Default sub.
	UsernameClaim string `json:"usernameClaim,omitempty"`
}

// ClientSecretRef names the key of a Secret in upstream.argocd.namespace
// that holds the client secret.
type ClientSecretRef struct {
	// SecretName of the Secret. Default argocd-k8s-federate-oidc-client.
	SecretName string `json:"secretName,omitempty"`
	// Key of the client secret in the Secret. Default client-secret.
	Key string `json:"key,omitempty"`
}

// Kinds of the pod templates an upstream workload may have.
const (
	KindDaemonSet = "DaemonSet"
	KindJob       = "Job"
	KindCronJob   = "CronJob"
)

// WorkloadKinds are the kinds of upstream.workloads[].kind.
var WorkloadKinds = []string{KindDeployment, KindStatefulSet, KindDaemonSet, KindJob, KindCronJob}

// UpstreamWorkload is a workload of the upstream, other than ArgoCD, that
// runs kubectl, helm or a controller against downstreams.
type UpstreamWorkload struct {
	// Name of the workload (its Deployment, Job, ...), and of its
	// directory and kubeconfig ConfigMap in the generated tree. A DNS label.
	Name string `json:"name"`
	// Namespace the workload runs in.
	Namespace string `json:"namespace"`
	// Kind of the workload: Deployment, StatefulSet, DaemonSet, Job or CronJob.
	Kind string `json:"kind"`
	// ServiceAccount the pods run as. Default: Name.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Containers that get the kubeconfig (KUBECONFIG) and the plugin.
	// Default: [Name].
	Containers []string `json:"containers,omitempty"`
}

// Subject is the sub claim of the workload's tokens.
func (w UpstreamWorkload) Subject() string {
	return ServiceAccountSubject(w.Namespace, w.ServiceAccount)
}

// ArgoCD names the ArgoCD installation in the upstream.
type ArgoCD struct {
	// Namespace ArgoCD runs in. Default "argocd".
	Namespace string `json:"namespace,omitempty"`
	// Controller is the application controller. Default: StatefulSet
	// argocd-application-controller.
	Controller Workload `json:"controller"`
	// Server is the API server. Default: Deployment argocd-server.
	Server Workload `json:"server"`
	// Operator is set when argocd-operator (OpenShift GitOps) runs ArgoCD:
	// the workloads' defaults follow the operator's names, and generate
	// writes the patch of the ArgoCD resource.
	Operator *Operator `json:"operator,omitempty"`
}

// Operator names the ArgoCD resource of argocd-operator.
type Operator struct {
	// Name of the ArgoCD resource (argoproj.io ArgoCD) in upstream.argocd.namespace.
	Name string `json:"name"`
}

// Workload kinds the controller may run as.
const (
	KindStatefulSet = "StatefulSet"
	KindDeployment  = "Deployment"
)

// Workload is one ArgoCD workload whose pods need the tokens and the plugin.
type Workload struct {
	// Kind is StatefulSet or Deployment (the server is always a Deployment).
	Kind string `json:"kind,omitempty"`
	// Name of the workload. Defaults to ArgoCD's names.
	Name string `json:"name,omitempty"`
	// Container is the main container that runs the plugin. Default: Name.
	Container string `json:"container,omitempty"`
	// ServiceAccount the pods run as: its tokens are what downstreams see.
	// Default: Name.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Enabled is false for an ArgoCD without this workload: the server in
	// core mode (core-install.yaml). Default true; the controller is always
	// there.
	Enabled *bool `json:"enabled,omitempty"`
}

// IsEnabled reports whether the workload is part of the installation.
func (w Workload) IsEnabled() bool { return w.Enabled == nil || *w.Enabled }

// Workloads are the ArgoCD workloads that run the plugin: the controller,
// and the server unless it is disabled (core mode).
func (a ArgoCD) Workloads() []Workload {
	if a.Server.IsEnabled() {
		return []Workload{a.Controller, a.Server}
	}
	return []Workload{a.Controller}
}

// Token sources: where the plugin gets a downstream's token.
const (
	// SourceProjected: the kubelet keeps one projected service-account
	// token per audience in a volume of the ArgoCD pods; the plugin reads it
	// (token-file). Adding a downstream changes the pod templates.
	SourceProjected = "Projected"
	// SourceTokenRequest: the plugin asks the upstream API server for a
	// token bound to its pod (token-request). Adding a downstream changes no
	// pod template; the service accounts get "create" on their own
	// serviceaccounts/token and admission limits the audiences.
	SourceTokenRequest = "TokenRequest"
	// SourceIdentityProvider: the plugin gets the token from
	// upstream.identityProvider (oidc-token). Filled in by the defaults
	// when identityProvider is set, never written by hand.
	SourceIdentityProvider = "IdentityProvider"
)

// Token configures the service-account tokens the downstreams accept.
type Token struct {
	// Source is the token source of every downstream that does not choose
	// its own: Projected (default) or TokenRequest. See docs/config.md for
	// when to pick which.
	Source string `json:"source,omitempty"`
	// MountPath is the directory the projected token volume is mounted at;
	// each audience's token is a file in it. Default
	// /var/run/secrets/argocd-k8s-federate.
	MountPath string `json:"mountPath,omitempty"`
	// ExpirationSeconds of each token (>= 600, <= 86400). Default 3600. The
	// kubelet replaces a token when 80% of this has passed.
	ExpirationSeconds int64 `json:"expirationSeconds,omitempty"`
	// SharedAudience, when set, is the one audience of every downstream
	// (one token per pod instead of one per downstream). See docs/config.md
	// for the trade-off.
	SharedAudience string `json:"sharedAudience,omitempty"`
}

// Plugin delivery modes.
const (
	DeliveryInitContainer = "InitContainer"
	DeliveryPreinstalled  = "Preinstalled"
)

// Plugin says how the credential plugin gets into the ArgoCD pods.
type Plugin struct {
	// Delivery is InitContainer (default: an init container of Image copies
	// the plugin into an emptyDir shared with the ArgoCD container) or
	// Preinstalled (the ArgoCD image already has it at Command).
	Delivery string `json:"delivery,omitempty"`
	// Image of the plugin (InitContainer). Default: the project's image at
	// this generator's version.
	Image string `json:"image,omitempty"`
	// ImagePullPolicy of the init container. Default IfNotPresent.
	ImagePullPolicy string `json:"imagePullPolicy,omitempty"`
	// Dir the plugin is installed to and mounted at (InitContainer).
	// Default /var/run/argocd-k8s-federate.
	Dir string `json:"dir,omitempty"`
	// Command is the absolute path of the plugin in the ArgoCD image
	// (Preinstalled).
	Command string `json:"command,omitempty"`
}

// Downstream is one cluster ArgoCD deploys into.
type Downstream struct {
	// Name of the cluster in ArgoCD and in generated names. A DNS label.
	Name string `json:"name"`
	// Server is the downstream API server URL (https).
	Server string `json:"server"`
	// The CA that verifies the downstream API server.
	CertificateAuthority `json:",inline"`
	// Audience of this downstream's tokens. Default: Name (or the upstream's
	// token.sharedAudience).
	Audience string `json:"audience,omitempty"`
	// TokenSource overrides upstream.token.source for this downstream
	// (Projected or TokenRequest), e.g. to move a fleet one cluster at a time.
	TokenSource string `json:"tokenSource,omitempty"`
	// UsernamePrefix the downstream puts before the token's sub. Default
	// "<upstream name>:". Never empty, never starting with "system:".
	UsernamePrefix string `json:"usernamePrefix,omitempty"`

	Access    Access        `json:"access"`
	ArgoCD    ClusterSecret `json:"argocd,omitempty"`
	APIServer APIServer     `json:"apiServer,omitempty"`
}

// Access is what ArgoCD may do in the downstream.
type Access struct {
	// Namespaces ArgoCD may deploy into (one RoleBinding each).
	Namespaces []string `json:"namespaces,omitempty"`
	// ClusterWide binds the roles cluster-wide (ClusterRoleBindings) instead
	// of per namespace. Only when said explicitly; then Namespaces is empty.
	ClusterWide bool `json:"clusterWide,omitempty"`
	// Controller is the application controller's role. Default: the built-in
	// ClusterRole admin.
	Controller Role `json:"controller,omitempty"`
	// Server is argocd-server's role (live views and logs). Default: the
	// viewer preset (read-only, pods/log, no Secrets).
	Server Role `json:"server,omitempty"`
	// Workloads are the upstream workloads (upstream.workloads) granted
	// something here; nothing is defaulted.
	Workloads []WorkloadAccess `json:"workloads,omitempty"`
	// People are the groups of upstream.people granted something here;
	// nothing is defaulted. Only a downstream that grants people trusts
	// their ID tokens.
	People []PeopleAccess `json:"people,omitempty"`
}

// WorkloadAccess is what one upstream workload may do in a downstream: a
// scope (namespaces or clusterWide) and exactly one role.
type WorkloadAccess struct {
	// Name of the workload in upstream.workloads.
	Name string `json:"name"`
	// Namespaces it is granted (one RoleBinding each).
	Namespaces []string `json:"namespaces,omitempty"`
	// ClusterWide binds the role cluster-wide instead. Only when said
	// explicitly; then Namespaces is empty.
	ClusterWide bool `json:"clusterWide,omitempty"`
	// The role: exactly one of preset, clusterRole or rules.
	Role `json:",inline"`
}

// Role is exactly one of a preset, an existing ClusterRole, or explicit rules.
type Role struct {
	// Preset is a reviewed role shipped with this tool (rbac/): "viewer".
	Preset string `json:"preset,omitempty"`
	// ClusterRole is an existing ClusterRole of the downstream (admin, edit,
	// view, or your own).
	ClusterRole string `json:"clusterRole,omitempty"`
	// Rules become a ClusterRole generated for this upstream.
	Rules []PolicyRule `json:"rules,omitempty"`
}

// PolicyRule is an RBAC rule (rbac.authorization.k8s.io/v1).
type PolicyRule struct {
	APIGroups       []string `json:"apiGroups,omitempty"`
	Resources       []string `json:"resources,omitempty"`
	ResourceNames   []string `json:"resourceNames,omitempty"`
	Verbs           []string `json:"verbs"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

// ClusterSecret holds extras of the ArgoCD cluster Secret.
type ClusterSecret struct {
	// SecretName of the cluster Secret. Default "cluster-<name>".
	SecretName string `json:"secretName,omitempty"`
	// ClusterName is the cluster's name in ArgoCD (the Secret's name key)
	// when it is not the downstream's name: an ArgoCD name that is not a
	// DNS label, kept so that Applications naming it keep working. Default:
	// the downstream's name.
	ClusterName string `json:"clusterName,omitempty"`
	// Project restricts the cluster to one ArgoCD project.
	Project string `json:"project,omitempty"`
	// Labels on the Secret: ArgoCD cluster labels (ApplicationSet selectors).
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations on the Secret.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AuthenticationConfiguration versions.
const (
	AuthnV1      = "v1"
	AuthnV1beta1 = "v1beta1"
)

// APIServer tunes the downstream API server's trust files.
type APIServer struct {
	// AuthenticationConfigVersion is v1 (Kubernetes >= 1.34, default) or
	// v1beta1 (1.30-1.33).
	AuthenticationConfigVersion string `json:"authenticationConfigVersion,omitempty"`
	// OIDCCAFile is where the upstream CA will be on the API server's host,
	// for --oidc-ca-file. Default /etc/kubernetes/pki/argocd-k8s-federate/<upstream>-ca.crt.
	OIDCCAFile string `json:"oidcCAFile,omitempty"`
}
