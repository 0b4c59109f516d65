package adopt

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v2"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// Hub is what import cannot read from the cluster Secrets: the upstream
// part of the federation config.
type Hub struct {
	// Name is upstream.name.
	Name string
	// Issuer is upstream.issuer, the hub's --service-account-issuer.
	Issuer string
	// CAFile is upstream.caFile (relative to the written config), or
	// UseSystemRoots.
	CAFile         string
	UseSystemRoots bool
	// Namespace is ArgoCD's (upstream.argocd.namespace); default: the
	// Secrets' namespace, else argocd.
	Namespace string
}

// Refusal is a cluster Secret import leaves out, and why.
type Refusal struct {
	Secret  string `json:"secret"`
	Cluster string `json:"cluster"`
	Server  string `json:"server"`
	Reason  string `json:"reason"`
}

// Imported is the result of Import.
type Imported struct {
	// Config is the federation config, with comments: what to review.
	Config []byte
	// Federation is Config as generate reads it (completed and checked).
	Federation *config.Federation
	// Downstreams imported; Refused left out.
	Downstreams int
	Refused     []Refusal
	// Reviews are the REVIEW notes written into Config, one per line.
	Reviews []string
}

// downstream is a downstreams[] entry as import writes it: only what it
// knows, so that the defaults stay defaults.
type downstream struct {
	Name           string `yaml:"name"`
	Server         string `yaml:"server"`
	CA             string `yaml:"ca,omitempty"`
	UseSystemRoots bool   `yaml:"useSystemRoots,omitempty"`
	Audience       string `yaml:"audience,omitempty"`
	TokenSource    string `yaml:"tokenSource,omitempty"`
	Access         access `yaml:"access"`
	ArgoCD         secret `yaml:"argocd"`
}

type access struct {
	Namespaces  []string `yaml:"namespaces,omitempty"`
	ClusterWide bool     `yaml:"clusterWide,omitempty"`
}

