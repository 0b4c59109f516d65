package generate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// AuthenticationConfigFile is the file, in each downstream's apiserver/
// directory, that --authentication-config points at.
const AuthenticationConfigFile = "authentication-config.yaml"

// reservedUsernames is the CEL rule every JWT authenticator gets: a mapped
// username must never land in the system: namespace, whatever the prefix.
var reservedUsernames = validationRule{
	Expression: "!user.username.startsWith('system:')",
	Message:    "usernames from federated service-account tokens must not start with system:",
}

// acceptedSubjects are the sub claims downstream d accepts from the hub:
// the service accounts of ArgoCD's controller and server (without a server
// in core mode), and of the upstream workloads d grants something, sorted.
// A token of any other service account of the hub is refused at
// authentication (401), not just left without RBAC, so it never even counts
// as system:authenticated.
//
// With an identity provider these are the values of its username claim
// instead: the same subjects with grant JWTBearer (the provider keeps the
// assertion's subject), the client id with ClientCredentials.
func acceptedSubjects(f *config.Federation, d *config.Downstream) []string {
	if p := f.IdentityProvider(); p != nil && p.Grant == config.GrantClientCredentials {
		return []string{p.ClientID}
	}
	subs := f.ArgoCDSubjects()
	for _, g := range f.WorkloadGrants(d) {
		subs = append(subs, g.Subject)
	}
	slices.Sort(subs)
	return slices.Compact(subs)
}

// claimRule is the claimValidationRule that accepts only acceptedSubjects.
// The names are DNS labels and subdomains (validated), so they need no
// escaping in a CEL string literal.
//
// With an identity provider, the rule reads its username claim (a CEL
// identifier, validated), and the client id is flag-safe (validated).
func claimRule(f *config.Federation, d *config.Downstream) validationRule {
	subs := acceptedSubjects(f, d)
	claim := f.UsernameClaim()
	who := "ArgoCD's service accounts of hub " + f.Upstream.Name
	if len(f.WorkloadGrants(d)) > 0 {
		who += ", and the workloads this downstream grants,"
	}
	list := strings.Join(subs, ", ")
	if p := f.IdentityProvider(); p != nil {
		switch p.Grant {
		case config.GrantClientCredentials:
			who = fmt.Sprintf("the client %s of hub %s (ArgoCD's controller and server)", p.ClientID, f.Upstream.Name)
			list = "claim " + claim + " must be " + p.ClientID
		default:
			list = "claim " + claim + " must be one of " + list
		}
		who += " with tokens of " + p.Issuer
	}
	return validationRule{
		Expression: "claims." + claim + " in " + celList(subs),
		Message:    fmt.Sprintf("only %s may authenticate: %s", who, list),
	}
}

// trust is what downstreams verify one hub's tokens with: the issuer (the
// identity provider's, or the hub's own), where its discovery document is
// when published elsewhere, the CA of its TLS certificate and the claim the
// username comes from.
func trust(f *config.Federation) (iss, discoveryURL, pem, claim string) {
	if p := f.IdentityProvider(); p != nil {
		return p.Issuer, "", p.PEM(), f.UsernameClaim()
	}
	u := &f.Upstream
	return u.Issuer, u.DiscoveryURL, u.PEM(), "sub"
}

