package discovery_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery/discoverytest"
)

const (
	issuerURL = "https://hub.internal:6443"
	baseURL   = "https://storage.example.com/oidc/hub"
)

// live is a snapshot of issuer as the API server serves it.
func live(t *testing.T, iss *discoverytest.Issuer) *discovery.Snapshot {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, ".well-known", "openid-configuration"), iss.Document(iss.URL+"/openid/v1/jwks"))
	write(t, filepath.Join(dir, "openid", "v1", "jwks"), iss.JWKS())
	s, err := discovery.FetchLive(context.Background(), discovery.DirSource{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseDocument(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"kube-apiserver's", `{"issuer":"https://a","jwks_uri":"https://a/openid/v1/jwks","response_types_supported":["id_token"]}`, ""},
		{"empty", ``, "not an OIDC discovery document: it is empty"},
		{"array", `[]`, "it is not a JSON object"},
		{"html", `<html>`, "it is not a JSON object"},
		{"no issuer", `{"jwks_uri":"https://a/k"}`, "issuer is missing"},
		{"both missing", `{}`, "issuer is missing, jwks_uri is missing"},
		{"issuer not a string", `{"issuer":1,"jwks_uri":"https://a/k"}`, "issuer is not a non-empty string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := discovery.ParseDocument([]byte(tt.in))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseKeySet(t *testing.T) {
	iss := discoverytest.NewIssuer(t, issuerURL)
	iss.AddECKey(t)
	set, err := discovery.ParseKeySet(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{iss.Keys[0].ID, iss.Keys[1].ID}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if diff := cmp.Diff(want, set.IDs()); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
	for _, in := range []string{`{"keys":{}}`, `{}`, `{"keys":[{"kid":"a"}]}`, `{"keys":[1]}`} {
		if _, err := discovery.ParseKeySet([]byte(in)); err == nil || !strings.HasPrefix(err.Error(), "not a JSON Web Key Set") {
			t.Errorf("ParseKeySet(%s) = %v, want an error", in, err)
		}
	}
}

func TestVerify(t *testing.T) {
	iss := discoverytest.NewIssuer(t, issuerURL)
	rsaKey := iss.Keys[0]
	ecKey := iss.AddECKey(t)
	set, err := discovery.ParseKeySet(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": issuerURL, "exp": time.Now().Add(time.Hour).Unix()}
	for _, k := range []*discoverytest.Key{rsaKey, ecKey} {
		tok := iss.Sign(t, k, claims)
		if err := discovery.VerifyWith(set, tok); err != nil {
			t.Errorf("%s: %v", k.ID, err)
		}
		tampered := tok[:len(tok)-4] + "AAAA"
		if err := discovery.VerifyWith(set, tampered); err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("%s tampered: %v, want a signature error", k.ID, err)
		}
	}
	other := discoverytest.NewIssuer(t, issuerURL)
	err = discovery.VerifyWith(set, other.Token(t, "argocd", "x", "down", time.Now(), time.Hour))
	var missing *discovery.MissingKeyError
	if !errors.As(err, &missing) || missing.KeyID != other.Keys[0].ID {
		t.Errorf("foreign key: %v, want a MissingKeyError for %s", err, other.Keys[0].ID)
	}
}

func TestPublish(t *testing.T) {
	iss := discoverytest.NewIssuer(t, issuerURL)
	snap := live(t, iss)
	pub, err := discovery.Publish(snap, discovery.PublishOptions{BaseURL: baseURL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Setup != discovery.SetupDiscoveryURL || pub.BaseURL != baseURL {
		t.Errorf("setup %v, base %q", pub.Setup, pub.BaseURL)
	}
	var paths, urls []string
	for _, f := range pub.Files {
		paths, urls = append(paths, f.Path), append(urls, pub.URL(f))
	}
	if diff := cmp.Diff([]string{"openid/v1/jwks", ".well-known/openid-configuration"}, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{baseURL + "/openid/v1/jwks", baseURL + "/.well-known/openid-configuration"}, urls); diff != "" {
		t.Errorf("URLs (-want +got):\n%s", diff)
	}
	if string(pub.Files[0].Content) != string(iss.JWKS()) {
		t.Errorf("the keys are not published unchanged")
	}
	var doc, orig map[string]any
	if err := json.Unmarshal(pub.Files[1].Content, &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(iss.Document(""), &orig); err != nil {
		t.Fatal(err)
	}
	orig["jwks_uri"] = baseURL + "/openid/v1/jwks"
	if diff := cmp.Diff(orig, doc); diff != "" {
		t.Errorf("document: only jwks_uri may change (-want +got):\n%s", diff)
	}
	wantSnippet := "upstream:\n  issuer: " + issuerURL + "\n  discoveryURL: " + baseURL + "/.well-known/openid-configuration\n"
	if got := pub.ConfigSnippet(); !strings.HasPrefix(got, wantSnippet) {
		t.Errorf("snippet:\n%s\nwant it to start with\n%s", got, wantSnippet)
	}

	// The issuer moved to the public URL: no discoveryURL.
	public := discoverytest.NewIssuer(t, baseURL)
	pub, err = discovery.Publish(live(t, public), discovery.PublishOptions{BaseURL: baseURL})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Setup != discovery.SetupIssuerURL || !strings.Contains(pub.ConfigSnippet(), "  issuer: "+baseURL+"\n  # no discoveryURL\n") {
		t.Errorf("setup %v, snippet:\n%s", pub.Setup, pub.ConfigSnippet())
	}
}

func TestPublishRefuses(t *testing.T) {
	iss := discoverytest.NewIssuer(t, issuerURL)
	now := time.Now()
	fed := func(issuer, discoveryURL string) *config.Federation {
		return &config.Federation{Source: "federation.yaml", Upstream: config.Upstream{Issuer: issuer, DiscoveryURL: discoveryURL}}
	}
	tests := []struct {
		name   string
		issuer *discoverytest.Issuer
		opts   discovery.PublishOptions
		want   []string
	}{
		{"http base URL", iss, discovery.PublishOptions{BaseURL: "http://bucket/x"}, []string{"--base-url: \"http://bucket/x\" uses http"}},
		{"default issuer", discoverytest.NewIssuer(t, config.DefaultIssuer), discovery.PublishOptions{BaseURL: baseURL},
			[]string{"the upstream's issuer is the default https://kubernetes.default.svc.cluster.local", "--service-account-issuer=" + baseURL}},
		{"token of another issuer", iss, discovery.PublishOptions{BaseURL: baseURL, TokenSource: "token",
			Token: discoverytest.NewIssuer(t, "https://other").Token(t, "argocd", "c", "down", now, time.Hour)},
			[]string{`token token has iss "https://other" but the upstream's discovery says issuer "` + issuerURL + `"`, "signed with key"}},
		{"config issuer differs", iss, discovery.PublishOptions{BaseURL: baseURL, Config: fed("https://old", baseURL+discovery.DocumentPath)},
			[]string{`federation.yaml: upstream.issuer is "https://old" but the upstream issues tokens with iss "` + issuerURL + `"`}},
		{"config lacks discoveryURL", iss, discovery.PublishOptions{BaseURL: baseURL, Config: fed(issuerURL, "")},
			[]string{"upstream.discoveryURL is missing", "set upstream.discoveryURL: " + baseURL + "/.well-known/openid-configuration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := discovery.Publish(live(t, tt.issuer), tt.opts)
			if err == nil {
				t.Fatalf("published %+v", pub)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	// A config and a token that agree.
	tok := iss.Token(t, "argocd", "c", "down", now, time.Hour)
	if _, err := discovery.Publish(live(t, iss), discovery.PublishOptions{BaseURL: baseURL, Token: tok, Config: fed(issuerURL, baseURL+discovery.DocumentPath)}); err != nil {
		t.Errorf("consistent inputs refused: %v", err)
	}
}

func TestCompare(t *testing.T) {
	iss := discoverytest.NewIssuer(t, issuerURL)
	published := func(iss *discoverytest.Issuer) *discovery.Snapshot {
		doc, _ := discovery.ParseDocument(iss.Document(baseURL + discovery.KeysPath))
		keys, _ := discovery.ParseKeySet(iss.JWKS())
		return &discovery.Snapshot{DocumentURL: baseURL + discovery.DocumentPath, KeysURL: baseURL + discovery.KeysPath, Document: doc, Keys: keys}
	}
	c := discovery.Compare(live(t, iss), published(iss), baseURL)
	if !c.InSync || len(c.Problems)+len(c.Warnings) != 0 {
		t.Errorf("same keys: %+v", c)
	}

	old := published(iss)
	oldKID := iss.Keys[0].ID
	newKID := iss.Rotate(t).ID
	c = discovery.Compare(live(t, iss), old, baseURL)
	if c.InSync || !cmp.Equal(c.MissingKeyIDs, []string{newKID}) || !cmp.Equal(c.ExtraKeyIDs, []string{oldKID}) {
		t.Errorf("after rotation: %+v", c)
	}
	if len(c.Problems) != 1 || !strings.Contains(c.Problems[0], "lacks 1 live signing key(s) of the upstream: "+newKID) {
		t.Errorf("problems: %q", c.Problems)
	}

	moved := discoverytest.NewIssuer(t, "https://elsewhere")
	moved.Keys = iss.Keys
	c = discovery.Compare(live(t, iss), published(moved), baseURL)
	if c.InSync || len(c.Problems) != 1 || !strings.Contains(c.Problems[0], `the published document says issuer "https://elsewhere"`) {
		t.Errorf("other issuer: %+v", c)
	}
}

func TestFetchPublished(t *testing.T) {
	iss := discoverytest.NewIssuer(t, issuerURL)
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	mux.HandleFunc("/hub/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Write(iss.Document(srv.URL + "/hub/openid/v1/jwks"))
	})
	mux.HandleFunc("/hub/openid/v1/jwks", func(w http.ResponseWriter, _ *http.Request) { w.Write(iss.JWKS()) })

	ctx := context.Background()
	s, err := discovery.FetchPublished(ctx, srv.Client(), srv.URL+"/hub/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	if s.Document.Issuer != issuerURL || len(s.Keys.Keys) != 1 || s.KeysURL != srv.URL+"/hub/openid/v1/jwks" {
		t.Errorf("snapshot %+v", s)
	}
	_, err = discovery.FetchPublished(ctx, srv.Client(), srv.URL+"/nothing/.well-known/openid-configuration")
	var herr *discovery.HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != http.StatusNotFound {
		t.Errorf("missing document: %v", err)
	}
	client, err := discovery.HTTPClient(nil) // system roots: the test CA is not among them
	if err != nil {
		t.Fatal(err)
	}
	if _, err := discovery.FetchPublished(ctx, client, srv.URL+"/hub/.well-known/openid-configuration"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
}

// TestDiscoveryDowngradeRefused: neither discovery nor its keys are read in
// clear, and a published jwks_uri that is not https makes the copy fail.
func TestDiscoveryDowngradeRefused(t *testing.T) {
	iss := discoverytest.NewIssuer(t, issuerURL)
	// plain is the http server the downgrades lead to: nothing may reach it.
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		plainHits.Add(1)
		w.Write(iss.JWKS())
	}))
	defer plain.Close()
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	serve := func(prefix, jwksURI string) {
		mux.HandleFunc(prefix+discovery.DocumentPath, func(w http.ResponseWriter, _ *http.Request) { w.Write(iss.Document(jwksURI)) })
		mux.HandleFunc(prefix+discovery.KeysPath, func(w http.ResponseWriter, _ *http.Request) { w.Write(iss.JWKS()) })
	}
	redirect := func(path, to string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
	}
	serve("/ok", srv.URL+"/ok"+discovery.KeysPath)
	redirect("/moved"+discovery.DocumentPath, srv.URL+"/ok"+discovery.DocumentPath)
	redirect("/doc-to-http"+discovery.DocumentPath, plain.URL+discovery.DocumentPath)
	mux.HandleFunc("/keys-to-http"+discovery.DocumentPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Write(iss.Document(srv.URL + "/keys-to-http" + discovery.KeysPath))
	})
	redirect("/keys-to-http"+discovery.KeysPath, plain.URL+discovery.KeysPath)
	serve("/http-jwks", plain.URL+discovery.KeysPath)
	redirect("/live-to-http"+discovery.DocumentPath, plain.URL+discovery.DocumentPath)

	client, err := discovery.HTTPClient(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Redirects to https are still followed.
	if s, err := discovery.FetchPublished(ctx, client, srv.URL+"/moved"+discovery.DocumentPath); err != nil || len(s.Keys.Keys) != 1 {
		t.Fatalf("https redirect: %v", err)
	}

	redirectFix := "make " + strings.TrimPrefix(srv.URL, "https://") + " answer over https, without redirecting to http"
	tests := []struct {
		name string
		// prefix is where the document is read; live reads it as
		// FetchLive does, otherwise as a downstream does.
		prefix string
		live   bool
		// want are in the error, or, for a jwks_uri that is not https, in
		// the comparison's problem, text and Err.
		want []string
	}{
		{"document redirected to http", "/doc-to-http", false, []string{
			srv.URL + "/doc-to-http" + discovery.DocumentPath + " redirects to " + plain.URL + discovery.DocumentPath + ", which is not https", redirectFix}},
		{"keys redirected to http", "/keys-to-http", false, []string{
			srv.URL + "/keys-to-http" + discovery.KeysPath + " redirects to " + plain.URL + discovery.KeysPath + ", which is not https", redirectFix}},
		{"live discovery redirected to http", "/live-to-http", true, []string{
			srv.URL + "/live-to-http" + discovery.DocumentPath + " redirects to " + plain.URL + discovery.DocumentPath + ", which is not https", redirectFix}},
		{"jwks_uri is http", "/http-jwks", false, []string{
			srv.URL + "/http-jwks" + discovery.DocumentPath + " names jwks_uri " + plain.URL + discovery.KeysPath + ", which is not https",
			"Publish again: publish writes jwks_uri " + baseURL + discovery.KeysPath,
			"fix: argocd-k8s-federate discovery publish --base-url " + baseURL,
			"the discovery published at " + baseURL + " names its keys at " + plain.URL + discovery.KeysPath + ", which is not https: publish it again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if tt.live {
				_, err := discovery.FetchLive(ctx, discovery.HTTPSource{Client: client, BaseURL: srv.URL + tt.prefix})
				var rerr *discovery.InsecureRedirectError
				if !errors.As(err, &rerr) {
					t.Fatalf("err = %v, want an InsecureRedirectError", err)
				}
				got = err.Error()
			} else {
				s, err := discovery.FetchPublished(ctx, client, srv.URL+tt.prefix+discovery.DocumentPath)
				var rerr *discovery.InsecureRedirectError
				var jerr *discovery.InsecureJWKSURIError
				switch {
				case errors.As(err, &rerr):
					got = err.Error()
				case errors.As(err, &jerr):
					if s == nil || s.Keys != nil {
						t.Fatalf("snapshot %+v: want the document without keys", s)
					}
					c := discovery.Compare(live(t, iss), s, baseURL)
					if c.InSync || len(c.Problems) != 1 || len(c.PublishedKeyIDs)+len(c.MissingKeyIDs) != 0 {
						t.Errorf("comparison %+v: want one problem and no key verdicts", c)
					}
					var b strings.Builder
					if err := c.WriteText(&b); err != nil {
						t.Fatal(err)
					}
					got = strings.Join(c.Problems, "\n") + "\n" + b.String() + c.Err().Error()
				default:
					t.Fatalf("err = %v, want an InsecureRedirectError or InsecureJWKSURIError", err)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
		})
	}
	if n := plainHits.Load(); n != 0 {
		t.Errorf("%d request(s) went out in clear", n)
	}

	// Publish never writes the live jwks_uri: the one it writes is under
	// the https base URL, which must be https.
	dir := t.TempDir()
	write(t, filepath.Join(dir, ".well-known", "openid-configuration"), iss.Document(plain.URL+discovery.KeysPath))
	write(t, filepath.Join(dir, "openid", "v1", "jwks"), iss.JWKS())
	snap, err := discovery.FetchLive(ctx, discovery.DirSource{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := discovery.Publish(snap, discovery.PublishOptions{BaseURL: baseURL})
	if err != nil {
		t.Fatal(err)
	}
	if doc, err := discovery.ParseDocument(pub.Files[1].Content); err != nil || doc.JWKSURI != baseURL+discovery.KeysPath {
		t.Errorf("published document %s (%v)", pub.Files[1].Content, err)
	}
	if _, err := discovery.Publish(snap, discovery.PublishOptions{BaseURL: "http://storage.example.com/oidc/hub"}); err == nil ||
		!strings.Contains(err.Error(), `--base-url: "http://storage.example.com/oidc/hub" uses http: API servers fetch discovery only over https`) {
		t.Errorf("http base URL: %v", err)
	}
}
