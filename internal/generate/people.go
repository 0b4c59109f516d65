package generate

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// People: the downstreams that grant people something (access.people)
// trust the ID tokens of the provider people log in to (upstream.people),
// mapped to prefixed usernames and groups, and generate writes the
// people's kubeconfig, which runs kubelogin.

// PeopleDir is the directory, under the output, of a hub's people: their
// kubeconfig and README.
const PeopleDir = "people/"

// KubeloginCommand is what the people's kubeconfig runs: kubelogin as a
// kubectl plugin (kubectl krew install oidc-login).
const KubeloginCommand = "kubectl"

// reservedGroups is the userValidationRule that keeps people's groups out
// of the system: namespace, whatever the prefix.
var reservedGroups = validationRule{
	Expression: "!user.groups.exists(g, g.startsWith('system:'))",
	Message:    "groups from the people's ID tokens must not start with system:",
}

// peopleAuthenticator is the JWT authenticator of the people's provider
// when it is not the hub's identity provider: ID tokens for the people's
// client, the username and groups claims with their prefixes.
func peopleAuthenticator(f *config.Federation) jwtAuthenticator {
	pe := f.Upstream.People
	return jwtAuthenticator{
		Issuer: issuer{URL: pe.Issuer, CertificateAuthority: pe.PEM(), Audiences: []string{pe.ClientID}},
		ClaimMappings: claimMappings{
			Username: prefixedClaim{Claim: pe.UsernameClaim, Prefix: pe.UsernamePrefix},
			Groups:   &prefixedClaim{Claim: pe.GroupsClaim, Prefix: pe.GroupsPrefix},
		},
		UserValidationRules: []validationRule{
			{Expression: reservedUsernames.Expression, Message: "usernames from the people's ID tokens must not start with system:"},
			reservedGroups,
		},
	}
}

// withPeople makes a, the authenticator of the hub's identity provider,
// also take the people's ID tokens from the same provider (an API server
// takes each issuer once): both audiences, and CEL that tells a person's
// token (for the people's client) from the hub's and maps each its own
// way. The names in the expressions are validated: CEL identifiers, and
// prefixes and audiences without quotes.
func withPeople(a *jwtAuthenticator, f *config.Federation, d *config.Downstream) {
	pe := f.Upstream.People
	person := "(type(claims.aud) == string ? claims.aud == '" + pe.ClientID + "' : '" + pe.ClientID + "' in claims.aud)"
	hub := "(type(claims.aud) == string ? claims.aud == '" + d.Audience + "' : '" + d.Audience + "' in claims.aud)"
	a.Issuer.Audiences = []string{d.Audience, pe.ClientID}
	a.Issuer.AudienceMatchPolicy = "MatchAny"
	rule := a.ClaimValidationRules[0]
	a.ClaimValidationRules = []validationRule{
		{Expression: "!(" + person + " && " + hub + ")", Message: "a token for both the people's client " + pe.ClientID + " and the hub's audience " + d.Audience + " is refused: it could be read either way"},
		{Expression: person + " || " + rule.Expression, Message: rule.Message},
	}
	if pe.UsernameClaim == "email" {
		a.ClaimValidationRules = append(a.ClaimValidationRules, validationRule{
			Expression: "!" + person + " || !has(claims.email_verified) || claims.email_verified == true",
			Message:    "a person's email must be verified (email_verified) to be a username",
		})
	}
	a.ClaimMappings.Username = prefixedClaim{Expression: person + " ? '" + pe.UsernamePrefix + "' + claims." + pe.UsernameClaim +
		" : '" + d.UsernamePrefix + "' + claims." + a.ClaimMappings.Username.Claim}
	g := "claims." + pe.GroupsClaim
	a.ClaimMappings.Groups = &prefixedClaim{Expression: person + " && has(" + g + ") ? dyn(type(" + g + ") == string ? [" + g + "] : " + g + ").map(g, '" + pe.GroupsPrefix + "' + g) : []"}
	a.UserValidationRules = append(a.UserValidationRules, reservedGroups)
}

