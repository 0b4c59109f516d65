package config

import (
	"fmt"
	"io/fs"
	"sort"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/rbac"
)

// Grant is what one ArgoCD identity is promised in one downstream: a role,
// bound to its prefixed user in each namespace or cluster-wide.
type Grant struct {
	// Who is "controller" or "server".
	Who      string
	Workload Workload
	// User is the username the downstream maps the identity's tokens to.
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

// Grants are the controller's and the server's grants in downstream d: what
// generate binds and what doctor checks.
func (f *Federation) Grants(d *Downstream) []Grant {
	u := f.Upstream.Name
	ns := append([]string(nil), d.Access.Namespaces...)
	sort.Strings(ns)
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
		name := "argocd-k8s-federate:" + u + ":" + g.who
		roleName := name
		switch {
		case g.role.Preset != "":
			roleName = PresetRoleName(g.role.Preset)
		case g.role.ClusterRole != "":
			roleName = g.role.ClusterRole
		}
		grant := Grant{
			Who: g.who, Workload: g.w, User: f.User(d, g.w), Role: g.role,
			RoleName: roleName, BindingName: name, ClusterWide: d.Access.ClusterWide,
		}
		if !d.Access.ClusterWide {
			grant.Namespaces = ns
		}
		grants = append(grants, grant)
	}
	return grants
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
