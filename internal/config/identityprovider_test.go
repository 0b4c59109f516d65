package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// idpYAML is an upstream.identityProvider block for the base config, the
// lines after the grant given as extra.
func idpYAML(grant string, extra ...string) string {
	s := "  identityProvider:\n    issuer: https://login.example.com/realms/platform\n    useSystemRoots: true\n    clientID: argocd-hub\n"
	if grant != "" {
		s += "    grant: " + grant + "\n"
	}
	for _, e := range extra {
		s += "    " + e + "\n"
	}
	return s
}

// withIDP inserts an identityProvider block into the base config's upstream.
func withIDP(block string) func(t *testing.T, base string) string {
	return replace("downstreams:\n", block+"downstreams:\n")
}

func decodeIDP(t *testing.T, block string) *Federation {
	t.Helper()
	f, err := Decode([]byte(withIDP(block)(t, base(t))), "testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestIdentityProviderDefaults(t *testing.T) {
	t.Run("ClientCredentials", func(t *testing.T) {
		f := decodeIDP(t, idpYAML(GrantClientCredentials))
		if err := f.Complete(); err != nil {
			t.Fatal(err)
		}
		p := f.Upstream.IdentityProvider
		want := &IdentityProvider{
			Issuer: "https://login.example.com/realms/platform", CertificateAuthority: CertificateAuthority{UseSystemRoots: true},
			Grant: GrantClientCredentials, ClientID: "argocd-hub", UsernameClaim: "sub",
			ClientSecret: &ClientSecretRef{SecretName: DefaultClientSecretName, Key: DefaultClientSecretKey},
		}
		if diff := cmp.Diff(want, p, cmp.AllowUnexported(CertificateAuthority{})); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
		if f.Upstream.Token.Source != SourceIdentityProvider {
			t.Errorf("token.source = %q", f.Upstream.Token.Source)
		}
		for _, d := range f.Downstreams {
			if !d.UsesIdentityProvider() || d.UsesProjected() || d.UsesTokenRequest() {
				t.Errorf("downstream %s: tokenSource %q", d.Name, d.TokenSource)
			}
		}
		if n := len(f.Projected()) + len(f.TokenRequested()); n != 0 {
			t.Errorf("%d downstreams with hub tokens", n)
		}
		if got := p.ClientSecretPath(); got != ClientSecretDir+"/client-secret" {
			t.Errorf("ClientSecretFile = %q", got)
		}
		if got := p.CAPath(); got != "" {
			t.Errorf("CAFile with system roots = %q", got)
		}
		// Both of ArgoCD's grants bind the one client.
		for _, g := range f.Grants(&f.Downstreams[0]) {
			if g.User != "hub:argocd-hub" {
				t.Errorf("%s's user = %q, want hub:argocd-hub", g.Who, g.User)
			}
		}
		if f.AssertionAudience() != "" || f.TrustedIssuer() != p.Issuer || f.UsernameClaim() != "sub" {
			t.Errorf("AssertionAudience %q, TrustedIssuer %q, UsernameClaim %q", f.AssertionAudience(), f.TrustedIssuer(), f.UsernameClaim())
		}
		before := *p
		f.Default()
		if diff := cmp.Diff(&before, p, cmp.AllowUnexported(CertificateAuthority{})); diff != "" {
			t.Errorf("Default is not idempotent:\n%s", diff)
		}
	})
	t.Run("JWTBearer", func(t *testing.T) {
		f := decodeIDP(t, idpYAML(GrantJWTBearer, "assertionAudience: https://login.example.com/oauth2/token", "usernameClaim: client_id", "caFile: ca.crt"))
		f.Upstream.IdentityProvider.UseSystemRoots = false
		if err := f.Complete(); err != nil {
			t.Fatal(err)
		}
		p := f.Upstream.IdentityProvider
		if p.ClientSecret != nil || p.ClientSecretPath() != "" {
			t.Errorf("JWTBearer got a client secret: %+v", p.ClientSecret)
		}
		if p.PEM() == "" || p.CAPath() != OIDCCADir+"/ca.crt" {
			t.Errorf("CA not resolved: PEM %d bytes, CAFile %q", len(p.PEM()), p.CAPath())
		}
		if f.AssertionAudience() != "https://login.example.com/oauth2/token" || f.UsernameClaim() != "client_id" {
			t.Errorf("AssertionAudience %q, UsernameClaim %q", f.AssertionAudience(), f.UsernameClaim())
		}
		for _, g := range f.Grants(&f.Downstreams[0]) {
			if want := "hub:" + g.Subject; g.User != want {
				t.Errorf("%s's user = %q, want %q (its own service account)", g.Who, g.User, want)
			}
		}
	})
}

func TestIdentityProviderRefused(t *testing.T) {
	cc := func(extra ...string) func(t *testing.T, base string) string {
		return withIDP(idpYAML(GrantClientCredentials, extra...))
	}
	jwt := func(extra ...string) func(t *testing.T, base string) string {
		return withIDP(idpYAML(GrantJWTBearer, append([]string{"assertionAudience: https://login.example.com/oauth2/token"}, extra...)...))
	}
	runRefusals(t, []refusal{
		{name: "grant missing", yaml: withIDP(idpYAML("")), path: "upstream.identityProvider.grant", want: []string{"is required", "JWTBearer", "ClientCredentials"}},
		{name: "grant unknown", yaml: withIDP(idpYAML("Password")), path: "upstream.identityProvider.grant", want: []string{`"Password"; must be JWTBearer or ClientCredentials`}},
		{name: "refresh token", yaml: withIDP(idpYAML(GrantRefreshToken)), path: "upstream.identityProvider.grant",
			want: []string{"rewritten each time", "mounted read-only", "restarts", "tooling outside the hub", "docs/identity-providers.md"}},
		{name: "issuer http", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.IdentityProvider.Issuer = "http://login.example.com" },
			path: "upstream.identityProvider.issuer", want: []string{"must be https"}},
		{name: "issuer missing", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.IdentityProvider.Issuer = "" },
			path: "upstream.identityProvider.issuer", want: []string{"required"}},
		{name: "issuer with query", yaml: cc(), edit: func(t *testing.T, f *Federation) {
			f.Upstream.IdentityProvider.Issuer = "https://login.example.com?realm=x"
		},
			path: "upstream.identityProvider.issuer", want: []string{"no query or fragment"}},
		{name: "issuer not canonical", yaml: cc(), edit: func(t *testing.T, f *Federation) {
			f.Upstream.IdentityProvider.Issuer = "https://login.example.com//realms"
		},
			path: "upstream.identityProvider.issuer", want: []string{"not a canonical https URL"}},
		{name: "issuer is the hub's", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.IdentityProvider.Issuer = "https://HUB.example.com/" },
			path: "upstream.identityProvider.issuer", want: []string{"is upstream.issuer", "for a different issuer"}},
		{name: "no CA", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.IdentityProvider.UseSystemRoots = false },
			path: "upstream.identityProvider.caFile", want: []string{"no CA for the identity provider's TLS certificate"}},
		{name: "two CAs", yaml: cc("caFile: ca.crt"), path: "upstream.identityProvider.caFile", want: []string{"only one of caFile, ca and useSystemRoots"}},
		{name: "bad CA", yaml: cc("ca: hello"), edit: func(t *testing.T, f *Federation) { f.Upstream.IdentityProvider.UseSystemRoots = false },
			path: "upstream.identityProvider.ca", want: []string{"holds no PEM certificate"}},
		{name: "client id missing", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.IdentityProvider.ClientID = "" },
			path: "upstream.identityProvider.clientID", want: []string{"is required"}},
		{name: "client id with a quote", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.IdentityProvider.ClientID = "a'b" },
			path: "upstream.identityProvider.clientID", want: []string{"may hold only"}},
		{name: "client secret with JWTBearer", yaml: jwt("clientSecret: {secretName: s}"), path: "upstream.identityProvider.clientSecret",
			want: []string{"only for grant ClientCredentials", "remove it"}},
		{name: "bad secret name", yaml: cc("clientSecret: {secretName: My_Secret}"), path: "upstream.identityProvider.clientSecret.secretName", want: []string{"is not a valid name"}},
		{name: "bad secret key", yaml: cc("clientSecret: {key: 'a/b'}"), path: "upstream.identityProvider.clientSecret.key", want: []string{"not a valid Secret key"}},
		{name: "assertion audience missing", yaml: withIDP(idpYAML(GrantJWTBearer)), path: "upstream.identityProvider.assertionAudience",
			want: []string{"is required with grant JWTBearer", "Hydra: its token endpoint URL", "usually the token endpoint URL", "Entra ID has no JWT-bearer grant"}},
		{name: "assertion audience with ClientCredentials", yaml: cc("assertionAudience: x"), path: "upstream.identityProvider.assertionAudience", want: []string{"only for grant JWTBearer"}},
		{name: "assertion audience with a space", yaml: withIDP(idpYAML(GrantJWTBearer, "assertionAudience: a b")), path: "upstream.identityProvider.assertionAudience", want: []string{"no whitespace"}},
		{name: "scope with a space", yaml: cc(`scopes: ["openid email"]`), path: "upstream.identityProvider.scopes[0]", want: []string{"not a scope", "each scope on its own"}},
		{name: "username claim not an identifier", yaml: cc("usernameClaim: preferred-username"), path: "upstream.identityProvider.usernameClaim", want: []string{"must be an identifier", "claims.preferred-username"}},
		{name: "username claim reserved", yaml: cc("usernameClaim: in"), path: "upstream.identityProvider.usernameClaim", want: []string{"reserved word of CEL"}},
		{name: "token source", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.Token.Source = SourceTokenRequest },
			path: "upstream.token.source", want: []string{`"TokenRequest"`, "comes from the provider", "remove it"}},
		{name: "shared audience", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.Token.SharedAudience = "fleet" },
			path: "upstream.token.sharedAudience", want: []string{"remove it"}},
		{name: "downstream token source", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Downstreams[1].TokenSource = SourceProjected },
			path: "downstreams[1].tokenSource", want: []string{`"Projected"`, "comes from the provider"}},
		{name: "IdentityProvider source without a provider", edit: func(t *testing.T, f *Federation) { f.Downstreams[0].TokenSource = SourceIdentityProvider },
			path: "downstreams[0].tokenSource", want: []string{"implied by upstream.identityProvider"}},
		{name: "empty prefix", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.Name = "" },
			path: "downstreams[0].usernamePrefix", want: []string{"must not be empty"}},
		{name: "system prefix", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Downstreams[0].UsernamePrefix = "system:x:" },
			path: "downstreams[0].usernamePrefix", want: []string{"starts with system:"}},
		{name: "workloads with ClientCredentials", yaml: func(t *testing.T, b string) string {
			b = cc()(t, b)
			b = strings.Replace(b, "downstreams:\n", "  workloads:\n  - {name: ci, namespace: ci, kind: Job}\ndownstreams:\n", 1)
			return b + "    workloads:\n    - {name: ci, namespaces: [apps], clusterRole: edit}\n"
		}, path: "upstream.workloads", want: []string{"(ci)", "each workload would need its own client", "use grant JWTBearer"}},
		{name: "plugin dir over the CA", yaml: cc(), edit: func(t *testing.T, f *Federation) { f.Upstream.Plugin.Dir = OIDCCADir },
			path: "upstream.plugin.dir", want: []string{"overlaps " + OIDCCADir}},
		{name: "two hubs trust one provider on one downstream", yaml: cc(), other: func(g *Federation) {
			g.Upstream.Name, g.Upstream.Issuer = "hub-b", "https://hub-b.example.com"
			g.Upstream.IdentityProvider = &IdentityProvider{Issuer: "https://login.example.com/realms/platform", CertificateAuthority: CertificateAuthority{UseSystemRoots: true}, Grant: GrantClientCredentials, ClientID: "b"}
		}, path: "b.yaml: downstreams[0]", want: []string{"trust the same issuer"}},
	})
}
