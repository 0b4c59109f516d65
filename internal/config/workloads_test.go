package config

import (
	"slices"
	"strings"
	"testing"
)

// withWorkload is the base config with workload ci-runner (namespace ci,
// a Deployment) granted edit in apps of downstreams[0].
func withWorkload(t *testing.T) *Federation {
	t.Helper()
	f, err := Decode([]byte(base(t)), "testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Upstream.Workloads = []UpstreamWorkload{{Name: "ci-runner", Namespace: "ci", Kind: KindDeployment}}
	f.Downstreams[0].Access.Workloads = []WorkloadAccess{{Name: "ci-runner", Namespaces: []string{"apps"}, Role: Role{ClusterRole: "edit"}}}
	return f
}

func TestWorkloadDefaultsAndGrants(t *testing.T) {
	f := withWorkload(t)
	if err := f.Complete(); err != nil {
		t.Fatal(err)
	}
	w := f.Workload("ci-runner")
	if w == nil || w.ServiceAccount != "ci-runner" || !slices.Equal(w.Containers, []string{"ci-runner"}) {
		t.Fatalf("defaults: %+v", w)
	}
	if got := f.Reaches(w); len(got) != 1 || got[0].Name != f.Downstreams[0].Name {
		t.Fatalf("Reaches = %v", got)
	}
	d := &f.Downstreams[0]
	all, argo, wl := f.Grants(d), f.ArgoCDGrants(d), f.WorkloadGrants(d)
	if len(all) != len(argo)+1 || len(wl) != 1 {
		t.Fatalf("Grants %d, ArgoCDGrants %d, WorkloadGrants %d", len(all), len(argo), len(wl))
	}
	g := wl[0]
	want := Grant{Who: "workload:ci-runner", Subject: "system:serviceaccount:ci:ci-runner", User: "hub:system:serviceaccount:ci:ci-runner",
		RoleName: "edit", BindingName: "argocd-k8s-federate:hub:workload:ci-runner", Namespaces: []string{"apps"}}
	if g.Who != want.Who || g.Subject != want.Subject || g.User != want.User || g.RoleName != want.RoleName ||
		g.BindingName != want.BindingName || !slices.Equal(g.Namespaces, want.Namespaces) || g.ClusterWide || !g.IsWorkload() {
		t.Errorf("workload grant = %+v, want %+v", g, want)
	}
	for _, a := range argo {
		if a.IsWorkload() || a.Subject != ServiceAccountSubject("argocd", a.Workload.ServiceAccount) {
			t.Errorf("ArgoCD grant %+v", a)
		}
	}
	// Rules get a ClusterRole of their own, named like the binding.
	d.Access.Workloads[0].Role = Role{Rules: []PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}}
	if g := f.WorkloadGrants(d)[0]; g.RoleName != g.BindingName {
		t.Errorf("rules: RoleName %q, want %q", g.RoleName, g.BindingName)
	}
	// Nothing is granted where nothing is said.
	if got := f.WorkloadGrants(&f.Downstreams[1]); len(got) != 0 {
		t.Errorf("downstreams[1] grants %+v", got)
	}
}

