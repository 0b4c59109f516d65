package discovery

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// Layout is the snapshot as read, in the published layout, without changes:
// what `discovery fetch -o DIR` writes. The keys come first so that a reader
// who follows the document always finds them.
func (s *Snapshot) Layout() []fileio.File {
	return []fileio.File{
		{Path: strings.TrimPrefix(KeysPath, "/"), Content: s.KeysRaw},
		{Path: strings.TrimPrefix(DocumentPath, "/"), Content: s.DocumentRaw},
	}
}

// Setup is how downstreams find a published copy of the discovery.
type Setup int

const (
	// SetupIssuerURL: the upstream's --service-account-issuer is the public
	// base URL, so {issuer}/.well-known/openid-configuration is the
	// published copy; the config has no discoveryURL.
	SetupIssuerURL Setup = iota + 1
	// SetupDiscoveryURL: the issuer stays what it is and each downstream's
	// authentication configuration names the published document with
	// discoveryURL.
	SetupDiscoveryURL
)

// PublishOptions are the inputs of Publish besides the live discovery.
type PublishOptions struct {
	// BaseURL is the https URL the output directory will be served at.
	BaseURL string
	// Token is a token of the upstream (a compact JWT), optional: its iss
	// must be the issuer and its signature must verify with a published key.
	Token string
	// TokenSource names where Token came from, for messages.
	TokenSource string
	// Config is the federation config of the upstream, optional: it must
	// say what the set-up needs.
	Config *config.Federation
}

// Publication is the layout to upload and what downstreams need for it.
type Publication struct {
	BaseURL string
	Issuer  string
	Setup   Setup
	// Files are the keys and the rewritten document, in the order to write
	// and upload them; their paths are relative to the output directory and
	// to BaseURL (URL).
	Files  []fileio.File
	KeyIDs []string
	// DocumentURL is where downstreams will read the document.
	DocumentURL string
	// ConfigChecked is set when PublishOptions.Config was given (and agrees).
	ConfigChecked string
}

// Problems are every reason not to publish, reported together.
type Problems []string

func (p Problems) Error() string {
	if len(p) == 1 {
		return p[0]
	}
	return fmt.Sprintf("%d problems:\n  - %s", len(p), strings.Join(p, "\n  - "))
}

// NormalizeBaseURL checks that raw can serve discovery to API servers (https,
// no query, fragment or user info) and drops trailing slashes.
func NormalizeBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "", errors.New("the base URL is empty")
	case err != nil || u.Host == "":
		return "", fmt.Errorf("%q is not a URL; expected https://host[/path], where the files will be served", raw)
	case u.Scheme != "https":
		return "", fmt.Errorf("%q uses %s: API servers fetch discovery only over https", raw, u.Scheme)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%q must not carry user info, a query or a fragment", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// Publish lays out live discovery for the static location at o.BaseURL: the
// key set as it is, the document with jwks_uri rewritten to
// <base>/openid/v1/jwks. It refuses, listing every problem, when the issuer
// cannot work for downstreams or does not match the token or the config.
func Publish(live *Snapshot, o PublishOptions) (*Publication, error) {
	var problems Problems
	base, err := NormalizeBaseURL(o.BaseURL)
	if err != nil {
		return nil, Problems{"--base-url: " + err.Error()}
	}
	issuer := live.Document.Issuer
	p := &Publication{BaseURL: base, Issuer: issuer, KeyIDs: live.Keys.IDs(), DocumentURL: base + DocumentPath}
	if strings.TrimRight(issuer, "/") == base {
		p.Setup = SetupIssuerURL
	} else {
		p.Setup = SetupDiscoveryURL
	}

	if u, err := url.Parse(issuer); err != nil || u.Scheme != "https" || u.Host == "" {
		problems = append(problems, fmt.Sprintf("the upstream's issuer %q is not an https URL, and downstream API servers accept only https issuers: set the upstream API server's --service-account-issuer=%s (the base URL) and publish again", issuer, base))
	} else if strings.TrimRight(issuer, "/") == config.DefaultIssuer {
		problems = append(problems, fmt.Sprintf("the upstream's issuer is the default %s, which every cluster shares: a downstream must never trust it. Set the upstream API server's --service-account-issuer=%s first (keep the old value as a second --service-account-issuer so that tokens already issued stay valid), then publish again", config.DefaultIssuer, base))
	}
	if len(live.Keys.Keys) == 0 {
		problems = append(problems, fmt.Sprintf("%s holds no keys: downstreams could verify no token; check the upstream API server's --service-account-key-file", live.KeysURL))
	}
	if o.Token != "" {
		problems = append(problems, checkToken(live, o.Token, o.TokenSource)...)
	}
	if f := o.Config; f != nil {
		problems = append(problems, checkConfig(p, f)...)
		p.ConfigChecked = f.Source
	}
	if len(problems) > 0 {
		return nil, problems
	}

	doc, err := live.Document.WithJWKSURI(base + KeysPath)
	if err != nil {
		return nil, err
	}
	p.Files = []fileio.File{
		{Path: strings.TrimPrefix(KeysPath, "/"), Content: live.KeysRaw},
		{Path: strings.TrimPrefix(DocumentPath, "/"), Content: doc},
	}
	return p, nil
}

// URL is where a downstream requests file f of the publication.
func (p *Publication) URL(f fileio.File) string { return p.BaseURL + "/" + f.Path }

