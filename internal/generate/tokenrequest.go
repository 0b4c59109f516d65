package generate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// The upstream objects of the token-request source (upstream.token.source
// or downstreams[].tokenSource TokenRequest): each ArgoCD service account
// may create tokens for itself only (RBAC, resourceNames), and admission
// lets it ask only for one audience of its downstreams per token, bound to
// a pod (a ValidatingAdmissionPolicy whose parameter is the audiences
// ConfigMap). Adding a downstream changes the ConfigMap, not the rest.

// validatingAdmissionPolicy is admissionregistration.k8s.io/v1
// ValidatingAdmissionPolicy, with the fields this tool sets.
type validatingAdmissionPolicy struct {
	typeMeta `json:",inline"`
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		FailurePolicy    string   `json:"failurePolicy"`
		ParamKind        typeMeta `json:"paramKind"`
		MatchConstraints struct {
			ResourceRules []resourceRule `json:"resourceRules"`
		} `json:"matchConstraints"`
		MatchConditions []namedExpression `json:"matchConditions"`
		Validations     []validation      `json:"validations"`
	} `json:"spec"`
}

type resourceRule struct {
	APIGroups   []string `json:"apiGroups"`
	APIVersions []string `json:"apiVersions"`
	Operations  []string `json:"operations"`
	Resources   []string `json:"resources"`
}

type namedExpression struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

type validation struct {
	Expression        string `json:"expression"`
	MessageExpression string `json:"messageExpression,omitempty"`
	Message           string `json:"message,omitempty"`
	Reason            string `json:"reason"`
}

type validatingAdmissionPolicyBinding struct {
	typeMeta `json:",inline"`
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		PolicyName        string   `json:"policyName"`
		ValidationActions []string `json:"validationActions"`
		ParamRef          struct {
			Name                    string `json:"name"`
			Namespace               string `json:"namespace"`
			ParameterNotFoundAction string `json:"parameterNotFoundAction"`
		} `json:"paramRef"`
		MatchResources struct {
			NamespaceSelector struct {
				MatchExpressions []labelSelectorRequirement `json:"matchExpressions"`
			} `json:"namespaceSelector"`
		} `json:"matchResources"`
	} `json:"spec"`
}

type labelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

type configMap struct {
	typeMeta `json:",inline"`
	Metadata objectMeta        `json:"metadata"`
	Data     map[string]string `json:"data"`
}

// AudiencePolicyName is the ValidatingAdmissionPolicy (and its binding) of
// hub upstream: cluster-scoped, so named after the hub.
func AudiencePolicyName(upstream string) string {
	return "argocd-k8s-federate-" + upstream + "-token-audiences"
}

// selfTokenRBAC is the Role and RoleBinding that let service account sa of
// namespace ns create tokens for itself, and only for itself (resourceNames),
// labelled for hub upstream: for ArgoCD's service accounts and the upstream
// workloads' alike.
func selfTokenRBAC(upstream, ns, sa string) []any {
	meta := objectMeta{Name: plugin.TokenRequestRoleName(sa), Namespace: ns, Labels: config.ObjectLabels(upstream, nil)}
	return []any{
		clusterRole{
			typeMeta: typeMeta{APIVersion: rbacGroup + "/v1", Kind: "Role"},
			Metadata: meta,
			Rules: []config.PolicyRule{{
				APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"},
				ResourceNames: []string{sa}, Verbs: []string{"create"},
			}},
		},
		binding{
			typeMeta: typeMeta{APIVersion: rbacGroup + "/v1", Kind: "RoleBinding"},
			Metadata: meta,
			RoleRef:  roleRef{APIGroup: rbacGroup, Kind: "Role", Name: meta.Name},
			Subjects: []subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
		},
	}
}

// requestsToken reports whether the pods that reach d request tokens of
// their own service accounts for it: for d's audience (token-request), or
// for the identity provider's assertion audience (grant JWTBearer).
func requestsToken(f *config.Federation, d *config.Downstream) bool {
	return d.UsesTokenRequest() || d.UsesIdentityProvider() && f.AssertionAudience() != ""
}

// requestsAnyTokens reports whether ArgoCD's service accounts request
// tokens for any downstream: then the token-request objects are generated.
func requestsAnyTokens(f *config.Federation) bool {
	for i := range f.Downstreams {
		if requestsToken(f, &f.Downstreams[i]) {
			return true
		}
	}
	return false
}

// assertionAudienceKey is the audiences ConfigMap's key of the identity
// provider's assertion audience: not a DNS label, so never a downstream's
// name.
const assertionAudienceKey = "identityProvider.assertionAudience"

// tokenRequesters are the upstream workloads that reach a token-request
// downstream: their service accounts request tokens too.
func tokenRequesters(f *config.Federation) []*config.UpstreamWorkload {
	var out []*config.UpstreamWorkload
	for i := range f.Upstream.Workloads {
		w := &f.Upstream.Workloads[i]
		if requestsTokens(f, w) {
			out = append(out, w)
		}
	}
	return out
}

// requestsTokens reports whether upstream workload w reaches a
// token-request downstream.
func requestsTokens(f *config.Federation, w *config.UpstreamWorkload) bool {
	return slices.ContainsFunc(f.Reaches(w), func(d *config.Downstream) bool { return requestsToken(f, d) })
}