func TestWorkloadRefusals(t *testing.T) {
	grant := func(f *Federation) *WorkloadAccess { return &f.Downstreams[0].Access.Workloads[0] }
	tests := []struct {
		name      string
		edit      func(f *Federation)
		path, msg string
	}{
		{"valid", func(f *Federation) {}, "", ""},
		{"ArgoCD's service account", func(f *Federation) {
			f.Upstream.Workloads[0].Namespace, f.Upstream.Workloads[0].ServiceAccount = "argocd", "argocd-server"
		}, "upstream.workloads[0].serviceAccount", "is the service account of upstream.argocd.server"},
		{"another workload's service account", func(f *Federation) {
			f.Upstream.Workloads = append(f.Upstream.Workloads, UpstreamWorkload{Name: "other", Namespace: "ci", Kind: KindJob, ServiceAccount: "ci-runner"})
			f.Downstreams[0].Access.Workloads = append(f.Downstreams[0].Access.Workloads, WorkloadAccess{Name: "other", Namespaces: []string{"apps"}, Role: Role{Preset: "viewer"}})
		}, "upstream.workloads[1].serviceAccount", "already the service account of upstream.workloads[0]"},
		{"ArgoCD's own workload", func(f *Federation) {
			f.Upstream.Workloads[0] = UpstreamWorkload{Name: "argocd-server", Namespace: "argocd", Kind: KindDeployment, ServiceAccount: "ci"}
			grant(f).Name = "argocd-server"
		}, "upstream.workloads[0]", "is ArgoCD's own Deployment argocd-server"},
		{"duplicate name", func(f *Federation) {
			f.Upstream.Workloads = append(f.Upstream.Workloads, UpstreamWorkload{Name: "ci-runner", Namespace: "ci2", Kind: KindJob})
		}, "upstream.workloads[1].name", "already the name of upstream.workloads[0]"},
		{"bad kind", func(f *Federation) { f.Upstream.Workloads[0].Kind = "Pod" }, "upstream.workloads[0].kind", "must be Deployment, StatefulSet, DaemonSet, Job, CronJob"},
		{"no namespace", func(f *Federation) { f.Upstream.Workloads[0].Namespace = "" }, "upstream.workloads[0].namespace", "is required"},
		{"bad container", func(f *Federation) { f.Upstream.Workloads[0].Containers = []string{"Main"} }, "upstream.workloads[0].containers[0]", "is not a valid name"},
		{"container twice", func(f *Federation) { f.Upstream.Workloads[0].Containers = []string{"a", "a"} }, "upstream.workloads[0].containers[1]", "listed twice"},
		{"granted nowhere", func(f *Federation) { f.Downstreams[0].Access.Workloads = nil }, "upstream.workloads[0]", "no downstream grants workload \"ci-runner\""},
		{"unknown workload", func(f *Federation) {
			f.Downstreams[1].Access.Workloads = []WorkloadAccess{{Name: "nope", Namespaces: []string{"apps"}, Role: Role{Preset: "viewer"}}}
		}, "downstreams[1].access.workloads[0].name", "\"nope\" is not a workload of upstream.workloads (they are ci-runner)"},
		{"granted twice", func(f *Federation) {
			f.Downstreams[0].Access.Workloads = append(f.Downstreams[0].Access.Workloads, *grant(f))
		}, "downstreams[0].access.workloads[1].name", "already granted by downstreams[0].access.workloads[0]"},
		{"no scope", func(f *Federation) { grant(f).Namespaces = nil }, "downstreams[0].access.workloads[0].namespaces", "or set access.workloads[0].clusterWide: true"},
		{"both scopes", func(f *Federation) { grant(f).ClusterWide = true }, "downstreams[0].access.workloads[0].clusterWide", "choose one"},
		{"no role", func(f *Federation) { grant(f).Role = Role{} }, "downstreams[0].access.workloads[0]", "set exactly one of preset"},
		{"two roles", func(f *Federation) { grant(f).Role = Role{Preset: "viewer", ClusterRole: "view"} }, "downstreams[0].access.workloads[0]", "set exactly one of preset"},
		{"cluster-admin in a namespace", func(f *Federation) { grant(f).ClusterRole = "cluster-admin" }, "downstreams[0].access.workloads[0].clusterRole", "grants every permission there"},
		{"bad namespace", func(f *Federation) { grant(f).Namespaces = []string{"Apps"} }, "downstreams[0].access.workloads[0].namespaces[0]", "is not a valid name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := withWorkload(t)
			tt.edit(f)
			assertValidation(t, f.Complete(), tt.path, tt.msg)
		})
	}
}

func TestWorkloadStrictDecoding(t *testing.T) {
	data := strings.Replace(base(t), "downstreams:", "  workloads:\n  - name: ci\n    namespace: ci\n    kind: Job\n    image: x\ndownstreams:", 1)
	if _, err := Decode([]byte(data), "w.yaml"); err == nil || !strings.Contains(err.Error(), "image") {
		t.Fatalf("unknown field of a workload: %v", err)
	}
}

func TestWorkloadClusterWideWarned(t *testing.T) {
	f := withWorkload(t)
	f.Downstreams[0].Access.Workloads[0] = WorkloadAccess{Name: "ci-runner", ClusterWide: true, Role: Role{Preset: "viewer"}}
	if err := f.Complete(); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, w := range f.Warnings() {
		found = found || strings.Contains(w, `grants workload "ci-runner" the whole cluster`)
	}
	if !found {
		t.Errorf("no warning for a cluster-wide workload grant: %q", f.Warnings())
	}
}