// checkToken: the token's iss is the issuer and its key is published.
func checkToken(live *Snapshot, raw, source string) []string {
	var problems []string
	tok, err := credential.ParseToken([]byte(raw))
	if err != nil {
		return []string{fmt.Sprintf("token %s: %v", source, err)}
	}
	if tok.Claims.Issuer != live.Document.Issuer {
		problems = append(problems, fmt.Sprintf("token %s has iss %q but the upstream's discovery says issuer %q: downstreams refuse tokens whose iss is not the issuer. The token comes from another cluster or from before an issuer change; take a fresh token of this upstream", source, tok.Claims.Issuer, live.Document.Issuer))
	}
	if err := VerifyWith(live.Keys, tok.Raw); err != nil {
		problems = append(problems, fmt.Sprintf("token %s: %v", source, err))
	}
	return problems
}

// VerifyWith finds the key that signed token in set, by its kid, and
// verifies the signature with it.
func VerifyWith(set *KeySet, token string) error {
	th, err := ParseTokenHeader(token)
	if err != nil {
		return err
	}
	if th.KeyID == "" {
		for _, k := range set.Keys {
			if k.Verify(token) == nil {
				return nil
			}
		}
		return fmt.Errorf("the token has no key id (kid) and no key of %d verifies its signature", len(set.Keys))
	}
	k, ok := set.Lookup(th.KeyID)
	if !ok {
		return &MissingKeyError{KeyID: th.KeyID, Have: set.IDs()}
	}
	if err := k.Verify(token); err != nil {
		if errors.Is(err, ErrUnsupportedAlgorithm) {
			return nil // the key is there; the downstream judges the algorithm
		}
		return fmt.Errorf("key %s is published but %v: the key changed under the same key id", th.KeyID, err)
	}
	return nil
}

// MissingKeyError: the key that signed a token is not in the key set.
type MissingKeyError struct {
	KeyID string
	Have  []string
}

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("signed with key %s, which is not among the %d keys (%s)", e.KeyID, len(e.Have), strings.Join(e.Have, ", "))
}

// checkConfig: the federation config says what the set-up needs.
func checkConfig(p *Publication, f *config.Federation) []string {
	var problems []string
	u := f.Upstream
	if u.Issuer != p.Issuer {
		problems = append(problems, fmt.Sprintf("%s: upstream.issuer is %q but the upstream issues tokens with iss %q: downstreams would refuse every token. Set upstream.issuer: %s (and generate again)", f.Source, u.Issuer, p.Issuer, p.Issuer))
	}
	switch p.Setup {
	case SetupIssuerURL:
		if u.DiscoveryURL != "" && u.DiscoveryURL != p.DocumentURL {
			problems = append(problems, fmt.Sprintf("%s: upstream.discoveryURL is %q, but the issuer is the base URL: downstreams must read %s; remove upstream.discoveryURL (and generate again)", f.Source, u.DiscoveryURL, p.DocumentURL))
		}
	case SetupDiscoveryURL:
		if u.DiscoveryURL != p.DocumentURL {
			is := "missing"
			if u.DiscoveryURL != "" {
				is = fmt.Sprintf("%q", u.DiscoveryURL)
			}
			problems = append(problems, fmt.Sprintf("%s: upstream.discoveryURL is %s, but downstreams can only find the published copy through it: set upstream.discoveryURL: %s (and generate again)", f.Source, is, p.DocumentURL))
		}
	}
	return problems
}

// Explain says, in a few lines, which set-up this is and what it requires.
func (p *Publication) Explain() string {
	var b strings.Builder
	switch p.Setup {
	case SetupIssuerURL:
		fmt.Fprintf(&b, "Set-up: the upstream's issuer is the base URL (its --service-account-issuer is %s).\n", p.Issuer)
		fmt.Fprintf(&b, "Downstreams read %s as the issuer's own discovery: no discoveryURL.\n", p.DocumentURL)
	case SetupDiscoveryURL:
		fmt.Fprintf(&b, "Set-up: the upstream keeps its issuer %s; downstreams read the published copy\n", p.Issuer)
		b.WriteString("through discoveryURL, which only the structured AuthenticationConfiguration supports\n")
		b.WriteString("(Kubernetes 1.30 and later; not --oidc-* flags, not Gardener's OpenIDConnect).\n")
		fmt.Fprintf(&b, "(To use the other set-up instead, set the upstream's --service-account-issuer=%s.)\n", p.BaseURL)
	}
	return b.String()
}

// ConfigSnippet is the upstream part of federation.yaml for this set-up.
func (p *Publication) ConfigSnippet() string {
	host := p.BaseURL
	if u, err := url.Parse(p.BaseURL); err == nil {
		host = u.Host
	}
	var b strings.Builder
	b.WriteString("upstream:\n")
	fmt.Fprintf(&b, "  issuer: %s\n", p.Issuer)
	if p.Setup == SetupDiscoveryURL {
		fmt.Fprintf(&b, "  discoveryURL: %s\n", p.DocumentURL)
	} else {
		b.WriteString("  # no discoveryURL\n")
	}
	fmt.Fprintf(&b, "  # caFile, ca or useSystemRoots: true must verify the certificate of %s\n", host)
	b.WriteString("  # (useSystemRoots: true for a public bucket)\n")
	return b.String()
}
