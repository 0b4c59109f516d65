package credential

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxTokenSize is the largest token file accepted, in bytes. A projected
// service-account token is about one KiB; anything near this cap is not one.
const MaxTokenSize = 64 << 10

// maxNumericDate is 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const maxNumericDate = 253402300799

// Token is a decoded, unverified JWT.
type Token struct {
	// Raw is the compact JWT with surrounding whitespace removed, exactly
	// what goes into the ExecCredential. Never print it.
	Raw    string
	Claims Claims
}

// Claims are the registered claims the plugin uses, and those of the
// kubernetes.io claim. Times are whole seconds (a fractional NumericDate is
// rounded down); a zero value means absent.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	// WarnAfter is kubernetes.io.warnafter: set by an API server that
	// extended exp beyond the TTL the kubelet asked for.
	WarnAfter time.Time
	// Namespace is kubernetes.io.namespace, the service account's namespace.
	Namespace string
	// ServiceAccount is kubernetes.io.serviceaccount: whose token it is.
	ServiceAccount ObjectRef
	// Pod is kubernetes.io.pod, the pod the token is bound to: the kubelet's
	// tokens have it; a legacy Secret token, or one from kubectl create
	// token without --bound-object-kind Pod, does not.
	Pod ObjectRef
}

// ObjectRef names an object of the kubernetes.io claim.
type ObjectRef struct {
	Name string
	UID  string
}

// HasAudience reports whether aud contains want.
func (c Claims) HasAudience(want string) bool {
	for _, a := range c.Audience {
		if a == want {
			return true
		}
	}
	return false
}

// ServiceAccountName returns the namespace and name of the service account
// whose token this is: kubernetes.io.namespace and
// kubernetes.io.serviceaccount.name, else the subject
// system:serviceaccount:NAMESPACE:NAME. ok is false when neither says.
func (c Claims) ServiceAccountName() (namespace, name string, ok bool) {
	if c.Namespace != "" && c.ServiceAccount.Name != "" {
		return c.Namespace, c.ServiceAccount.Name, true
	}
	rest, found := strings.CutPrefix(c.Subject, serviceAccountPrefix)
	namespace, name, found2 := strings.Cut(rest, ":")
	if !found || !found2 || namespace == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return namespace, name, true
}

// serviceAccountPrefix starts the username, and the sub, of a service
// account: system:serviceaccount:NAMESPACE:NAME.
const serviceAccountPrefix = "system:serviceaccount:"

// ParseToken decodes the content of a token file without verifying its
// signature. See the package documentation for what is accepted.
func ParseToken(data []byte) (Token, error) {
	if len(data) > MaxTokenSize {
		return Token{}, newError(ProblemTooLarge, "token is larger than "+strconv.Itoa(MaxTokenSize/1024)+" KiB")
	}
	raw := bytes.TrimSpace(data)
	if len(raw) == 0 {
		if len(data) == 0 {
			return Token{}, newError(ProblemEmpty, "token is empty")
		}
		return Token{}, newError(ProblemEmpty, "token is only whitespace")
	}
	for i, b := range raw {
		if !isJWTByte(b) {
			return Token{}, malformed("byte " + strconv.Itoa(i) + " (" + describeByte(b) + ") cannot appear in a JWT (base64url segments separated by dots)")
		}
	}
	tok := string(raw)
	if n := strings.Count(tok, ".") + 1; n != 3 {
		return Token{}, malformed("token has " + strconv.Itoa(n) + " dot-separated segments, a JWT has 3 (header.payload.signature)")
	}
	h, rest, _ := strings.Cut(tok, ".")
	p, s, _ := strings.Cut(rest, ".")

	// One buffer, large enough for any segment, serves the three in turn.
	buf := make([]byte, base64.RawURLEncoding.DecodedLen(max(len(h), len(p), len(s))))
	header, err := decodeSegment(buf, h, "header")
	if err != nil {
		return Token{}, err
	}
	if !isJSONObject(header) {
		return Token{}, malformed("header is not a JSON object")
	}
	if _, err := decodeSegment(buf, s, "signature"); err != nil {
		return Token{}, err
	}
	payload, err := decodeSegment(buf, p, "payload")
	if err != nil {
		return Token{}, err
	}
	claims, err := parseClaims(payload)
	if err != nil {
		return Token{}, err
	}
	return Token{Raw: tok, Claims: claims}, nil
}

func isJWTByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '_' || b == '.' || b == '='
}

func describeByte(b byte) string {
	if b > ' ' && b < 0x7f {
		return strconv.QuoteRune(rune(b))
	}
	return "0x" + strconv.FormatUint(uint64(b), 16)
}

func malformed(msg string) *Error { return newError(ProblemMalformed, msg) }

