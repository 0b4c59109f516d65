package testenv

// Hydra is a real Ory Hydra (scripts/build-hydra.sh, HYDRA_VERSION in
// scripts/versions.env) for tests: an OpenID provider whose ID tokens and
// JWT access tokens a kube-apiserver can verify, and an OAuth 2.0 token
// endpoint that accepts Kubernetes service-account tokens as JWT-bearer
// assertions (RFC 7523).
//
// What Hydra v2.3.0 requires, as the harness and its test found it:
//
//   - The issuer (urls.self.issuer) is used verbatim: the discovery
//     document's issuer and the iss of every token are exactly the string
//     configured, here https://127.0.0.1:PORT with no trailing slash, which is
//     the string a kube-apiserver's AuthenticationConfiguration must name
//     (it compares iss exactly).
//   - Without --dev the issuer must be https and cookies are Secure: both
//     ports serve TLS with a certificate from the harness's CA. serve.tls
//     needs enabled=true besides cert and key: with only the paths set,
//     Hydra serves plain http on both ports (and logs "HTTPS is disabled").
//   - JWT access tokens (strategies.access_token=jwt) carry iss, sub (the
//     client_id for client_credentials, the login subject otherwise),
//     client_id, scp, and aud = the granted audience; a client may only ask
//     for an audience listed in its own audience field (the token request's
//     "audience" parameter, space separated).
//   - A refresh token comes back only when the scope offline_access (or
//     offline) is both allowed to the client and requested (and granted at
//     consent); grant_types must include refresh_token.
//   - ID-token claims come from the consent accept's session.id_token and
//     appear at the top level of the ID token.
//   - The authorization endpoint refuses state and nonce shorter than 8
//     characters, and its CSRF check needs the cookies it set on the first
//     request to come back (a cookie jar, over https).
//   - JWT bearer (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer):
//     the issuer must be trusted through the admin API with its public key
//     as a JWK whose kid equals the assertion's kid header (kube-apiserver:
//     base64url of the SHA-256 of the PKIX DER public key, see KeyIDOf), for
//     one subject or any (allow_any_subject), with the scopes the grant may
//     carry. The assertion's aud must contain Hydra's token URL, and it
//     needs iat and jti (kube-apiserver tokens have both); exp-iat may not
//     exceed oauth2.grant.jwt.max_ttl (720h). A jti is accepted once: a
//     replayed assertion fails with jti_known. A public client
//     (token_endpoint_auth_method none, grant_types [jwt-bearer]) works
//     when the request carries client_id. The access token's sub is the
//     assertion's sub (system:serviceaccount:NS:NAME), and its aud is the
//     assertion's aud: a service-account token requested for the audiences
//     [token URL, X] yields an access token for both.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// HydraConfig configures one Hydra.
type HydraConfig struct {
	// AccessTokenTTL is ttl.access_token; 1h when zero.
	AccessTokenTTL time.Duration
	// Env is added to Hydra's environment (KEY=value), after the harness's
	// own settings, so it can override them.
	Env []string
}

// Hydra is one running `hydra serve all` with an in-memory store, TLS on
// its public and admin ports, and a login/consent endpoint driven by the
// harness (Login).
type Hydra struct {
	// Issuer is the exact iss of Hydra's tokens and its discovery document:
	// https://127.0.0.1:<public port>.
	Issuer string
	// TokenURL and AuthURL are the token and authorization endpoints from
	// the discovery document.
	TokenURL string
	AuthURL  string
	// JWKSURL is jwks_uri from the discovery document.
	JWKSURL string
	// AdminURL is https://127.0.0.1:<admin port>.
	AdminURL string
	// CAPEM is the CA of both ports' serving certificate.
	CAPEM []byte
	// CAFile holds CAPEM.
	CAFile string
	// Dir holds Hydra's files and log (hydra.log).
	Dir string

	proc *process

	mu     sync.Mutex
	claims map[string]map[string]any // ID-token claims by subject, for consent
	// audience to grant by subject (the requested audience when empty)
	audience map[string][]string
}