type secret struct {
	SecretName  string            `yaml:"secretName"`
	ClusterName string            `yaml:"clusterName,omitempty"`
	Project     string            `yaml:"project,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// entry is one imported downstream and its notes.
type entry struct {
	d       downstream
	from    Finding
	reviews []string
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Import writes a federation config from the cluster Secrets of in: one
// downstream per Secret that can be federated, the others refused with the
// reason. No credential is copied. source is the config's path (its caFile
// resolves against it). The result is checked as generate checks it.
func Import(in *Input, hub Hub, source string, now time.Time) (*Imported, error) {
	out := &Imported{}
	ns := hub.Namespace
	if ns == "" {
		ns = commonNamespace(in.Secrets)
	}
	names := map[string]bool{}
	servers := map[string]string{}
	var entries []entry
	for _, s := range in.Secrets {
		f := Classify(s, now)
		refuse := func(reason string) {
			out.Refused = append(out.Refused, Refusal{Secret: f.Secret, Cluster: s.ClusterName, Server: s.Server, Reason: reason})
		}
		if reason := refusal(s, ns); reason != "" {
			refuse(reason)
			continue
		}
		key := config.ServerKey(s.Server)
		if other, ok := servers[key]; ok {
			refuse(fmt.Sprintf("a second Secret for the server of %s: ArgoCD uses one of them, the federation lists each cluster once; delete the other", other))
			continue
		}
		e := entry{from: f}
		d := &e.d
		d.Server = s.Server
		if len(s.CAData) == 0 {
			d.UseSystemRoots = true
			e.reviews = append(e.reviews, "no caData: ArgoCD verified the server with its system roots; useSystemRoots: true keeps that (give ca or caFile for a private CA)")
		} else {
			bundle, err := config.CheckCABundle(string(s.CAData))
			if err != nil {
				refuse(fmt.Sprintf("tlsClientConfig.caData %v: give the downstream's current CA to ArgoCD first", err))
				continue
			}
			d.CA = bundle
		}
		servers[key] = f.Secret
		d.Name = uniqueName(s, names)
		names[d.Name] = true
		if d.Name != s.ClusterName {
			d.ArgoCD.ClusterName = s.ClusterName
		}
		d.ArgoCD.SecretName = s.Name
		d.ArgoCD.Project = s.Project
		d.ArgoCD.Labels = importLabels(s.Labels)
		d.ArgoCD.Annotations = s.Annotations // argocd.Parse drops kubectl's last-applied copy
		if len(s.Namespaces) > 0 {
			d.Access.Namespaces = s.Namespaces
			if s.ClusterResources == "true" {
				e.reviews = append(e.reviews, "clusterResources: true: ArgoCD also managed cluster-scoped resources here; the generated Secret sets it false with the namespaces (grant them with access.clusterWide or rules if needed)")
			}
		} else {
			d.Access.ClusterWide = true
			e.reviews = append(e.reviews, "the Secret lists no namespaces: ArgoCD had the whole cluster; clusterWide: true keeps that; list access.namespaces instead where you can")
		}
		switch f.Kind {
		case KindFederated:
			d.Audience, d.TokenSource = f.Audience, f.TokenSource
			if f.TokenSource == config.SourceIdentityProvider {
				// The source follows upstream.identityProvider, which
				// import does not write: the review says what to set.
				d.TokenSource = ""
				e.reviews = append(e.reviews, "reached through an identity provider ("+f.Detail+"): set upstream.identityProvider to the same issuer, grant and client (docs/config.md), or the generated Secret uses the hub's own tokens")
			}
		case KindAWSAuth, KindExec:
			e.reviews = append(e.reviews, fmt.Sprintf("reached by %s: the federated identity replaces it only once this cluster trusts the hub's issuer (the generated apiserver/ files)", f.Plugin))
		}
		if m := s.Labels[config.ManagedByLabel]; m != "" && m != config.ManagedBy {
			e.reviews = append(e.reviews, fmt.Sprintf("the Secret is managed by %s: replace it there too, or that tool puts the old credential back", m))
		}
		e.reviews = append(e.reviews, "roles: access.controller defaults to the ClusterRole admin, access.server to the viewer preset, in each namespace: check that they cover what ArgoCD deploys here")
		entries = append(entries, e)
	}
	out.Downstreams = len(entries)
	if len(entries) == 0 {
		return out, fmt.Errorf("nothing to import: %d cluster Secrets, %d refused", len(in.Secrets), len(out.Refused))
	}
	text, err := render(entries, out.Refused, hub, ns)
	if err != nil {
		return out, err
	}
	fed, err := config.Decode(text, source)
	if err == nil {
		err = fed.Complete()
	}
	if err == nil {
		_, err = config.NewSet([]*config.Federation{fed})
	}
	if err != nil {
		return out, fmt.Errorf("the imported config does not pass generate's checks: %w", err)
	}
	out.Config, out.Federation = text, fed
	for _, e := range entries {
		for _, r := range e.reviews {
			out.Reviews = append(out.Reviews, e.d.Name+": "+r)
		}
	}
	return out, nil
}

// refusal is why s cannot be federated ("" when it can).
func refusal(s *argocd.ClusterSecret, namespace string) string {
	u, err := url.Parse(s.Server)
	switch {
	case config.IsInClusterServer(s.Server):
		return "ArgoCD's own cluster (in-cluster): ArgoCD reaches it with its own service account, and ignores an exec config there"
	case err != nil || u.Scheme != "https" || u.Host == "":
		return "the server is not an https URL: the federation verifies every downstream"
	case s.Insecure:
		return "tlsClientConfig.insecure: true: ArgoCD never verified this server; give ArgoCD its CA (caData) first"
	case s.ServerName != "":
		return fmt.Sprintf("tlsClientConfig.serverName %q: the federation connects to the server URL's own name; change the server URL to a name its certificate holds", s.ServerName)
	case s.ProxyURL != "":
		return "proxyUrl: the federation has no proxy setting; ArgoCD's connection would change"
	case badNamespace(s.Namespaces) != "":
		return fmt.Sprintf("namespaces lists %q, which is not a namespace name", badNamespace(s.Namespaces))
	case s.Namespace != "" && s.Namespace != namespace:
		return fmt.Sprintf("in namespace %s, not ArgoCD's (%s)", s.Namespace, namespace)
	}
	return ""
}

func badNamespace(names []string) string {
	for _, n := range names {
		if len(n) > 63 || !dnsLabel.MatchString(n) {
			return n
		}
	}
	return ""
}

// commonNamespace is the namespace most Secrets are in (argocd when none).
func commonNamespace(secrets []*argocd.ClusterSecret) string {
	count := map[string]int{}
	best := config.DefaultNamespace
	for _, s := range secrets {
		if s.Namespace == "" {
			continue
		}
		count[s.Namespace]++
		if n := count[s.Namespace]; n > count[best] || (n == count[best] && s.Namespace < best) {
			best = s.Namespace
		}
	}
	return best
}

var notLabel = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueName is ArgoCD's name of s when it is a DNS label, else one derived
// from it (or from the server's host), made unique among taken.
func uniqueName(s *argocd.ClusterSecret, taken map[string]bool) string {
	name := s.ClusterName
	if len(name) > 63 || !dnsLabel.MatchString(name) {
		name = labelOf(name)
		if name == "" {
			if u, err := url.Parse(s.Server); err == nil {
				name = labelOf(u.Hostname())
			}
		}
		if name == "" {
			name = "cluster"
		}
	}
	if !taken[name] {
		return name
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		base := name
		if len(base)+len(suffix) > 63 {
			base = strings.TrimRight(base[:63-len(suffix)], "-")
		}
		if c := base + suffix; !taken[c] {
			return c
		}
	}
}

// labelOf turns a name into a DNS label: lower case, runs of other
// characters to "-", at most 63.
func labelOf(s string) string {
	l := strings.Trim(notLabel.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(l) > 63 {
		l = strings.TrimRight(l[:63], "-")
	}
	return l
}

// importLabels are the Secret's labels minus those the generator sets.
func importLabels(in map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		switch k {
		case argocd.SecretTypeLabel, config.ManagedByLabel, config.UpstreamLabel:
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// render writes the config: a header saying what to review, the upstream,
// each downstream after comments on where it came from, and the refused
// Secrets as comments. No time or host name: the same Secrets give the
// same file.
func render(entries []entry, refused []Refusal, hub Hub, namespace string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`# Imported from ArgoCD's cluster Secrets by argocd-k8s-federate import.
# No credential was copied: every downstream is reached through the federated
# identity once its cluster trusts the hub and its RBAC is applied
# (docs/adopt.md). Review what this file cannot know, marked REVIEW:
# - upstream: the hub's token source (upstream.token) and how the plugin gets
#   into the ArgoCD pods (upstream.plugin); the defaults are Projected and
#   InitContainer.
# - each downstream's roles (access.controller, access.server).
`)
	type upstream struct {
		Name           string `yaml:"name"`
		Issuer         string `yaml:"issuer"`
		CAFile         string `yaml:"caFile,omitempty"`
		UseSystemRoots bool   `yaml:"useSystemRoots,omitempty"`
		ArgoCD         struct {
			Namespace string `yaml:"namespace"`
		} `yaml:"argocd"`
	}
	head := struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Upstream   upstream `yaml:"upstream"`
	}{APIVersion: config.APIVersion, Kind: config.Kind, Upstream: upstream{Name: hub.Name, Issuer: hub.Issuer, CAFile: hub.CAFile, UseSystemRoots: hub.UseSystemRoots}}
	head.Upstream.ArgoCD.Namespace = namespace
	y, err := yaml.Marshal(head)
	if err != nil {
		return nil, err
	}
	b.Write(y)
	b.WriteString("downstreams:\n")
	for _, e := range entries {
		from := fmt.Sprintf("From Secret %s: %s", e.from.Secret, e.from.Kind)
		if e.from.Static {
			from += fmt.Sprintf(" (keeps %s)", strings.Join(e.from.StoredFields, ", "))
		}
		b.WriteString(commentLines(from))
		for _, r := range e.reviews {
			b.WriteString(commentLines("REVIEW: " + r))
		}
		y, err := yaml.Marshal([]downstream{e.d})
		if err != nil {
			return nil, err
		}
		b.Write(y)
	}
	if len(refused) > 0 {
		sorted := append([]Refusal(nil), refused...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Secret < sorted[j].Secret })
		b.WriteString("# Not imported:\n")
		for _, r := range sorted {
			b.WriteString(commentLines(fmt.Sprintf("- Secret %s (%s): %s", r.Secret, r.Server, r.Reason)))
		}
	}
	return b.Bytes(), nil
}

// commentLines makes text YAML comment lines, wrapped at about 78 columns.
func commentLines(text string) string {
	var b strings.Builder
	line := "#"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 78 && line != "#" {
			b.WriteString(line + "\n")
			line = "#  "
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
	return b.String()
}
