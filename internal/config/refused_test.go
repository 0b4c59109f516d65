package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A refusal is bad input and what the error must say about it: the field
// path, what is wrong and what to write instead.
type refusal struct {
	name string
	// yaml edits the text of the base config; edit the decoded federation.
	yaml func(t *testing.T, base string) string
	edit func(t *testing.T, f *Federation)
	// other, when set, makes a second hub (b.yaml) from the base config and
	// checks both together (ValidateSet).
	other func(f *Federation)
	path  string
	want  []string
}

func (r refusal) run(t *testing.T) {
	t.Helper()
	data := base(t)
	if r.yaml != nil {
		data = r.yaml(t, data)
	}
	f, err := Decode([]byte(data), "testdata/base.yaml")
	if err == nil {
		if r.edit != nil {
			r.edit(t, f)
		}
		err = f.Complete()
	}
	if r.other != nil {
		if err != nil {
			t.Fatal(err)
		}
		g, err2 := Decode([]byte(base(t)), "b.yaml")
		if err2 != nil {
			t.Fatal(err2)
		}
		r.other(g)
		if err := g.Complete(); err != nil {
			t.Fatal(err)
		}
		err = ValidateSet([]*Federation{f, g})
	}
	for _, w := range r.want {
		assertFieldError(t, err, r.path, w)
	}
}

