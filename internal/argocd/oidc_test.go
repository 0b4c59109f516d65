package argocd_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// With upstream.identityProvider, the Secret runs oidc-token with the
// provider's options, which the plugin parses back and accepts.
func TestOIDCTokenCommandLine(t *testing.T) {
	for _, tc := range []struct {
		grant string
		want  func(o *plugin.OIDCTokenOptions)
	}{
		{config.GrantClientCredentials, func(o *plugin.OIDCTokenOptions) {
			o.Grant, o.ClientSecretFile = plugin.GrantClientCredentials, "/var/run/secrets/argocd-k8s-federate-oidc/secret"
		}},
		{config.GrantJWTBearer, func(o *plugin.OIDCTokenOptions) {
			o.Grant, o.AssertionAudience = plugin.GrantJWTBearer, "https://login.example.com/oauth2/token"
		}},
	} {
		t.Run(tc.grant, func(t *testing.T) {
			f, err := config.Load("../../examples/federation.yaml")
			if err != nil {
				t.Fatal(err)
			}
			f.Upstream.Token.Source = ""
			for i := range f.Downstreams {
				f.Downstreams[i].TokenSource = ""
			}
			p := &config.IdentityProvider{
				Issuer: "https://login.example.com/realms/platform", Grant: tc.grant, ClientID: "argocd-hub",
				Scopes: []string{"openid", "k8s"}, CertificateAuthority: f.Upstream.CertificateAuthority,
			}
			if tc.grant == config.GrantClientCredentials {
				p.ClientSecret = &config.ClientSecretRef{Key: "secret"}
			} else {
				p.AssertionAudience = "https://login.example.com/oauth2/token"
			}
			f.Upstream.IdentityProvider = p
			f.Upstream.Workloads = nil
			for i := range f.Downstreams {
				f.Downstreams[i].Access.Workloads = nil
			}
			if err := f.Complete(); err != nil {
				t.Fatal(err)
			}
			d := &f.Downstreams[1]
			s := argocd.For(f, d)
			if got := s.PluginCommand(); got != plugin.OIDCTokenCommand {
				t.Fatalf("command %q", got)
			}
			got, err := s.OIDCToken()
			if err != nil {
				t.Fatal(err)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("the plugin refuses its arguments %q: %v", s.Exec.Args, err)
			}
			want := plugin.DefaultOIDCTokenOptions()
			want.Issuer, want.ClientID, want.Audience, want.Scope = p.Issuer, "argocd-hub", d.Audience, "openid k8s"
			want.CAFile = config.OIDCCADir + "/ca.crt"
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("oidc-token options (-want +got):\n%s", diff)
			}
			if _, err := s.TokenFile(); err == nil {
				t.Error("an oidc-token command line parses as token-file")
			}
		})
	}
}
