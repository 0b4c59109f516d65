package credential_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
)

func TestParseExecInfo(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		want   string
		errSub string
	}{
		{name: "unset", value: "", want: credential.APIVersionV1},
		// Exactly what client-go v0.34 sets (recorded by the exec test), newline included.
		{name: "client-go v1", value: `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}` + "\n",
			want: credential.APIVersionV1},
		{name: "client-go v1beta1", value: `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}` + "\n",
			want: credential.APIVersionV1beta1},
		{name: "provideClusterInfo", value: `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://a.example","certificate-authority-data":"LS0t","config":{"x":1}},"interactive":false}}`,
			want: credential.APIVersionV1},

		{name: "not JSON", value: "v1", errSub: "KUBERNETES_EXEC_INFO is not a JSON object"},
		{name: "truncated", value: `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1"`, errSub: "KUBERNETES_EXEC_INFO is not a JSON object"},
		{name: "array", value: `[]`, errSub: "KUBERNETES_EXEC_INFO is not a JSON object"},
		{name: "apiVersion not a string", value: `{"kind":"ExecCredential","apiVersion":1}`, errSub: "KUBERNETES_EXEC_INFO asks for apiVersion 1, this plugin answers"},
		{name: "no kind", value: `{"apiVersion":"client.authentication.k8s.io/v1"}`, errSub: `KUBERNETES_EXEC_INFO has kind nothing, want "ExecCredential"`},
		{name: "long kind is cut", value: `{"kind":"` + strings.Repeat("x", 200) + `"}`, errSub: `has kind "xxxxxxxx`},
		{name: "escaped strings are decoded", value: `{"kind":"Exec\u0043redential","apiVersion":"client.authentication.k8s.io\/v1beta1"}`, want: credential.APIVersionV1beta1},
		{name: "other kind", value: `{"kind":"Config","apiVersion":"client.authentication.k8s.io/v1"}`, errSub: `has kind "Config"`},
		{name: "v1alpha1 (removed in client-go 1.24)", value: `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1"}`,
			errSub: `KUBERNETES_EXEC_INFO asks for apiVersion "client.authentication.k8s.io/v1alpha1"`},
		{name: "no apiVersion", value: `{"kind":"ExecCredential"}`, errSub: `asks for apiVersion nothing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := credential.ParseExecInfo(tt.value)
			if tt.errSub != "" {
				var cerr *credential.Error
				if !errors.As(err, &cerr) || cerr.Problem != credential.ProblemExecInfo || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("ParseExecInfo() = %q, %v; want ProblemExecInfo containing %q", got, err, tt.errSub)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseExecInfo() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestExecCredentialMarshal(t *testing.T) {
	exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	got, err := credential.NewExecCredential(credential.APIVersionV1beta1, "a.b.c", exp).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"expirationTimestamp":"2026-01-02T02:04:05Z","token":"a.b.c"}}` + "\n"
	if string(got) != want {
		t.Errorf("Marshal() = %s, want %s", got, want)
	}
}

// TestExecCredentialMarshalIsJSONMarshal checks that the direct writing of
// plain documents is byte for byte json.Marshal, and that anything else goes
// through json.Marshal.
func TestExecCredentialMarshalIsJSONMarshal(t *testing.T) {
	exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, token := range []string{
		"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln",
		"a.b.c==",
		"",
		`quote"backslash\`,
		"<html>&amp;",
		"tab\tnewline\n",
		"\x7f\x00",
		"ünïcode\u2028",
		string([]byte{0xff, 0xfe}),
	} {
		c := credential.NewExecCredential(credential.APIVersionV1, token, exp)
		got, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%q) error = %v", token, err)
		}
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want)+"\n", string(got)); diff != "" {
			t.Errorf("Marshal(%q) is not json.Marshal (-want +got):\n%s", token, diff)
		}
	}
}

// FuzzExecCredentialMarshal: Marshal is json.Marshal for any strings.
func FuzzExecCredentialMarshal(f *testing.F) {
	f.Add("client.authentication.k8s.io/v1", "a.b.c")
	f.Add("v1", "<\"\\\n>")
	f.Fuzz(func(t *testing.T, apiVersion, token string) {
		c := credential.ExecCredential{APIVersion: apiVersion, Kind: credential.Kind,
			Status: credential.ExecCredentialStatus{ExpirationTimestamp: "2026-01-02T03:04:05Z", Token: token}}
		got, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want)+"\n" {
			t.Fatalf("Marshal() = %s, json.Marshal = %s", got, want)
		}
	})
}
