package generate_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/traits"
	"k8s.io/apiserver/pkg/apis/apiserver"
	apiservervalidation "k8s.io/apiserver/pkg/apis/apiserver/validation"
	authenticationcel "k8s.io/apiserver/pkg/authentication/cel"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/generate"
)

// mapped is what the API server makes of one token's claims with one JWT
// authenticator: the username and groups its mappings give, and whether
// its claim validation rules let the token in.
type mapped struct {
	ok       bool
	username string
	groups   []string
}

// mapClaims runs authenticator a's claim validation rules and claim
// mappings, compiled and evaluated with the API server's own CEL, on claims
// (the audience check aside). A mapping's claim and prefix are applied as
// the API server applies them.
func mapClaims(t *testing.T, compiler authenticationcel.Compiler, a apiserver.JWTAuthenticator, claims map[string]any) mapped {
	t.Helper()
	m, ok := types.DefaultTypeAdapter.NativeToValue(claims).(traits.Mapper)
	if !ok {
		t.Fatal("claims are not a CEL map")
	}
	eval := func(expr string, as reflect.Type) (any, bool) {
		c, err := compiler.CompileClaimsExpression(&authenticationcel.ClaimMappingExpression{Expression: expr})
		if err != nil {
			t.Fatalf("compile %q: %v", expr, err)
		}
		res, err := authenticationcel.NewClaimsMapper([]authenticationcel.CompilationResult{c}).EvalClaimMapping(context.Background(), m)
		if err != nil {
			return nil, false
		}
		v, err := res.EvalResult.ConvertToNative(as)
		return v, err == nil
	}
	for _, r := range a.ClaimValidationRules {
		c, err := compiler.CompileClaimsExpression(&authenticationcel.ClaimValidationCondition{Expression: r.Expression, Message: r.Message})
		if err != nil {
			t.Fatalf("compile %q: %v", r.Expression, err)
		}
		results, err := authenticationcel.NewClaimsMapper([]authenticationcel.CompilationResult{c}).EvalClaimMappings(context.Background(), m)
		if err != nil || len(results) != 1 {
			return mapped{}
		}
		if b, ok := results[0].EvalResult.Value().(bool); !ok || !b {
			return mapped{}
		}
	}
	var out mapped
	u := a.ClaimMappings.Username
	if u.Expression != "" {
		v, ok := eval(u.Expression, reflect.TypeFor[string]())
		if !ok {
			return mapped{}
		}
		out.username = v.(string)
	} else {
		s, ok := claims[u.Claim].(string)
		if !ok {
			return mapped{}
		}
		out.username = *u.Prefix + s
		if u.Claim == "email" {
			if v, has := claims["email_verified"]; has && v != true {
				return mapped{}
			}
		}
	}
	g := a.ClaimMappings.Groups
	switch {
	case g.Expression != "":
		v, ok := eval(g.Expression, reflect.TypeFor[[]string]())
		if !ok {
			return mapped{}
		}
		out.groups = v.([]string)
	case g.Claim != "":
		switch v := claims[g.Claim].(type) {
		case string:
			out.groups = []string{*g.Prefix + v}
		case []any:
			for _, x := range v {
				out.groups = append(out.groups, *g.Prefix+x.(string))
			}
		}
	}
	out.ok = true
	return out
}

