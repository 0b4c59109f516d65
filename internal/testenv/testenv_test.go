package testenv

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestIntegrationControlPlane checks the harness itself: a real API server
// with its own issuer, discovery readable anonymously, tokens minted.
func TestIntegrationControlPlane(t *testing.T) {
	dir := Dir(t)
	etcd := StartEtcd(t, dir)
	up := StartAPIServer(t, dir, etcd, APIServerConfig{Name: "up"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := up.AllowAnonymousDiscovery(ctx); err != nil {
		t.Fatal(err)
	}

	// Anonymous, as a downstream API server fetches it.
	client := up.HTTPClient()
	client.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
	resp, err := client.Get(up.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("anonymous discovery: %s: %s", resp.Status, body)
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &disc); err != nil {
		t.Fatal(err)
	}
	if disc.Issuer != up.URL || !strings.HasPrefix(disc.JWKSURI, up.URL) {
		t.Errorf("discovery = %+v, want issuer %s", disc, up.URL)
	}

	if err := up.CreateServiceAccount(ctx, "argocd", "argocd-application-controller"); err != nil {
		t.Fatal(err)
	}
	tok, err := up.RequestToken(ctx, "argocd", "argocd-application-controller", "down", 600)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok, ".") != 2 {
		t.Errorf("not a JWT: %d bytes", len(tok))
	}

	// The built-in roles downstream RBAC binds to are aggregated by the
	// controller manager, as in a real cluster.
	up.StartControllerManager()
}
