package credential

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzScanMatchesEncodingJSON holds the JSON walk of scan.go equal to
// encoding/json on every valid document: the members of an object (last
// repeated key wins), the elements of an array, and the content of a string.
func FuzzScanMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"aud":["downstream-a"],"exp":1767326645,"iat":1767323045,"iss":"https://upstream.example.com/issuer","kubernetes.io":{"namespace":"argocd","pod":{"name":"p","uid":"u"},"warnafter":1767326652},"nbf":1767323045,"sub":"system:serviceaccount:argocd:argocd-server"}`,
		`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}` + "\n",
		` { "a" : [ 1 , "x\"]" , {"b":[]} ] , "a" : null , "\u0065xp" : -1.5e3 , "" : true } `,
		`["a", "b\\c", "\ud83d\ude00", 1, [], {}]`,
		`{"k\u00e9y":"v\u00e9","k\ud800":"\ud800"}`,
		`"just a string"`,
		"{\"\xff\":\"\xfe\"}",
		`{}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		v := bytes.TrimSpace(data)
		switch v[0] {
		case '{':
			var want map[string]json.RawMessage
			if err := json.Unmarshal(v, &want); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			got := map[string]json.RawMessage{}
			if err := forEachMember(v, func(key, value []byte) error {
				got[string(key)] = json.RawMessage(value)
				return nil
			}); err != nil {
				t.Fatalf("forEachMember() error = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("forEachMember() mismatch (-encoding/json +scan):\n%s", diff)
			}
		case '[':
			var want []json.RawMessage
			if err := json.Unmarshal(v, &want); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			got := []json.RawMessage{}
			if err := forEachElement(v, func(value []byte) error {
				got = append(got, json.RawMessage(value))
				return nil
			}); err != nil {
				t.Fatalf("forEachElement() error = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("forEachElement() mismatch (-encoding/json +scan):\n%s", diff)
			}
		case '"':
			var want string
			if err := json.Unmarshal(v, &want); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			got, ok := jsonString(v)
			if !ok || got != want {
				t.Fatalf("jsonString() = %q, %v; encoding/json %q", got, ok, want)
			}
		default:
			if got, ok := jsonString(v); ok {
				t.Fatalf("jsonString(%s) = %q, want not a string", v, got)
			}
		}
	})
}
