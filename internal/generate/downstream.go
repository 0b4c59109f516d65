package generate

import (
	"bytes"
	"sort"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

const rbacGroup = "rbac.authorization.k8s.io"

// downstream renders downstream/<name>/: a kustomization with the RBAC that
// binds each hub's prefixed ArgoCD users, and apiserver/ with the trust
// configuration in every form operators use.
func (t *Tree) downstream(name string, entries []entry) error {
	dir := "downstream/" + name + "/"
	k := kustomization{typeMeta: typeMeta{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization"}}

	presets := map[string]bool{}
	for _, e := range entries {
		objs := rbacObjects(e.fed, e.d)
		file := "rbac-" + e.fed.Upstream.Name + ".yaml"
		if err := t.addYAML(dir+file, objs...); err != nil {
			return err
		}
		k.Resources = append(k.Resources, file)
		for _, g := range e.fed.Grants(e.d) {
			if g.Role.Preset != "" {
				presets[g.Role.Preset] = true
			}
		}
		for _, g := range e.fed.PeopleGrants(e.d) {
			if g.Role.Preset != "" {
				presets[g.Role.Preset] = true
			}
		}
	}
	if len(presets) > 0 {
		b, err := presetsFile(presets)
		if err != nil {
			return err
		}
		t.add(dir+"rbac-presets.yaml", b)
		k.Resources = append(k.Resources, "rbac-presets.yaml")
	}
	sort.Strings(k.Resources)
	if err := t.addYAML(dir+"kustomization.yaml", k); err != nil {
		return err
	}
	return t.apiServer(dir+"apiserver/", name, entries)
}

// presetsFile concatenates the reviewed preset roles, as they are in rbac/.
func presetsFile(presets map[string]bool) ([]byte, error) {
	names := make([]string, 0, len(presets))
	for p := range presets {
		names = append(names, p)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString(Header)
	for i, p := range names {
		data, err := config.PresetFile(p)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.Bytes(), nil
}

// rbacObjects are one hub's roles and bindings in one downstream: for the
// controller, the server and the upstream workloads, a binding per
// namespace (or one cluster-wide binding when asked for) of the prefixed
// user to its role; for the people's groups the same, of the prefixed
// group.
func rbacObjects(f *config.Federation, d *config.Downstream) []any {
	type bound struct {
		role                  config.Role
		roleName, bindingName string
		subject               subject
		clusterWide           bool
		namespaces            []string
	}
	var all []bound
	for _, g := range f.Grants(d) {
		all = append(all, bound{g.Role, g.RoleName, g.BindingName, subject{APIGroup: rbacGroup, Kind: "User", Name: g.User}, g.ClusterWide, g.Namespaces})
	}
	for _, g := range f.PeopleGrants(d) {
		all = append(all, bound{g.Role, g.RoleName, g.BindingName, subject{APIGroup: rbacGroup, Kind: "Group", Name: g.Subject}, g.ClusterWide, g.Namespaces})
	}
	u := f.Upstream.Name
	var objs []any
	for _, g := range all {
		ref := roleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: g.roleName}
		if len(g.role.Rules) > 0 {
			objs = append(objs, clusterRole{
				typeMeta: typeMeta{APIVersion: rbacGroup + "/v1", Kind: "ClusterRole"},
				Metadata: objectMeta{Name: g.roleName, Labels: config.ObjectLabels(u, nil)},
				Rules:    g.role.Rules,
			})
		}
		subjects := []subject{g.subject}
		if g.clusterWide {
			objs = append(objs, binding{
				typeMeta: typeMeta{APIVersion: rbacGroup + "/v1", Kind: "ClusterRoleBinding"},
				Metadata: objectMeta{Name: g.bindingName, Labels: config.ObjectLabels(u, nil)},
				RoleRef:  ref,
				Subjects: subjects,
			})
			continue
		}
		for _, n := range g.namespaces {
			objs = append(objs, binding{
				typeMeta: typeMeta{APIVersion: rbacGroup + "/v1", Kind: "RoleBinding"},
				Metadata: objectMeta{Name: g.bindingName, Namespace: n, Labels: config.ObjectLabels(u, nil)},
				RoleRef:  ref,
				Subjects: subjects,
			})
		}
	}
	return objs
}
