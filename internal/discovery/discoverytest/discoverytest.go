// Package discoverytest is a fake service-account issuer for tests: signing
// keys in the shape Kubernetes serves them, its discovery document, and
// tokens it signs.
package discoverytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"
)

// Key is one signing key of the issuer.
type Key struct {
	ID     string
	signer crypto.Signer
}

// Issuer signs tokens like a kube-apiserver with --service-account-issuer
// URL.
type Issuer struct {
	URL  string
	Keys []*Key
}

// NewIssuer returns an issuer with one RSA key.
func NewIssuer(tb testing.TB, url string) *Issuer {
	tb.Helper()
	i := &Issuer{URL: url}
	i.AddRSAKey(tb)
	return i
}

// AddRSAKey adds a 2048-bit RSA key and returns it; the issuer signs with
// the last key added.
func (i *Issuer) AddRSAKey(tb testing.TB) *Key {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return i.add(tb, k)
}

// AddECKey adds a P-256 key and returns it; the issuer signs with the last
// key added.
func (i *Issuer) AddECKey(tb testing.TB) *Key {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return i.add(tb, k)
}

// add names the key as Kubernetes does: base64url(sha256(PKIX public key)).
func (i *Issuer) add(tb testing.TB, s crypto.Signer) *Key {
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(der)
	k := &Key{ID: base64.RawURLEncoding.EncodeToString(sum[:]), signer: s}
	i.Keys = append(i.Keys, k)
	return k
}

// Rotate replaces every key with a new RSA key, as restarting an API
// server with a new --service-account-key-file does.
func (i *Issuer) Rotate(tb testing.TB) *Key {
	tb.Helper()
	i.Keys = nil
	return i.AddRSAKey(tb)
}

// JWK is the key's public JSON Web Key.
func (k *Key) JWK() map[string]any {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	switch pub := k.signer.Public().(type) {
	case *rsa.PublicKey:
		return map[string]any{"use": "sig", "kty": "RSA", "kid": k.ID, "alg": "RS256",
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		point, err := pub.Bytes()
		if err != nil {
			panic(err)
		}
		size := (len(point) - 1) / 2
		return map[string]any{"use": "sig", "kty": "EC", "kid": k.ID, "alg": "ES256", "crv": "P-256",
			"x": b64(point[1 : 1+size]), "y": b64(point[1+size:])}
	}
	panic("unknown key type")
}

// JWKS is the key set the issuer serves at /openid/v1/jwks.
func (i *Issuer) JWKS() []byte {
	keys := []any{}
	for _, k := range i.Keys {
		keys = append(keys, k.JWK())
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

// Document is the discovery document with the given jwks_uri, as
// kube-apiserver writes it.
func (i *Issuer) Document(jwksURI string) []byte {
	b, err := json.Marshal(map[string]any{
		"issuer":                                i.URL,
		"jwks_uri":                              jwksURI,
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// Token is a token of service account namespace/name for audience, signed
// with the issuer's last key, issued at iat and valid for ttl.
func (i *Issuer) Token(tb testing.TB, namespace, name, audience string, iat time.Time, ttl time.Duration) string {
	tb.Helper()
	return i.Sign(tb, i.Keys[len(i.Keys)-1], map[string]any{
		"iss": i.URL, "aud": []string{audience},
		"sub": "system:serviceaccount:" + namespace + ":" + name,
		"iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(ttl).Unix(),
	})
}

// Sign makes a compact JWT of claims signed with k.
func (i *Issuer) Sign(tb testing.TB, k *Key, claims map[string]any) string {
	tb.Helper()
	alg := "RS256"
	if _, ok := k.signer.(*ecdsa.PrivateKey); ok {
		alg = "ES256"
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": alg, "kid": k.ID}) + "." + enc(claims)
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	switch s := k.signer.(type) {
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, digest[:]); err != nil {
			tb.Fatal(err)
		}
	case *ecdsa.PrivateKey:
		r, ss, err := ecdsa.Sign(rand.Reader, s, digest[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}
