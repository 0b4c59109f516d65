// Package discovery reads, publishes and checks the OIDC discovery of a
// service-account issuer: the discovery document
// (/.well-known/openid-configuration) and the signing keys (/openid/v1/jwks)
// that downstream API servers fetch to verify the upstream's tokens.
//
// When the upstream API server cannot be reached from the downstreams, its
// discovery is published to a static https location (a bucket): Publish
// lays out the files to upload, with jwks_uri rewritten under that location,
// and Compare tells when the upstream has rotated its signing keys and the
// published copy is stale, which otherwise breaks federation silently.
//
// It links no Kubernetes client library: callers hand it the HTTP clients,
// with their credentials and certificate authorities.
package discovery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// The paths, relative to an issuer (or to the base URL of a published copy),
// at which a downstream API server reads discovery.
const (
	DocumentPath = "/.well-known/openid-configuration"
	KeysPath     = "/openid/v1/jwks"
)

// maxBody caps a discovery document or key set; real ones are a few KiB.
const maxBody = 1 << 20

// Document is an OIDC discovery document. Members other than issuer and
// jwks_uri are kept as they are.
type Document struct {
	Issuer  string
	JWKSURI string
	members map[string]json.RawMessage
}

// ParseDocument decodes a discovery document; issuer and jwks_uri are
// required.
func ParseDocument(data []byte) (*Document, error) {
	members, err := object(data)
	if err != nil {
		return nil, fmt.Errorf("not an OIDC discovery document: %w", err)
	}
	d := &Document{members: members}
	var problems []string
	for _, f := range []struct {
		name string
		into *string
	}{{"issuer", &d.Issuer}, {"jwks_uri", &d.JWKSURI}} {
		raw, ok := members[f.name]
		if !ok || string(raw) == "null" {
			problems = append(problems, f.name+" is missing")
			continue
		}
		if err := json.Unmarshal(raw, f.into); err != nil || *f.into == "" {
			problems = append(problems, f.name+" is not a non-empty string")
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("not an OIDC discovery document: %s", strings.Join(problems, ", "))
	}
	return d, nil
}

// WithJWKSURI returns the document, indented, with jwks_uri replaced and
// every other member as it was.
func (d *Document) WithJWKSURI(uri string) ([]byte, error) {
	members := make(map[string]json.RawMessage, len(d.members))
	for k, v := range d.members {
		members[k] = v
	}
	u, err := json.Marshal(uri)
	if err != nil {
		return nil, err
	}
	members["jwks_uri"] = u
	b, err := json.MarshalIndent(members, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the discovery document: %w", err)
	}
	return append(b, '\n'), nil
}

// object decodes a JSON object into its members.
func object(data []byte) (map[string]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("it is empty")
	}
	if data[0] != '{' {
		return nil, errors.New("it is not a JSON object")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, fmt.Errorf("it is not valid JSON: %w", err)
	}
	return members, nil
}

// Snapshot is one reading of an issuer's discovery: the document and the key
// set, as read and decoded.
type Snapshot struct {
	// DocumentURL and KeysURL say where they were read.
	DocumentURL string
	KeysURL     string
	Document    *Document
	Keys        *KeySet
	// DocumentRaw and KeysRaw are the bytes read.
	DocumentRaw []byte
	KeysRaw     []byte
}

// Source is where live discovery is read: the upstream API server (with the
// credentials of a kubeconfig), the issuer URL (anonymously), or a directory
// that Fetch wrote.
type Source interface {
	// Get returns the content at path (DocumentPath or KeysPath).
	Get(ctx context.Context, path string) ([]byte, error)
	// Location names path at this source, for messages.
	Location(path string) string
}

// FetchLive reads the document and the keys from src at the fixed paths, as
// `kubectl get --raw` does: jwks_uri is not followed (it names the API
// server's external address, which may not be reachable from here).
func FetchLive(ctx context.Context, src Source) (*Snapshot, error) {
	s := &Snapshot{DocumentURL: src.Location(DocumentPath), KeysURL: src.Location(KeysPath)}
	var err error
	if s.DocumentRaw, err = src.Get(ctx, DocumentPath); err != nil {
		return nil, err
	}
	if s.Document, err = ParseDocument(s.DocumentRaw); err != nil {
		return nil, fmt.Errorf("%s: %w", s.DocumentURL, err)
	}
	if s.KeysRaw, err = src.Get(ctx, KeysPath); err != nil {
		return nil, err
	}
	if s.Keys, err = ParseKeySet(s.KeysRaw); err != nil {
		return nil, fmt.Errorf("%s: %w", s.KeysURL, err)
	}
	return s, nil
}

