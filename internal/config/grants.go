package config

import (
	"fmt"
	"io/fs"
	"sort"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/rbac"
)

// Grant is what one identity of the hub (an ArgoCD workload or an
// upstream workload) is promised in one downstream: a role, bound to its
// prefixed user in each namespace or cluster-wide.
type Grant struct {
	// Who is "controller" or "server" for ArgoCD, "workload:<name>" for an
	// upstream workload.
	Who string
	// Workload is the ArgoCD workload (ArgoCD's grants only).
	Workload Workload
	// UpstreamWorkload is the upstream workload (workloads' grants only).
	UpstreamWorkload *UpstreamWorkload
	// Subject is the sub claim of the identity's service-account tokens.
	Subject string
	// User is the username the downstream maps the identity's tokens to:
	// the prefix and Federation.Identity of Subject. With an identity
	// provider's grant ClientCredentials that is the client id, the same
	// user for the controller and the server (the server then holds the
	// controller's rights too; JWTBearer keeps them apart).
	User string
	// Role is the role as the config gives it.
	Role Role
	// RoleName is the ClusterRole the bindings refer to.
	RoleName string
	// BindingName names the RoleBindings (or the ClusterRoleBinding).
	BindingName string
	// ClusterWide binds with one ClusterRoleBinding; otherwise Namespaces
	// (sorted) each get a RoleBinding.
	ClusterWide bool
	Namespaces  []string
}

// IsWorkload reports whether the grant is an upstream workload's.
func (g Grant) IsWorkload() bool { return g.UpstreamWorkload != nil }

// WorkloadWho is the Who of upstream workload name's grants.
func WorkloadWho(name string) string { return "workload:" + name }

// Grants are every grant of downstream d: the controller's and the
// server's, then the upstream workloads' in the order access.workloads
// lists them. What generate binds and what doctor checks.
func (f *Federation) Grants(d *Downstream) []Grant {
	return append(f.ArgoCDGrants(d), f.WorkloadGrants(d)...)
}

// ArgoCDGrants are the controller's and the server's grants in d.
func (f *Federation) ArgoCDGrants(d *Downstream) []Grant {
	var grants []Grant
	for _, g := range []struct {
		who  string
		w    Workload
		role Role
	}{
		{"controller", f.Upstream.ArgoCD.Controller, d.Access.Controller},
		{"server", f.Upstream.ArgoCD.Server, d.Access.Server},
	} {
		if !g.w.IsEnabled() {
			continue // core mode: no server, nothing granted to it
		}
		grant := f.grant(d, g.who, ServiceAccountSubject(f.Upstream.ArgoCD.Namespace, g.w.ServiceAccount), g.role, d.Access.Namespaces, d.Access.ClusterWide)
		grant.Workload = g.w
		grants = append(grants, grant)
	}
	return grants
}

// WorkloadGrants are the upstream workloads' grants in d.
func (f *Federation) WorkloadGrants(d *Downstream) []Grant {
	var grants []Grant
	for _, a := range d.Access.Workloads {
		w := f.Workload(a.Name)
		if w == nil {
			continue // refused by validation
		}
		grant := f.grant(d, WorkloadWho(w.Name), w.Subject(), a.Role, a.Namespaces, a.ClusterWide)
		grant.UpstreamWorkload = w
		grants = append(grants, grant)
	}
	return grants
}

func (f *Federation) grant(d *Downstream, who, sub string, role Role, namespaces []string, clusterWide bool) Grant {
	name := "argocd-k8s-federate:" + f.Upstream.Name + ":" + who
	g := Grant{
		Who: who, Subject: sub, User: d.UsernamePrefix + f.Identity(sub), Role: role,
		RoleName: role.clusterRoleName(name), BindingName: name, ClusterWide: clusterWide,
	}
	if !clusterWide {
		g.Namespaces = append([]string(nil), namespaces...)
		sort.Strings(g.Namespaces)
	}
	return g
}

// clusterRoleName is the ClusterRole a role's bindings refer to: the
// preset's, the named one, or generated, for rules, under name.
func (r Role) clusterRoleName(name string) string {
	switch {
	case r.Preset != "":
		return PresetRoleName(r.Preset)
	case r.ClusterRole != "":
		return r.ClusterRole
	}
	return name
}

// Workload is the upstream workload called name, or nil.
func (f *Federation) Workload(name string) *UpstreamWorkload {
	for i := range f.Upstream.Workloads {
		if w := &f.Upstream.Workloads[i]; w.Name == name {
			return w
		}
	}
	return nil
}

// Reaches are the downstreams that grant the upstream workload w
// something, sorted by name: its kubeconfig's contexts.
func (f *Federation) Reaches(w *UpstreamWorkload) []*Downstream {
	var out []*Downstream
	for i := range f.Downstreams {
		d := &f.Downstreams[i]
		for _, a := range d.Access.Workloads {
			if a.Name == w.Name {
				out = append(out, d)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PresetRoleName is the ClusterRole name a preset file of rbac/ defines.
func PresetRoleName(preset string) string { return "argocd-k8s-federate:" + preset }

// PresetRules are the rules of a preset role, as rbac/<preset>.yaml has them.
func PresetRules(preset string) ([]PolicyRule, error) {
	data, err := PresetFile(preset)
	if err != nil {
		return nil, err
	}
	var role struct {
		Rules []PolicyRule `json:"rules"`
	}
	if err := yaml.Unmarshal(data, &role); err != nil {
		return nil, fmt.Errorf("preset %q: %w", preset, err)
	}
	return role.Rules, nil
}

// PresetFile is rbac/<preset>.yaml, the reviewed ClusterRole of a preset.
func PresetFile(preset string) ([]byte, error) {
	data, err := fs.ReadFile(rbac.Presets, preset+".yaml")
	if err != nil {
		return nil, fmt.Errorf("preset %q: %w", preset, err)
	}
	return data, nil
}
