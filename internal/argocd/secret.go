// Package argocd owns the ArgoCD cluster Secret: the one contract between
// the generator that writes it, ArgoCD that reads it (util/db.SecretToCluster)
// and the doctor that reads it back. For builds it from a federation config,
// Object encodes it, Parse decodes it.
package argocd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// The label ArgoCD finds its cluster Secrets by.
const (
	SecretTypeLabel   = "argocd.argoproj.io/secret-type"
	SecretTypeCluster = "cluster"
)

// ClusterSecret is an ArgoCD cluster Secret: the fields this tool writes,
// and those the doctor looks at when it reads one.
type ClusterSecret struct {
	// Source is the file the Secret was parsed from ("" when built).
	Source      string
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
	// ClusterName, Server and Project are the data keys name, server and
	// project.
	ClusterName string
	Server      string
	Project     string
	// Namespaces (sorted) and ClusterResources scope what ArgoCD watches:
	// the namespaces RBAC grants, and "false" with them.
	Namespaces       []string
	ClusterResources string
	// Exec is the config's execProviderConfig: how ArgoCD runs the plugin.
	Exec *ExecProviderConfig
	// CAData verifies the downstream's certificate (tlsClientConfig.caData).
	CAData   []byte
	Insecure bool
	// ServerName is tlsClientConfig.serverName: the name the downstream's
	// certificate is checked against instead of the server URL's host.
	ServerName string
	// ProxyURL is the config's proxyUrl: ArgoCD connects through it.
	ProxyURL string
	// AWSAuth is the config's awsAuthConfig: ArgoCD runs argocd-k8s-auth
	// aws for a token (it holds no secret).
	AWSAuth *AWSAuthConfig
	// HasBearerToken: the config holds a bearer token (never written here).
	HasBearerToken bool
	// Stored is the credential the config keeps (token, client certificate
	// and key, basic auth, exec environment): read by Parse, never written
	// by Object, never printed.
	Stored StoredCredential
}

// AWSAuthConfig is the config's awsAuthConfig (v1alpha1.AWSAuthConfig).
type AWSAuthConfig struct {
	ClusterName string `json:"clusterName,omitempty"`
	RoleARN     string `json:"roleARN,omitempty"`
	Profile     string `json:"profile,omitempty"`
}

// ExecProviderConfig is the config's execProviderConfig
// (v1alpha1.ExecProviderConfig), with the fields this tool sets.
type ExecProviderConfig struct {
	Command     string   `json:"command"`
	Args        []string `json:"args"`
	APIVersion  string   `json:"apiVersion"`
	InstallHint string   `json:"installHint,omitempty"`
}

// clusterConfig is the "config" key of a cluster Secret
// (v1alpha1.ClusterConfig), with the fields this tool sets or checks.
type clusterConfig struct {
	BearerToken        string              `json:"bearerToken,omitempty"`
	ExecProviderConfig *ExecProviderConfig `json:"execProviderConfig,omitempty"`
	TLSClientConfig    tlsClientConfig     `json:"tlsClientConfig"`
	ProxyURL           string              `json:"proxyUrl,omitempty"`
	AWSAuthConfig      *AWSAuthConfig      `json:"awsAuthConfig,omitempty"`
}

type tlsClientConfig struct {
	Insecure   bool   `json:"insecure"`
	ServerName string `json:"serverName,omitempty"`
	CAData     []byte `json:"caData,omitempty"`
}

// storedConfig is what a config may keep of a credential: parsed apart
// from clusterConfig so that nothing rendered can carry it.
type storedConfig struct {
	BearerToken     string `json:"bearerToken"`
	Username        string `json:"username"`
	Password        string `json:"password"`
	TLSClientConfig struct {
		CertData []byte `json:"certData"`
		KeyData  []byte `json:"keyData"`
	} `json:"tlsClientConfig"`
	ExecProviderConfig *struct {
		Env map[string]string `json:"env"`
	} `json:"execProviderConfig"`
}