// FetchPublished reads discovery the way a downstream API server does: the
// document at documentURL, then the keys at the document's jwks_uri.
//
// It reads no keys in clear: when jwks_uri is not an https URL, the error is
// an *InsecureJWKSURIError and the snapshot is returned too, with the
// document and without keys (Keys nil), for Compare to report.
func FetchPublished(ctx context.Context, client *http.Client, documentURL string) (*Snapshot, error) {
	s := &Snapshot{DocumentURL: documentURL}
	var err error
	if s.DocumentRaw, err = Get(ctx, client, documentURL); err != nil {
		return nil, err
	}
	if s.Document, err = ParseDocument(s.DocumentRaw); err != nil {
		return nil, fmt.Errorf("%s: %w", documentURL, err)
	}
	s.KeysURL = s.Document.JWKSURI
	if !isHTTPS(s.KeysURL) {
		return s, &InsecureJWKSURIError{DocumentURL: documentURL, JWKSURI: s.KeysURL}
	}
	if s.KeysRaw, err = Get(ctx, client, s.KeysURL); err != nil {
		return nil, fmt.Errorf("the keys named by jwks_uri of %s: %w", documentURL, err)
	}
	if s.Keys, err = ParseKeySet(s.KeysRaw); err != nil {
		return nil, fmt.Errorf("%s: %w", s.KeysURL, err)
	}
	return s, nil
}

// InsecureJWKSURIError is a discovery document whose jwks_uri is not an
// https URL: downstream API servers would fetch the signing keys in clear.
type InsecureJWKSURIError struct {
	DocumentURL string
	JWKSURI     string
}

func (e *InsecureJWKSURIError) Error() string {
	return fmt.Sprintf("%s names jwks_uri %s, which is not https: downstream API servers would fetch the signing keys in clear, and anyone on the way could hand them other keys", e.DocumentURL, e.JWKSURI)
}

// InsecureRedirectError is a redirect to a URL that is not https.
type InsecureRedirectError struct {
	// From is the URL that redirected, To where it redirected.
	From string
	To   string
}

func (e *InsecureRedirectError) Error() string {
	host := e.From
	if u, err := url.Parse(e.From); err == nil && u.Host != "" {
		host = u.Host
	}
	return fmt.Sprintf("%s redirects to %s, which is not https: the request and the answer would travel in clear, where anyone on the way can read or change them; make %s answer over https, without redirecting to http", e.From, e.To, host)
}

// isHTTPS says whether raw is an absolute https URL.
func isHTTPS(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

// HTTPError is a response other than 200 OK.
type HTTPError struct {
	URL        string
	StatusCode int
	Status     string
	// Body is the start of the response body.
	Body string
}

func (e *HTTPError) Error() string {
	msg := "GET " + e.URL + ": " + e.Status
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Get reads url with client; anything but 200 OK is an *HTTPError.
func Get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read the response: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		snippet := strings.Join(strings.Fields(string(body[:min(len(body), 200)])), " ")
		return nil, &HTTPError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status, Body: snippet}
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("GET %s: the response is larger than %d KiB, it is not discovery", url, maxBody>>10)
	}
	return body, nil
}

// unwrapURLError drops the "Get \"url\": " the http client adds, as the
// callers name the URL themselves.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// maxRedirects is how many redirects a read follows, as net/http's default.
const maxRedirects = 10

// RefuseInsecureRedirect is the CheckRedirect of every client that reads
// discovery: it follows redirects to https URLs only, so that neither
// discovery nor the client's credentials travel in clear. A redirect
// elsewhere is an *InsecureRedirectError.
func RefuseInsecureRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "https" {
		return &InsecureRedirectError{From: via[len(via)-1].URL.Redacted(), To: req.URL.Redacted()}
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// ReadCAFile reads the PEM CA bundle that flag names (config.ReadCAFile).
func ReadCAFile(flag, path string) ([]byte, error) {
	b, err := config.ReadCAFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", flag, err)
	}
	return b, nil
}

// HTTPClient returns a client that verifies servers with caPEM, or with the
// system roots when caPEM is empty, honours the proxy environment, and
// follows redirects to https URLs only (RefuseInsecureRedirect).
func HTTPClient(caPEM []byte) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("the CA bundle holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr, CheckRedirect: RefuseInsecureRedirect, Timeout: 30 * time.Second}, nil
}

// HTTPSource reads live discovery over HTTP under BaseURL: the upstream API
// server's URL (with an authenticated client) or the issuer URL.
type HTTPSource struct {
	Client  *http.Client
	BaseURL string
}

// Get implements Source.
func (s HTTPSource) Get(ctx context.Context, path string) ([]byte, error) {
	return Get(ctx, s.Client, s.Location(path))
}

// Location implements Source.
func (s HTTPSource) Location(path string) string { return strings.TrimRight(s.BaseURL, "/") + path }

// DirSource reads discovery from a directory in the layout Fetch and
// Publish write (DIR/.well-known/openid-configuration, DIR/openid/v1/jwks).
type DirSource struct{ Dir string }

// Get implements Source.
func (s DirSource) Get(_ context.Context, path string) ([]byte, error) {
	p := s.Location(path)
	b, err := fileio.ReadFile(p, maxBody)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w: the directory must hold what `discovery fetch -o DIR` writes", p, fs.ErrNotExist)
	case errors.Is(err, fileio.ErrTooLarge):
		return nil, fmt.Errorf("read %s: %w, it is not discovery", p, err)
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// Location implements Source.
func (s DirSource) Location(path string) string {
	return filepath.Join(s.Dir, filepath.FromSlash(strings.TrimPrefix(path, "/")))
}
