package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// jwtClaims decodes a JWT's payload, unverified.
func jwtClaims(t *testing.T, what, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%s is not a JWT (%d parts)", what, len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("%s payload: %v", what, err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s payload: %v", what, err)
	}
	return c
}

// audiences is a JWT's aud as a list (a string or a list of strings).
func audiences(c map[string]any) []string {
	switch a := c["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var s []string
		for _, v := range a {
			if str, ok := v.(string); ok {
				s = append(s, str)
			}
		}
		return s
	}
	return nil
}

// TestIntegrationHydra checks the Hydra harness: discovery, a JWT access
// token for client credentials, an authorization-code login with ID-token
// claims and a refresh token, and a Kubernetes service-account token
// exchanged with the JWT-bearer grant.
func TestIntegrationHydra(t *testing.T) {
	dir := Dir(t)
	h := StartHydra(t, dir, HydraConfig{AccessTokenTTL: 10 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Discovery: the issuer is exactly the string a kube-apiserver is given.
	resp, err := h.HTTPClient().Get(h.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var disc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(body, &disc); err != nil {
		t.Fatalf("discovery: %v: %s", err, body)
	}
	if disc.Issuer != h.Issuer {
		t.Fatalf("discovery issuer %q, want %q", disc.Issuer, h.Issuer)
	}
	if !strings.HasPrefix(h.TokenURL, h.Issuer+"/") || !strings.HasPrefix(h.AuthURL, h.Issuer+"/") {
		t.Errorf("token URL %s, auth URL %s: not under %s", h.TokenURL, h.AuthURL, h.Issuer)
	}

	t.Run("client credentials", func(t *testing.T) {
		c, err := h.CreateClient(ctx, HydraClient{
			ClientID: "robot", ClientSecret: "robot-secret-0123456789",
			GrantTypes: []string{"client_credentials"}, Audience: []string{"downstream"},
			TokenEndpointAuthMethod: "client_secret_post",
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		tr, err := h.Token(ctx, url.Values{
			"grant_type": {"client_credentials"}, "audience": {"downstream"},
			"client_id": {c.ClientID}, "client_secret": {c.ClientSecret},
		}, c.ClientID, "")
		if err != nil {
			t.Fatal(err)
		}
		claims := jwtClaims(t, "access token", tr.AccessToken)
		t.Logf("client-credentials access token: %v", claims)
		if claims["iss"] != h.Issuer || claims["sub"] != "robot" || !slices.Equal(audiences(claims), []string{"downstream"}) {
			t.Errorf("access token claims %v: want iss %s, sub robot, aud [downstream]", claims, h.Issuer)
		}
		exp, _ := claims["exp"].(float64)
		if d := time.Unix(int64(exp), 0).Sub(start); d < 9*time.Minute || d > 11*time.Minute {
			t.Errorf("access token expires in %v, want 10m (TTL)", d)
		}
	})

	t.Run("authorization code", func(t *testing.T) {
		const redirect = "http://127.0.0.1:5555/callback"
		c, err := h.CreateClient(ctx, HydraClient{
			ClientID: "argocd", ClientSecret: "argocd-secret-0123456789",
			GrantTypes:    []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"},
			Scope:         "openid offline_access email groups",
			Audience:      []string{"downstream"},
			RedirectURIs:  []string{redirect},
		})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := h.Login(ctx, LoginRequest{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURI: redirect,
			Scopes:        []string{"openid", "offline_access", "email", "groups"},
			Audience:      []string{"downstream"},
			Subject:       "alice",
			IDTokenClaims: map[string]any{"email": "alice@example.com", "groups": []string{"platform"}},
		})
		if err != nil {
			t.Fatalf("%v; Hydra log %s:\n%s", err, h.Log(), tailFile(h.Log(), 20))
		}
		if tr.RefreshToken == "" || tr.IDToken == "" || tr.ExpiresIn <= 0 || !strings.EqualFold(tr.TokenType, "bearer") {
			t.Fatalf("token response %+v: want an ID token, a refresh token, a bearer token that expires", tr)
		}
		id := jwtClaims(t, "ID token", tr.IDToken)
		t.Logf("ID token: %v", id)
		groups, _ := id["groups"].([]any)
		if id["iss"] != h.Issuer || id["sub"] != "alice" || id["email"] != "alice@example.com" ||
			len(groups) != 1 || groups[0] != "platform" || !slices.Contains(audiences(id), "argocd") {
			t.Errorf("ID token claims %v: want iss %s, sub alice, aud argocd, email and groups", id, h.Issuer)
		}
		at := jwtClaims(t, "access token", tr.AccessToken)
		t.Logf("authorization-code access token: %v", at)
		if at["iss"] != h.Issuer || at["sub"] != "alice" || !slices.Contains(audiences(at), "downstream") {
			t.Errorf("access token claims %v: want iss %s, sub alice, aud downstream", at, h.Issuer)
		}
	})

	t.Run("JWT bearer", func(t *testing.T) {
		etcd := StartEtcd(t, dir)
		up := StartAPIServer(t, dir, etcd, APIServerConfig{Name: "up"})
		const ns, sa = "argocd", "argocd-application-controller"
		subject := "system:serviceaccount:" + ns + ":" + sa
		if err := up.CreateServiceAccount(ctx, ns, sa); err != nil {
			t.Fatal(err)
		}
		jwk, err := JWKFromRSAPublicKeyPEM(up.ServiceAccountPublicKeyPEM(), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.TrustJWTBearerIssuer(ctx, up.URL, subject, nil, jwk, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		const grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
		if _, err := h.CreateClient(ctx, HydraClient{
			ClientID: "federate", GrantTypes: []string{grant}, TokenEndpointAuthMethod: "none",
		}); err != nil {
			t.Fatal(err)
		}
		assertion, err := up.RequestToken(ctx, ns, sa, h.TokenURL, 600)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {grant}, "assertion": {assertion}, "client_id": {"federate"}}
		tr, err := h.Token(ctx, form, "federate", "")
		if err != nil {
			t.Fatalf("%v; Hydra log %s:\n%s", err, h.Log(), tailFile(h.Log(), 20))
		}
		claims := jwtClaims(t, "access token", tr.AccessToken)
		t.Logf("JWT-bearer access token: %v", claims)
		if claims["iss"] != h.Issuer || claims["sub"] != subject {
			t.Errorf("access token claims %v: want iss %s, sub %s", claims, h.Issuer, subject)
		}
		// An assertion is good once.
		_, err = h.Token(ctx, form, "federate", "")
		t.Logf("reused assertion: %v", err)
		if err == nil || !strings.Contains(err.Error(), "jti") {
			t.Errorf("reused assertion: err = %v, want a refusal naming the jti", err)
		}

		// The access token's aud is the assertion's: a token for the token
		// URL and a downstream audience yields an access token for both.
		assertion, err = up.requestToken(ctx, ns, sa, map[string]any{"audiences": []string{h.TokenURL, "downstream"}, "expirationSeconds": 600})
		if err != nil {
			t.Fatal(err)
		}
		form.Set("assertion", assertion)
		tr, err = h.Token(ctx, form, "federate", "")
		if err != nil {
			t.Fatal(err)
		}
		if aud := audiences(jwtClaims(t, "access token", tr.AccessToken)); !slices.Equal(aud, []string{h.TokenURL, "downstream"}) {
			t.Errorf("access token aud %v, want [%s downstream] (the assertion's)", aud, h.TokenURL)
		}
	})
}
