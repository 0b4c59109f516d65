package config

import (
	"regexp"
	"slices"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oidc"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

var (
	// celIdentifier is a claim name that CEL reads as claims.<name>.
	celIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// secretKey is a key of a Secret's data.
	secretKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
	// scopeToken is an OAuth 2.0 scope (RFC 6749, 3.3): printable ASCII
	// but space, '"' and '\'.
	scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)
)

// celReserved are CEL's reserved words: claims.<word> does not compile.
var celReserved = []string{
	"false", "in", "null", "true",
	"as", "break", "const", "continue", "else", "for", "function", "if",
	"import", "let", "loop", "package", "namespace", "return", "var", "void", "while",
}

// validateIdentityProvider checks upstream.identityProvider at p, and what
// it rules out elsewhere: the token sources, the shared audience and, with
// ClientCredentials, the upstream workloads.
func (f *Federation) validateIdentityProvider(errs *Errors, p string) {
	u := &f.Upstream
	idp := u.IdentityProvider
	if idp == nil {
		return
	}
	ip := path(p, "issuer")
	if err := oidc.CheckIssuerURL(idp.Issuer); err != nil {
		errs.add(ip, "%v: the OpenID provider's issuer, exactly the iss claim of its tokens", err)
	} else if checkHTTPS(errs, ip, idp.Issuer, "the OpenID provider's issuer", " (the issuer is compared byte for byte with the iss claim of the provider's tokens, so it is never rewritten for you)") {
		if urlKey(idp.Issuer) == urlKey(u.Issuer) {
			errs.add(ip, "%q is upstream.issuer, the hub's own service-account issuer, which the downstreams trust without identityProvider; identityProvider is for a different issuer, the company's OpenID provider (remove identityProvider, or give the provider's issuer)", idp.Issuer)
		} else if !flagSafe.MatchString(idp.Issuer) {
			errs.add(ip, "%q may hold only %s (it is written as is into the --oidc-issuer-url flag)", idp.Issuer, flagSafeChars)
		}
	}
	f.resolveCA(errs, p, &idp.CertificateAuthority, "the identity provider's TLS certificate")

	switch idp.Grant {
	case GrantJWTBearer, GrantClientCredentials:
	case GrantRefreshToken:
		errs.add(path(p, "grant"), "%s cannot serve ArgoCD: most providers rotate the refresh token on every use, so it must be rewritten each time, while a Secret is mounted read-only and a pod that restarts starts again from the Secret's old, spent token. Use %s (the hub's service-account tokens are the assertion) or %s. The plugin's oidc-token --grant %s is for tooling outside the hub (see docs/identity-providers.md)", GrantRefreshToken, GrantJWTBearer, GrantClientCredentials, plugin.GrantRefreshToken)
	case "":
		errs.add(path(p, "grant"), "is required: %s (the hub's service-account tokens are the assertion; the provider must trust upstream.issuer) or %s (one client whose secret is in a Secret you create)", GrantJWTBearer, GrantClientCredentials)
	default:
		errs.add(path(p, "grant"), "is %q; must be %s or %s", idp.Grant, GrantJWTBearer, GrantClientCredentials)
	}
	cp := path(p, "clientID")
	switch {
	case idp.ClientID == "":
		errs.add(cp, "is required: the provider's client the hub uses, e.g. \"argocd-hub\"")
	case !flagSafe.MatchString(idp.ClientID):
		errs.add(cp, "%q may hold only %s (it is written into the downstreams' claim validation rules and RBAC)", idp.ClientID, flagSafeChars)
	}

	sp := path(p, "clientSecret")
	switch {
	case idp.Grant == GrantClientCredentials && idp.ClientSecret != nil:
		checkDNSSubdomain(errs, path(sp, "secretName"), idp.ClientSecret.SecretName, "the Secret in upstream.argocd.namespace that holds the client secret")
		if k := idp.ClientSecret.Key; len(k) > 253 || !secretKey.MatchString(k) || k == "." || k == ".." {
			errs.add(path(sp, "key"), "%q is not a valid Secret key: letters, digits, '-', '_' and '.'", k)
		}
	case idp.Grant == GrantJWTBearer && idp.ClientSecret != nil:
		errs.add(sp, "is only for grant %s: with %s the hub's service-account token is the credential and there is no secret; remove it", GrantClientCredentials, GrantJWTBearer)
	}

	ap := path(p, "assertionAudience")
	switch {
	case idp.Grant == GrantJWTBearer && idp.AssertionAudience == "":
		errs.add(ap, "is required with grant %s: the aud the provider wants in the assertion (Hydra: its token endpoint URL, e.g. https://login.example.com/oauth2/token; other providers: the audience their JWT-bearer grant documents, usually the token endpoint URL; Entra ID has no JWT-bearer grant for this, see docs/identity-providers.md)", GrantJWTBearer)
	case idp.Grant == GrantJWTBearer:
		checkAudience(errs, ap, idp.AssertionAudience)
	case idp.AssertionAudience != "" && idp.Grant != "":
		errs.add(ap, "is only for grant %s; remove it", GrantJWTBearer)
	}

	for i, s := range idp.Scopes {
		if !scopeToken.MatchString(s) {
			errs.add(index(path(p, "scopes"), i), "%q is not a scope: printable ASCII without spaces, quotes or backslashes (list each scope on its own)", s)
		}
	}
	switch c := idp.UsernameClaim; {
	case !celIdentifier.MatchString(c):
		errs.add(path(p, "usernameClaim"), "%q must be an identifier ([A-Za-z_][A-Za-z0-9_]*): it is read as claims.%s in the downstreams' claim validation rule", c, c)
	case slices.Contains(celReserved, c):
		errs.add(path(p, "usernameClaim"), "%q is a reserved word of CEL, in which the downstreams' claim validation rule reads it", c)
	}

	// What the provider rules out elsewhere.
	if t := u.Token.Source; t != SourceIdentityProvider {
		errs.add(path("upstream", "token.source"), "is %q, but with upstream.identityProvider every downstream's token comes from the provider: remove it", t)
	}
	if u.Token.SharedAudience != "" {
		errs.add(path("upstream", "token.sharedAudience"), "is for the hub's service-account tokens; with upstream.identityProvider each downstream's audience is what the provider issues for it: remove it")
	}
	for i, d := range f.Downstreams {
		if d.TokenSource != SourceIdentityProvider {
			errs.add(path(index("downstreams", i), "tokenSource"), "is %q, but with upstream.identityProvider every downstream's token comes from the provider: remove it", d.TokenSource)
		}
	}
	if idp.Grant == GrantClientCredentials && len(u.Workloads) > 0 {
		var names []string
		for _, w := range u.Workloads {
			names = append(names, w.Name)
		}
		errs.add(path("upstream", "workloads"), "(%s) cannot reach the downstreams with identityProvider.grant %s: every token is the one client's, so each workload would need its own client; use grant %s, where each workload's own service account is its identity", strings.Join(names, ", "), GrantClientCredentials, GrantJWTBearer)
	}
	pl := u.Plugin
	if pl.Delivery == DeliveryInitContainer && pl.Dir != "" {
		for _, dir := range []string{ClientSecretDir, OIDCCADir} {
			if overlaps(pl.Dir, dir) {
				errs.add(path("upstream", "plugin.dir"), "%q overlaps %s, where the identity provider's files are mounted; use another directory", pl.Dir, dir)
			}
		}
	}
}

// overlaps reports whether one of two absolute paths is, or is inside, the
// other.
func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a+"/", b+"/") || strings.HasPrefix(b+"/", a+"/")
}