// For is the cluster Secret of downstream d as federation f yields it: where
// the downstream is, how to verify it, and the exec config that runs the
// plugin on the downstream's token. It holds no credential.
func For(f *config.Federation, d *config.Downstream) *ClusterSecret {
	u := &f.Upstream
	l := config.ObjectLabels(u.Name, d.ArgoCD.Labels)
	l[SecretTypeLabel] = SecretTypeCluster
	s := &ClusterSecret{
		Name:        d.ArgoCD.SecretName,
		Namespace:   u.ArgoCD.Namespace,
		Labels:      l,
		Annotations: d.ArgoCD.Annotations,
		ClusterName: d.ArgoCDName(),
		Server:      d.Server,
		Project:     d.ArgoCD.Project,
		Exec:        Exec(f, d),
	}
	if pem := d.PEM(); pem != "" {
		s.CAData = []byte(pem)
	}
	if !d.Access.ClusterWide {
		// ArgoCD must watch only what RBAC lets it see.
		s.Namespaces = append([]string(nil), d.Access.Namespaces...)
		sort.Strings(s.Namespaces)
		s.ClusterResources = "false"
	}
	return s
}

// Exec is how a client runs the plugin for downstream d: the cluster
// Secret's execProviderConfig, and the exec of every kubeconfig user
// generated for d (upstream workloads), the same command and arguments.
func Exec(f *config.Federation, d *config.Downstream) *ExecProviderConfig {
	u := &f.Upstream
	return &ExecProviderConfig{
		Command:     u.Plugin.CommandPath(),
		Args:        pluginArgs(f, d),
		APIVersion:  credential.APIVersionV1,
		InstallHint: installHint(u),
	}
}

// pluginArgs is the plugin's command line for d: token-file on the
// projected token, token-request for d's audience, or oidc-token from the
// identity provider.
func pluginArgs(f *config.Federation, d *config.Downstream) []string {
	u := &f.Upstream
	if p := u.IdentityProvider; p != nil && d.UsesIdentityProvider() {
		return oidcTokenOptions(p, d).Args()
	}
	if d.UsesTokenRequest() {
		o := plugin.DefaultTokenRequestOptions()
		o.Audience, o.Issuer, o.ExpirationSeconds = d.Audience, u.Issuer, u.Token.ExpirationSeconds
		return o.Args()
	}
	return plugin.TokenFileOptions{
		File: f.TokenPath(d), Audience: d.Audience, Issuer: u.Issuer,
		Policy: credential.DefaultPolicy(),
	}.Args()
}

// oidcTokenOptions are oidc-token's options for d: the provider's token for
// d's audience, by the grant the config names; the client secret and the
// CA are files mounted in the pods (config.ClientSecretDir, config.OIDCCADir).
func oidcTokenOptions(p *config.IdentityProvider, d *config.Downstream) plugin.OIDCTokenOptions {
	o := plugin.DefaultOIDCTokenOptions()
	o.Issuer, o.ClientID, o.Audience = p.Issuer, p.ClientID, d.Audience
	o.Scope = strings.Join(p.Scopes, " ")
	o.CAFile = p.CAPath()
	switch p.Grant {
	case config.GrantClientCredentials:
		o.Grant = plugin.GrantClientCredentials
		o.ClientSecretFile = p.ClientSecretPath()
	case config.GrantJWTBearer:
		o.Grant = plugin.GrantJWTBearer
		o.AssertionAudience = p.AssertionAudience
	}
	return o
}

func installHint(u *config.Upstream) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s is missing from this container. ", u.Plugin.CommandPath())
	if u.Plugin.Delivery == config.DeliveryInitContainer {
		fmt.Fprintf(&b, "The init container %s installs it: check that the argocd-k8s-federate Component is in the kustomization of this workload (ArgoCD's or your own) and read that init container's logs.", config.InitContainerName)
	} else {
		b.WriteString("upstream.plugin.delivery is Preinstalled: the image must contain it at that path.")
	}
	return b.String()
}

// TokenFile is what the plugin's command line in Exec says: the token file,
// audience and issuer token-file checks. It fails when Exec does not run
// token-file or its arguments do not parse as the plugin parses them.
func (s *ClusterSecret) TokenFile() (plugin.TokenFileOptions, error) {
	if s.Exec == nil {
		return plugin.TokenFileOptions{}, fmt.Errorf("no execProviderConfig")
	}
	return plugin.ParseTokenFileArgs(s.Exec.Args)
}

// TokenRequest is what the plugin's command line in Exec says when it runs
// token-request. It fails when Exec does not run token-request or its
// arguments do not parse as the plugin parses them.
func (s *ClusterSecret) TokenRequest() (plugin.TokenRequestOptions, error) {
	if s.Exec == nil {
		return plugin.TokenRequestOptions{}, fmt.Errorf("no execProviderConfig")
	}
	return plugin.ParseTokenRequestArgs(s.Exec.Args)
}

