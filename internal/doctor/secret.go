package doctor

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// FromConfig is the target for ArgoCD's path to downstream d of federation
// f, with the cluster Secret as the config yields it in Want.
func FromConfig(f *config.Federation, d *config.Downstream) *Target {
	u := &f.Upstream
	t := &Target{
		Name: d.Name, Server: d.Server, CAPEM: []byte(d.PEM()),
		TokenFile: f.TokenPath(d), Audience: d.Audience, Issuer: u.Issuer,
		Upstream: u.Name, ConfigSource: f.Source,
		DiscoveryURL:   strings.TrimSuffix(u.Issuer, "/") + discovery.DocumentPath,
		DiscoveryCAPEM: []byte(u.PEM()),
		UsernamePrefix: d.UsernamePrefix, Grants: f.ArgoCDGrants(d),
		ArgoCDNamespace: u.ArgoCD.Namespace,
		// What the Secret ArgoCD reads must be: the one generate writes.
		Want:   argocd.For(f, d),
		Others: map[string]string{},
	}
	if u.DiscoveryURL != "" {
		t.DiscoveryURL, t.Published = u.DiscoveryURL, true
	}
	t.ServiceAccount, t.ServiceAccountNamespace = u.ArgoCD.Controller.ServiceAccount, u.ArgoCD.Namespace
	if !d.UsesProjected() {
		t.TokenFile = ""
	}
	if p := u.IdentityProvider; p != nil && d.UsesIdentityProvider() {
		t.IdentityProvider = p.Issuer
	}
	for _, g := range f.WorkloadGrants(d) {
		t.Others[g.Subject] = "it is workload " + g.UpstreamWorkload.Name + "'s: add --workload " + g.UpstreamWorkload.Name
	}
	return t
}

// FromWorkload is the target for upstream workload w's path to downstream
// d: its token (at the same path as ArgoCD's, or requested), the user it
// maps to and only its own grants. It has no cluster Secret: the
// workload's kubeconfig runs the plugin.
func FromWorkload(f *config.Federation, d *config.Downstream, w *config.UpstreamWorkload) *Target {
	t := FromConfig(f, d)
	t.Workload, t.Want = w.Name, nil
	t.ServiceAccount, t.ServiceAccountNamespace = w.ServiceAccount, w.Namespace
	t.Grants, t.Others = nil, map[string]string{}
	for _, g := range f.Grants(d) {
		switch {
		case g.IsWorkload() && g.UpstreamWorkload.Name == w.Name:
			t.Grants = append(t.Grants, g)
		case g.IsWorkload():
			t.Others[g.Subject] = "it is workload " + g.UpstreamWorkload.Name + "'s: use --workload " + g.UpstreamWorkload.Name
		default:
			t.Others[g.Subject] = "it is ArgoCD's " + g.Who + "'s: leave out --workload"
		}
	}
	return t
}

// FromSecret is the target a cluster Secret describes, without a config:
// the token file, audience and issuer are the plugin arguments of its exec
// config.
func FromSecret(s *argocd.ClusterSecret) *Target {
	o, _ := argsOf(s)
	t := &Target{
		Name: orDefault(s.ClusterName, s.Name), Server: s.Server, CAPEM: s.CAData,
		TokenFile: o.File, Audience: o.Audience, Issuer: o.Issuer,
		ArgoCDNamespace: s.Namespace, Secret: s,
	}
	if o.Command == plugin.OIDCTokenCommand {
		t.IdentityProvider = orDefault(o.Issuer, "(no --issuer)")
	}
	return t
}

// pluginArgs are the plugin arguments doctor compares, whichever command
// the Secret runs.
type pluginArgs struct {
	Command, File, Audience, Issuer, ExpirationSeconds string
	// Grant and ClientID are oidc-token's.
	Grant, ClientID string
}

// argsOf parses the plugin's command line in s as the plugin would. The
// arguments of another plugin (argocd-k8s-auth, say) are no error here: the
// comparison with the config names them.
func argsOf(s *argocd.ClusterSecret) (pluginArgs, error) {
	a := pluginArgs{Command: s.PluginCommand()}
	switch a.Command {
	case plugin.TokenFileCommand:
		o, err := s.TokenFile()
		a.File, a.Audience, a.Issuer = o.File, o.Audience, o.Issuer
		return a, err
	case plugin.TokenRequestCommand:
		o, err := s.TokenRequest()
		a.Audience, a.Issuer, a.ExpirationSeconds = o.Audience, o.Issuer, strconv.FormatInt(o.ExpirationSeconds, 10)
		return a, err
	case plugin.OIDCTokenCommand:
		o, err := s.OIDCToken()
		a.Audience, a.Issuer, a.Grant, a.ClientID = o.Audience, o.Issuer, o.Grant, o.ClientID
		return a, err
	}
	return a, nil
}

// checkSecret is cluster-secret: the Secret ArgoCD reads is what the config
// yields, chiefly its namespaces, which must be the ones RBAC grants.
func (r *runner) checkSecret() {
	t := r.t
	s := t.Secret
	if t.Workload != "" {
		r.add(skip(CheckClusterSecret, fmt.Sprintf("workload %s reaches the downstream with its kubeconfig (ConfigMap %s), not a cluster Secret", t.Workload, config.KubeconfigConfigMap(t.Workload))))
		return
	}
	if s == nil {
		name, ns := "cluster-"+t.Name, orDefault(t.ArgoCDNamespace, "argocd")
		if t.Want != nil {
			name = t.Want.Name
		}
		r.add(skip(CheckClusterSecret, fmt.Sprintf("give --secret FILE to compare the Secret ArgoCD uses (kubectl -n %s get secret %s -o yaml > FILE)", ns, name)))
		return
	}
	var problems []string
	if l := s.Labels[argocd.SecretTypeLabel]; l != argocd.SecretTypeCluster {
		problems = append(problems, fmt.Sprintf("label %s is %q: ArgoCD only reads Secrets labelled %q", argocd.SecretTypeLabel, l, argocd.SecretTypeCluster))
	}
	if s.HasBearerToken {
		problems = append(problems, "config holds a bearerToken: a long-lived credential that federation replaces; remove it")
	}
	if s.Insecure {
		problems = append(problems, "tlsClientConfig.insecure is true: ArgoCD does not verify the downstream's certificate")
	}
	var command string
	var args pluginArgs
	if s.Exec == nil {
		problems = append(problems, "config has no execProviderConfig: ArgoCD will not run the credential plugin")
	} else {
		command = s.Exec.Command
		var err error
		if args, err = argsOf(s); err != nil {
			problems = append(problems, fmt.Sprintf("execProviderConfig.args %q: %v: the plugin would refuse them", s.Exec.Args, err))
		}
	}
	nsMsg := "not scoped (cluster-wide)"
	if len(s.Namespaces) > 0 {
		nsMsg = "namespaces " + strings.Join(s.Namespaces, ",")
	}
	if w := t.Want; w != nil {
		want, _ := argsOf(w)
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
			{"execProviderConfig.command", command, w.Exec.Command},
			{"the plugin's command", args.Command, want.Command},
			{"the plugin's --file", args.File, want.File},
			{"the plugin's --audience", args.Audience, want.Audience},
			{"the plugin's --issuer", args.Issuer, want.Issuer},
			{"the plugin's --expiration-seconds", args.ExpirationSeconds, want.ExpirationSeconds},
			{"the plugin's --grant", args.Grant, want.Grant},
			{"the plugin's --client-id", args.ClientID, want.ClientID},
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