func runRefusals(t *testing.T, tests []refusal) {
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// replace returns a yaml edit that replaces old, which must be there.
func replace(old, new string) func(t *testing.T, base string) string {
	return func(t *testing.T, base string) string {
		t.Helper()
		if !strings.Contains(base, old) {
			t.Fatalf("base config has no %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
}

// appendYAML returns a yaml edit that appends text to the base config.
func appendYAML(text string) func(t *testing.T, base string) string {
	return func(t *testing.T, base string) string { return base + text }
}

// testCA is a self-signed CA certificate in PEM, valid from notBefore to
// notAfter.
func testCA(t *testing.T, cn string, notBefore, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

var (
	longAgo   = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	yesterday = time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	nextYear  = time.Now().Add(365 * 24 * time.Hour).Truncate(time.Second)
	farAhead  = time.Now().Add(10 * 365 * 24 * time.Hour).Truncate(time.Second)
)

// TestSilentAcceptanceRefused: what used to be read as something else, or
// not read at all, without a word.
func TestSilentAcceptanceRefused(t *testing.T) {
	remedy := "put each hub in a file of its own and pass them together (generate -f hub-a.yaml -f hub-b.yaml)"
	runRefusals(t, []refusal{
		{name: "second document", yaml: appendYAML("---\napiVersion: argocd-k8s-federate.io/v1alpha1\nkind: Federation\n"),
			want: []string{"holds more than one YAML document", remedy}},
		{name: "second document not YAML", yaml: appendYAML("---\n: : [\n"),
			want: []string{"holds more than one YAML document", remedy}},
		{name: "third document after an empty one", yaml: appendYAML("---\n---\nkind: Federation\n"),
			want: []string{"holds more than one YAML document", remedy}},
		{name: "second document an empty string", yaml: appendYAML("--- ''\n"),
			want: []string{"holds more than one YAML document"}},
		{name: "usernamePrefix empty", yaml: replace("- name: prod\n", "- name: prod\n  usernamePrefix: \"\"\n"),
			path: "downstreams[0].usernamePrefix", want: []string{"is set but empty", `leave the field out for the default "<upstream.name>:", or write a prefix such as "hub:"`}},
		{name: "usernamePrefix null", yaml: replace("- name: dev\n", "- name: dev\n  usernamePrefix:\n"),
			path: "downstreams[1].usernamePrefix", want: []string{"is set but empty", "leave the field out"}},
		{name: "upstream CA expired", edit: func(t *testing.T, f *Federation) {
			f.Upstream.CA = testCA(t, "old-hub-ca", longAgo, longAgo.Add(time.Hour))
		}, path: "upstream.ca", want: []string{"holds no certificate valid now (CN=old-hub-ca expired 2020-01-01T01:00:00Z)", "renew the CA, or point ca at the current one"}},
		{name: "downstream CA file expired", edit: func(t *testing.T, f *Federation) {
			file := filepath.Join(t.TempDir(), "ca.crt")
			ca := testCA(t, "a", longAgo, yesterday) + testCA(t, "b", longAgo, longAgo.Add(time.Hour))
			if err := os.WriteFile(file, []byte(ca), 0o600); err != nil {
				t.Fatal(err)
			}
			f.Downstreams[0].UseSystemRoots, f.Downstreams[0].CAFile = false, file
		}, path: "downstreams[0].caFile", want: []string{"CN=a expired " + yesterday.UTC().Format(time.RFC3339) + "; CN=b expired 2020-01-01T01:00:00Z)", "renew the CA, or point caFile at the current one"}},
		{name: "CA not yet valid", edit: func(t *testing.T, f *Federation) {
			f.Upstream.CA = testCA(t, "future-ca", nextYear, farAhead)
		}, path: "upstream.ca", want: []string{"CN=future-ca is not valid before " + nextYear.UTC().Format(time.RFC3339), "renew the CA"}},
		{name: "CA with a damaged block", edit: func(t *testing.T, f *Federation) {
			good := testCA(t, "good", longAgo, farAhead)
			f.Upstream.CA = good + "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
		}, path: "upstream.ca", want: []string{"holds a PEM block that does not decode, after 1 good certificates", "fix or remove it"}},
		{name: "CA with a damaged block first", edit: func(t *testing.T, f *Federation) {
			good := testCA(t, "good", longAgo, farAhead)
			f.Upstream.CA = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n" + good
		}, path: "upstream.ca", want: []string{"does not decode, after 0 good certificates", "fix or remove it"}},
	})
}

func TestSilentAcceptanceLeftAccepted(t *testing.T) {
	for _, tail := range []string{"---\n", "---\n# nothing more\n", "--- # the end\n", "...\n"} {
		if _, err := Decode([]byte(base(t)+tail), "f.yaml"); err != nil {
			t.Errorf("%q after the document refused: %v", tail, err)
		}
	}
	for _, head := range []string{"---\n", "# a comment\n---\n", "%YAML 1.1\n---\n"} {
		if _, err := Decode([]byte(head+base(t)), "f.yaml"); err != nil {
			t.Errorf("%q before the document refused: %v", head, err)
		}
	}
	f, err := Decode([]byte(base(t)), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Text around the blocks is dropped, expired certificates next to a
	// valid one are kept with a warning.
	expired := testCA(t, "old", longAgo, longAgo.Add(time.Hour))
	valid := testCA(t, "new", longAgo, farAhead)
	f.Upstream.CA = "Certificate:\n    Data: ...\n" + expired + "\n# Subject: CN=new\n" + valid + "trailing words\n"
	if err := f.Complete(); err != nil {
		t.Fatal(err)
	}
	if got, want := f.Upstream.PEM(), expired+valid; got != want {
		t.Errorf("PEM() = %q, want only the certificates %q", got, want)
	}
	w := f.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "upstream.ca: 1 of the 2 certificates of the bundle are not valid now (CN=old expired 2020-01-01T01:00:00Z)") {
		t.Errorf("want one warning about CN=old, got %q", w)
	}
}

// TestLooseURLsRefused: URLs and names written into the downstream's trust
// configuration must be spelled the one way that works there.
func TestLooseURLsRefused(t *testing.T) {
	issuer := func(v string) func(t *testing.T, f *Federation) {
		return func(t *testing.T, f *Federation) { f.Upstream.Issuer = v }
	}
	server := func(v string) func(t *testing.T, f *Federation) {
		return func(t *testing.T, f *Federation) { f.Downstreams[0].Server = v }
	}
	prefix := func(v string) func(t *testing.T, f *Federation) {
		return func(t *testing.T, f *Federation) { f.Downstreams[0].UsernamePrefix = v }
	}
	audience := func(v string) func(t *testing.T, f *Federation) {
		return func(t *testing.T, f *Federation) { f.Downstreams[0].Audience = v }
	}
	const never = "never rewritten for you"
	const port = "the port must be a number from 1 to 65535"
	prefixChars := `may hold only ASCII letters, digits and - _ . : / @ (it is written as is into the --oidc-username-prefix flag and the API server's configuration); use e.g. "hub:"`
	audienceChars := "may hold only ASCII letters, digits and - _ . : / @, so no whitespace, commas, quotes or shell characters"
	runRefusals(t, []refusal{
		{name: "issuer empty query", edit: issuer("https://hub.example.com?"), path: "upstream.issuer",
			want: []string{`must not carry a query (not even an empty "?"); write "https://hub.example.com"`, never}},
		{name: "issuer empty fragment", edit: issuer("https://hub.example.com/#"), path: "upstream.issuer",
			want: []string{`must not carry a fragment (not even an empty "#"); write "https://hub.example.com/"`, never}},
		{name: "issuer port 0", edit: issuer("https://hub.example.com:0"), path: "upstream.issuer", want: []string{port, `not "0"`}},
		{name: "issuer port too large", edit: issuer("https://hub.example.com:65536/oidc"), path: "upstream.issuer", want: []string{port, `not "65536"`}},
		{name: "issuer port with leading zero", edit: issuer("https://hub.example.com:0443"), path: "upstream.issuer",
			want: []string{`without leading zeros; write "https://hub.example.com:443"`}},
		{name: "issuer empty port", edit: issuer("https://hub.example.com:"), path: "upstream.issuer", want: []string{port, `not ""`}},
		{name: "issuer upper-case scheme", edit: issuer("HTTPS://hub.example.com"), path: "upstream.issuer",
			want: []string{`the scheme must be written in lower case; write "https://hub.example.com"`, never}},
		{name: "issuer double slash", edit: issuer("https://hub.example.com//oidc"), path: "upstream.issuer",
			want: []string{`the path must be clean`, `write "https://hub.example.com/oidc"`, never}},
		{name: "issuer dot segment", edit: issuer("https://hub.example.com/a/./oidc"), path: "upstream.issuer",
			want: []string{`write "https://hub.example.com/a/oidc"`}},
		{name: "issuer dot-dot segment", edit: issuer("https://hub.example.com/a/../oidc"), path: "upstream.issuer",
			want: []string{`write "https://hub.example.com/oidc"`}},
		{name: "issuer trailing dot segment", edit: issuer("https://hub.example.com/oidc/."), path: "upstream.issuer",
			want: []string{`write "https://hub.example.com/oidc/"`}},
		{name: "issuer several problems", edit: issuer("Https://hub.example.com//oidc/?"), path: "upstream.issuer",
			want: []string{"lower case", "query", "clean", `write "https://hub.example.com/oidc/"`}},
		{name: "issuer shell in path", edit: issuer("https://hub.example.com/$(reboot)"), path: "upstream.issuer",
			want: []string{"the path may hold only ASCII letters, digits, %-escapes and - . _ ~ : @ + = , /"}},
		{name: "issuer non-ASCII host", edit: issuer("https://hüb.example.com"), path: "upstream.issuer",
			want: []string{"the host may hold only ASCII letters, digits, '-' and '.' (an internationalized name in its xn-- form)"}},
		{name: "discoveryURL empty query", edit: func(t *testing.T, f *Federation) {
			f.Upstream.DiscoveryURL = "https://bucket.example.com/hub/.well-known/openid-configuration?"
		}, path: "upstream.discoveryURL", want: []string{`write "https://bucket.example.com/hub/.well-known/openid-configuration"`}},
		{name: "server port 0", edit: server("https://prod.example.com:0"), path: "downstreams[0].server", want: []string{port}},
		{name: "server port too large", edit: server("https://prod.example.com:99999"), path: "downstreams[0].server", want: []string{port}},
		{name: "server upper-case scheme", edit: server("HTTPS://prod.example.com:6443"), path: "downstreams[0].server",
			want: []string{`write "https://prod.example.com:6443"`}},
		{name: "server empty query", edit: server("https://prod.example.com:6443?"), path: "downstreams[0].server",
			want: []string{`must not carry a query`, `write "https://prod.example.com:6443"`}},
		{name: "server fragment", edit: server("https://prod.example.com:6443#x"), path: "downstreams[0].server",
			want: []string{`must not carry a fragment`, `write "https://prod.example.com:6443"`}},
		{name: "server user info", edit: server("https://admin@prod.example.com:6443"), path: "downstreams[0].server",
			want: []string{`must not carry user info`, `write "https://prod.example.com:6443"`}},
		{name: "servers differ by a trailing dot", edit: func(t *testing.T, f *Federation) {
			f.Downstreams[1].Server = "https://prod.example.com.:6443"
		}, path: "downstreams[1].server", want: []string{"is already the server of downstreams[0]; list each cluster once"}},
		{name: "servers differ by case and default port", edit: func(t *testing.T, f *Federation) {
			f.Downstreams[0].Server = "https://Prod.Example.COM"
			f.Downstreams[1].Server = "https://prod.example.com.:443/"
		}, path: "downstreams[1].server", want: []string{"is already the server of downstreams[0]"}},
		{name: "hubs' issuers differ by a trailing slash", other: func(f *Federation) {
			f.Upstream.Name, f.Upstream.Issuer = "hub-b", "https://hub.example.com/"
		}, path: "b.yaml: upstream.issuer", want: []string{`"https://hub.example.com/" and "https://hub.example.com" (in testdata/base.yaml) name the same issuer`, "one of the two hubs could never authenticate; each hub has its own issuer"}},
		{name: "prefix with command substitution", edit: prefix("hub$(id):"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with backtick", edit: prefix("hub`id`:"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with semicolon", edit: prefix("hub;"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with glob", edit: prefix("hub*:"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with tilde", edit: prefix("~hub:"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with hash", edit: prefix("hub#:"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with newline", edit: prefix("hub:\n--oidc-issuer-url=https://evil"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with zero-width space", edit: prefix("hub\u200b:"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with no-break space", edit: prefix("hub\u00a0:"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with a look-alike letter", edit: prefix("hub\u0430:"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "prefix with a control character", edit: prefix("hub\x1b:"), path: "downstreams[0].usernamePrefix", want: []string{prefixChars}},
		{name: "audience with semicolon", edit: audience("prod;reboot"), path: "downstreams[0].audience", want: []string{audienceChars, "--oidc-client-id"}},
		{name: "audience with dollar", edit: audience("prod$HOME"), path: "downstreams[0].audience", want: []string{audienceChars}},
		{name: "audience with zero-width joiner", edit: audience("prod\u200d"), path: "downstreams[0].audience", want: []string{audienceChars}},
		{name: "shared audience with quote", edit: func(t *testing.T, f *Federation) { f.Upstream.Token.SharedAudience = "fleet'" },
			path: "upstream.token.sharedAudience", want: []string{audienceChars}},
		{name: "token source misspelt", edit: func(t *testing.T, f *Federation) { f.Upstream.Token.Source = "tokenrequest" },
			path: "upstream.token.source", want: []string{`is "tokenrequest"; must be Projected`, "or TokenRequest"}},
		{name: "downstream token source unknown", edit: func(t *testing.T, f *Federation) { f.Downstreams[0].TokenSource = "Secret" },
			path: "downstreams[0].tokenSource", want: []string{`is "Secret"; must be Projected`}},
		{name: "oidcCAFile with shell", edit: func(t *testing.T, f *Federation) { f.Downstreams[0].APIServer.OIDCCAFile = "/etc/$(id)/ca.crt" },
			path: "downstreams[0].apiServer.oidcCAFile", want: []string{"may hold only ASCII letters, digits and - _ . : / @ (it is written as is into the --oidc-ca-file flag)"}},
	})
}

func TestCanonicalURLsAccepted(t *testing.T) {
	for _, tt := range []struct{ issuer, server string }{
		{"https://hub.example.com/", "https://prod.example.com:6443/"},
		{"https://hub.example.com:8443/oidc", "https://[2001:db8::1]:6443"},
		{"https://oidc.example.com/a%2Fb/~hub/", "https://rancher.example.com/k8s/clusters/c-m-abc12"},
		{"https://Hub.Example.com", "https://prod.example.com."},
	} {
		f, err := Decode([]byte(base(t)), "f.yaml")
		if err != nil {
			t.Fatal(err)
		}
		f.Upstream.Issuer, f.Downstreams[0].Server = tt.issuer, tt.server
		if err := f.Complete(); err != nil {
			t.Errorf("issuer %q, server %q refused: %v", tt.issuer, tt.server, err)
		}
	}
}

func TestCAFileNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "ca.crt")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	f, err := Decode([]byte(base(t)), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Downstreams[0].UseSystemRoots, f.Downstreams[0].CAFile = false, fifo
	assertFieldError(t, f.Complete(), "downstreams[0].caFile", "not a regular file")
}