// apiServer renders the downstream API server's trust of every hub that
// deploys into it: the structured AuthenticationConfiguration (all hubs in
// one file), and per hub the equivalent --oidc-* flags, the CA file they
// need and Gardener's OpenIDConnect resource.
func (t *Tree) apiServer(dir, name string, entries []entry) error {
	version := entries[0].d.APIServer.AuthenticationConfigVersion
	ac := authenticationConfiguration{typeMeta: typeMeta{
		APIVersion: "apiserver.config.k8s.io/" + version,
		Kind:       "AuthenticationConfiguration",
	}}
	for _, e := range entries {
		u := &e.fed.Upstream
		iss, discoveryURL, pem, claim := trust(e.fed)
		a := jwtAuthenticator{
			Issuer: issuer{
				URL:                  iss,
				DiscoveryURL:         discoveryURL,
				CertificateAuthority: pem,
				Audiences:            []string{e.d.Audience},
			},
			ClaimValidationRules: []validationRule{claimRule(e.fed, e.d)},
			ClaimMappings:        claimMappings{Username: prefixedClaim{Claim: claim, Prefix: e.d.UsernamePrefix}},
			UserValidationRules:  []validationRule{reservedUsernames},
		}
		if e.fed.TrustsPeople(e.d) {
			if e.fed.SharesPeopleIssuer() {
				withPeople(&a, e.fed, e.d)
			} else {
				ac.JWT = append(ac.JWT, peopleAuthenticator(e.fed))
				if pem := u.People.PEM(); pem != "" {
					t.add(dir+u.Name+"-people-ca.crt", []byte(pem))
				}
			}
		}
		ac.JWT = append(ac.JWT, a)
		if pem != "" {
			t.add(dir+u.Name+"-ca.crt", []byte(pem))
		}
		t.add(dir+"oidc-flags-"+u.Name+".txt", []byte(oidcFlags(e, len(entries))))
		if err := t.addYAML(dir+"openidconnect-"+u.Name+".yaml", gardener(e)); err != nil {
			return err
		}
	}
	if err := t.addYAML(dir+AuthenticationConfigFile, ac); err != nil {
		return err
	}
	t.add(dir+"README.md", []byte(apiServerReadme(name, version, entries)))
	return nil
}

// oidcFlags is the --oidc-* form of one hub's trust, for API servers that do
// not use --authentication-config. Flags hold one issuer and no discovery
// URL; the file says so when that is not enough.
func oidcFlags(e entry, hubs int) string {
	u, d := &e.fed.Upstream, e.d
	iss, discoveryURL, pem, claim := trust(e.fed)
	var b strings.Builder
	b.WriteString(Header)
	b.WriteString(comment(fmt.Sprintf(`kube-apiserver flags that make downstream %q trust hub %q.
For API servers without --authentication-config (the two cannot be combined).
Flags hold a single issuer and no discovery URL.`, d.Name, u.Name)))
	switch {
	case discoveryURL != "":
		b.WriteString(comment(fmt.Sprintf(`
NOT USABLE for this hub: its discovery document is published at
%s, which --oidc-* flags cannot point to.
Use authentication-config.yaml (Kubernetes 1.30 and later).`, discoveryURL)))
		return b.String()
	case hubs > 1:
		b.WriteString(comment(fmt.Sprintf(`
NOTE: %d hubs deploy into this downstream; flags can trust only one of them.
Use authentication-config.yaml to trust all of them.`, hubs)))
	}
	if p := e.fed.IdentityProvider(); p != nil {
		b.WriteString(comment(fmt.Sprintf(`
Flags accept ANY token of the identity provider %s for audience %q
(with only what RBAC grants its user); authentication-config.yaml accepts only
%s %s.`, p.Issuer, d.Audience, claim, strings.Join(acceptedSubjects(e.fed, d), " and "))))
	} else {
		b.WriteString(comment(fmt.Sprintf(`
Flags accept a token of ANY service account of hub %q for audience %q
(with only what RBAC grants it); authentication-config.yaml accepts only
%s.`, u.Name, d.Audience, strings.Join(acceptedSubjects(e.fed, d), " and "))))
	}
	flags := []string{
		"--oidc-issuer-url=" + iss,
		"--oidc-client-id=" + d.Audience,
		"--oidc-username-claim=" + claim,
		"--oidc-username-prefix=" + d.UsernamePrefix,
	}
	if pem != "" {
		flags = append(flags, "--oidc-ca-file="+d.APIServer.OIDCCAFile)
		b.WriteString(comment(fmt.Sprintf("\nCopy %s-ca.crt to %s on every control-plane node.", u.Name, d.APIServer.OIDCCAFile)))
	}
	for _, f := range flags {
		b.WriteString(f + "\n")
	}
	return b.String()
}

// gardener is the OpenIDConnect resource of Gardener's
// oidc-webhook-authenticator for one hub.
func gardener(e entry) openIDConnect {
	u, d := &e.fed.Upstream, e.d
	iss, _, pem, claim := trust(e.fed)
	o := openIDConnect{
		typeMeta: typeMeta{APIVersion: "authentication.gardener.cloud/v1alpha1", Kind: "OpenIDConnect"},
		Metadata: objectMeta{Name: "argocd-k8s-federate-" + u.Name, Labels: config.ObjectLabels(u.Name, nil)},
		Spec: openIDConnectSpec{
			IssuerURL:      iss,
			ClientID:       d.Audience,
			UsernameClaim:  claim,
			UsernamePrefix: d.UsernamePrefix,
			GroupsPrefix:   d.UsernamePrefix,
		},
	}
	if pem != "" {
		o.Spec.CABundle = []byte(pem)
	}
	return o
}