// tokenRequestObjects are the Roles and RoleBindings that let each ArgoCD
// service account create its own tokens, and the admission policy that
// fences what it, and the upstream workloads that reach token-request
// downstreams, ask for.
func tokenRequestObjects(f *config.Federation) []any {
	u := &f.Upstream
	ns := u.ArgoCD.Namespace
	var objs []any
	seen := map[string]bool{}
	for _, w := range u.ArgoCD.Workloads() {
		if !seen[w.ServiceAccount] {
			seen[w.ServiceAccount] = true
			objs = append(objs, selfTokenRBAC(u.Name, ns, w.ServiceAccount)...)
		}
	}
	users := f.ArgoCDSubjects()
	namespaces := []string{ns}
	for _, w := range tokenRequesters(f) {
		users = append(users, w.Subject())
		namespaces = append(namespaces, w.Namespace)
	}
	slices.Sort(users)
	slices.Sort(namespaces)
	namespaces = slices.Compact(namespaces)

	name := AudiencePolicyName(u.Name)
	var p validatingAdmissionPolicy
	p.typeMeta = typeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"}
	p.Metadata = objectMeta{Name: name, Labels: config.ObjectLabels(u.Name, nil)}
	p.Spec.FailurePolicy = "Fail"
	p.Spec.ParamKind = typeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	p.Spec.MatchConstraints.ResourceRules = []resourceRule{{
		APIGroups: []string{""}, APIVersions: []string{"v1"}, Operations: []string{"CREATE"}, Resources: []string{"serviceaccounts/token"},
	}}
	// Only the requests of ArgoCD's own service accounts and of the
	// workloads': the kubelet's requests for their pods' projected tokens
	// are not fenced here.
	p.Spec.MatchConditions = []namedExpression{{
		Name:       "argocd-service-accounts",
		Expression: "request.userInfo.username in " + celList(users),
	}}
	p.Spec.Validations = []validation{
		{
			Expression: "'system:serviceaccount:' + request.namespace + ':' + request.name == request.userInfo.username",
			Message:    "an ArgoCD service account may request tokens only for itself",
			Reason:     "Forbidden",
		},
		{
			Expression: "size(object.spec.audiences) == 1 && has(params.data) && params.data.exists(k, params.data[k] == object.spec.audiences[0])",
			MessageExpression: "'the audiences [' + object.spec.audiences.join(', ') + '] are not one audience of a downstream of the hub " + u.Name + assertionNote(f) +
				" (one per token): the ConfigMap " + ns + "/" + plugin.AudiencesConfigMap + " lists them'",
			Reason: "Forbidden",
		},
		{
			Expression: "has(object.spec.boundObjectRef) && has(object.spec.boundObjectRef.kind) && object.spec.boundObjectRef.kind == 'Pod'",
			Message:    "tokens for downstreams must be bound to the requesting pod (boundObjectRef kind Pod)",
			Reason:     "Forbidden",
		},
	}
	var b validatingAdmissionPolicyBinding
	b.typeMeta = typeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"}
	b.Metadata = objectMeta{Name: name, Labels: config.ObjectLabels(u.Name, nil)}
	b.Spec.PolicyName = name
	b.Spec.ValidationActions = []string{"Deny"}
	b.Spec.ParamRef.Name = plugin.AudiencesConfigMap
	b.Spec.ParamRef.Namespace = ns
	b.Spec.ParamRef.ParameterNotFoundAction = "Deny"
	b.Spec.MatchResources.NamespaceSelector.MatchExpressions = []labelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: "In", Values: namespaces,
	}}
	return append(objs, p, b)
}

// assertionNote names, in the admission policy's message, the identity
// provider's assertion audience the ConfigMap lists too.
func assertionNote(f *config.Federation) string {
	if f.AssertionAudience() == "" {
		return ""
	}
	return ", nor the assertion audience of its identity provider"
}

// audiencesConfigMap lists, per token-request downstream (its name is the
// key: audiences may hold characters a key may not), its audience, and the
// identity provider's assertion audience (grant JWTBearer).
func audiencesConfigMap(f *config.Federation) configMap {
	u := &f.Upstream
	data := map[string]string{}
	for _, d := range f.TokenRequested() {
		data[d.Name] = d.Audience
	}
	if aud := f.AssertionAudience(); aud != "" {
		data[assertionAudienceKey] = aud
	}
	return configMap{
		typeMeta: typeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		Metadata: objectMeta{Name: plugin.AudiencesConfigMap, Namespace: u.ArgoCD.Namespace, Labels: config.ObjectLabels(u.Name, nil)},
		Data:     data,
	}
}

// celList is a CEL list literal of strings that need no escaping (service
// account usernames: DNS labels and colons).
func celList(items []string) string {
	return "['" + strings.Join(items, "', '") + "']"
}

// tokenRequestFiles renders token-request.yaml and token-audiences.yaml into
// dir, when any downstream uses the token-request source, and returns their
// names for the Component's resources.
func (t *Tree) tokenRequestFiles(dir string, f *config.Federation) ([]string, error) {
	if !requestsAnyTokens(f) {
		return nil, nil
	}
	if err := t.addYAML(dir+plugin.TokenRequestFile, tokenRequestObjects(f)...); err != nil {
		return nil, err
	}
	if err := t.addYAML(dir+plugin.AudiencesFile, audiencesConfigMap(f)); err != nil {
		return nil, fmt.Errorf("render %s%s: %w", dir, plugin.AudiencesFile, err)
	}
	return []string{plugin.AudiencesFile, plugin.TokenRequestFile}, nil
}
