package oracletest

import (
	"slices"
	"sort"
	"strconv"
)

// What a stock ArgoCD install and the generator's documented defaults give.
const (
	ArgoCDNamespace  = "argocd"
	ControllerName   = "argocd-application-controller"
	ServerName       = "argocd-server"
	DefaultMount     = "/var/run/secrets/argocd-k8s-federate"
	DefaultPluginDir = "/var/run/argocd-k8s-federate"
	PluginBinary     = "argocd-k8s-federate-plugin"
	ExecAPIVersion   = "client.authentication.k8s.io/v1"
	// The identity provider's files in the pods, and the ConfigMap of its
	// CA (docs/config.md, upstream.identityProvider).
	ClientSecretDir = "/var/run/secrets/argocd-k8s-federate-oidc"
	OIDCCADir       = "/etc/argocd-k8s-federate/oidc-ca"
	OIDCCAConfigMap = "argocd-k8s-federate-oidc-ca"
)

// IdentityProvider is what a case's upstream.identityProvider must yield.
type IdentityProvider struct {
	Issuer string
	// Grant is the plugin's --grant: client-credentials or jwt-bearer.
	Grant    string
	ClientID string
	// SecretName and SecretKey are the user's Secret of the client secret
	// (client-credentials).
	SecretName, SecretKey string
	// AssertionAudience is the jwt-bearer assertion's audience.
	AssertionAudience string
	// Scope is the --scope parameter ("" for none).
	Scope string
	// CAFile is the provider's CA, relative to the repository root; ""
	// means system roots (no CA volume, no --ca-file).
	CAFile string
	// UsernameClaim the downstreams read the username from.
	UsernameClaim string
}

// ClientCredentials tells whether the hub is one client of the provider.
func (p *IdentityProvider) ClientCredentials() bool { return p.Grant == "client-credentials" }

// Case is one federation config and, written out by hand from that config,
// what ArgoCD and kustomize must find in its generated tree. The
// expectations are deliberately not computed by the generator's code.
type Case struct {
	Name   string // subtest name
	Config string // path relative to the repository root
	// Upstream is upstream.name: the output is under upstream/<Upstream>/.
	Upstream string
	Issuer   string
	// Command is the absolute path of the plugin inside the ArgoCD containers.
	Command string
	// PluginDir is the emptyDir the init container installs the plugin
	// into; "" for delivery: Preinstalled (no init container).
	PluginDir string
	// Image is the init container's image ("" for Preinstalled).
	Image string
	// MountPath and ExpirationSeconds of the projected token volume.
	MountPath         string
	ExpirationSeconds int64
	// The ArgoCD service accounts the downstream RBAC binds.
	ControllerSA, ServerSA string
	// IdentityProvider, when set, is the provider every downstream trusts:
	// the plugin runs oidc-token.
	IdentityProvider *IdentityProvider
	Clusters         []Downstream
}

// Downstream is one downstream as ArgoCD must see it.
type Downstream struct {
	SecretName string
	Name       string
	Server     string
	// CAFile is the PEM the Secret's caData must hold, relative to the
	// repository root; "" means system roots (no caData).
	CAFile    string
	Audience  string
	TokenFile string // the token's file name in MountPath
	// TokenRequest: the plugin requests the token (token-request); there is
	// no TokenFile.
	TokenRequest   bool
	UsernamePrefix string
	// Namespaces ArgoCD may deploy into; nil means cluster-wide access.
	Namespaces []string
	Project    string
	// Labels and Annotations the config asks for on the cluster Secret.
	Labels      map[string]string
	Annotations map[string]string
	// WorkloadUsers are the users of the upstream workloads the downstream
	// grants something, each with its namespaces (nil: cluster-wide).
	WorkloadUsers map[string][]string
}

// ClusterWide tells whether ArgoCD gets cluster-wide access.
func (d Downstream) ClusterWide() bool { return d.Namespaces == nil }

// TokenPath is where the plugin reads the downstream's token.
func (tc Case) TokenPath(d Downstream) string { return tc.MountPath + "/" + d.TokenFile }