// StartHydra starts Hydra in dir/hydra and waits until its admin API is
// ready and its public port serves the discovery document.
func StartHydra(tb testing.TB, dir string, cfg HydraConfig) *Hydra {
	tb.Helper()
	bin := Binary(tb, "hydra")
	h := &Hydra{Dir: filepath.Join(dir, "hydra"), claims: map[string]map[string]any{}, audience: map[string][]string{}}
	must(tb, os.MkdirAll(h.Dir, 0o755))

	ca, err := NewCA("hydra-ca")
	must(tb, err)
	h.CAPEM, h.CAFile = ca.CertPEM, filepath.Join(h.Dir, "ca.crt")
	writeFile(tb, h.CAFile, ca.CertPEM, 0o644)
	cert, key, err := ca.Issue("hydra", nil, []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	must(tb, err)
	certFile, keyFile := filepath.Join(h.Dir, "serving.crt"), filepath.Join(h.Dir, "serving.key")
	writeFile(tb, certFile, cert, 0o644)
	writeFile(tb, keyFile, key, 0o600)

	// The login and consent endpoint Hydra redirects the browser to: plain
	// http on loopback, served by this process.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(tb, err)
	loginURL := "http://" + l.Addr().String()
	srv := &http.Server{Handler: h.loginConsentHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	tb.Cleanup(func() { _ = srv.Close() })

	public, admin := FreePort(tb), FreePort(tb)
	h.Issuer = "https://127.0.0.1:" + strconv.Itoa(public)
	h.AdminURL = "https://127.0.0.1:" + strconv.Itoa(admin)
	ttl := cfg.AccessTokenTTL
	if ttl == 0 {
		ttl = time.Hour
	}
	secret := make([]byte, 24)
	_, err = rand.Read(secret)
	must(tb, err)

	env := append(os.Environ(),
		"DSN=memory",
		"SECRETS_SYSTEM="+hex.EncodeToString(secret),
		"SERVE_PUBLIC_HOST=127.0.0.1",
		"SERVE_PUBLIC_PORT="+strconv.Itoa(public),
		"SERVE_ADMIN_HOST=127.0.0.1",
		"SERVE_ADMIN_PORT="+strconv.Itoa(admin),
		"SERVE_TLS_ENABLED=true",
		"SERVE_TLS_CERT_PATH="+certFile,
		"SERVE_TLS_KEY_PATH="+keyFile,
		"URLS_SELF_ISSUER="+h.Issuer,
		"URLS_SELF_PUBLIC="+h.Issuer,
		"URLS_SELF_ADMIN="+h.AdminURL,
		"URLS_LOGIN="+loginURL+"/login",
		"URLS_CONSENT="+loginURL+"/consent",
		"URLS_ERROR="+loginURL+"/error",
		"STRATEGIES_ACCESS_TOKEN=jwt",
		"TTL_ACCESS_TOKEN="+ttl.String(),
		"OAUTH2_EXPOSE_INTERNAL_ERRORS=true",
		"LOG_LEAK_SENSITIVE_VALUES=true",
		"SQA_OPT_OUT=true",
	)
	env = append(env, cfg.Env...)
	h.proc = startProcessEnv(tb, "hydra", filepath.Join(h.Dir, "hydra.log"), env, bin, "serve", "all")
	h.proc.waitReady(tb, startTimeout(), func(ctx context.Context) error {
		if _, err := h.admin(ctx, http.MethodGet, "/health/ready", nil); err != nil {
			return err
		}
		var disc struct {
			Issuer  string `json:"issuer"`
			Token   string `json:"token_endpoint"`
			Auth    string `json:"authorization_endpoint"`
			JWKSURI string `json:"jwks_uri"`
		}
		b, err := h.get(ctx, h.Issuer+"/.well-known/openid-configuration")
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &disc); err != nil {
			return fmt.Errorf("discovery: %w", err)
		}
		h.TokenURL, h.AuthURL, h.JWKSURL = disc.Token, disc.Auth, disc.JWKSURI
		return nil
	})
	return h
}

// Log is the path of Hydra's log.
func (h *Hydra) Log() string { return h.proc.log }

// HTTPClient trusts Hydra's CA.
func (h *Hydra) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.CAPEM)
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
}

func (h *Hydra) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return do(h.HTTPClient(), req)
}

// admin sends a request with a JSON body (nil for none) to the admin API.
func (h *Hydra) admin(ctx context.Context, method, path string, body any) ([]byte, error) {
	return doJSON(ctx, h.HTTPClient(), method, h.AdminURL+path, body)
}

