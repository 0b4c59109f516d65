package generate

import (
	"fmt"
	"io/fs"
	"sort"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/rbac"
)

// Grant is what one ArgoCD identity is promised in one downstream: a role,
// bound to its prefixed user in each namespace or cluster-wide.
type Grant struct {
	// Who is "controller" or "server".
	Who      string
	Workload config.Workload
	// User is the username the downstream maps the identity's tokens to.
	User string
	// Role is the role as the config gives it.
	Role config.Role
	// RoleName is the ClusterRole the bindings refer to.
	RoleName string
	// BindingName names the RoleBindings (or the ClusterRoleBinding).
	BindingName string
	// ClusterWide binds with one ClusterRoleBinding; otherwise Namespaces
	// (sorted) each get a RoleBinding.
	ClusterWide bool
	Namespaces  []string
}

// Grants are the controller's and the server's grants in downstream d.
func Grants(f *config.Federation, d *config.Downstream) []Grant {
	u := f.Upstream.Name
	ns := append([]string(nil), d.Access.Namespaces...)
	sort.Strings(ns)
	var grants []Grant
	for _, g := range []struct {
		who  string
		w    config.Workload
		role config.Role
	}{
		{"controller", f.Upstream.ArgoCD.Controller, d.Access.Controller},
		{"server", f.Upstream.ArgoCD.Server, d.Access.Server},
	} {
		name := "argocd-k8s-federate:" + u + ":" + g.who
		roleName := name
		switch {
		case g.role.Preset != "":
			roleName = presetRoleName(g.role.Preset)
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

// PresetRules are the rules of a preset role, as rbac/<preset>.yaml has them.
func PresetRules(preset string) ([]config.PolicyRule, error) {
	data, err := fs.ReadFile(rbac.Presets, preset+".yaml")
	if err != nil {
		return nil, fmt.Errorf("preset %q: %w", preset, err)
	}
	var role struct {
		Rules []config.PolicyRule `json:"rules"`
	}
	if err := yaml.Unmarshal(data, &role); err != nil {
		return nil, fmt.Errorf("preset %q: %w", preset, err)
	}
	return role.Rules, nil
}