// TestAPIServerPeople: the trust written for people is what the API server
// takes (its own loader and validation), and its own CEL maps a person's ID
// token to the prefixed username and groups, keeps the hub's tokens as they
// were, and refuses what would be ambiguous or unverified. The people's
// kubeconfig loads in client-go and runs kubelogin for the provider.
func TestAPIServerPeople(t *testing.T) {
	codecs := authnCodecs()
	compiler := authenticationcel.NewDefaultCompiler()
	const issuer = "https://login.example.com/realms/platform"
	person := func(aud any, extra map[string]any) map[string]any {
		c := map[string]any{"iss": issuer, "aud": aud, "sub": "7f1c2e", "email": "alice@example.com", "email_verified": true,
			"preferred_username": "alice", "groups": []any{"platform-admins", "system:masters"}}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	controller := map[string]any{"iss": issuer, "aud": []any{"prod", "https://login.example.com/oauth2/token"}, "sub": "system:serviceaccount:argocd:argocd-application-controller"}

	for _, tc := range []struct {
		name, file string
		// peopleJWT is the index of the people's authenticator.
		wantUser   string
		wantGroups []string
		hubUser    string // the controller's user through the same authenticator ("" when separate)
	}{
		{"separate", "testdata/people/federation.yaml", "oidc:alice@example.com", []string{"oidc:platform-admins", "oidc:system:masters"}, ""},
		{"shared", "testdata/people-shared/federation.yaml", "corp:alice", []string{"corp-group:platform-admins", "corp-group:system:masters"}, "hub:system:serviceaccount:argocd:argocd-application-controller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			feds := loadFederations(t, tc.file)
			tree := generateTree(t, feds)
			var cfg *apiserver.AuthenticationConfiguration
			var kubeconfig []byte
			for _, f := range tree.Files {
				switch f.Path {
				case "downstream/prod/apiserver/" + generate.AuthenticationConfigFile:
					c, _, err := loadAuthenticationConfiguration(codecs, f.Content)
					if err != nil {
						t.Fatalf("kube-apiserver cannot load it: %v\n%s", err, f.Content)
					}
					if errs := apiservervalidation.ValidateAuthenticationConfiguration(compiler, c, []string{downstreamOwnIssuer}); len(errs) > 0 {
						t.Fatalf("kube-apiserver refuses it: %v\n%s", errs.ToAggregate(), f.Content)
					}
					cfg = c
				case "people/hub/" + generate.PeopleKubeconfigFile:
					kubeconfig = f.Content
				case "downstream/vault/apiserver/" + generate.AuthenticationConfigFile:
					if strings.Contains(string(f.Content), "groups") {
						t.Errorf("vault grants people nothing but trusts their tokens:\n%s", f.Content)
					}
				}
			}
			if cfg == nil || kubeconfig == nil {
				t.Fatal("no authentication-config.yaml for prod or no people kubeconfig")
			}
			var a apiserver.JWTAuthenticator
			for _, j := range cfg.JWT {
				if j.Issuer.URL == issuer {
					a = j
				}
			}
			if !slices.Contains(a.Issuer.Audiences, "kubernetes") {
				t.Fatalf("the provider's authenticator does not take the people's client: %+v", a.Issuer)
			}

			got := mapClaims(t, compiler, a, person("kubernetes", nil))
			if !got.ok || got.username != tc.wantUser || !slices.Equal(got.groups, tc.wantGroups) {
				t.Errorf("a person's ID token maps to %+v, want %s %v", got, tc.wantUser, tc.wantGroups)
			}
			// The groups' prefix keeps system:masters out, and so do the
			// user validation rules whatever the mapping gives.
			checkUserValidationRules(t, compiler, 0, a, []string{tc.wantUser})
			if got := mapClaims(t, compiler, a, person([]any{"kubernetes"}, map[string]any{"groups": "platform-admins"})); !got.ok || len(got.groups) != 1 {
				t.Errorf("a single group as a string maps to %+v", got)
			}
			if tc.hubUser == "" {
				return
			}
			if got := mapClaims(t, compiler, a, controller); !got.ok || got.username != tc.hubUser || len(got.groups) != 0 {
				t.Errorf("the controller's token maps to %+v, want %s and no groups", got, tc.hubUser)
			}
			for what, c := range map[string]map[string]any{
				"a token for both audiences":    person([]any{"kubernetes", "prod"}, nil),
				"another service account":       {"iss": issuer, "aud": "prod", "sub": "system:serviceaccount:argocd:default"},
				"a person's token for the hub":  person("prod", nil),
				"a person without the username": person("kubernetes", map[string]any{"preferred_username": nil}),
			} {
				if what == "a person without the username" {
					delete(c, "preferred_username")
				}
				if got := mapClaims(t, compiler, a, c); got.ok {
					t.Errorf("%s is let in as %+v", what, got)
				}
			}

			cfgK, err := clientcmd.Load(kubeconfig)
			if err != nil {
				t.Fatalf("client-go cannot load the people's kubeconfig: %v", err)
			}
			if err := clientcmd.Validate(*cfgK); err != nil {
				t.Fatalf("client-go refuses the people's kubeconfig: %v", err)
			}
			u := cfgK.AuthInfos[generate.PeopleUser("hub")]
			if u == nil || u.Exec == nil || u.Exec.Command != "kubectl" || u.Exec.InteractiveMode != "IfAvailable" ||
				!slices.Contains(u.Exec.Args, "--oidc-issuer-url="+issuer) || !slices.Contains(u.Exec.Args, "--oidc-client-id=kubernetes") ||
				!slices.Equal(u.Exec.Args[:2], []string{"oidc-login", "get-token"}) {
				t.Errorf("the people's user runs %+v", u)
			}
			if ctx := cfgK.Contexts["prod"]; ctx == nil || ctx.AuthInfo != generate.PeopleUser("hub") || cfgK.Clusters[ctx.Cluster] == nil {
				t.Errorf("context prod: %+v", ctx)
			}
		})
	}
}
