// Package credentialtest mints JWTs for tests, fuzz corpora and benchmarks:
// tokens shaped like the kubelet's projected service-account tokens, either
// with a deterministic stand-in for an RS256 signature (the plugin never
// verifies) or really signed with HS256 for a test server that must only
// accept what the test issued. It is never linked into the plugin.
package credentialtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Claims returns the claims of a projected service-account token for
// audience aud, issued at iat and valid for ttl, as an API server writes them.
func Claims(aud string, iat time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"aud": []string{aud},
		"exp": iat.Add(ttl).Unix(),
		"iat": iat.Unix(),
		"iss": "https://upstream.example.com/issuer",
		"jti": "0c7f0bd2-5b1e-4a7e-9b55-3f0e9d1c2a11",
		"kubernetes.io": map[string]any{
			"namespace": "argocd",
			"node":      map[string]any{"name": "upstream-worker", "uid": "6f1d6a0e-9d8e-4c57-8e55-0b1f3c2d4e5f"},
			"pod":       map[string]any{"name": "argocd-application-controller-0", "uid": "b38f5a1e-87c3-4009-b2c6-755d83c4283d"},
			"serviceaccount": map[string]any{
				"name": "argocd-application-controller", "uid": "97c400e9-fd0c-4d6d-a456-79c4fe27ac39",
			},
		},
		"nbf": iat.Unix(),
		"sub": "system:serviceaccount:argocd:argocd-application-controller",
	}
}

// Token returns a compact JWT with an RS256 header, the JSON of claims as
// payload and 256 bytes derived from the payload standing in for the
// signature. claims may be any JSON value, or a string used verbatim as the
// payload's JSON.
func Token(claims any) string {
	header := segment([]byte(`{"alg":"RS256","kid":"YbT0wVqHgKz2d3F5pVb8lCc6mXo1nJ4sQe7rU9tAiWk"}`))
	payload := segment(payloadJSON(claims))
	sig := make([]byte, 0, 256)
	sum := sha256.Sum256([]byte(payload))
	for len(sig) < 256 {
		sig = append(sig, sum[:]...)
		sum = sha256.Sum256(sum[:])
	}
	return header + "." + payload + "." + segment(sig)
}

// Signed returns a compact JWT signed with HS256 under key.
func Signed(key []byte, claims any) string {
	signingInput := segment([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + segment(payloadJSON(claims))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signingInput))
	return signingInput + "." + segment(mac.Sum(nil))
}

// Verify checks a token made by Signed with key and returns its exp.
func Verify(key []byte, token string) (exp time.Time, err error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return time.Time{}, errors.New("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		return time.Time{}, errors.New("bad signature encoding")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(token[:i]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return time.Time{}, errors.New("bad signature")
	}
	_, payload, _ := strings.Cut(token[:i], ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return time.Time{}, errors.New("bad payload encoding")
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.Exp == 0 {
		return time.Time{}, errors.New("no exp")
	}
	return time.Unix(c.Exp, 0), nil
}

func payloadJSON(claims any) []byte {
	if s, ok := claims.(string); ok {
		return []byte(s)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		panic("credentialtest: claims are not JSON: " + err.Error())
	}
	return b
}

func segment(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// HandWrittenScript returns the exec script of a hand-written kubeconfig, the shell
// one-liner the plugin replaces, reading the token from path. client-go runs
// it as `bash -c SCRIPT`. It prints no expirationTimestamp, so client-go
// caches its token until a request is refused: one 401 per rotation.
func HandWrittenScript(path string) string {
	return `set -e -o pipefail
IDTOKEN=$(cat ` + path + `)

# return token back to the credential plugin
cat << EOF
{
"apiVersion": "client.authentication.k8s.io/v1",
"kind": "ExecCredential",
"status": {
"token": "$IDTOKEN"
}
}
EOF
`
}

// Kubelet writes projected tokens the way the kubelet's atomic writer does:
// the file is a symlink through ..data to a timestamped directory; an update
// writes a new directory, swaps ..data to it with a rename, and removes the
// previous directory.
type Kubelet struct {
	Dir string
	Key []byte
	TTL time.Duration
	n   int
	cur string
}

// NewKubelet is a projected volume in a new temporary directory, with no
// token until the first Rotate.
func NewKubelet(t testing.TB, key []byte, ttl time.Duration) *Kubelet {
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token")); err != nil {
		t.Fatal(err)
	}
	return &Kubelet{Dir: dir, Key: key, TTL: ttl}
}

// Path is the token file a pod reads.
func (k *Kubelet) Path() string { return filepath.Join(k.Dir, "token") }

// Rotate writes a new token issued now (whole seconds) and returns its iat.
// It reports failures with t.Error, so it may run in a goroutine.
func (k *Kubelet) Rotate(t testing.TB) time.Time {
	k.n++
	iat := time.Now().Truncate(time.Second)
	ts := fmt.Sprintf("..%s.%d", iat.UTC().Format("2006_01_02_15_04_05"), k.n)
	if err := os.Mkdir(filepath.Join(k.Dir, ts), 0o755); err != nil {
		t.Error(err)
		return iat
	}
	tok := Signed(k.Key, Claims("downstream-a", iat, k.TTL))
	if err := os.WriteFile(filepath.Join(k.Dir, ts, "token"), []byte(tok), 0o600); err != nil {
		t.Error(err)
	}
	tmp := filepath.Join(k.Dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Error(err)
	}
	if err := os.Rename(tmp, filepath.Join(k.Dir, "..data")); err != nil {
		t.Error(err)
	}
	if k.cur != "" {
		if err := os.RemoveAll(filepath.Join(k.Dir, k.cur)); err != nil {
			t.Error(err)
		}
	}
	k.cur = ts
	return iat
}
