package plugin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

func TestTokenFileName(t *testing.T) {
	for aud, want := range map[string]string{
		"prod-eu":                  "prod-eu",
		"https://prod.example.com": "https---prod.example.com",
		".hidden":                  "token-.hidden",
		"..":                       "token-..",
		"a/../../etc":              "a-..-..-etc",
	} {
		if got := plugin.TokenFileName(aud); got != want {
			t.Errorf("TokenFileName(%q) = %q, want %q", aud, got, want)
		}
	}
}

// The command line the generator writes is the one the plugin parses.
func TestTokenFileArgsRoundTrip(t *testing.T) {
	custom := plugin.DefaultTokenFileOptions()
	custom.File, custom.Audience, custom.Issuer = "/t/prod eu", "prod-eu", "https://hub.example.com"
	custom.Policy.Skew, custom.Policy.PollInterval = 15*time.Second, 2*time.Minute
	tests := []struct {
		name string
		o    plugin.TokenFileOptions
		want []string
	}{
		{"defaults", plugin.DefaultTokenFileOptions(), []string{"token-file"}},
		{"what generate writes", plugin.TokenFileOptions{File: "/var/run/secrets/argocd-k8s-federate/prod-eu", Audience: "prod-eu", Issuer: "https://hub.example.com", Policy: credential.DefaultPolicy()},
			[]string{"token-file", "--file", "/var/run/secrets/argocd-k8s-federate/prod-eu", "--audience", "prod-eu", "--issuer", "https://hub.example.com"}},
		{"every flag", custom,
			[]string{"token-file", "--file", "/t/prod eu", "--audience", "prod-eu", "--issuer", "https://hub.example.com", "--skew", "15s", "--poll-interval", "2m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.o.Args()
			if diff := cmp.Diff(tt.want, args); diff != "" {
				t.Fatalf("Args() (-want +got):\n%s", diff)
			}
			got, err := plugin.ParseTokenFileArgs(args)
			if err != nil {
				t.Fatalf("ParseTokenFileArgs(%q): %v", args, err)
			}
			if diff := cmp.Diff(tt.o, got); diff != "" {
				t.Errorf("parsed back (-want +got):\n%s", diff)
			}
		})
	}
}

// The parser takes every spelling the flag package takes, and refuses what
// the plugin would refuse.
func TestParseTokenFileArgs(t *testing.T) {
	o, err := plugin.ParseTokenFileArgs([]string{"token-file", "-file=/t", "--audience=a", "-issuer", "https://i"})
	if err != nil || o.File != "/t" || o.Audience != "a" || o.Issuer != "https://i" {
		t.Errorf("ParseTokenFileArgs = %+v, %v", o, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "do not start with the command token-file"},
		{[]string{"oidc", "--file", "/t"}, "do not start with the command token-file"},
		{[]string{"token-file", "--token", "x"}, "flag provided but not defined: -token"},
		{[]string{"token-file", "/t"}, `unexpected argument "/t"`},
	} {
		if _, err := plugin.ParseTokenFileArgs(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTokenFileArgs(%q) error = %v, want %q", tt.args, err, tt.want)
		}
	}
}

// With --audience alone, the plugin reads that audience's token where the
// generated volume mounts it.
func TestTokenFileDefaultsToTheAudiencesToken(t *testing.T) {
	got := run([]string{"token-file", "--audience", "no-such-downstream.example"}, fakeEnv{})
	want := `read token file "/var/run/secrets/argocd-k8s-federate/no-such-downstream.example"`
	if got.code != 1 || !strings.Contains(got.stderr, want) {
		t.Errorf("token-file --audience: exit %d, stderr %q; want 1 and %q", got.code, got.stderr, want)
	}
}