// decodeSegment decodes one base64url segment into buf; trailing padding is
// tolerated, as go-jose (the API server's JWT library) tolerates it.
func decodeSegment(buf []byte, seg, name string) ([]byte, error) {
	unpadded := strings.TrimRight(seg, "=")
	if unpadded == "" {
		return nil, malformed(name + " segment is empty")
	}
	if strings.IndexByte(unpadded, '=') >= 0 {
		return nil, malformed(name + " segment has \"=\" before its end")
	}
	n, err := base64.RawURLEncoding.Decode(buf, []byte(unpadded))
	if err != nil {
		return nil, &Error{Problem: ProblemMalformed, Msg: name + " segment is not base64url", Err: err}
	}
	return buf[:n], nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

func parseClaims(payload []byte) (Claims, error) {
	if !isJSONObject(payload) {
		return Claims{}, malformed("payload is not a JSON object")
	}
	var exp, iat, nbf, iss, sub, aud, kube []byte
	if err := forEachMember(payload, func(key, value []byte) error {
		switch string(key) {
		case "exp":
			exp = value
		case "iat":
			iat = value
		case "nbf":
			nbf = value
		case "iss":
			iss = value
		case "sub":
			sub = value
		case "aud":
			aud = value
		case "kubernetes.io":
			kube = value
		}
		return nil
	}); err != nil {
		return Claims{}, &Error{Problem: ProblemMalformed, Msg: "payload is not a JSON object", Err: err}
	}
	var c Claims
	var err error
	if c.Expiry, err = numericDate(exp, "exp"); err != nil {
		return Claims{}, err
	}
	if c.Expiry.IsZero() {
		return Claims{}, newError(ProblemNoExpiry, "token has no exp claim")
	}
	if c.IssuedAt, err = numericDate(iat, "iat"); err != nil {
		return Claims{}, err
	}
	if c.NotBefore, err = numericDate(nbf, "nbf"); err != nil {
		return Claims{}, err
	}
	if c.Issuer, err = stringClaim(iss, "iss"); err != nil {
		return Claims{}, err
	}
	if c.Subject, err = stringClaim(sub, "sub"); err != nil {
		return Claims{}, err
	}
	if c.Audience, err = audience(aud); err != nil {
		return Claims{}, err
	}
	if err := kubernetesClaims(kube, &c); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// absent reports a claim that is missing or null.
func absent(v []byte) bool { return v == nil || string(v) == "null" }

// numericDate reads an RFC 7519 NumericDate: a JSON number of seconds since
// the epoch, possibly fractional (rounded down here). Absent or null gives the
// zero time.
func numericDate(v []byte, name string) (time.Time, error) {
	if absent(v) {
		return time.Time{}, nil
	}
	if !(v[0] == '-' || '0' <= v[0] && v[0] <= '9') {
		return time.Time{}, malformed("claim " + strconv.Quote(name) + " is not a number")
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || f < 1 || f > maxNumericDate {
		return time.Time{}, malformed("claim " + strconv.Quote(name) + " is not a time between 1970 and 9999")
	}
	return time.Unix(int64(math.Floor(f)), 0), nil
}

func stringClaim(v []byte, name string) (string, error) {
	if absent(v) {
		return "", nil
	}
	s, ok := jsonString(v)
	if !ok {
		return "", malformed("claim " + strconv.Quote(name) + " is not a string")
	}
	return s, nil
}

// audience reads aud, which RFC 7519 allows as one string or an array.
func audience(v []byte) ([]string, error) {
	if absent(v) {
		return nil, nil
	}
	if one, ok := jsonString(v); ok {
		return []string{one}, nil
	}
	many := []string{}
	ok := v[0] == '['
	if ok {
		ok = forEachElement(v, func(e []byte) error {
			s, isString := jsonString(e)
			if !isString {
				return errNotString
			}
			many = append(many, s)
			return nil
		}) == nil
	}
	if !ok {
		return nil, malformed(`claim "aud" is neither a string nor an array of strings`)
	}
	return many, nil
}

// kubernetesClaims reads the members of the kubernetes.io claim into c:
// warnafter, namespace, serviceaccount and pod.
func kubernetesClaims(kube []byte, c *Claims) error {
	if absent(kube) {
		return nil
	}
	if kube[0] != '{' {
		return malformed(`claim "kubernetes.io" is not a JSON object`)
	}
	var warn, ns, sa, pod []byte
	if err := forEachMember(kube, func(key, value []byte) error {
		switch string(key) {
		case "warnafter":
			warn = value
		case "namespace":
			ns = value
		case "serviceaccount":
			sa = value
		case "pod":
			pod = value
		}
		return nil
	}); err != nil {
		return &Error{Problem: ProblemMalformed, Msg: `claim "kubernetes.io" is not a JSON object`, Err: err}
	}
	var err error
	if c.WarnAfter, err = numericDate(warn, "warnafter"); err != nil {
		return err
	}
	if c.Namespace, err = stringClaim(ns, "kubernetes.io.namespace"); err != nil {
		return err
	}
	if c.ServiceAccount, err = objectRef(sa, "kubernetes.io.serviceaccount"); err != nil {
		return err
	}
	c.Pod, err = objectRef(pod, "kubernetes.io.pod")
	return err
}

// objectRef reads an object of the kubernetes.io claim: {"name", "uid"}.
func objectRef(v []byte, name string) (ObjectRef, error) {
	if absent(v) {
		return ObjectRef{}, nil
	}
	if v[0] != '{' {
		return ObjectRef{}, malformed("claim " + strconv.Quote(name) + " is not a JSON object")
	}
	var n, uid []byte
	if err := forEachMember(v, func(key, value []byte) error {
		switch string(key) {
		case "name":
			n = value
		case "uid":
			uid = value
		}
		return nil
	}); err != nil {
		return ObjectRef{}, &Error{Problem: ProblemMalformed, Msg: "claim " + strconv.Quote(name) + " is not a JSON object", Err: err}
	}
	var ref ObjectRef
	var err error
	if ref.Name, err = stringClaim(n, name+".name"); err != nil {
		return ObjectRef{}, err
	}
	if ref.UID, err = stringClaim(uid, name+".uid"); err != nil {
		return ObjectRef{}, err
	}
	return ref, nil
}