// HasTokenRequest tells whether the service accounts request their own
// tokens (the token-request objects are generated): for a token-request
// downstream, or as jwt-bearer assertions.
func (tc Case) HasTokenRequest() bool {
	if p := tc.IdentityProvider; p != nil {
		return p.Grant == "jwt-bearer"
	}
	for _, c := range tc.Clusters {
		if c.TokenRequest {
			return true
		}
	}
	return false
}

// Users are the downstream users of ArgoCD's controller and server: their
// prefixed service accounts, or the prefixed client id twice (a client of
// the identity provider is the one identity of the hub).
func (tc Case) Users(c Downstream) []string {
	if p := tc.IdentityProvider; p != nil && p.ClientCredentials() {
		return []string{c.UsernamePrefix + p.ClientID, c.UsernamePrefix + p.ClientID}
	}
	return []string{
		c.UsernamePrefix + "system:serviceaccount:" + ArgoCDNamespace + ":" + tc.ControllerSA,
		c.UsernamePrefix + "system:serviceaccount:" + ArgoCDNamespace + ":" + tc.ServerSA,
	}
}

// ExecArgs are the plugin's arguments ArgoCD must run for c.
func (tc Case) ExecArgs(c Downstream) []string {
	if p := tc.IdentityProvider; p != nil {
		args := []string{"oidc-token", "--issuer", p.Issuer, "--grant", p.Grant, "--client-id", p.ClientID}
		if p.ClientCredentials() {
			args = append(args, "--client-secret-file", ClientSecretDir+"/"+p.SecretKey)
		}
		args = append(args, "--audience", c.Audience)
		if p.Scope != "" {
			args = append(args, "--scope", p.Scope)
		}
		if p.CAFile != "" {
			args = append(args, "--ca-file", OIDCCADir+"/ca.crt")
		}
		if p.AssertionAudience != "" {
			args = append(args, "--assertion-audience", p.AssertionAudience)
		}
		return args
	}
	if c.TokenRequest {
		args := []string{"token-request", "--audience", c.Audience}
		if tc.ExpirationSeconds != 3600 {
			args = append(args, "--expiration-seconds", strconv.FormatInt(tc.ExpirationSeconds, 10))
		}
		return append(args, "--issuer", tc.Issuer)
	}
	return []string{"token-file", "--file", tc.TokenPath(c), "--audience", c.Audience, "--issuer", tc.Issuer}
}

// Audiences are the distinct audiences of the case's downstreams with
// projected tokens, sorted: the volume's sources.
func (tc Case) Audiences() []string {
	var out []string
	if tc.IdentityProvider != nil {
		return nil // the provider's tokens: none projected
	}
	for _, c := range tc.Clusters {
		if !c.TokenRequest && !slices.Contains(out, c.Audience) {
			out = append(out, c.Audience)
		}
	}
	sort.Strings(out)
	return out
}