func apiServerReadme(name, version string, entries []entry) string {
	var hubs, idps []string
	discovery := false
	for _, e := range entries {
		if p := e.fed.IdentityProvider(); p != nil {
			idps = append(idps, fmt.Sprintf("the identity provider %s for hub `%s`", p.Issuer, e.fed.Upstream.Name))
			continue
		}
		hubs = append(hubs, fmt.Sprintf("`%s` (%s)", e.fed.Upstream.Name, e.fed.Upstream.Issuer))
		if e.fed.Upstream.DiscoveryURL != "" {
			discovery = true
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- %s -->\n", strings.TrimSpace(strings.TrimPrefix(Header, "#")))
	fmt.Fprintf(&b, "# API-server trust for downstream `%s`\n\n", name)
	if len(hubs) > 0 {
		fmt.Fprintf(&b, "This cluster must accept service-account tokens of: %s.\n", strings.Join(hubs, ", "))
	}
	if len(idps) > 0 {
		fmt.Fprintf(&b, "This cluster must trust %s: the tokens of that\n", strings.Join(idps, ", "))
		b.WriteString("provider, not the hub's service-account tokens (the hub's issuer is not trusted here).\n")
		b.WriteString("The `<hub>-ca.crt` file is the provider's CA, and the username comes from the provider's\n")
		b.WriteString("username claim.\n")
	}
	b.WriteString("Configure its kube-apiserver in ONE of these ways.\n\n")
	fmt.Fprintf(&b, "## Structured authentication (Kubernetes %s)\n\n", map[string]string{config.AuthnV1: "1.34 and later", config.AuthnV1beta1: "1.30 to 1.33"}[version])
	fmt.Fprintf(&b, "Copy `%s` to every control-plane node and start kube-apiserver with\n", AuthenticationConfigFile)
	fmt.Fprintf(&b, "`--authentication-config=<path>` (for a static pod, also mount the file into it).\n")
	b.WriteString("It cannot be combined with `--oidc-*` flags. If the API server already has an\n")
	b.WriteString("AuthenticationConfiguration, add the `jwt` entries of this file to it.\n")
	b.WriteString("The API server reloads the file when it changes.\n")
	b.WriteString("Its `claimValidationRules` accept only ArgoCD's service accounts of each hub, and the\n")
	b.WriteString("workloads of the hub this cluster grants; a token of any other service account there\n")
	b.WriteString("is refused (401).\n")
	if len(idps) > 0 {
		b.WriteString("For a hub trusted through an identity provider, they read the provider's username claim:\n")
		b.WriteString("the subjects of the hub's service accounts (grant JWTBearer) or its one client id\n")
		b.WriteString("(grant ClientCredentials).\n")
	}
	b.WriteString("\n")
	b.WriteString("## `--oidc-*` flags (older clusters, one hub only)\n\n")
	b.WriteString("Add the flags of `oidc-flags-<hub>.txt` (and copy `<hub>-ca.crt` where they say).\n")
	b.WriteString("Flags cannot restrict which service accounts of the hub authenticate: every one of\n")
	b.WriteString("them with a token for this audience gets in, with only what RBAC grants its user\n")
	b.WriteString("(and the group `system:authenticated`). The same holds for Gardener's resource below.\n")
	if len(idps) > 0 {
		b.WriteString("For a hub trusted through an identity provider, they accept ANY token the provider issues\n")
		b.WriteString("for this cluster's audience, whoever it was issued to.\n")
	}
	if discovery {
		b.WriteString("Not possible for a hub whose discovery document is published elsewhere (discoveryURL).\n")
	}
	b.WriteString("\n## Gardener\n\n")
	b.WriteString("With the `shoot-oidc-service` extension enabled, apply `openidconnect-<hub>.yaml` to the shoot.\n")
	if discovery {
		b.WriteString("Gardener's resource has no discovery URL: the issuer itself must serve discovery.\n")
	}
	b.WriteString("\nThen apply the RBAC one directory up: `kubectl apply -k ..`.\n")
	return b.String()
}
