package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oidc"
)

// DefaultPeoplePrefix is upstream.people.usernamePrefix (and groupsPrefix)
// by default: the usual prefix of people from an OpenID provider.
const DefaultPeoplePrefix = "oidc:"

// DefaultPeopleScopes are upstream.people.extraScopes by default: what
// puts the email and the groups into the ID token at most providers.
var DefaultPeopleScopes = []string{"email", "groups"}

// defaultPeople fills upstream.people's defaults.
func defaultPeople(p *People) {
	setDefault(&p.UsernameClaim, "email")
	setDefault(&p.UsernamePrefix, DefaultPeoplePrefix)
	setDefault(&p.GroupsClaim, "groups")
	setDefault(&p.GroupsPrefix, p.UsernamePrefix)
	if p.ExtraScopes == nil {
		p.ExtraScopes = slices.Clone(DefaultPeopleScopes)
	}
}

// validatePeople checks upstream.people at p.
func (f *Federation) validatePeople(errs *Errors, p string) {
	u := &f.Upstream
	pe := u.People
	if pe == nil {
		return
	}
	ip := path(p, "issuer")
	if err := oidc.CheckIssuerURL(pe.Issuer); err != nil {
		errs.add(ip, "%v: the OpenID provider people log in to, exactly the iss claim of its ID tokens", err)
	} else if checkHTTPS(errs, ip, pe.Issuer, "the people's OpenID provider", " (the issuer is compared byte for byte with the iss claim of the ID tokens)") {
		switch {
		case urlKey(pe.Issuer) == urlKey(u.Issuer):
			errs.add(ip, "%q is upstream.issuer, the hub's service-account issuer: people log in to an OpenID provider (Keycloak, Entra ID, Okta, Dex), give its issuer", pe.Issuer)
		case !flagSafe.MatchString(pe.Issuer):
			errs.add(ip, "%q may hold only %s (it is written as is into kubelogin's --oidc-issuer-url)", pe.Issuer, flagSafeChars)
		case u.IdentityProvider != nil && urlKey(pe.Issuer) == urlKey(u.IdentityProvider.Issuer) && pe.Issuer != u.IdentityProvider.Issuer:
			errs.add(ip, "%q is upstream.identityProvider.issuer %q spelled differently: the tokens carry one iss; spell both the same", pe.Issuer, u.IdentityProvider.Issuer)
		}
	}
	f.resolveCA(errs, p, &pe.CertificateAuthority, "the people's OpenID provider's TLS certificate")
	if f.SharesPeopleIssuer() {
		if pe.PEM() != u.IdentityProvider.PEM() || pe.UseSystemRoots != u.IdentityProvider.UseSystemRoots {
			errs.add(p, "names the issuer of upstream.identityProvider with another CA: the downstreams verify one provider with one CA; give both the same caFile, ca or useSystemRoots")
		}
	}
	cp := path(p, "clientID")
	switch {
	case pe.ClientID == "":
		errs.add(cp, `is required: the provider's client kubelogin logs in with, e.g. "kubernetes" (the aud of the ID tokens)`)
	case !flagSafe.MatchString(pe.ClientID):
		errs.add(cp, "%q may hold only %s (it is written into the downstreams' audiences and kubelogin's --oidc-client-id)", pe.ClientID, flagSafeChars)
	case u.IdentityProvider != nil && pe.ClientID == u.IdentityProvider.ClientID:
		errs.add(cp, "%q is also upstream.identityProvider.clientID: the hub's client and the people's must differ, or the hub's tokens would pass for a person's", pe.ClientID)
	}
	for _, c := range []struct{ field, v string }{{"usernameClaim", pe.UsernameClaim}, {"groupsClaim", pe.GroupsClaim}} {
		switch {
		case !celIdentifier.MatchString(c.v):
			errs.add(path(p, c.field), "%q must be an identifier ([A-Za-z_][A-Za-z0-9_]*): the downstreams read it as claims.%s", c.v, c.v)
		case slices.Contains(celReserved, c.v):
			errs.add(path(p, c.field), "%q is a reserved word of CEL, in which the downstreams read it", c.v)
		}
	}
	checkPeoplePrefix(errs, path(p, "usernamePrefix"), pe.UsernamePrefix, "usernames")
	checkPeoplePrefix(errs, path(p, "groupsPrefix"), pe.GroupsPrefix, "groups")
	for i, d := range f.Downstreams {
		if d.UsernamePrefix == pe.UsernamePrefix && pe.UsernamePrefix != "" {
			errs.add(path(p, "usernamePrefix"), "%q is also downstreams[%d].usernamePrefix, the hub's: a person and an identity of the hub could map to the same user; give people their own prefix", pe.UsernamePrefix, i)
			break
		}
	}
	for i, s := range pe.ExtraScopes {
		if !scopeToken.MatchString(s) {
			errs.add(index(path(p, "extraScopes"), i), "%q is not a scope: printable ASCII without spaces, quotes or backslashes", s)
		}
	}
}

