package adopt_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt/adopttest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// counting counts the requests of a client.
type counting struct {
	next http.RoundTripper
	n    atomic.Int32
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// bearer is a client that presents a token, verifying the server with ca.
func bearer(ca []byte, token string) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+token)
		return tr.RoundTrip(r)
	})}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestIntegrationReadLive lists a real API server's cluster Secrets page by
// page (a page of 3 here, 500 by default), leaves out the Secrets without
// ArgoCD's label, and explains a 401 and a 403.
func TestIntegrationReadLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := testenv.Dir(t)
	api := testenv.StartAPIServer(t, dir, testenv.StartEtcd(t, dir), testenv.APIServerConfig{Name: "hub"})
	if err := api.CreateServiceAccount(ctx, "argocd", "reader"); err != nil {
		t.Fatal(err)
	}
	fx := adopttest.Hub(adopttest.NewMaterial(t))[:7]
	for _, f := range fx {
		if _, err := api.Do(ctx, http.MethodPost, "/api/v1/namespaces/argocd/secrets", f.Secret); err != nil {
			t.Fatal(err)
		}
	}
	plain := adopttest.Secret("not-a-cluster", "x", "https://x.example.com", nil, nil)
	plain.Metadata.Labels = nil
	if _, err := api.Do(ctx, http.MethodPost, "/api/v1/namespaces/argocd/secrets", plain); err != nil {
		t.Fatal(err)
	}

	admin := api.HTTPClient()
	c := &counting{next: admin.Transport}
	admin.Transport = c
	in, err := adopt.ReadLive(ctx, adopt.Live{Client: admin, Server: api.URL, Namespace: "argocd", PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Secrets) != len(fx) || c.n.Load() != 3 {
		t.Errorf("read %d Secrets in %d requests, want %d in 3 pages", len(in.Secrets), c.n.Load(), len(fx))
	}
	want := byName(fx)
	for _, f := range adopt.Audit(in, time.Now()).Clusters {
		if w := want[f.Secret]; string(f.Kind) != w.Kind || f.Static != w.Static {
			t.Errorf("%s: %s static %v, want %s static %v", f.Secret, f.Kind, f.Static, w.Kind, w.Static)
		}
	}
	// Every namespace, one page.
	if all, err := adopt.ReadLive(ctx, adopt.Live{Client: api.HTTPClient(), Server: api.URL}); err != nil || len(all.Secrets) != len(fx) {
		t.Errorf("every namespace: %d Secrets, %v", len(all.Secrets), err)
	}

	// 401: a token the API server does not know.
	_, err = adopt.ReadLive(ctx, adopt.Live{Client: bearer(api.CAPEM, "not-a-token"), Server: api.URL, Namespace: "argocd"})
	var se *adopt.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "log in again") {
		t.Errorf("401: %v", err)
	}
	// 403: a service account without the right to list Secrets.
	token, err := api.RequestToken(ctx, "argocd", "reader", api.URL, 600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = adopt.ReadLive(ctx, adopt.Live{Client: bearer(api.CAPEM, token), Server: api.URL, Namespace: "argocd"})
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden || !strings.Contains(err.Error(), "list on secrets") || strings.Contains(err.Error(), token) {
		t.Errorf("403: %v", err)
	}
	t.Logf("403 explained: %v", err)
}

// A redirect is refused: the kubeconfig's credentials never follow one.
func TestReadLiveRefusesRedirect(t *testing.T) {
	var followed atomic.Bool
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Store(true) }))
	defer target.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	_, err := adopt.ReadLive(context.Background(), adopt.Live{Client: srv.Client(), Server: srv.URL, Namespace: "argocd"})
	if err == nil || !strings.Contains(err.Error(), "redirected") || followed.Load() {
		t.Errorf("err = %v, followed %v", err, followed.Load())
	}
}
