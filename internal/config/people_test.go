package config

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// peopleYAML is an upstream.people block for the base config, with extra
// lines, and access.people for the base config's first downstream.
func withPeople(extra ...string) func(t *testing.T, base string) string {
	block := "  people:\n    issuer: https://login.example.com/realms/platform\n    useSystemRoots: true\n    clientID: kubernetes\n"
	for _, e := range extra {
		block += "    " + e + "\n"
	}
	return func(t *testing.T, base string) string {
		t.Helper()
		s := replace("downstreams:\n", block+"downstreams:\n")(t, base)
		return replace("    namespaces: [apps, web]\n", "    namespaces: [apps, web]\n    people:\n    - group: platform-admins\n      namespaces: [apps]\n      clusterRole: edit\n")(t, s)
	}
}

func TestPeopleDefaults(t *testing.T) {
	f, err := Decode([]byte(withPeople()(t, base(t))), "testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Complete(); err != nil {
		t.Fatal(err)
	}
	want := &People{
		Issuer: "https://login.example.com/realms/platform", CertificateAuthority: CertificateAuthority{UseSystemRoots: true},
		ClientID: "kubernetes", UsernameClaim: "email", UsernamePrefix: "oidc:", GroupsClaim: "groups", GroupsPrefix: "oidc:",
		ExtraScopes: []string{"email", "groups"},
	}
	if diff := cmp.Diff(want, f.Upstream.People, cmp.AllowUnexported(CertificateAuthority{})); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	downs := f.PeopleDownstreams()
	if len(downs) != 1 || downs[0].Name != "prod" {
		t.Fatalf("PeopleDownstreams = %v, want prod only", downs)
	}
	grants := f.PeopleGrants(downs[0])
	wantGrants := []PeopleGrant{{Group: "platform-admins", Subject: "oidc:platform-admins", Role: Role{ClusterRole: "edit"}, RoleName: "edit",
		BindingName: "argocd-k8s-federate:hub:people:platform-admins", Namespaces: []string{"apps"}}}
	if diff := cmp.Diff(wantGrants, grants); diff != "" {
		t.Errorf("PeopleGrants (-want +got):\n%s", diff)
	}
	// People are not an identity of the hub: ArgoCD's grants are unchanged.
	for _, g := range f.Grants(downs[0]) {
		if slices.Contains([]string{"controller", "server"}, g.Who) && g.User == "" {
			t.Errorf("grant %+v lost its user", g)
		}
	}
}

// A prefix the config cannot express (an empty one is the default's cue)
// is still refused where it is checked.
func TestPeoplePrefixNeverEmpty(t *testing.T) {
	for _, p := range []string{"", "system:", "SYSTEM:", "-"} {
		errs := &Errors{}
		checkPeoplePrefix(errs, "upstream.people.usernamePrefix", p, "usernames")
		if errs.err() == nil {
			t.Errorf("prefix %q is accepted", p)
		}
	}
}

func TestNameSafe(t *testing.T) {
	for group, want := range map[string]string{
		"platform-admins": "platform-admins",
		"/sre/on-call":    "-sre-on-call-8b7300fc",
		"Admins":          "-dmins-",
	} {
		got := nameSafe(group)
		if group == "Admins" {
			if got == "admins" || len(got) != len("-dmins")+9 {
				t.Errorf("nameSafe(%q) = %q: upper case must change the name and add a hash", group, got)
			}
			continue
		}
		if got != want {
			t.Errorf("nameSafe(%q) = %q, want %q", group, got, want)
		}
	}
	if nameSafe("a/b") == nameSafe("a-b") {
		t.Error("a/b and a-b get the same name")
	}
}

