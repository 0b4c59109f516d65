package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// Probe is one permission to ask the downstream about.
type Probe struct {
	// Namespace is "" for a cluster-wide question.
	Namespace   string
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Name        string
	// NonResourceURL is set for a non-resource permission (then only Verb
	// counts).
	NonResourceURL string
}

func (p Probe) String() string {
	if p.NonResourceURL != "" {
		return p.Verb + " " + p.NonResourceURL
	}
	s := p.Verb + " " + p.Resource
	if p.Subresource != "" {
		s += "/" + p.Subresource
	}
	if p.Group != "" {
		s += "." + p.Group
	}
	if p.Name != "" {
		s += " " + p.Name
	}
	return s
}

// Rule is a resource rule of a SelfSubjectRulesReview.
type Rule struct {
	Verbs     []string
	APIGroups []string
	Resources []string
}

// concurrency bounds the reviews in flight.
const concurrency = 8

// checkRBAC is rbac: for the token's identity, one result per namespace (or
// cluster-wide) saying whether everything its role promises is allowed.
func (r *runner) checkRBAC(ctx context.Context, client Downstream) {
	t := r.t
	if len(t.Grants) == 0 {
		r.checkSecretNamespaces(ctx, client)
		return
	}
	grants := r.grantsOf(r.sub)
	if len(grants) == 0 {
		r.add(skip(CheckRBAC, "the token is not of an ArgoCD identity of the config ("+CheckTokenSubject+" failed)"))
		return
	}
	for _, g := range grants {
		scopes := g.Namespaces
		if g.ClusterWide {
			scopes = []string{""}
		}
		rules, what, err := promised(g)
		if err != nil {
			r.add(Result{Check: CheckRBAC, Status: Fail, Scope: g.Who, Message: err.Error(), Fix: "report this: a preset of this build does not parse"})
			continue
		}
		for _, ns := range scopes {
			if rules == nil {
				r.checkGrantsSomething(ctx, client, g, ns, what)
				continue
			}
			r.checkProbes(ctx, client, g, ns, what, probesOf(rules, ns))
		}
	}
}

// promised are the rules a grant promises, and how to name them; nil rules
// when they are not known here (a ClusterRole of the downstream's own).
func promised(g config.Grant) ([]config.PolicyRule, string, error) {
	switch {
	case g.Role.Preset != "":
		rules, err := config.PresetRules(g.Role.Preset)
		return rules, "preset " + g.Role.Preset, err
	case len(g.Role.Rules) > 0:
		return g.Role.Rules, "the rules of ClusterRole " + g.RoleName, nil
	}
	return builtinRules(g.Role.ClusterRole), "ClusterRole " + g.Role.ClusterRole, nil
}

// builtinRules are a sample of what Kubernetes' user-facing ClusterRoles
// grant in every version, enough to tell that the binding works; nil for
// other ClusterRoles.
func builtinRules(name string) []config.PolicyRule {
	read := []string{"get", "list", "watch"}
	write := []string{"create", "update", "patch", "delete"}
	view := []config.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "services", "configmaps"}, Verbs: read},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: read},
	}
	edit := append(slices.Clone(view),
		config.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps", "services", "secrets"}, Verbs: write},
		config.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: read},
		config.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: write},
	)
	switch name {
	case "view":
		return view
	case "edit":
		return edit
	case "admin":
		return append(edit, config.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}, Verbs: []string{"create", "update", "delete"}})
	case "cluster-admin":
		return []config.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}
	}
	return nil
}

// probesOf expands rules into one probe per verb, group, resource (and
// resource name) in namespace ns; non-resource URLs only cluster-wide.
func probesOf(rules []config.PolicyRule, ns string) []Probe {
	var out []Probe
	for _, rule := range rules {
		for _, verb := range rule.Verbs {
			if ns == "" {
				for _, u := range rule.NonResourceURLs {
					out = append(out, Probe{Verb: verb, NonResourceURL: u})
				}
			}
			for _, group := range rule.APIGroups {
				for _, res := range rule.Resources {
					resource, sub, _ := strings.Cut(res, "/")
					names := rule.ResourceNames
					if len(names) == 0 {
						names = []string{""}
					}
					for _, name := range names {
						out = append(out, Probe{Namespace: ns, Verb: verb, Group: group, Resource: resource, Subresource: sub, Name: name})
					}
				}
			}
		}
	}
	return out
}

func scopeName(who, ns string) string {
	if ns == "" {
		return who + ", cluster"
	}
	return who + ", " + ns
}

func where(ns string) string {
	if ns == "" {
		return "cluster-wide"
	}
	return "in namespace " + ns
}

