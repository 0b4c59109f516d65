package argocd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// StoredCredential is the credential a cluster Secret's config keeps for
// ArgoCD to present: a bearer token, a client certificate and its key,
// basic auth, an exec plugin's environment. Its values are read by Parse
// for the audit (a token's claims, a certificate's subject and expiry) and
// are never printed: String, GoString, Format and MarshalJSON name what is
// stored, not what it is.
type StoredCredential struct {
	bearerToken        string
	username, password string
	certData, keyData  []byte
	execEnv            map[string]string
}

// BearerToken is the stored bearer token ("" when none). Decode it; never
// print it.
func (c StoredCredential) BearerToken() string { return c.bearerToken }

// CertData is the stored client certificate (PEM; public, but still the
// half of a credential).
func (c StoredCredential) CertData() []byte { return c.certData }

// HasKey reports a stored client key.
func (c StoredCredential) HasKey() bool { return len(c.keyData) > 0 }

// Username is the basic-auth user name (not a secret).
func (c StoredCredential) Username() string { return c.username }

// HasPassword reports a stored basic-auth password.
func (c StoredCredential) HasPassword() bool { return c.password != "" }

// ExecEnvNames are the names of the exec plugin's environment variables,
// sorted.
func (c StoredCredential) ExecEnvNames() []string {
	names := make([]string, 0, len(c.execEnv))
	for k := range c.execEnv {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// secretEnvName is an environment variable name that says it carries a
// secret (AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, DB_PASSWORD ...).
var secretEnvName = regexp.MustCompile(`(?i)(token|secret|password|passwd|key|credential)`)

// SecretEnvNames are the exec environment's variables whose names say
// they carry a secret.
func (c StoredCredential) SecretEnvNames() []string {
	var out []string
	for _, k := range c.ExecEnvNames() {
		if secretEnvName.MatchString(k) {
			out = append(out, k)
		}
	}
	return out
}

// Fields are the config fields that keep a credential, in a fixed order:
// bearerToken, tlsClientConfig.certData, tlsClientConfig.keyData,
// username, password, execProviderConfig.env.NAME for the secret-looking
// variables.
func (c StoredCredential) Fields() []string {
	var f []string
	if c.bearerToken != "" {
		f = append(f, "bearerToken")
	}
	if len(c.certData) > 0 {
		f = append(f, "tlsClientConfig.certData")
	}
	if len(c.keyData) > 0 {
		f = append(f, "tlsClientConfig.keyData")
	}
	if c.username != "" {
		f = append(f, "username")
	}
	if c.password != "" {
		f = append(f, "password")
	}
	for _, k := range c.SecretEnvNames() {
		f = append(f, "execProviderConfig.env."+k)
	}
	return f
}

// Static reports a long-lived secret kept in the Secret: a token, a key, a
// password, or a secret-looking exec environment variable.
func (c StoredCredential) Static() bool {
	return c.bearerToken != "" || len(c.keyData) > 0 || c.password != "" || len(c.SecretEnvNames()) > 0
}

// IsZero reports that nothing is stored.
func (c StoredCredential) IsZero() bool {
	return c.bearerToken == "" && c.username == "" && c.password == "" && len(c.certData) == 0 && len(c.keyData) == 0 && len(c.execEnv) == 0
}

// String names the stored fields, never their values.
func (c StoredCredential) String() string {
	if c.IsZero() {
		return "StoredCredential{}"
	}
	return "StoredCredential{" + strings.Join(c.Fields(), ", ") + " (values redacted)}"
}

// GoString is String: %#v prints no value either.
func (c StoredCredential) GoString() string { return c.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %q, %x, %d ...):
// no verb reaches the fields.
func (c StoredCredential) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, c.String())
}

// MarshalJSON is the list of stored fields.
func (c StoredCredential) MarshalJSON() ([]byte, error) {
	f := c.Fields()
	if f == nil {
		f = []string{}
	}
	return json.Marshal(map[string][]string{"storedFields": f})
}

// redactJSONError drops what a JSON syntax error quotes of the document (a
// character of it, which may be a token's): its offset is enough.
func redactJSONError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	}
	return err
}

// Equal compares two stored credentials (go-cmp uses it).
func (c StoredCredential) Equal(o StoredCredential) bool {
	if c.bearerToken != o.bearerToken || c.username != o.username || c.password != o.password ||
		string(c.certData) != string(o.certData) || string(c.keyData) != string(o.keyData) || len(c.execEnv) != len(o.execEnv) {
		return false
	}
	for k, v := range c.execEnv {
		if w, ok := o.execEnv[k]; !ok || w != v {
			return false
		}
	}
	return true
}
