package credential

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

const (
	// Group is the API group of client-go's exec credential protocol.
	Group = "client.authentication.k8s.io"
	// APIVersionV1 is the apiVersion answered when none is asked for.
	APIVersionV1 = Group + "/v1"
	// APIVersionV1beta1 is the older apiVersion, still spoken by client-go.
	APIVersionV1beta1 = Group + "/v1beta1"
	// Kind is the kind of the request and of the answer.
	Kind = "ExecCredential"
	// ExecInfoEnv is the variable in which client-go passes the request.
	ExecInfoEnv = "KUBERNETES_EXEC_INFO"
)

// ExecCredential is the document a credential plugin prints on stdout. It is
// the subset of client-go's clientauthentication v1 and v1beta1
// ExecCredential that a token plugin fills in, with the same JSON.
type ExecCredential struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Status     ExecCredentialStatus `json:"status"`
}

// ExecCredentialStatus carries the token and when client-go should ask again.
type ExecCredentialStatus struct {
	// ExpirationTimestamp is RFC 3339 in UTC, whole seconds, like metav1.Time.
	ExpirationTimestamp string `json:"expirationTimestamp"`
	Token               string `json:"token"`
}

// NewExecCredential returns the answer in apiVersion for token, to be cached
// by client-go until expiry.
func NewExecCredential(apiVersion, token string, expiry time.Time) ExecCredential {
	return ExecCredential{
		APIVersion: apiVersion,
		Kind:       Kind,
		Status: ExecCredentialStatus{
			ExpirationTimestamp: expiry.UTC().Format(time.RFC3339),
			Token:               token,
		},
	}
}

// Marshal returns the JSON document followed by a newline: exactly what
// json.Marshal writes. When every string is printable ASCII that JSON writes
// as itself (a token is base64url and dots), the document is written
// directly, which spares every exec the encoder's reflection and the pages
// it touches (see scan.go).
func (c ExecCredential) Marshal() ([]byte, error) {
	if plain(c.APIVersion) && plain(c.Kind) && plain(c.Status.ExpirationTimestamp) && plain(c.Status.Token) {
		b := make([]byte, 0, 96+len(c.APIVersion)+len(c.Kind)+len(c.Status.ExpirationTimestamp)+len(c.Status.Token))
		b = append(b, `{"apiVersion":"`...)
		b = append(b, c.APIVersion...)
		b = append(b, `","kind":"`...)
		b = append(b, c.Kind...)
		b = append(b, `","status":{"expirationTimestamp":"`...)
		b = append(b, c.Status.ExpirationTimestamp...)
		b = append(b, `","token":"`...)
		b = append(b, c.Status.Token...)
		return append(b, "\"}}\n"...), nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// plain reports whether json.Marshal writes s between quotes unchanged.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b < 0x20, b >= 0x7f, b == '"', b == '\\', b == '<', b == '>', b == '&':
			return false
		}
	}
	return true
}

// WriteExecCredential writes the ExecCredential for token, expiring at
// expiry, to w in one write: what a credential plugin prints on stdout.
func WriteExecCredential(w io.Writer, apiVersion, token string, expiry time.Time) error {
	out, err := NewExecCredential(apiVersion, token, expiry).Marshal()
	if err != nil {
		return fmt.Errorf("encode ExecCredential: %w", err)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write ExecCredential to stdout: %w", err)
	}
	return nil
}

// ParseExecInfo returns the apiVersion that the value of KUBERNETES_EXEC_INFO
// asks for: APIVersionV1 when the variable is unset or empty. A value that is
// not a JSON object, names another kind or an unsupported apiVersion is an
// error naming the variable.
func ParseExecInfo(value string) (string, error) {
	if value == "" {
		return APIVersionV1, nil
	}
	if !isJSONObject([]byte(value)) {
		return "", newError(ProblemExecInfo, ExecInfoEnv+" is not a JSON object")
	}
	var kind, apiVersion []byte
	if err := forEachMember([]byte(value), func(key, v []byte) error {
		switch string(key) {
		case "kind":
			kind = v
		case "apiVersion":
			apiVersion = v
		}
		return nil
	}); err != nil {
		return "", &Error{Problem: ProblemExecInfo, Msg: ExecInfoEnv + " is not a JSON object", Err: err}
	}
	if k, ok := jsonString(kind); !ok || k != Kind {
		return "", newError(ProblemExecInfo, ExecInfoEnv+" has kind "+string(orNothing(kind))+", want "+strconv.Quote(Kind))
	}
	v, ok := jsonString(apiVersion)
	if ok && (v == APIVersionV1 || v == APIVersionV1beta1) {
		return v, nil
	}
	return "", newError(ProblemExecInfo, ExecInfoEnv+" asks for apiVersion "+string(orNothing(apiVersion))+
		", this plugin answers "+APIVersionV1+" and "+APIVersionV1beta1)
}

// orNothing returns a JSON value for a message: "nothing" when absent, else
// its JSON text cut to 80 bytes.
func orNothing(v []byte) []byte {
	if len(v) == 0 {
		return []byte("nothing")
	}
	if len(v) > 80 {
		return append(v[:77:77], "..."...)
	}
	return v
}