// checkProbes asks every probe and reports the denied ones.
func (r *runner) checkProbes(ctx context.Context, client Downstream, g config.Grant, ns, what string, probes []Probe) {
	allowed := make([]bool, len(probes))
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for i, p := range probes {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			allowed[i], errs[i] = client.Allowed(ctx, p)
		})
	}
	wg.Wait()
	var denied, failed []string
	for i, p := range probes {
		switch {
		case errs[i] != nil:
			failed = append(failed, fmt.Sprintf("%s: %v", p, errs[i]))
		case !allowed[i]:
			denied = append(denied, p.String())
		}
	}
	res := Result{Check: CheckRBAC, Scope: scopeName(g.Who, ns)}
	switch {
	case len(failed) > 0:
		res.Status, res.Details = Fail, failed
		res.Message = fmt.Sprintf("%d of %d SelfSubjectAccessReviews failed", len(failed), len(probes))
		res.Fix = "check the downstream API server's health"
	case len(denied) == 0:
		res.Status = Pass
		res.Message = fmt.Sprintf("%s may do what %s promises %s (%d permissions)", g.User, what, where(ns), len(probes))
	default:
		res.Status, res.Details = Fail, denied
		res.Message = fmt.Sprintf("%s is denied %d of the %d permissions %s promises %s: %s", g.User, len(denied), len(probes), what, where(ns), short(denied, 4))
		res.Fix = r.rbacFix(g, ns, len(denied) == len(probes))
	}
	r.add(res)
}

func (r *runner) rbacFix(g config.Grant, ns string, all bool) string {
	binding := fmt.Sprintf("RoleBinding %s in namespace %s", g.BindingName, ns)
	if ns == "" {
		binding = "ClusterRoleBinding " + g.BindingName
	}
	apply := fmt.Sprintf("apply the generated RBAC to downstream %s (kubectl apply -k downstream/%s)", r.t.Name, r.t.Name)
	if all {
		missing := ""
		if ns != "" {
			missing = fmt.Sprintf(" (and namespace %s must exist)", ns)
		}
		return fmt.Sprintf("the %s binding ClusterRole %s to %s is missing or binds another user%s: %s", binding, g.RoleName, g.User, missing, apply)
	}
	return fmt.Sprintf("the %s works, but ClusterRole %s in the downstream lacks these permissions: %s, or add them to that ClusterRole", binding, g.RoleName, apply)
}

// checkGrantsSomething is rbac for a role whose rules are not known here:
// the identity must be granted something beyond what every user has.
func (r *runner) checkGrantsSomething(ctx context.Context, client Downstream, g config.Grant, ns, what string) {
	res := Result{Check: CheckRBAC, Scope: scopeName(g.Who, ns)}
	n, err := grantedRules(ctx, client, orDefault(ns, "default"))
	switch {
	case err != nil:
		res.Status, res.Message = Fail, fmt.Sprintf("SelfSubjectRulesReview %s: %v", where(ns), err)
		res.Fix = "check the downstream API server's health"
	case n == 0:
		res.Status = Fail
		res.Message = fmt.Sprintf("%s is granted nothing %s, where the config binds %s", g.User, where(ns), what)
		res.Fix = r.rbacFix(g, ns, true)
	default:
		res.Status = Pass
		res.Message = fmt.Sprintf("%s holds %d rule(s) %s (%s: its rules are the downstream's, so only the binding is checked)", g.User, n, where(ns), what)
	}
	r.add(res)
}

// checkSecretNamespaces is rbac without a config: the identity must be
// granted something in each namespace the cluster Secret lets ArgoCD watch.
func (r *runner) checkSecretNamespaces(ctx context.Context, client Downstream) {
	s := r.t.Secret
	if s == nil || len(s.Namespaces) == 0 {
		r.add(skip(CheckRBAC, "what RBAC was promised is in the federation config (give -f)"))
		return
	}
	for _, ns := range s.Namespaces {
		res := Result{Check: CheckRBAC, Scope: ns}
		n, err := grantedRules(ctx, client, ns)
		switch {
		case err != nil:
			res.Status, res.Message = Fail, fmt.Sprintf("SelfSubjectRulesReview in namespace %s: %v", ns, err)
		case n == 0:
			res.Status = Fail
			res.Message = fmt.Sprintf("%s is granted nothing in namespace %s, which the cluster Secret lets ArgoCD watch", r.username, ns)
			res.Fix = fmt.Sprintf("bind a role to %s in namespace %s of the downstream (the generated RBAC does), or drop the namespace from the Secret", r.username, ns)
		default:
			res.Status = Pass
			res.Message = fmt.Sprintf("%s holds %d rule(s) in namespace %s (give -f to check them against the config)", r.username, n, ns)
		}
		r.add(res)
	}
}

// grantedRules counts the rules in ns beyond the self-reviews every
// authenticated user may create.
func grantedRules(ctx context.Context, client Downstream, ns string) (int, error) {
	rules, err := client.Rules(ctx, ns)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rule := range rules {
		if everyone(rule) {
			continue
		}
		n++
	}
	return n, nil
}

// everyone reports the rules of system:basic-user and system:discovery.
func everyone(rule Rule) bool {
	for _, g := range rule.APIGroups {
		if g != "authorization.k8s.io" && g != "authentication.k8s.io" {
			return false
		}
	}
	for _, res := range rule.Resources {
		if !strings.HasPrefix(res, "self") {
			return false
		}
	}
	return len(rule.Resources) > 0
}
