// Package oidc is the network half of the plugin's oidc-token command: it
// gets the downstream's token from an OpenID provider (the company's
// Keycloak, Entra ID, Okta, Hydra) with the client-credentials, JWT-bearer
// (RFC 7523) or refresh-token grant. Like internal/tokenrequest it links
// net/http and crypto/tls, so the small plugin binary execs
// argocd-k8s-federate-token-request for it; the full CLI links it.
//
// Nothing it prints or returns ever contains a secret, an assertion or a
// token: errors quote the provider's error and error_description with every
// one of them cut out.
package oidc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/tokenrequest"
)

// maxSecret caps a client secret or refresh token file.
const maxSecret = 64 << 10

// Run writes to stdout the ExecCredential for a token that the provider
// o.Issuer issues by o.Grant, in the apiVersion that KUBERNETES_EXEC_INFO
// asks for. It writes nothing when it fails; its error is one line that
// names what to fix. o has been validated (plugin.OIDCTokenOptions.Validate).
func Run(o plugin.OIDCTokenOptions, env plugin.Env, stdout io.Writer) error {
	apiVersion, err := credential.ParseExecInfo(env.Getenv(credential.ExecInfoEnv))
	if err != nil {
		return fmt.Errorf("%w: client-go sets it from the exec config (apiVersion %s or v1beta1); unset it to run the plugin by hand",
			err, credential.APIVersionV1)
	}
	tok, err := Token(o, env)
	if err != nil {
		return err
	}
	expiry, err := o.Policy.Expiry(tok.Claims, env.Now())
	if err != nil {
		return fmt.Errorf("the token %s issued: %w: this machine's clock is far from the provider's", o.Issuer, err)
	}
	return credential.WriteExecCredential(stdout, apiVersion, tok.Raw, expiry)
}

