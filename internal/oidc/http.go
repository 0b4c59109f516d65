package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/tokenrequest"
)

// Caps of what the provider sends back.
const (
	maxDiscovery = 512 << 10
	maxResponse  = 3*credential.MaxTokenSize + 64<<10
	maxQuoted    = 512
)

// metadata is what oidc-token reads of the discovery document.
type metadata struct {
	Issuer              string   `json:"issuer"`
	TokenEndpoint       string   `json:"token_endpoint"`
	GrantTypesSupported []string `json:"grant_types_supported"`
	TokenAuthMethods    []string `json:"token_endpoint_auth_methods_supported"`
}

// tokenResponse is the token endpoint's answer (RFC 6749 5.1 and 5.2).
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	IDToken          string `json:"id_token"`
	RefreshToken     string `json:"refresh_token"`
	TokenType        string `json:"token_type"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorHint        string `json:"error_hint"`
}

func formEscape(s string) string { return url.QueryEscape(s) }

// grantType is the grant_type the provider's discovery lists for o.Grant.
func grantType(grant string) string {
	switch grant {
	case plugin.GrantClientCredentials:
		return "client_credentials"
	case plugin.GrantJWTBearer:
		return "urn:ietf:params:oauth:grant-type:jwt-bearer"
	case plugin.GrantRefreshToken:
		return "refresh_token"
	}
	return grant
}

// discover reads the provider's discovery document and checks it.
func (p *provider) discover(ctx context.Context) error {
	u := strings.TrimSuffix(p.o.Issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("--issuer %q: %w", p.o.Issuer, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", tokenrequest.UserAgent())
	resp, err := p.client.Do(req)
	if err != nil {
		return p.explainTransport(u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscovery+1))
	if err != nil {
		return p.explainTransport(u, err)
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("the discovery document %s redirects to %q, which is not followed: --issuer must be the provider's issuer exactly, as the iss of its tokens", u, resp.Header.Get("Location"))
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("the discovery document %s answered %s: --issuer must be the provider's issuer exactly, as the iss of its tokens (Keycloak: https://HOST/realms/REALM; Entra ID: https://login.microsoftonline.com/TENANT/v2.0)",
			u, resp.Status)
	case len(data) > maxDiscovery:
		return fmt.Errorf("the discovery document %s is larger than %d KiB", u, maxDiscovery>>10)
	}
	var m metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("the discovery document %s is not JSON (%v): --issuer must name an OpenID provider", u, err)
	}
	if m.Issuer != p.o.Issuer {
		return fmt.Errorf("the discovery document %s names issuer %q, not --issuer %q: its tokens carry iss %q, and the downstream compares it exactly; use that issuer",
			u, m.Issuer, p.o.Issuer, m.Issuer)
	}
	te, err := url.Parse(m.TokenEndpoint)
	if err != nil || te.Scheme != "https" || te.Host == "" {
		return fmt.Errorf("the discovery document %s names token endpoint %q, which is not an https URL: a secret or token is never sent over plain http", u, m.TokenEndpoint)
	}
	// grant_types_supported is not checked here: providers leave grants
	// out of it that they support (Hydra lists no jwt-bearer); it only
	// explains a refusal.
	p.meta = m
	return nil
}

// basicAuth reports whether the client authenticates with HTTP Basic
// (RFC 6749 2.3.1, which every provider must support), unless the
// provider's discovery lists only client_secret_post.
func (p *provider) basicAuth() bool {
	m := p.meta.TokenAuthMethods
	return len(m) == 0 || slices.Contains(m, "client_secret_basic") || !slices.Contains(m, "client_secret_post")
}

// post sends a token request and returns the provider's answer, or an
// error that quotes the provider's error and says what to fix.
func (p *provider) post(ctx context.Context, f *form, secret, about string) (tokenResponse, error) {
	basic := secret != "" && p.basicAuth()
	switch {
	case secret == "":
		f.set("client_id", p.o.ClientID)
	case !basic:
		f.set("client_id", p.o.ClientID)
		f.set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.meta.TokenEndpoint, strings.NewReader(f.encode()))
	if err != nil {
		return tokenResponse{}, fmt.Errorf("token endpoint %q: %w", p.meta.TokenEndpoint, err)
	}
	if basic {
		// RFC 6749 2.3.1: both form-encoded before Basic.
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(formEscape(p.o.ClientID)+":"+formEscape(secret))))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", tokenrequest.UserAgent())
	resp, err := p.client.Do(req)
	if err != nil {
		return tokenResponse{}, p.explainTransport(p.meta.TokenEndpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return tokenResponse{}, p.explainTransport(p.meta.TokenEndpoint, err)
	}
	if len(data) > maxResponse {
		return tokenResponse{}, fmt.Errorf("the token endpoint %s answered %s with more than %d KiB", p.meta.TokenEndpoint, resp.Status, maxResponse>>10)
	}
	var tr tokenResponse
	jerr := json.Unmarshal(data, &tr)
	if resp.StatusCode == http.StatusOK && jerr == nil && tr.Error == "" {
		return tr, nil
	}
	if jerr != nil || tr.Error == "" {
		return tokenResponse{}, fmt.Errorf("the token endpoint %s answered %s: %s", p.meta.TokenEndpoint, resp.Status, p.quote(string(data)))
	}
	return tokenResponse{}, p.explainError(resp.Status, tr, about)
}

// quote is a piece of the provider's text fit for a one-line message.
func (p *provider) quote(s string) string {
	s = strings.TrimSpace(p.redact(s))
	if len(s) > maxQuoted {
		s = s[:maxQuoted] + "..."
	}
	return s
}

// jtiFix is what to do when the provider refuses an assertion it has seen.
const jtiFix = "the provider has seen this assertion before and takes each one once (its jti): use --assertion-audience, which makes a new assertion for every call, instead of --assertion-file"

// explainError turns the provider's OAuth error into what to do about it.
func (p *provider) explainError(status string, tr tokenResponse, about string) error {
	o := p.o
	said := tr.Error
	if d := strings.TrimSpace(tr.ErrorDescription + " " + tr.ErrorHint); d != "" {
		said += ": " + d
	}
	said = fmt.Sprintf("the provider %s refused %s grant for client %q (%s, %s)", o.Issuer, o.Grant, o.ClientID, status, p.quote(said))
	desc := strings.ToLower(tr.ErrorDescription + " " + tr.ErrorHint)
	var fix string
	switch tr.Error {
	case "invalid_client":
		if o.ClientSecretFile != "" {
			fix = fmt.Sprintf("client %q does not exist there or its secret is not the one in --client-secret-file %q (or the client authenticates another way than HTTP Basic): check the client and the Secret's key", o.ClientID, o.ClientSecretFile)
		} else {
			fix = fmt.Sprintf("client %q does not exist there, or it is not a public client (token endpoint authentication none): give --client-secret-file for a confidential client", o.ClientID)
		}
	case "unauthorized_client":
		fix = fmt.Sprintf("allow grant %s for client %q in the provider (Hydra: grant_types; Keycloak: the client's capability config; Entra ID: the app registration)", grantType(o.Grant), o.ClientID)
	case "invalid_grant":
		switch o.Grant {
		case plugin.GrantRefreshToken:
			fix = fmt.Sprintf("the refresh token in --refresh-token-file %q has expired, was revoked or was already used: log in again and write the new refresh token into the file", o.RefreshTokenFile)
		case plugin.GrantJWTBearer:
			fix = fmt.Sprintf("the provider does not accept %s: register the hub's service-account issuer as trusted for the JWT-bearer grant (its issuer, its public key and the subjects), and make --assertion-audience the audience the provider wants (Hydra: its token endpoint %s)",
				about, p.meta.TokenEndpoint)
			if strings.Contains(desc, "jti") {
				fix = jtiFix
			}
		default:
			fix = "the provider refused the grant"
		}
	case "jti_known":
		fix = jtiFix
	case "invalid_scope":
		fix = fmt.Sprintf("client %q may not ask for scope %q: allow it for the client, or change --scope", o.ClientID, o.Scope)
	case "invalid_request":
		if strings.Contains(desc, "audience") {
			fix = fmt.Sprintf("client %q may not ask for audience %q: add it to the client's allowed audiences (Hydra: audience), or give the provider an audience mapper", o.ClientID, o.Audience)
		}
	case "unsupported_grant_type":
		fix = fmt.Sprintf("the provider does not support %s: pick another --grant", grantType(o.Grant))
		if l := p.meta.GrantTypesSupported; len(l) > 0 {
			fix += " (its discovery lists " + strings.Join(l, ", ") + ")"
		}
	}
	if fix == "" {
		return errors.New(said)
	}
	return errors.New(said + ": " + fix)
}

// explainTransport says why no answer came back.
func (p *provider) explainTransport(u string, err error) error {
	problem, err := tokenrequest.TransportProblem(err)
	switch problem {
	case tokenrequest.ProblemTimeout:
		return fmt.Errorf("the provider did not answer %s within --timeout %v: check that this pod may reach it (egress NetworkPolicy, HTTPS_PROXY)", u, p.o.Timeout)
	case tokenrequest.ProblemVerify:
		ca := "the system roots"
		if p.o.CAFile != "" {
			ca = "--ca-file " + p.o.CAFile
		}
		return fmt.Errorf("cannot verify the provider at %s with %s: %v: give the CA bundle that signed its serving certificate (--ca-file; identityProvider.caFile in the federation config)", u, ca, err)
	case tokenrequest.ProblemNotTLS:
		return fmt.Errorf("the server at %s does not speak TLS (%v): --issuer must be the provider's https URL", u, err)
	}
	return fmt.Errorf("cannot reach the provider at %s: %v", u, p.redact(err.Error()))
}
