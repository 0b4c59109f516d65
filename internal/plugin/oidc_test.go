package plugin_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

func TestOIDCTokenArgsRoundTrip(t *testing.T) {
	cc := plugin.DefaultOIDCTokenOptions()
	cc.Issuer, cc.Grant, cc.ClientID = "https://login.example.com/realms/platform", plugin.GrantClientCredentials, "argocd-hub"
	cc.ClientSecretFile, cc.Audience, cc.CAFile = "/var/run/secrets/oidc/client-secret", "prod-eu", "/etc/oidc/ca.crt"
	jb := plugin.DefaultOIDCTokenOptions()
	jb.Issuer, jb.Grant, jb.ClientID = "https://idp.example.com/", plugin.GrantJWTBearer, "argocd-hub"
	jb.Audience, jb.AssertionAudience, jb.Scope = "prod-eu", "https://idp.example.com/oauth2/token", "a b"
	rt := plugin.DefaultOIDCTokenOptions()
	rt.Issuer, rt.Grant, rt.ClientID = "https://idp.example.com", plugin.GrantRefreshToken, "kubectl"
	rt.Audience, rt.Token, rt.RefreshTokenFile = "kubectl", plugin.TokenID, "/home/ci/.kube/refresh-token"
	tests := []struct {
		name string
		o    plugin.OIDCTokenOptions
		want []string
	}{
		{"client credentials", cc, []string{"oidc-token", "--issuer", "https://login.example.com/realms/platform", "--grant", "client-credentials",
			"--client-id", "argocd-hub", "--client-secret-file", "/var/run/secrets/oidc/client-secret", "--audience", "prod-eu", "--ca-file", "/etc/oidc/ca.crt"}},
		{"jwt bearer", jb, []string{"oidc-token", "--issuer", "https://idp.example.com/", "--grant", "jwt-bearer", "--client-id", "argocd-hub",
			"--audience", "prod-eu", "--scope", "a b", "--assertion-audience", "https://idp.example.com/oauth2/token"}},
		{"refresh token", rt, []string{"oidc-token", "--issuer", "https://idp.example.com", "--grant", "refresh-token", "--client-id", "kubectl",
			"--audience", "kubectl", "--token", "id-token", "--refresh-token-file", "/home/ci/.kube/refresh-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.o.Args()
			if diff := cmp.Diff(tt.want, args); diff != "" {
				t.Fatalf("Args() (-want +got):\n%s", diff)
			}
			got, err := plugin.ParseOIDCTokenArgs(args)
			if err != nil {
				t.Fatalf("ParseOIDCTokenArgs(%q): %v", args, err)
			}
			if diff := cmp.Diff(tt.o, got); diff != "" {
				t.Errorf("parsed back (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestOIDCTokenValidate(t *testing.T) {
	base := func() plugin.OIDCTokenOptions {
		o := plugin.DefaultOIDCTokenOptions()
		o.Issuer, o.Grant, o.ClientID, o.Audience = "https://idp.example.com", plugin.GrantClientCredentials, "hub", "prod"
		o.ClientSecretFile = "/s"
		return o
	}
	tests := []struct {
		name  string
		edit  func(*plugin.OIDCTokenOptions)
		wants []string
	}{
		{"http issuer", func(o *plugin.OIDCTokenOptions) { o.Issuer = "http://idp.example.com" }, []string{"--issuer", "https"}},
		{"issuer with user", func(o *plugin.OIDCTokenOptions) { o.Issuer = "https://u:p@idp.example.com" }, []string{"user name or password"}},
		{"no issuer", func(o *plugin.OIDCTokenOptions) { o.Issuer = "" }, []string{"--issuer: required"}},
		{"no grant", func(o *plugin.OIDCTokenOptions) { o.Grant = "" }, []string{"--grant is required", "client-credentials, jwt-bearer, refresh-token"}},
		{"password grant", func(o *plugin.OIDCTokenOptions) { o.Grant = "password" }, []string{`--grant "password"`}},
		{"no client", func(o *plugin.OIDCTokenOptions) { o.ClientID = "" }, []string{"--client-id is required"}},
		{"no audience", func(o *plugin.OIDCTokenOptions) { o.Audience = "" }, []string{"--audience is required"}},
		{"client credentials without a secret file", func(o *plugin.OIDCTokenOptions) { o.ClientSecretFile = "" }, []string{"--client-secret-file", "never"}},
		{"client credentials with an ID token", func(o *plugin.OIDCTokenOptions) { o.Token, o.Audience = plugin.TokenID, "hub" }, []string{"no ID token"}},
		{"id token for another audience", func(o *plugin.OIDCTokenOptions) {
			o.Grant, o.Token, o.RefreshTokenFile = plugin.GrantRefreshToken, plugin.TokenID, "/r"
		},
			[]string{`aud is the client id "hub"`}},
		{"jwt bearer without assertion", func(o *plugin.OIDCTokenOptions) { o.Grant = plugin.GrantJWTBearer }, []string{"--assertion-audience AUD", "--assertion-file"}},
		{"jwt bearer with both assertions", func(o *plugin.OIDCTokenOptions) {
			o.Grant, o.AssertionFile, o.AssertionAudience = plugin.GrantJWTBearer, "/a", "aud"
		}, []string{"not both"}},
		{"refresh without file", func(o *plugin.OIDCTokenOptions) { o.Grant = plugin.GrantRefreshToken }, []string{"--refresh-token-file"}},
		{"assertion on client credentials", func(o *plugin.OIDCTokenOptions) { o.AssertionFile = "/a" }, []string{"belong to --grant jwt-bearer"}},
		{"unknown token", func(o *plugin.OIDCTokenOptions) { o.Token = "refresh" }, []string{`--token "refresh"`}},
		{"negative timeout", func(o *plugin.OIDCTokenOptions) { o.Timeout = -1 }, []string{"--timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.edit(&o)
			err := o.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}