// Cases are the configs every oracle judges: the shipped example and the
// test configs in e2e/oracle/testdata/.
func Cases() []Case {
	const td = "e2e/oracle/testdata/"
	const certs = td + "certs/"
	initContainer := func(tc Case) Case {
		tc.PluginDir = DefaultPluginDir
		tc.Command = DefaultPluginDir + "/" + PluginBinary
		return tc
	}
	return []Case{
		initContainer(Case{
			Name:              "example",
			Config:            "examples/federation.yaml",
			Upstream:          "hub",
			Issuer:            "https://hub.k8s.example.com",
			Image:             "ghcr.io/argocd-k8s-federate/argocd-k8s-federate-plugin:v0.1.0",
			MountPath:         DefaultMount,
			ExpirationSeconds: 3600,
			ControllerSA:      ControllerName,
			ServerSA:          ServerName,
			Clusters: []Downstream{
				{
					SecretName: "cluster-platform", Name: "platform", Server: "https://platform.k8s.example.com",
					Audience: "platform", TokenFile: "platform", UsernamePrefix: "argocd-hub:",
				},
				{
					SecretName: "cluster-prod-eu", Name: "prod-eu", Server: "https://prod-eu.k8s.example.com:6443",
					CAFile: "examples/certs/prod-eu-ca.crt", Audience: "prod-eu", TokenFile: "prod-eu", UsernamePrefix: "hub:",
					Namespaces: []string{"shop", "payments"}, Project: "production",
					Labels: map[string]string{"env": "prod", "region": "eu"},
				},
				{
					SecretName: "cluster-staging", Name: "staging", Server: "https://staging.k8s.example.com:6443",
					CAFile: "examples/certs/staging-ca.crt", Audience: "staging", TokenFile: "staging", UsernamePrefix: "hub:",
					Namespaces: []string{"shop"}, Labels: map[string]string{"env": "staging"},
					WorkloadUsers: map[string][]string{"hub:system:serviceaccount:ci:ci-runner": {"shop"}},
				},
			},
		}),
		initContainer(Case{
			Name:              "namespaced",
			Config:            td + "namespaced.yaml",
			Upstream:          "hub-a",
			Issuer:            "https://hub-a.example.net",
			Image:             "registry.example.net/argocd-k8s-federate-plugin:v9.9.9",
			MountPath:         DefaultMount,
			ExpirationSeconds: 3600,
			ControllerSA:      ControllerName,
			ServerSA:          ServerName,
			Clusters: []Downstream{
				{
					SecretName: "cluster-alpha", Name: "alpha", Server: "https://alpha.example.net:6443",
					CAFile: certs + "alpha-ca.crt", Audience: "alpha", TokenFile: "alpha", UsernamePrefix: "hub-a:",
					Namespaces: []string{"web", "api"},
				},
				{
					// Inline CA: the same PEM as certs/beta-ca.crt.
					SecretName: "cluster-beta", Name: "beta", Server: "https://beta.example.net",
					CAFile: certs + "beta-ca.crt", Audience: "https://beta.example.net/argocd",
					TokenFile: "https---beta.example.net-argocd", UsernamePrefix: "federated-hub-a:",
					Namespaces: []string{"jobs"},
				},
			},
		}),
		{
			Name:              "clusterwide",
			Config:            td + "clusterwide.yaml",
			Upstream:          "hub-b",
			Issuer:            "https://issuer.hub-b.example.net/cluster",
			Command:           "/opt/argocd-k8s-federate/" + PluginBinary,
			PluginDir:         "/opt/argocd-k8s-federate",
			Image:             "", // the default image: its tag is the CLI's version
			MountPath:         "/var/run/secrets/federation",
			ExpirationSeconds: 7200,
			ControllerSA:      ControllerName,
			ServerSA:          ServerName,
			Clusters: []Downstream{
				{
					SecretName: "cluster-delta", Name: "delta", Server: "https://delta.example.net:6443",
					CAFile: certs + "delta-ca.crt", Audience: "delta", TokenFile: "delta", UsernamePrefix: "hub-b:",
					Namespaces: []string{"apps"},
				},
				{
					SecretName: "cluster-gamma", Name: "gamma", Server: "https://gamma.example.net:6443",
					CAFile: certs + "gamma-ca.crt", Audience: "gamma", TokenFile: "gamma", UsernamePrefix: "hub-b:",
				},
				{
					SecretName: "cluster-public", Name: "public", Server: "https://api.public.example.com",
					Audience: "public", TokenFile: "public", UsernamePrefix: "hub-b:",
				},
			},
		},
		{
			Name:              "preinstalled",
			Config:            td + "preinstalled.yaml",
			Upstream:          "hub-c",
			Issuer:            "https://hub-c.example.net",
			Command:           "/usr/local/bin/argocd-k8s-federate-plugin",
			MountPath:         DefaultMount,
			ExpirationSeconds: 3600,
			ControllerSA:      ControllerName,
			ServerSA:          ServerName,
			Clusters: []Downstream{
				{
					SecretName: "cluster-alpha", Name: "alpha", Server: "https://alpha.example.net:6443",
					CAFile: certs + "alpha-ca.crt", Audience: "alpha", TokenFile: "alpha", UsernamePrefix: "hub-c:",
					Namespaces: []string{"web"},
				},
				{
					SecretName: "cluster-gamma", Name: "gamma", Server: "https://gamma.example.net:6443",
					CAFile: certs + "gamma-ca.crt", Audience: "gamma", TokenFile: "gamma", UsernamePrefix: "hub-c:",
				},
			},
		},
		initContainer(Case{
			Name:              "shared-audience",
			Config:            td + "shared-audience.yaml",
			Upstream:          "fleet",
			Issuer:            "https://fleet.example.net",
			MountPath:         DefaultMount,
			ExpirationSeconds: 600,
			ControllerSA:      ControllerName,
			ServerSA:          ServerName,
			Clusters: []Downstream{
				{
					SecretName: "cluster-alpha", Name: "alpha", Server: "https://alpha.example.net:6443",
					CAFile: certs + "alpha-ca.crt", Audience: "argocd-fleet.example.net", TokenFile: "argocd-fleet.example.net",
					UsernamePrefix: "fleet:", Namespaces: []string{"web"},
				},
				{
					SecretName: "cluster-beta", Name: "beta", Server: "https://beta.example.net",
					CAFile: certs + "beta-ca.crt", Audience: "argocd-fleet.example.net", TokenFile: "argocd-fleet.example.net",
					UsernamePrefix: "fleet:", Namespaces: []string{"web", "batch"},
				},
				{
					SecretName: "cluster-gamma", Name: "gamma", Server: "https://gamma.example.net:6443",
					CAFile: certs + "gamma-ca.crt", Audience: "argocd-fleet.example.net", TokenFile: "argocd-fleet.example.net",
					UsernamePrefix: "fleet:", Namespaces: []string{"web"},
				},
			},
		}),
		initContainer(Case{
			Name:              "project-labels",
			Config:            td + "project-labels.yaml",
			Upstream:          "hub-d",
			Issuer:            "https://hub-d.example.net",
			MountPath:         DefaultMount,
			ExpirationSeconds: 3600,
			ControllerSA:      "argocd-controller-federated",
			ServerSA:          "argocd-server-federated",
			Clusters: []Downstream{
				{
					SecretName: "alpha-cluster", Name: "alpha", Server: "https://alpha.example.net:6443",
					CAFile: certs + "alpha-ca.crt", Audience: "alpha", TokenFile: "alpha", UsernamePrefix: "hub-d:",
					Namespaces: []string{"web", "api", "batch"}, Project: "team-alpha",
					Labels:      map[string]string{"env": "prod", "example.net/region": "eu-west-1", "tier": "1"},
					Annotations: map[string]string{"example.net/owner": "team-alpha@example.net"},
				},
				{
					SecretName: "cluster-delta", Name: "delta", Server: "https://delta.example.net:6443",
					CAFile: certs + "delta-ca.crt", Audience: "delta", TokenFile: "delta", UsernamePrefix: "hub-d:",
					Namespaces: []string{"apps"}, Project: "team-delta",
					Labels: map[string]string{"env": "staging"},
				},
			},
		}),
		initContainer(Case{
			Name:              "token-request",
			Config:            td + "token-request.yaml",
			Upstream:          "hub-e",
			Issuer:            "https://hub-e.example.net",
			Image:             "registry.example.net/argocd-k8s-federate-plugin:v9.9.9",
			MountPath:         DefaultMount,
			ExpirationSeconds: 1800,
			ControllerSA:      ControllerName,
			ServerSA:          ServerName,
			Clusters: []Downstream{
				{
					SecretName: "cluster-alpha", Name: "alpha", Server: "https://alpha.example.net:6443",
					CAFile: certs + "alpha-ca.crt", Audience: "alpha", TokenRequest: true, UsernamePrefix: "hub-e:",
					Namespaces: []string{"web"},
				},
				{
					SecretName: "cluster-beta", Name: "beta", Server: "https://beta.example.net",
					CAFile: certs + "beta-ca.crt", Audience: "https://beta.example.net/argocd", TokenRequest: true,
					UsernamePrefix: "hub-e:", Namespaces: []string{"jobs"},
				},
				{
					SecretName: "cluster-gamma", Name: "gamma", Server: "https://gamma.example.net:6443",
					CAFile: certs + "gamma-ca.crt", Audience: "gamma", TokenFile: "gamma", UsernamePrefix: "hub-e:",
					Namespaces: []string{"web"},
				},
			},
		}),
		initContainer(Case{
			Name:              "token-request-only",
			Config:            td + "token-request-only.yaml",
			Upstream:          "hub-f",
			Issuer:            "https://hub-f.example.net",
			Image:             "registry.example.net/argocd-k8s-federate-plugin:v9.9.9",
			MountPath:         DefaultMount,
			ExpirationSeconds: 3600,
			ControllerSA:      ControllerName,
			ServerSA:          ServerName,
			Clusters: []Downstream{
				{
					SecretName: "cluster-alpha", Name: "alpha", Server: "https://alpha.example.net:6443",
					CAFile: certs + "alpha-ca.crt", Audience: "alpha", TokenRequest: true, UsernamePrefix: "hub-f:",
					Namespaces: []string{"web"},
				},
				{
					SecretName: "cluster-delta", Name: "delta", Server: "https://delta.example.net:6443",
					CAFile: certs + "delta-ca.crt", Audience: "delta", TokenRequest: true, UsernamePrefix: "hub-f:",
				},
			},
		}),
		initContainer(Case{
			Name:              "identity-provider-client",
			Config:            td + "identity-provider-client.yaml",
			Upstream:          "hub-g",
			Issuer:            "https://hub-g.example.net",
			Image:             "registry.example.net/argocd-k8s-federate-plugin:v9.9.9",
			MountPath:         DefaultMount,
			ExpirationSeconds: 3600,
			ControllerSA:      ControllerName,
			ServerSA:          ServerName,
			IdentityProvider: &IdentityProvider{
				Issuer: "https://login.example.net/realms/platform", Grant: "client-credentials", ClientID: "argocd-hub-g",
				SecretName: "hub-g-oidc", SecretKey: "client-secret", Scope: "openid kubernetes",
				CAFile: certs + "beta-ca.crt", UsernameClaim: "client_id",
			},
			Clusters: []Downstream{
				{
					SecretName: "cluster-alpha", Name: "alpha", Server: "https://alpha.example.net:6443",
					CAFile: certs + "alpha-ca.crt", Audience: "alpha", UsernamePrefix: "hub-g:",
					Namespaces: []string{"web", "api"},
				},
				{
					SecretName: "cluster-delta", Name: "delta", Server: "https://delta.example.net:6443",
					CAFile: certs + "delta-ca.crt", Audience: "https://delta.example.net", UsernamePrefix: "hub-g:",
				},
			},
		}),
		{
			Name:              "identity-provider-jwt",
			Config:            td + "identity-provider-jwt.yaml",
			Upstream:          "hub-h",
			Issuer:            "https://hub-h.example.net",
			Command:           DefaultPluginDir + "/" + PluginBinary,
			PluginDir:         DefaultPluginDir,
			MountPath:         DefaultMount,
			ExpirationSeconds: 3600,
			ControllerSA:      ControllerName,
			ServerSA:          ServerName,
			IdentityProvider: &IdentityProvider{
				Issuer: "https://login.example.com", Grant: "jwt-bearer", ClientID: "argocd-hub-h",
				AssertionAudience: "https://login.example.com/oauth2/token", UsernameClaim: "sub",
			},
			Clusters: []Downstream{
				{
					SecretName: "cluster-alpha", Name: "alpha", Server: "https://alpha.example.net:6443",
					CAFile: certs + "alpha-ca.crt", Audience: "alpha", UsernamePrefix: "hub-h:",
					Namespaces: []string{"web"},
				},
				{
					SecretName: "cluster-gamma", Name: "gamma", Server: "https://gamma.example.net:6443",
					CAFile: certs + "gamma-ca.crt", Audience: "gamma", UsernamePrefix: "hub-h:",
					Namespaces: []string{"apps"},
				},
			},
		},
	}
}