// checkPeoplePrefix refuses a prefix of people's usernames or groups that
// is empty or could reach the downstream's system: names.
func checkPeoplePrefix(errs *Errors, p, prefix, what string) {
	switch {
	case prefix == "":
		errs.add(p, "must not be empty: without a prefix a person's %s could be any of the downstream's, system:masters included; use e.g. %q", what, DefaultPeoplePrefix)
	case strings.HasPrefix(strings.ToLower(prefix), "system:"):
		errs.add(p, "%q starts with system:, which would give people the downstream's own system %s; use e.g. %q", prefix, what, DefaultPeoplePrefix)
	case prefix == "-":
		errs.add(p, `"-" turns prefixing off in some authenticators; use e.g. %q`, DefaultPeoplePrefix)
	case !flagSafe.MatchString(prefix) || strings.Contains(prefix, "'"):
		errs.add(p, "%q may hold only %s (it is written into the API server's configuration)", prefix, flagSafeChars)
	}
}

// validatePeopleAccess checks a downstream's access.people at p: each a
// group of upstream.people, once, with a scope and exactly one role.
func (f *Federation) validatePeopleAccess(errs *Errors, p string, grants []PeopleAccess) {
	if len(grants) > 0 && f.Upstream.People == nil {
		errs.add(p, "grants people, but upstream.people is not set: add upstream.people (issuer, clientID) so that the downstreams trust the provider people log in to")
	}
	seen := map[string]int{}
	for i, a := range grants {
		gp := index(p, i)
		rel := index("access.people", i)
		switch {
		case a.Group == "":
			errs.add(path(gp, "group"), "is required: a group as the provider names it in the groups claim")
		case strings.HasPrefix(strings.ToLower(a.Group), "system:") || strings.ContainsAny(a.Group, "'\\\n\r\t"):
			errs.add(path(gp, "group"), "%q is not a group of the provider: no system: prefix, quotes, backslashes or line breaks", a.Group)
		}
		if j, ok := seen[a.Group]; ok && a.Group != "" {
			errs.add(path(gp, "group"), "%q is already granted by %s[%d]: give each group one entry per downstream", a.Group, p, j)
		} else {
			seen[a.Group] = i
		}
		checkScope(errs, gp, rel, a.Namespaces, a.ClusterWide, "the group may use")
		checkRole(errs, gp, a.Role, a.ClusterWide)
	}
}

// peopleWarnings are the cluster-wide grants of people, and people that no
// downstream grants anything.
func (f *Federation) peopleWarnings() []string {
	var w []string
	for _, d := range f.Downstreams {
		for _, a := range d.Access.People {
			if a.ClusterWide {
				w = append(w, fmt.Sprintf("%s: downstream %q grants the people of group %q the whole cluster (access.people clusterWide: true)", f.Source, d.Name, a.Group))
			}
		}
	}
	if f.Upstream.People != nil && len(f.PeopleDownstreams()) == 0 {
		w = append(w, fmt.Sprintf("%s: upstream.people is set but no downstream grants people anything (downstreams[].access.people): no downstream trusts their ID tokens", f.Source))
	}
	return w
}

// SharesPeopleIssuer reports whether people log in to the provider that
// upstream.identityProvider names: the downstreams then verify both with
// one authenticator (an API server takes each issuer once).
func (f *Federation) SharesPeopleIssuer() bool {
	u := &f.Upstream
	return u.People != nil && u.IdentityProvider != nil && urlKey(u.People.Issuer) == urlKey(u.IdentityProvider.Issuer)
}

// TrustsPeople reports whether downstream d trusts the people's ID tokens:
// only when it grants them something.
func (f *Federation) TrustsPeople(d *Downstream) bool {
	return f.Upstream.People != nil && len(d.Access.People) > 0
}

// PeopleDownstreams are the downstreams that grant people something,
// sorted by name: they trust the people's ID tokens, and are the contexts
// of the people's kubeconfig.
func (f *Federation) PeopleDownstreams() []*Downstream {
	var out []*Downstream
	for i := range f.Downstreams {
		if d := &f.Downstreams[i]; f.TrustsPeople(d) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PeopleGrant is what the people of one group are promised in one
// downstream: a role bound to the prefixed group.
type PeopleGrant struct {
	// Group is the group as the provider names it; Subject is the group
	// the downstream maps it to (the prefix and the group).
	Group, Subject string
	Role           Role
	RoleName       string
	BindingName    string
	ClusterWide    bool
	Namespaces     []string
}

// PeopleGrants are the people's grants in d, in the order access.people
// lists them.
func (f *Federation) PeopleGrants(d *Downstream) []PeopleGrant {
	pe := f.Upstream.People
	if pe == nil {
		return nil
	}
	var grants []PeopleGrant
	for _, a := range d.Access.People {
		name := "argocd-k8s-federate:" + f.Upstream.Name + ":people:" + nameSafe(a.Group)
		g := PeopleGrant{
			Group: a.Group, Subject: pe.GroupsPrefix + a.Group, Role: a.Role,
			RoleName: a.Role.clusterRoleName(name), BindingName: name, ClusterWide: a.ClusterWide,
		}
		if !a.ClusterWide {
			g.Namespaces = slices.Clone(a.Namespaces)
			sort.Strings(g.Namespaces)
		}
		grants = append(grants, g)
	}
	return grants
}

// nameSafe makes a group name part of an object name: lower-case letters,
// digits, '-' and '.' stay, anything else becomes '-', and a short hash of
// the group keeps two groups that differ only there apart.
func nameSafe(group string) string {
	b := []byte(group)
	changed := false
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.':
		default:
			b[i] = '-'
			changed = true
		}
	}
	s := string(b)
	if len(s) > 150 {
		s, changed = s[:150], true
	}
	if changed {
		sum := sha256.Sum256([]byte(group))
		s += "-" + hex.EncodeToString(sum[:4])
	}
	return s
}