// OIDCToken is what the plugin's command line in Exec says when it runs
// oidc-token. It fails when Exec does not run oidc-token or its arguments
// do not parse as the plugin parses them.
func (s *ClusterSecret) OIDCToken() (plugin.OIDCTokenOptions, error) {
	if s.Exec == nil {
		return plugin.OIDCTokenOptions{}, fmt.Errorf("no execProviderConfig")
	}
	return plugin.ParseOIDCTokenArgs(s.Exec.Args)
}

// PluginCommand is the plugin command Exec runs (token-file,
// token-request, oidc-token), or "" when there is no exec config or no
// argument.
func (s *ClusterSecret) PluginCommand() string {
	if s.Exec == nil || len(s.Exec.Args) == 0 {
		return ""
	}
	return s.Exec.Args[0]
}

// config is the Secret's "config" key: how ArgoCD connects.
func (s *ClusterSecret) config() clusterConfig {
	return clusterConfig{
		ExecProviderConfig: s.Exec,
		TLSClientConfig:    tlsClientConfig{Insecure: s.Insecure, ServerName: s.ServerName, CAData: s.CAData},
		ProxyURL:           s.ProxyURL,
		AWSAuthConfig:      s.AWSAuth,
	}
}

// secret is the Secret object, as rendered.
type secret struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metadata          `json:"metadata"`
	Type       string            `json:"type"`
	StringData map[string]string `json:"stringData"`
}

type metadata struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Object is the Secret as a Kubernetes object with stringData, to render as
// YAML or JSON.
func (s *ClusterSecret) Object() (any, error) {
	js, err := json.MarshalIndent(s.config(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render the cluster config of %s: %w", s.ClusterName, err)
	}
	data := map[string]string{
		"name":   s.ClusterName,
		"server": s.Server,
		"config": string(js) + "\n",
	}
	if s.Project != "" {
		data["project"] = s.Project
	}
	if len(s.Namespaces) > 0 || s.ClusterResources != "" {
		data["namespaces"] = strings.Join(s.Namespaces, ",")
		data["clusterResources"] = s.ClusterResources
	}
	return secret{
		APIVersion: "v1", Kind: "Secret",
		Metadata: metadata{Name: s.Name, Namespace: s.Namespace, Labels: s.Labels, Annotations: s.Annotations},
		Type:     "Opaque", StringData: data,
	}, nil
}

// SecretObject is a Secret as YAML or JSON holds it: base64 data (the API
// server's view) and stringData (a file to apply).
type SecretObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Data       map[string][]byte `json:"data"`
	StringData map[string]string `json:"stringData"`
}

// Parse reads a cluster Secret as YAML or JSON: the file generate wrote
// (stringData) or `kubectl get secret -o yaml` (data). source names it in
// errors.
func Parse(data []byte, source string) (*ClusterSecret, error) {
	// A generated file starts with a comment; several documents are not a
	// Secret.
	if bytes.Contains(data, []byte("\n---")) {
		return nil, fmt.Errorf("cluster Secret %s holds several YAML documents: give one Secret", source)
	}
	// The kind first: another object's data is not base64, and that is not
	// what to report.
	var head struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("cluster Secret %s is not a Secret in YAML or JSON: %w", source, err)
	}
	if head.Kind != "Secret" {
		return nil, fmt.Errorf("cluster Secret %s: kind is %q, not Secret (give the ArgoCD cluster Secret: kubectl -n argocd get secret cluster-NAME -o yaml)", source, head.Kind)
	}
	var obj SecretObject
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("cluster Secret %s is not a Secret in YAML or JSON: %w", source, err)
	}
	return FromObject(&obj, source)
}

