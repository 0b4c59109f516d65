package discovery

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// Key is one JSON Web Key of a key set.
type Key struct {
	// ID is the key id (kid); Kubernetes derives it from the public key.
	ID        string
	Type      string
	Algorithm string
	Use       string
	// canonical is the key's JSON with sorted members, to compare keys.
	canonical string
	members   map[string]json.RawMessage
}

// KeySet is a JSON Web Key Set.
type KeySet struct {
	Keys []Key
}

// ParseKeySet decodes a JWKS: an object whose "keys" is a list of keys, each
// with a kty.
func ParseKeySet(data []byte) (*KeySet, error) {
	members, err := object(data)
	if err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(members["keys"], &raws); err != nil || members["keys"] == nil {
		return nil, errors.New(`not a JSON Web Key Set: "keys" is not a list`)
	}
	set := &KeySet{}
	for i, raw := range raws {
		k, err := parseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("not a JSON Web Key Set: key %d: %w", i, err)
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

func parseKey(raw json.RawMessage) (Key, error) {
	members, err := object(raw)
	if err != nil {
		return Key{}, err
	}
	var k Key
	for name, into := range map[string]*string{"kid": &k.ID, "kty": &k.Type, "alg": &k.Algorithm, "use": &k.Use} {
		if v, ok := members[name]; ok {
			if err := json.Unmarshal(v, into); err != nil {
				return Key{}, fmt.Errorf("%s is not a string", name)
			}
		}
	}
	if k.Type == "" {
		return Key{}, errors.New("kty is missing")
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return Key{}, err
	}
	canonical, err := json.Marshal(generic)
	if err != nil {
		return Key{}, err
	}
	k.canonical, k.members = string(canonical), members
	return k, nil
}

// Name is the key id, or for a key without one a name derived from its
// content.
func (k Key) Name() string {
	if k.ID != "" {
		return k.ID
	}
	sum := sha256.Sum256([]byte(k.canonical))
	return "(no kid, sha256:" + hex.EncodeToString(sum[:6]) + ")"
}

// Same reports whether two keys are the same key.
func (k Key) Same(o Key) bool { return k.canonical == o.canonical }

// IDs are the names of the keys, sorted.
func (s *KeySet) IDs() []string {
	out := make([]string, 0, len(s.Keys))
	for _, k := range s.Keys {
		out = append(out, k.Name())
	}
	sort.Strings(out)
	return out
}

// Lookup returns the key named name (see Key.Name).
func (s *KeySet) Lookup(name string) (Key, bool) {
	for _, k := range s.Keys {
		if k.Name() == name {
			return k, true
		}
	}
	return Key{}, false
}

// TokenHeader is the JOSE header of a JWT.
type TokenHeader struct {
	Algorithm string `json:"alg"`
	KeyID     string `json:"kid"`
}

// ParseTokenHeader decodes the header of a compact JWT: which algorithm and
// which key (kid) signed it. It does not verify anything.
func ParseTokenHeader(token string) (TokenHeader, error) {
	h, _, ok := strings.Cut(strings.TrimSpace(token), ".")
	if !ok {
		return TokenHeader{}, errors.New("not a JWT (no dot-separated header)")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	if err != nil {
		return TokenHeader{}, fmt.Errorf("the JWT header is not base64url: %w", err)
	}
	var th TokenHeader
	if err := json.Unmarshal(b, &th); err != nil {
		return TokenHeader{}, fmt.Errorf("the JWT header is not a JSON object: %w", err)
	}
	return th, nil
}

// ErrUnsupportedAlgorithm is returned by Verify for a signing algorithm it
// does not implement (Kubernetes signs with RS256 or ES256/384/512).
var ErrUnsupportedAlgorithm = errors.New("unsupported signing algorithm")

// Verify checks the JWT's signature with this key: that a downstream holding
// this key accepts the signature (it checks the claims itself).
func (k Key) Verify(token string) error {
	token = strings.TrimSpace(token)
	th, err := ParseTokenHeader(token)
	if err != nil {
		return err
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return errors.New("not a JWT")
	}
	signed, sig64 := token[:i], token[i+1:]
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(sig64, "="))
	if err != nil {
		return fmt.Errorf("the JWT signature is not base64url: %w", err)
	}
	var hash crypto.Hash
	switch th.Algorithm {
	case "RS256", "ES256":
		hash = crypto.SHA256
	case "RS384", "ES384":
		hash = crypto.SHA384
	case "RS512", "ES512":
		hash = crypto.SHA512
	default:
		return fmt.Errorf("%w %q", ErrUnsupportedAlgorithm, th.Algorithm)
	}
	digest := sum(hash, []byte(signed))
	switch {
	case strings.HasPrefix(th.Algorithm, "RS"):
		pub, err := k.rsa()
		if err != nil {
			return err
		}
		if err := rsa.VerifyPKCS1v15(pub, hash, digest, sig); err != nil {
			return errors.New("the signature does not verify with this key")
		}
	default:
		pub, err := k.ecdsa()
		if err != nil {
			return err
		}
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return errors.New("the signature does not verify with this key")
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return errors.New("the signature does not verify with this key")
		}
	}
	return nil
}

func sum(h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA384:
		s := sha512.Sum384(data)
		return s[:]
	case crypto.SHA512:
		s := sha512.Sum512(data)
		return s[:]
	}
	s := sha256.Sum256(data)
	return s[:]
}

func (k Key) member(name string) ([]byte, error) {
	var s string
	if err := json.Unmarshal(k.members[name], &s); err != nil || s == "" {
		return nil, fmt.Errorf("key %s has no %s", k.Name(), name)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("key %s: %s is not base64url", k.Name(), name)
	}
	return b, nil
}

func (k Key) rsa() (*rsa.PublicKey, error) {
	if k.Type != "RSA" {
		return nil, fmt.Errorf("key %s is a %s key, the token is signed with RSA", k.Name(), k.Type)
	}
	n, err := k.member("n")
	if err != nil {
		return nil, err
	}
	e, err := k.member("e")
	if err != nil {
		return nil, err
	}
	exp := new(big.Int).SetBytes(e)
	if !exp.IsInt64() || exp.Int64() > 1<<31-1 || exp.Int64() < 3 {
		return nil, fmt.Errorf("key %s: exponent out of range", k.Name())
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
}

func (k Key) ecdsa() (*ecdsa.PublicKey, error) {
	if k.Type != "EC" {
		return nil, fmt.Errorf("key %s is a %s key, the token is signed with ECDSA", k.Name(), k.Type)
	}
	var crv string
	_ = json.Unmarshal(k.members["crv"], &crv)
	var curve elliptic.Curve
	switch crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("key %s: unsupported curve %q", k.Name(), crv)
	}
	x, err := k.member("x")
	if err != nil {
		return nil, err
	}
	y, err := k.member("y")
	if err != nil {
		return nil, err
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(x) > size || len(y) > size {
		return nil, fmt.Errorf("key %s: coordinates too long for %s", k.Name(), crv)
	}
	point := make([]byte, 1+2*size)
	point[0] = 4 // uncompressed
	copy(point[1+size-len(x):1+size], x)
	copy(point[1+2*size-len(y):], y)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.Name(), err)
	}
	return pub, nil
}
