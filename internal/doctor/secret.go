package doctor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/generate"
)

// ClusterSecret is what doctor reads from an ArgoCD cluster Secret.
type ClusterSecret struct {
	// Source is the file it was read from.
	Source    string
	Name      string
	Namespace string
	// TypeLabel is the argocd.argoproj.io/secret-type label.
	TypeLabel string
	// ClusterName and Server are the data keys name and server.
	ClusterName string
	Server      string
	// Namespaces (sorted) and ClusterResources scope what ArgoCD watches.
	Namespaces       []string
	ClusterResources string
	// Command and Args are the exec provider's; TokenFile, Audience and
	// Issuer are the values of its --file, --audience and --issuer.
	Command   string
	Args      []string
	TokenFile string
	Audience  string
	Issuer    string
	CAData    []byte
	Insecure  bool
	// HasBearerToken: the config holds a bearer token.
	HasBearerToken bool
}

// ParseClusterSecret reads a cluster Secret as YAML or JSON: the file
// generate wrote (stringData) or `kubectl get secret -o yaml` (data).
func ParseClusterSecret(data []byte, source string) (*ClusterSecret, error) {
	var obj struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Data       map[string][]byte `json:"data"`
		StringData map[string]string `json:"stringData"`
	}
	// A generated file starts with a comment; several documents are not a
	// Secret.
	if bytes.Contains(data, []byte("\n---")) {
		return nil, fmt.Errorf("cluster Secret %s holds several YAML documents: give one Secret", source)
	}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("cluster Secret %s is not a Secret in YAML or JSON: %w", source, err)
	}
	if obj.Kind != "Secret" {
		return nil, fmt.Errorf("cluster Secret %s: kind is %q, not Secret (give the ArgoCD cluster Secret: kubectl -n argocd get secret cluster-NAME -o yaml)", source, obj.Kind)
	}
	values := map[string]string{}
	for k, v := range obj.Data {
		values[k] = string(v)
	}
	for k, v := range obj.StringData { // the API server lets stringData win
		values[k] = v
	}
	s := &ClusterSecret{
		Source: source, Name: obj.Metadata.Name, Namespace: obj.Metadata.Namespace,
		TypeLabel:   obj.Metadata.Labels[generate.SecretTypeLabel],
		ClusterName: values["name"], Server: values["server"],
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
	var cfg struct {
		BearerToken        string `json:"bearerToken"`
		ExecProviderConfig *struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"execProviderConfig"`
		TLSClientConfig struct {
			Insecure bool   `json:"insecure"`
			CAData   []byte `json:"caData"`
		} `json:"tlsClientConfig"`
	}
	if raw := values["config"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			return nil, fmt.Errorf("cluster Secret %s: config is not ArgoCD's cluster config JSON: %w", source, err)
		}
	}
	s.HasBearerToken = cfg.BearerToken != ""
	s.Insecure, s.CAData = cfg.TLSClientConfig.Insecure, cfg.TLSClientConfig.CAData
	if e := cfg.ExecProviderConfig; e != nil {
		s.Command, s.Args = e.Command, e.Args
		s.TokenFile, s.Audience, s.Issuer = flagValue(e.Args, "file"), flagValue(e.Args, "audience"), flagValue(e.Args, "issuer")
	}
	return s, nil
}

// flagValue finds --name VALUE or --name=VALUE (or with one dash) in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		for _, p := range []string{"--" + name, "-" + name} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
		}
	}
	return ""
}

// FromConfig is the target for downstream d of federation f, with the
// cluster Secret as the config yields it in Want.
func FromConfig(f *config.Federation, d *config.Downstream) *Target {
	u := &f.Upstream
	t := &Target{
		Name: d.Name, Server: d.Server, CAPEM: []byte(d.PEM()),
		TokenFile: f.TokenPath(d), Audience: d.Audience, Issuer: u.Issuer,
		Upstream: u.Name, ConfigSource: f.Source,
		DiscoveryURL:   strings.TrimSuffix(u.Issuer, "/") + discovery.DocumentPath,
		DiscoveryCAPEM: []byte(u.PEM()),
		UsernamePrefix: d.UsernamePrefix, Grants: generate.Grants(f, d),
		ArgoCDNamespace: u.ArgoCD.Namespace,
	}
	if u.DiscoveryURL != "" {
		t.DiscoveryURL, t.Published = u.DiscoveryURL, true
	}
	want := &ClusterSecret{
		Name: d.ArgoCD.SecretName, Namespace: u.ArgoCD.Namespace, TypeLabel: "cluster",
		ClusterName: d.Name, Server: d.Server,
		Command: u.Plugin.CommandPath(), TokenFile: t.TokenFile, Audience: d.Audience, Issuer: u.Issuer,
		CAData: []byte(d.PEM()),
	}
	if !d.Access.ClusterWide {
		want.Namespaces = slices.Sorted(slices.Values(d.Access.Namespaces))
		want.ClusterResources = "false"
	}
	t.Want = want
	return t
}

// FromSecret is the target a cluster Secret describes, without a config.
func FromSecret(s *ClusterSecret) *Target {
	return &Target{
		Name: orDefault(s.ClusterName, s.Name), Server: s.Server, CAPEM: s.CAData,
		TokenFile: s.TokenFile, Audience: s.Audience, Issuer: s.Issuer,
		ArgoCDNamespace: s.Namespace, Secret: s,
	}
}

// checkSecret is cluster-secret: the Secret ArgoCD reads is what the config
// yields, chiefly its namespaces, which must be the ones RBAC grants.
func (r *runner) checkSecret() {
	t := r.t
	s := t.Secret
	if s == nil {
		name, ns := "cluster-"+t.Name, orDefault(t.ArgoCDNamespace, "argocd")
		if t.Want != nil {
			name = t.Want.Name
		}
		r.add(skip(CheckClusterSecret, fmt.Sprintf("give --secret FILE to compare the Secret ArgoCD uses (kubectl -n %s get secret %s -o yaml > FILE)", ns, name)))
		return
	}
	var problems []string
	if s.TypeLabel != "cluster" {
		problems = append(problems, fmt.Sprintf("label %s is %q: ArgoCD only reads Secrets labelled \"cluster\"", generate.SecretTypeLabel, s.TypeLabel))
	}
	if s.HasBearerToken {
		problems = append(problems, "config holds a bearerToken: a long-lived credential that federation replaces; remove it")
	}
	if s.Insecure {
		problems = append(problems, "tlsClientConfig.insecure is true: ArgoCD does not verify the downstream's certificate")
	}
	if s.Command == "" {
		problems = append(problems, "config has no execProviderConfig: ArgoCD will not run the credential plugin")
	}
	nsMsg := "not scoped (cluster-wide)"
	if len(s.Namespaces) > 0 {
		nsMsg = "namespaces " + strings.Join(s.Namespaces, ",")
	}
	if w := t.Want; w != nil {
		if !slices.Equal(s.Namespaces, w.Namespaces) {
			want := "none (cluster-wide access)"
			if len(w.Namespaces) > 0 {
				want = strings.Join(w.Namespaces, ",")
			}
			problems = append(problems, fmt.Sprintf("namespaces are %q, the config grants %s: ArgoCD would watch namespaces its RBAC does not cover, or miss some it does", strings.Join(s.Namespaces, ","), want))
		}
		for _, c := range []struct{ field, got, want string }{
			{"name", s.ClusterName, w.ClusterName},
			{"clusterResources", s.ClusterResources, w.ClusterResources},
			{"server", s.Server, w.Server},
			{"execProviderConfig.command", s.Command, w.Command},
			{"the plugin's --file", s.TokenFile, w.TokenFile},
			{"the plugin's --audience", s.Audience, w.Audience},
			{"the plugin's --issuer", s.Issuer, w.Issuer},
		} {
			if c.got != c.want {
				problems = append(problems, fmt.Sprintf("%s is %q, the config says %q", c.field, c.got, c.want))
			}
		}
		if !bytes.Equal(bytes.TrimSpace(s.CAData), bytes.TrimSpace(w.CAData)) {
			problems = append(problems, "tlsClientConfig.caData is not the downstream CA of the config")
		}
	} else if len(s.Namespaces) > 0 && s.ClusterResources != "false" {
		problems = append(problems, fmt.Sprintf("namespaces are set but clusterResources is %q, not \"false\": ArgoCD would watch cluster-scoped resources that namespace RBAC does not grant", s.ClusterResources))
	}
	if len(problems) > 0 {
		fix := "regenerate (argocd-k8s-federate generate) and apply the upstream Component: the Secret in the upstream differs from what the config yields"
		if t.Want == nil {
			fix = "generate the cluster Secret from the federation config (argocd-k8s-federate generate) instead of editing it"
		}
		r.add(Result{Check: CheckClusterSecret, Status: Fail, Message: fmt.Sprintf("Secret %s/%s (%s): %s", s.Namespace, s.Name, s.Source, short(problems, 2)), Details: problems, Fix: fix})
		return
	}
	msg := fmt.Sprintf("Secret %s/%s: %s, clusterResources %q", s.Namespace, s.Name, nsMsg, s.ClusterResources)
	if t.Want != nil {
		msg += ", as the config grants (and server, CA, plugin arguments match)"
	}
	r.add(Result{Check: CheckClusterSecret, Status: Pass, Message: msg})
}