func TestPeopleRefused(t *testing.T) {
	people := func(extra ...string) func(t *testing.T, base string) string { return withPeople(extra...) }
	edit := func(fn func(p *People)) func(t *testing.T, f *Federation) {
		return func(t *testing.T, f *Federation) { fn(f.Upstream.People) }
	}
	runRefusals(t, []refusal{
		{name: "issuer missing", yaml: people(), edit: edit(func(p *People) { p.Issuer = "" }), path: "upstream.people.issuer", want: []string{"required"}},
		{name: "issuer http", yaml: people(), edit: edit(func(p *People) { p.Issuer = "http://login.example.com" }), path: "upstream.people.issuer", want: []string{"https"}},
		{name: "issuer is the hub's", yaml: people(), edit: edit(func(p *People) { p.Issuer = "https://hub.example.com" }),
			path: "upstream.people.issuer", want: []string{"is upstream.issuer", "OpenID provider"}},
		{name: "no CA", yaml: people(), edit: edit(func(p *People) { p.UseSystemRoots = false }), path: "upstream.people.caFile", want: []string{"no CA"}},
		{name: "client id missing", yaml: people(), edit: edit(func(p *People) { p.ClientID = "" }), path: "upstream.people.clientID", want: []string{"is required", "kubelogin"}},
		{name: "client id with a quote", yaml: people(), edit: edit(func(p *People) { p.ClientID = "kube'rnetes" }), path: "upstream.people.clientID", want: []string{"may hold only"}},
		{name: "system username prefix", yaml: people(`usernamePrefix: "system:"`), path: "upstream.people.usernamePrefix", want: []string{"starts with system:"}},
		{name: "System username prefix", yaml: people(`usernamePrefix: "System:x"`), path: "upstream.people.usernamePrefix", want: []string{"starts with system:"}},
		{name: "system groups prefix", yaml: people(`groupsPrefix: "system:"`), path: "upstream.people.groupsPrefix", want: []string{"starts with system:", "groups"}},
		{name: "empty username prefix", yaml: people(`usernamePrefix: ""`), path: "upstream.people.usernamePrefix", want: []string{"is set but empty", "system:masters"}},
		{name: "null groups prefix", yaml: people(`groupsPrefix: null`), path: "upstream.people.groupsPrefix", want: []string{"is set but empty"}},
		{name: "dash prefix", yaml: people(`usernamePrefix: "-"`), path: "upstream.people.usernamePrefix", want: []string{"turns prefixing off"}},
		{name: "the hub's prefix", yaml: people(`usernamePrefix: "hub:"`), path: "upstream.people.usernamePrefix", want: []string{"downstreams[0].usernamePrefix", "own prefix"}},
		{name: "claim not an identifier", yaml: people(`usernameClaim: "user.name"`), path: "upstream.people.usernameClaim", want: []string{"must be an identifier"}},
		{name: "groups claim reserved", yaml: people(`groupsClaim: "in"`), path: "upstream.people.groupsClaim", want: []string{"reserved word"}},
		{name: "bad scope", yaml: people(`extraScopes: ["a b"]`), path: "upstream.people.extraScopes[0]", want: []string{"not a scope"}},
		{name: "group missing", yaml: people(), edit: func(t *testing.T, f *Federation) { f.Downstreams[0].Access.People[0].Group = "" },
			path: "downstreams[0].access.people[0].group", want: []string{"is required"}},
		{name: "system group", yaml: people(), edit: func(t *testing.T, f *Federation) { f.Downstreams[0].Access.People[0].Group = "system:masters" },
			path: "downstreams[0].access.people[0].group", want: []string{"no system: prefix"}},
		{name: "group twice", yaml: people(), edit: func(t *testing.T, f *Federation) {
			f.Downstreams[0].Access.People = append(f.Downstreams[0].Access.People, f.Downstreams[0].Access.People[0])
		}, path: "downstreams[0].access.people[1].group", want: []string{"already granted"}},
		{name: "no scope", yaml: people(), edit: func(t *testing.T, f *Federation) { f.Downstreams[0].Access.People[0].Namespaces = nil },
			path: "downstreams[0].access.people[0].namespaces", want: []string{"the group may use"}},
		{name: "no role", yaml: people(), edit: func(t *testing.T, f *Federation) { f.Downstreams[0].Access.People[0].Role = Role{} },
			path: "downstreams[0].access.people[0]", want: []string{"preset"}},
		{name: "people granted without upstream.people", yaml: people(), edit: func(t *testing.T, f *Federation) { f.Upstream.People = nil },
			path: "downstreams[0].access.people", want: []string{"upstream.people is not set"}},
		{name: "the identity provider's client", yaml: func(t *testing.T, b string) string {
			return withIDP(idpYAML(GrantJWTBearer, "assertionAudience: https://login.example.com/oauth2/token"))(t, people()(t, b))
		}, edit: edit(func(p *People) { p.ClientID = "argocd-hub" }), path: "upstream.people.clientID", want: []string{"also upstream.identityProvider.clientID"}},
		{name: "the identity provider's issuer spelled differently", yaml: func(t *testing.T, b string) string {
			return withIDP(idpYAML(GrantJWTBearer, "assertionAudience: https://login.example.com/oauth2/token"))(t, people()(t, b))
		}, edit: edit(func(p *People) { p.Issuer = "https://LOGIN.example.com/realms/platform" }), path: "upstream.people.issuer", want: []string{"spelled differently"}},
		{name: "two hubs' people on one downstream", yaml: people(), other: func(f *Federation) {
			f.Upstream.Name, f.Upstream.Issuer = "hub-b", "https://hub-b.example.com"
			f.Upstream.People = &People{Issuer: "https://login.example.com/realms/platform", CertificateAuthority: CertificateAuthority{UseSystemRoots: true},
				ClientID: "kubernetes", UsernamePrefix: "oidc-b:"}
			f.Downstreams[0].Access.People = []PeopleAccess{{Group: "sre", Namespaces: []string{"apps"}, Role: Role{ClusterRole: "view"}}}
		}, path: "b.yaml: downstreams[0]", want: []string{"trust the same issuer https://login.example.com/realms/platform"}},
	})
}
