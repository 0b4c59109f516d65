package config

import (
	"fmt"
	"slices"
	"strings"
)

// validateWorkloads checks upstream.workloads: names, kinds, containers,
// service accounts that are no one else's, and that some downstream grants
// each (its kubeconfig would be empty otherwise).
func (f *Federation) validateWorkloads(errs *Errors) {
	u := &f.Upstream
	argo := map[string]string{} // ArgoCD's subjects, and the workload names they are
	for _, w := range []struct {
		field string
		w     Workload
	}{{"controller", u.ArgoCD.Controller}, {"server", u.ArgoCD.Server}} {
		if w.w.IsEnabled() {
			argo[ServiceAccountSubject(u.ArgoCD.Namespace, w.w.ServiceAccount)] = "upstream.argocd." + w.field
		}
	}
	names := map[string]int{}
	subjects := map[string]int{}
	for i := range u.Workloads {
		w := &u.Workloads[i]
		p := index("upstream.workloads", i)
		checkDNSLabel(errs, path(p, "name"), w.Name, `the workload's name, e.g. "ci-runner"`)
		checkDNSLabel(errs, path(p, "namespace"), w.Namespace, "the namespace the workload runs in")
		if !slices.Contains(WorkloadKinds, w.Kind) {
			errs.add(path(p, "kind"), "is %q; must be %s (the kind of the workload whose pod template gets the kubeconfig)", w.Kind, strings.Join(WorkloadKinds, ", "))
		}
		checkDNSSubdomain(errs, path(p, "serviceAccount"), w.ServiceAccount, "the pods' service account")
		seen := map[string]bool{}
		for j, c := range w.Containers {
			cp := index(path(p, "containers"), j)
			checkDNSLabel(errs, cp, c, "a container name")
			if seen[c] {
				errs.add(cp, "%q is listed twice", c)
			}
			seen[c] = true
		}
		if j, ok := names[w.Name]; ok && w.Name != "" {
			errs.add(path(p, "name"), "%q is already the name of upstream.workloads[%d]; names must be unique", w.Name, j)
		} else {
			names[w.Name] = i
		}
		if w.Namespace == u.ArgoCD.Namespace {
			for _, a := range u.ArgoCD.Workloads() {
				if w.Kind == a.Kind && w.Name == a.Name {
					errs.add(p, "is ArgoCD's own %s %s: ArgoCD's workloads are upstream.argocd.controller and server, granted by downstreams[].access; remove this entry", w.Kind, w.Name)
				}
			}
		}
		sub := w.Subject()
		if field, ok := argo[sub]; ok {
			errs.add(path(p, "serviceAccount"), "%s is the service account of %s: the workload would act as ArgoCD downstream; give it its own service account", sub, field)
		} else if j, ok := subjects[sub]; ok && w.Namespace != "" && w.ServiceAccount != "" {
			errs.add(path(p, "serviceAccount"), "%s is already the service account of upstream.workloads[%d]: each workload needs its own, or one's grants would be the other's", sub, j)
		} else {
			subjects[sub] = i
		}
		if w.Name != "" && len(f.Reaches(w)) == 0 {
			errs.add(p, "no downstream grants workload %q: its kubeconfig would be empty; add it to downstreams[].access.workloads (name, namespaces, and preset, clusterRole or rules) or remove it", w.Name)
		}
	}
}

// validateWorkloadAccess checks a downstream's access.workloads at p: each
// a known workload, once, with a scope and exactly one role.
func (f *Federation) validateWorkloadAccess(errs *Errors, p string, grants []WorkloadAccess) {
	seen := map[string]int{}
	for i, a := range grants {
		gp := index(p, i)
		rel := index("access.workloads", i)
		switch {
		case a.Name == "":
			errs.add(path(gp, "name"), "is required: the name of a workload of upstream.workloads")
		case f.Workload(a.Name) == nil:
			errs.add(path(gp, "name"), "%q is not a workload of upstream.workloads (%s); add it there (name, namespace, kind) or fix the name", a.Name, f.workloadNames())
		}
		if j, ok := seen[a.Name]; ok && a.Name != "" {
			errs.add(path(gp, "name"), "%q is already granted by %s[%d]: give each workload one entry per downstream", a.Name, p, j)
		} else {
			seen[a.Name] = i
		}
		checkScope(errs, gp, rel, a.Namespaces, a.ClusterWide, "the workload may use")
		checkRole(errs, gp, a.Role, a.ClusterWide)
	}
}

func (f *Federation) workloadNames() string {
	if len(f.Upstream.Workloads) == 0 {
		return "there are none"
	}
	var names []string
	for _, w := range f.Upstream.Workloads {
		names = append(names, w.Name)
	}
	return "they are " + strings.Join(names, ", ")
}

// workloadWarnings are the cluster-wide grants of upstream workloads.
func (f *Federation) workloadWarnings() []string {
	var w []string
	for _, d := range f.Downstreams {
		for _, a := range d.Access.Workloads {
			if a.ClusterWide {
				w = append(w, fmt.Sprintf("%s: downstream %q grants workload %q the whole cluster (access.workloads clusterWide: true)", f.Source, d.Name, a.Name))
			}
		}
	}
	return w
}