// peopleFiles renders people/<hub>/: the people's kubeconfig, one context
// per downstream that grants them something, and its README.
func (t *Tree) peopleFiles(f *config.Federation) error {
	pe := f.Upstream.People
	downs := f.PeopleDownstreams()
	if pe == nil || len(downs) == 0 {
		return nil
	}
	dir := PeopleDir + f.Upstream.Name + "/"
	kc := kubeconfig{APIVersion: "v1", Kind: "Config"}
	user := PeopleUser(f.Upstream.Name)
	for _, d := range downs {
		kc.Clusters = append(kc.Clusters, kubeconfigClusterOf(d))
		var x kubeconfigContext
		x.Name = d.Name
		x.Context.Cluster, x.Context.User = d.Name, user
		kc.Contexts = append(kc.Contexts, x)
	}
	var u kubeconfigUser
	u.Name = user
	u.User.Exec = execConfig{
		APIVersion:      "client.authentication.k8s.io/v1",
		Command:         KubeloginCommand,
		Args:            KubeloginArgs(pe),
		InstallHint:     "kubelogin is missing: install it as a kubectl plugin (kubectl krew install oidc-login, or its release binary named kubectl-oidc_login on the PATH); see https://github.com/int128/kubelogin",
		InteractiveMode: "IfAvailable",
	}
	kc.Users = []kubeconfigUser{u}
	if len(downs) == 1 {
		kc.CurrentContext = downs[0].Name
	}
	y, err := toYAML(kc)
	if err != nil {
		return fmt.Errorf("render the people's kubeconfig of hub %s: %w", f.Upstream.Name, err)
	}
	t.add(dir+PeopleKubeconfigFile, append([]byte(Header), y...))
	t.add(dir+"README.md", []byte(peopleReadme(f, downs)))
	return nil
}

// PeopleKubeconfigFile is the people's kubeconfig in people/<hub>/.
const PeopleKubeconfigFile = "kubeconfig.yaml"

// PeopleUser is the user of the people's kubeconfig.
func PeopleUser(hub string) string { return "oidc-" + hub }

// KubeloginArgs are kubelogin's arguments for the people's provider: the
// issuer, the client, the extra scopes and the provider's CA.
func KubeloginArgs(pe *config.People) []string {
	args := []string{"oidc-login", "get-token", "--oidc-issuer-url=" + pe.Issuer, "--oidc-client-id=" + pe.ClientID}
	for _, s := range pe.ExtraScopes {
		args = append(args, "--oidc-extra-scope="+s)
	}
	if pem := pe.PEM(); pem != "" {
		args = append(args, "--certificate-authority-data="+base64.StdEncoding.EncodeToString([]byte(pem)))
	}
	return args
}

func peopleReadme(f *config.Federation, downs []*config.Downstream) string {
	pe := f.Upstream.People
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- %s -->\n", strings.TrimSpace(strings.TrimPrefix(Header, "#")))
	fmt.Fprintf(&b, "# People of hub `%s`\n\n", f.Upstream.Name)
	fmt.Fprintf(&b, "People log in to `%s` (client `%s`) with kubelogin, in the browser or with a device code,\n", pe.Issuer, pe.ClientID)
	b.WriteString("and reach these downstreams with kubectl:\n\n")
	b.WriteString("| context | server | groups granted |\n| --- | --- | --- |\n")
	for _, d := range downs {
		var groups []string
		for _, g := range f.PeopleGrants(d) {
			where := "cluster-wide"
			if !g.ClusterWide {
				where = strings.Join(g.Namespaces, ", ")
			}
			groups = append(groups, fmt.Sprintf("`%s` (%s in %s)", g.Group, roleText(g.Role), where))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", d.Name, d.Server, strings.Join(groups, "; "))
	}
	fmt.Fprintf(&b, "\nA person's username is `%s<%s claim>`, their groups `%s<group>` (claim `%s`).\n\n", pe.UsernamePrefix, pe.UsernameClaim, pe.GroupsPrefix, pe.GroupsClaim)
	b.WriteString("## Use\n\n")
	b.WriteString("1. Install kubelogin: `kubectl krew install oidc-login` (or put its `kubectl-oidc_login` binary on the PATH).\n")
	fmt.Fprintf(&b, "2. `export KUBECONFIG=%s` (or merge it into yours), then `kubectl --context <context> get pods`:\n", PeopleKubeconfigFile)
	b.WriteString("   kubelogin opens the browser (or prints a device code with `--grant-type=device-code`\n")
	b.WriteString("   added to the user's args) and caches the ID token until it expires.\n\n")
	b.WriteString("## At the provider\n\n")
	fmt.Fprintf(&b, "The client `%s` must allow the authorization code grant with the redirect URIs\n", pe.ClientID)
	b.WriteString("`http://localhost:8000` and `http://localhost:18000` (kubelogin's defaults), and its ID tokens must carry\n")
	fmt.Fprintf(&b, "the claims `%s` and `%s` (scopes %s).\n", pe.UsernameClaim, pe.GroupsClaim, strings.Join(pe.ExtraScopes, ", "))
	b.WriteString("\nThere is no password grant: current OAuth security guidance (RFC 9700) forbids it, and the\n")
	b.WriteString("browser or device-code login replaces it, with the provider's own MFA.\n")
	return b.String()
}

// roleText names a role for people: the preset, the ClusterRole or rules.
func roleText(r config.Role) string {
	switch {
	case r.Preset != "":
		return "preset " + r.Preset
	case r.ClusterRole != "":
		return r.ClusterRole
	}
	return "its rules"
}