// Token gets the token and checks that it is what the downstream accepts:
// issued by o.Issuer, for o.Audience, not expired.
func Token(o plugin.OIDCTokenOptions, env plugin.Env) (credential.Token, error) {
	if err := CheckIssuerURL(o.Issuer); err != nil {
		return credential.Token{}, fmt.Errorf("--issuer: %w", err)
	}
	p, err := newProvider(o)
	if err != nil {
		return credential.Token{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	if err := p.discover(ctx); err != nil {
		return credential.Token{}, err
	}
	var raw string
	switch o.Grant {
	case plugin.GrantClientCredentials:
		raw, err = p.clientCredentials(ctx)
	case plugin.GrantJWTBearer:
		raw, err = p.jwtBearer(ctx, env)
	case plugin.GrantRefreshToken:
		raw, err = p.refresh(ctx)
	default:
		err = fmt.Errorf("--grant %q: use one of %s", o.Grant, strings.Join(plugin.Grants, ", "))
	}
	if err != nil {
		return credential.Token{}, err
	}
	tok, err := credential.ParseToken([]byte(raw))
	if err != nil {
		hint := ""
		if o.Token == plugin.TokenAccess {
			hint = ": the credential must be a JWT; make the provider issue JWT access tokens (Hydra: strategies.access_token jwt), or use --token id-token where it fits"
		}
		return credential.Token{}, fmt.Errorf("the %s %s issued: %w%s", o.Token, o.Issuer, err, hint)
	}
	c := tok.Claims
	if c.Issuer != o.Issuer {
		return credential.Token{}, fmt.Errorf("the %s %s issued has iss %q: the downstream accepts only iss %q; --issuer must be the provider's issuer exactly (mind a trailing slash)",
			o.Token, o.Issuer, c.Issuer, o.Issuer)
	}
	if !c.HasAudience(o.Audience) {
		return credential.Token{}, fmt.Errorf("the %s %s issued is for audience %q, not %q: let client %q ask for audience %q (the provider's allowed audiences of the client, or an audience mapper)",
			o.Token, o.Issuer, c.Audience, o.Audience, o.ClientID, o.Audience)
	}
	now := env.Now()
	if !now.Before(c.Expiry) {
		return credential.Token{}, fmt.Errorf("the %s %s issued expired at %s, before it was used (now %s): this machine's clock is far from the provider's",
			o.Token, o.Issuer, c.Expiry.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	// A token that ends within the skew would have client-go run the
	// plugin again at once, and hammer the provider.
	if left := c.Expiry.Sub(now); left <= o.Policy.Skew {
		return credential.Token{}, fmt.Errorf("the %s %s issued ends in %v (exp %s), within --skew %v: raise client %q's access-token lifespan at the provider to minutes at least",
			o.Token, o.Issuer, left.Truncate(time.Millisecond), c.Expiry.UTC().Format(time.RFC3339), o.Policy.Skew, o.ClientID)
	}
	return tok, nil
}

// provider is one exchange with the OpenID provider.
type provider struct {
	o      plugin.OIDCTokenOptions
	client *http.Client
	meta   metadata
	// secrets are the values no message may contain.
	secrets []string
}

func newProvider(o plugin.OIDCTokenOptions) (*provider, error) {
	var roots *x509.CertPool
	if o.CAFile != "" {
		data, err := fileio.ReadFile(o.CAFile, fileio.MaxCABundle)
		if err != nil {
			return nil, fmt.Errorf("read --ca-file: %w: give the CA bundle that verifies the provider %s (or leave --ca-file out for the system roots)", err, o.Issuer)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("--ca-file %q holds no PEM certificate: give the CA bundle that verifies the provider %s", o.CAFile, o.Issuer)
		}
	}
	return &provider{o: o, client: &http.Client{
		Transport: &http.Transport{
			Proxy:           http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		},
		// Neither discovery nor the token endpoint redirects; a redirect
		// is something else answering, and a secret must not follow it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// readSecretFile reads a client secret or refresh token file: one value,
// surrounding white space (a trailing newline) removed.
func readSecretFile(flag, path, what string) (string, error) {
	data, err := fileio.ReadFile(path, maxSecret)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read %s %q: %w: %s", flag, path, fs.ErrNotExist, what)
	case errors.Is(err, fs.ErrPermission):
		return "", fmt.Errorf("read %s %q: %w for uid %d: let this container's user read it (the Secret volume's defaultMode, or the pod's fsGroup)",
			flag, path, fs.ErrPermission, os.Getuid())
	default:
		return "", fmt.Errorf("read %s: %w", flag, err)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", fmt.Errorf("%s %q is empty: %s", flag, path, what)
	}
	if strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("%s %q holds more than one line: it must hold the value alone", flag, path)
	}
	return v, nil
}

func (p *provider) clientSecret() (string, error) {
	if p.o.ClientSecretFile == "" {
		return "", nil
	}
	s, err := readSecretFile("--client-secret-file", p.o.ClientSecretFile,
		"it must hold client "+p.o.ClientID+"'s secret (in a pod: the key of the Secret you created, mounted by the generated Component)")
	if err == nil {
		p.secrets = append(p.secrets, s)
	}
	return s, err
}

func (p *provider) clientCredentials(ctx context.Context) (string, error) {
	secret, err := p.clientSecret()
	if err != nil {
		return "", err
	}
	form := p.baseForm("client_credentials")
	return p.exchange(ctx, form, secret, "")
}

func (p *provider) jwtBearer(ctx context.Context, env plugin.Env) (string, error) {
	var assertion credential.Token
	var err error
	if p.o.AssertionAudience != "" {
		assertion, _, err = tokenrequest.Token(p.o.AssertionRequest(), env)
		if err != nil {
			return "", fmt.Errorf("the assertion for %s: %w", p.o.Issuer, err)
		}
	} else {
		assertion, err = readAssertion(p.o.AssertionFile, env)
		if err != nil {
			return "", err
		}
	}
	p.secrets = append(p.secrets, assertion.Raw)
	secret, err := p.clientSecret()
	if err != nil {
		return "", err
	}
	form := p.baseForm("urn:ietf:params:oauth:grant-type:jwt-bearer")
	form.set("assertion", assertion.Raw)
	c := assertion.Claims
	about := fmt.Sprintf("the assertion (iss %q, sub %q, aud %q)", c.Issuer, c.Subject, strings.Join(c.Audience, " "))
	return p.exchange(ctx, form, secret, about)
}

// readAssertion reads --assertion-file, a token file re-read on every call.
func readAssertion(path string, env plugin.Env) (credential.Token, error) {
	data, err := credential.ReadTokenFile(path)
	if err != nil {
		return credential.Token{}, fmt.Errorf("read --assertion-file %q: %w", path, err)
	}
	tok, err := credential.ParseToken(data)
	if err != nil {
		return credential.Token{}, fmt.Errorf("--assertion-file %q: %w", path, err)
	}
	if now := env.Now(); !now.Before(tok.Claims.Expiry) {
		return credential.Token{}, fmt.Errorf("--assertion-file %q expired at %s: whatever writes it (the kubelet, for a projected token) is not refreshing it",
			path, tok.Claims.Expiry.UTC().Format(time.RFC3339))
	}
	return tok, nil
}

func (p *provider) refresh(ctx context.Context) (string, error) {
	path := p.o.RefreshTokenFile
	// One refresh at a time: the provider rotates the refresh token and
	// refuses (and may revoke the whole chain on) a token presented twice,
	// so a second exec must read the file only after the first rewrote it.
	unlock, err := fileio.Lock(path + ".lock")
	if err != nil {
		return "", fmt.Errorf("--refresh-token-file %q: %w: its directory must be writable (the file is replaced when the provider rotates the token)", path, err)
	}
	defer unlock()
	old, err := readSecretFile("--refresh-token-file", path, "write the refresh token of a login into it (kubectl oidc-login or the provider's device login)")
	if err != nil {
		return "", err
	}
	p.secrets = append(p.secrets, old)
	secret, err := p.clientSecret()
	if err != nil {
		return "", err
	}
	form := p.baseForm("refresh_token")
	form.set("refresh_token", old)
	resp, err := p.post(ctx, form, secret, "the refresh token in "+path)
	if err != nil {
		return "", err
	}
	if resp.RefreshToken != "" && resp.RefreshToken != old {
		p.secrets = append(p.secrets, resp.RefreshToken)
		if err := fileio.WriteFile(path, strings.NewReader(resp.RefreshToken+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("the provider rotated the refresh token, but --refresh-token-file could not be rewritten: %v: the old token is spent; fix the file's directory and log in again", p.redact(err.Error()))
		}
	}
	return p.pick(resp)
}

// form is an application/x-www-form-urlencoded body in a fixed order.
type form struct{ keys, values []string }

func (f *form) set(k, v string) { f.keys = append(f.keys, k); f.values = append(f.values, v) }

func (f *form) encode() string {
	var b strings.Builder
	for i, k := range f.keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(formEscape(k) + "=" + formEscape(f.values[i]))
	}
	return b.String()
}

// baseForm is the grant type and the parameters every grant sends.
func (p *provider) baseForm(grantType string) *form {
	f := &form{}
	f.set("grant_type", grantType)
	if p.o.Scope != "" {
		f.set("scope", p.o.Scope)
	}
	if p.o.Token == plugin.TokenAccess && p.o.Audience != p.o.ClientID && p.o.Grant != plugin.GrantRefreshToken {
		f.set("audience", p.o.Audience)
	}
	return f
}

// exchange posts the form and returns the token --token names.
func (p *provider) exchange(ctx context.Context, f *form, secret, about string) (string, error) {
	resp, err := p.post(ctx, f, secret, about)
	if err != nil {
		return "", err
	}
	return p.pick(resp)
}

func (p *provider) pick(resp tokenResponse) (string, error) {
	raw := resp.AccessToken
	if p.o.Token == plugin.TokenID {
		raw = resp.IDToken
		if raw == "" {
			return "", fmt.Errorf("%s answered without an id_token: ask for scope openid (--scope \"openid ...\"), or use --token %s", p.meta.TokenEndpoint, plugin.TokenAccess)
		}
	}
	if raw == "" {
		return "", fmt.Errorf("%s answered without an access_token", p.meta.TokenEndpoint)
	}
	return raw, nil
}

// redact removes every secret, assertion and token of this exchange from s.
func (p *provider) redact(s string) string {
	for _, v := range p.secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}