// do returns the response body; a status >= 300 is an error carrying it.
func do(c *http.Client, req *http.Request) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return b, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Redacted(), resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// HydraClient is an OAuth 2.0 client as Hydra's admin API takes and returns
// it.
type HydraClient struct {
	ClientID      string   `json:"client_id,omitempty"`
	ClientSecret  string   `json:"client_secret,omitempty"`
	GrantTypes    []string `json:"grant_types,omitempty"`
	ResponseTypes []string `json:"response_types,omitempty"`
	// Scope is space separated.
	Scope        string   `json:"scope,omitempty"`
	Audience     []string `json:"audience,omitempty"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// TokenEndpointAuthMethod is client_secret_post, client_secret_basic
	// (Hydra's default) or none (a public client).
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// AccessTokenStrategy is jwt or opaque; the server's (jwt) when empty.
	AccessTokenStrategy string `json:"access_token_strategy,omitempty"`
}

// CreateClient registers a client (POST /admin/clients) and returns what
// Hydra stored, with the secret given (Hydra generates one when it is empty
// and the client is not public).
func (h *Hydra) CreateClient(ctx context.Context, c HydraClient) (HydraClient, error) {
	b, err := h.admin(ctx, http.MethodPost, "/admin/clients", c)
	if err != nil {
		return HydraClient{}, fmt.Errorf("create client %s: %w", c.ClientID, err)
	}
	var got HydraClient
	if err := json.Unmarshal(b, &got); err != nil {
		return HydraClient{}, fmt.Errorf("create client %s: %w: %s", c.ClientID, err, b)
	}
	if c.ClientSecret != "" {
		got.ClientSecret = c.ClientSecret
	}
	return got, nil
}

// TrustJWTBearerIssuer lets tokens of issuer, signed with the key jwk, be
// exchanged at the token endpoint with the JWT-bearer grant (POST
// /admin/trust/grants/jwt-bearer/issuers): for subject, or any subject when
// subject is empty, granting at most scopes, until expiresAt.
func (h *Hydra) TrustJWTBearerIssuer(ctx context.Context, issuer, subject string, scopes []string, jwk json.RawMessage, expiresAt time.Time) error {
	if scopes == nil {
		scopes = []string{}
	}
	_, err := h.admin(ctx, http.MethodPost, "/admin/trust/grants/jwt-bearer/issuers", map[string]any{
		"issuer":            issuer,
		"subject":           subject,
		"allow_any_subject": subject == "",
		"scope":             scopes,
		"jwk":               jwk,
		"expires_at":        expiresAt.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return fmt.Errorf("trust JWT-bearer issuer %s: %w", issuer, err)
	}
	return nil
}

// KeyIDOf is the key id kube-apiserver puts in the kid header of the tokens
// it signs with the key whose public key this is: the unpadded base64url
// SHA-256 of its PKIX DER encoding.
func KeyIDOf(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// JWKFromRSAPublicKeyPEM is the RSA public key in pemBytes (PKIX "PUBLIC
// KEY" or PKCS#1 "RSA PUBLIC KEY") as a JWK for RS256 signatures, with key
// id kid; when kid is empty, the one kube-apiserver gives it (KeyIDOf).
func JWKFromRSAPublicKeyPEM(pemBytes []byte, kid string) (json.RawMessage, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		var ok bool
		if pub, ok = k.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("not an RSA public key: %T", k)
		}
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		pub = k
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if kid == "" {
		var err error
		if kid, err = KeyIDOf(pub); err != nil {
			return nil, err
		}
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return json.Marshal(map[string]string{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": kid,
		"n":   b64(pub.N.Bytes()),
		"e":   b64(big.NewInt(int64(pub.E)).Bytes()),
	})
}

// TokenResponse is a token endpoint's answer.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
}

// Token posts form to the token endpoint, authenticating as clientID with
// clientSecret by HTTP basic auth when clientSecret is set (form carries the
// credentials otherwise: client_secret_post, or client_id of a public
// client).
func (h *Hydra) Token(ctx context.Context, form url.Values, clientID, clientSecret string) (TokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return TokenResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if clientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	}
	b, err := do(h.HTTPClient(), req)
	if err != nil {
		return TokenResponse{}, fmt.Errorf("token (%s): %w", form.Get("grant_type"), err)
	}
	var tr TokenResponse
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return TokenResponse{}, fmt.Errorf("token (%s): no access_token in %s", form.Get("grant_type"), b)
	}
	return tr, nil
}

// LoginRequest is one authorization-code login of a user.
type LoginRequest struct {
	ClientID     string
	ClientSecret string
	// ClientSecretPost sends the secret in the form (client_secret_post)
	// instead of basic auth (client_secret_basic).
	ClientSecretPost bool
	// RedirectURI is one of the client's redirect_uris; nothing is served
	// there: the login stops at the redirect that carries the code.
	RedirectURI string
	Scopes      []string
	// Audience, when set, is requested for the access token (and granted).
	Audience []string
	// Subject is the user the login accepts.
	Subject string
	// IDTokenClaims are added to the ID token (e.g. email, groups).
	IDTokenClaims map[string]any
}

// Login runs the authorization-code flow as a browser would, with the
// harness's login and consent endpoint accepting Subject and granting the
// requested scopes and audience, then exchanges the code.
func (h *Hydra) Login(ctx context.Context, lr LoginRequest) (TokenResponse, error) {
	if lr.Subject == "" {
		return TokenResponse{}, errors.New("login: no subject")
	}
	h.mu.Lock()
	h.claims[lr.Subject] = lr.IDTokenClaims
	h.audience[lr.Subject] = lr.Audience
	h.mu.Unlock()

	state, nonce := randomString(), randomString()
	q := url.Values{
		"client_id":     {lr.ClientID},
		"response_type": {"code"},
		"redirect_uri":  {lr.RedirectURI},
		"scope":         {strings.Join(lr.Scopes, " ")},
		"state":         {state},
		"nonce":         {nonce},
		// The harness's login endpoint accepts the subject of the hint.
		"login_hint": {lr.Subject},
	}
	if len(lr.Audience) > 0 {
		q.Set("audience", strings.Join(lr.Audience, " "))
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return TokenResponse{}, err
	}
	browser := h.HTTPClient()
	browser.Jar = jar
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	next := h.AuthURL + "?" + q.Encode()
	var code string
	for i := 0; code == ""; i++ {
		if i == 10 {
			return TokenResponse{}, fmt.Errorf("login: still redirected after %d requests (at %s)", i, next)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return TokenResponse{}, err
		}
		resp, err := browser.Do(req)
		if err != nil {
			return TokenResponse{}, fmt.Errorf("login: %w", err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return TokenResponse{}, fmt.Errorf("login: GET %s: %s: %s", req.URL.Redacted(), resp.Status, bytes.TrimSpace(body))
		}
		loc, err := resp.Location()
		if err != nil {
			return TokenResponse{}, fmt.Errorf("login: %s redirect without Location: %w", resp.Status, err)
		}
		next = loc.String()
		if strings.HasPrefix(next, lr.RedirectURI) {
			p := loc.Query()
			if e := p.Get("error"); e != "" {
				return TokenResponse{}, fmt.Errorf("login: %s: %s (%s)", e, p.Get("error_description"), p.Get("error_hint"))
			}
			if p.Get("state") != state {
				return TokenResponse{}, fmt.Errorf("login: state %q, want %q", p.Get("state"), state)
			}
			if code = p.Get("code"); code == "" {
				return TokenResponse{}, fmt.Errorf("login: no code in %s", next)
			}
		}
	}

	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {lr.RedirectURI},
		"client_id":    {lr.ClientID},
	}
	secret := lr.ClientSecret
	if lr.ClientSecretPost {
		form.Set("client_secret", lr.ClientSecret)
		secret = ""
	}
	return h.Token(ctx, form, lr.ClientID, secret)
}

// loginConsentHandler is Hydra's login and consent UI: it accepts every
// login as the subject in the authorization request's login_hint (Login
// sets it), and every consent, granting the requested scopes and audience
// and the ID-token claims Login registered for the subject.
func (h *Hydra) loginConsentHandler() http.Handler {
	mux := http.NewServeMux()
	redirect := func(w http.ResponseWriter, r *http.Request, b []byte, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var to struct {
			RedirectTo string `json:"redirect_to"`
		}
		if err := json.Unmarshal(b, &to); err != nil || to.RedirectTo == "" {
			http.Error(w, fmt.Sprintf("no redirect_to in %s", b), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, to.RedirectTo, http.StatusFound)
	}
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("login_challenge")
		b, err := h.admin(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/login?login_challenge="+url.QueryEscape(challenge), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var lr struct {
			RequestURL string `json:"request_url"`
		}
		if err := json.Unmarshal(b, &lr); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		subject := ""
		if u, err := url.Parse(lr.RequestURL); err == nil {
			subject = u.Query().Get("login_hint")
		}
		if subject == "" {
			http.Error(w, "login: no login_hint in "+lr.RequestURL, http.StatusBadRequest)
			return
		}
		b, err = h.admin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(challenge),
			map[string]any{"subject": subject, "remember": false})
		redirect(w, r, b, err)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("consent_challenge")
		b, err := h.admin(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/consent?consent_challenge="+url.QueryEscape(challenge), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var cr struct {
			Subject           string   `json:"subject"`
			RequestedScope    []string `json:"requested_scope"`
			RequestedAudience []string `json:"requested_access_token_audience"`
		}
		if err := json.Unmarshal(b, &cr); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		h.mu.Lock()
		claims, audience := h.claims[cr.Subject], h.audience[cr.Subject]
		h.mu.Unlock()
		if claims == nil {
			claims = map[string]any{}
		}
		if len(audience) == 0 {
			audience = cr.RequestedAudience
		}
		if cr.RequestedScope == nil {
			cr.RequestedScope = []string{}
		}
		if audience == nil {
			audience = []string{}
		}
		b, err = h.admin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/consent/accept?consent_challenge="+url.QueryEscape(challenge), map[string]any{
			"grant_scope":                 cr.RequestedScope,
			"grant_access_token_audience": audience,
			"remember":                    false,
			"session":                     map[string]any{"id_token": claims},
		})
		redirect(w, r, b, err)
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		http.Error(w, fmt.Sprintf("hydra error: %s: %s (%s)", q.Get("error"), q.Get("error_description"), q.Get("error_hint")), http.StatusBadRequest)
	})
	return mux
}

// randomString is 32 hex characters: state and nonce must have 8 at least.
func randomString() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}