// FromObject reads a decoded Secret as ArgoCD does (util/db.SecretToCluster):
// its data keys, stringData winning, and the config JSON. The error never
// quotes a value.
func FromObject(obj *SecretObject, source string) (*ClusterSecret, error) {
	values := make(map[string]string, len(obj.Data)+len(obj.StringData))
	for k, v := range obj.Data {
		values[k] = string(v)
	}
	for k, v := range obj.StringData { // the API server lets stringData win
		values[k] = v
	}
	for k, v := range values {
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("cluster Secret %s: the value of %s is not UTF-8 text: ArgoCD reads it as a string", source, k)
		}
	}
	s := &ClusterSecret{
		Source: source, Name: obj.Metadata.Name, Namespace: obj.Metadata.Namespace,
		Labels: obj.Metadata.Labels, Annotations: withoutLastApplied(obj.Metadata.Annotations),
		ClusterName: values["name"], Server: values["server"], Project: values["project"],
		ClusterResources: values["clusterResources"],
	}
	if ns := values["namespaces"]; ns != "" {
		for _, n := range strings.Split(ns, ",") {
			if n = strings.TrimSpace(n); n != "" {
				s.Namespaces = append(s.Namespaces, n)
			}
		}
		sort.Strings(s.Namespaces)
	}
	if s.Server == "" {
		return nil, fmt.Errorf("cluster Secret %s has no server: it is not an ArgoCD cluster Secret", source)
	}
	var cfg clusterConfig
	var stored storedConfig
	if raw := values["config"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			return nil, fmt.Errorf("cluster Secret %s: config is not ArgoCD's cluster config JSON: %w", source, redactJSONError(err))
		}
		if err := json.Unmarshal([]byte(raw), &stored); err != nil {
			return nil, fmt.Errorf("cluster Secret %s: config is not ArgoCD's cluster config JSON: %w", source, redactJSONError(err))
		}
	}
	s.HasBearerToken = cfg.BearerToken != ""
	s.Insecure, s.CAData = cfg.TLSClientConfig.Insecure, cfg.TLSClientConfig.CAData
	s.ServerName, s.ProxyURL, s.AWSAuth = cfg.TLSClientConfig.ServerName, cfg.ProxyURL, cfg.AWSAuthConfig
	s.Exec = cfg.ExecProviderConfig
	s.Stored = StoredCredential{
		bearerToken: stored.BearerToken,
		username:    stored.Username, password: stored.Password,
		certData: stored.TLSClientConfig.CertData, keyData: stored.TLSClientConfig.KeyData,
	}
	if e := stored.ExecProviderConfig; e != nil && len(e.Env) > 0 {
		s.Stored.execEnv = e.Env
	}
	return s, nil
}

// LastAppliedAnnotation is where kubectl's client-side apply keeps a copy
// of the object it applied: for a cluster Secret, its credential too.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// withoutLastApplied drops LastAppliedAnnotation: a parsed Secret holds no
// copy of its credential outside Stored.
func withoutLastApplied(in map[string]string) map[string]string {
	if _, ok := in[LastAppliedAnnotation]; !ok {
		return in
	}
	out := make(map[string]string, len(in)-1)
	for k, v := range in {
		if k != LastAppliedAnnotation {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// HelmCredential is the Secret as an entry of the argo-helm argo-cd chart's
// configs.clusterCredentials, under the key the chart makes the cluster's
// name: the chart renders a Secret argocd-cluster-<key> that ArgoCD reads
// as this one. Its values are what the chart keeps: namespaces as one
// string, clusterResources as the string "false" (the chart drops a boolean
// false), config as a map (the chart renders it with toRawJson), and no
// label the chart sets itself.
func (s *ClusterSecret) HelmCredential() (key string, value map[string]any, err error) {
	js, err := json.Marshal(s.config())
	if err != nil {
		return "", nil, fmt.Errorf("render the cluster config of %s: %w", s.ClusterName, err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(js, &cfg); err != nil {
		return "", nil, err
	}
	value = map[string]any{"server": s.Server, "config": cfg}
	if s.Project != "" {
		value["project"] = s.Project
	}
	if len(s.Namespaces) > 0 {
		value["namespaces"] = strings.Join(s.Namespaces, ",")
		if s.ClusterResources != "" {
			value["clusterResources"] = s.ClusterResources
		}
	}
	labels := map[string]string{}
	for k, v := range s.Labels {
		// The chart sets these (Helm manages the Secret): given again, the
		// rendered Secret would hold the key twice.
		if k != SecretTypeLabel && k != config.ManagedByLabel {
			labels[k] = v
		}
	}
	if len(labels) > 0 {
		value["labels"] = labels
	}
	if len(s.Annotations) > 0 {
		value["annotations"] = s.Annotations
	}
	return s.ClusterName, value, nil
}
