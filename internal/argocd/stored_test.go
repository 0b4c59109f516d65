package argocd_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
)

// What a Secret stores is read, named, and never printed: not by %v, %+v,
// %#v, %s, %q, %x, %d, nor by JSON.
func TestStoredCredentialNeverPrinted(t *testing.T) {
	const token, key, password, envSecret = "tok-1234567890", "a2V5LWJ5dGVzLTEyMzQ=", "pw-1234567890", "env-secret-123456"
	in := `kind: Secret
metadata: {name: cluster-x, namespace: argocd, labels: {argocd.argoproj.io/secret-type: cluster}}
stringData:
  server: https://10.0.0.1
  config: '{"bearerToken": "` + token + `", "username": "admin", "password": "` + password + `",
    "proxyUrl": "http://proxy:3128", "awsAuthConfig": {"clusterName": "prod", "roleARN": "arn:aws:iam::1:role/x"},
    "tlsClientConfig": {"serverName": "api.internal", "certData": "Y2VydA==", "keyData": "` + key + `"},
    "execProviderConfig": {"command": "x", "args": ["y"], "env": {"API_TOKEN": "` + envSecret + `", "REGION": "eu"}}}'
`
	s, err := argocd.Parse([]byte(in), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.ServerName != "api.internal" || s.ProxyURL != "http://proxy:3128" || s.AWSAuth == nil || s.AWSAuth.ClusterName != "prod" || !s.HasBearerToken {
		t.Errorf("Parse = %+v", s)
	}
	st := s.Stored
	if st.BearerToken() != token || string(st.CertData()) != "cert" || !st.HasKey() || st.Username() != "admin" || !st.HasPassword() || !st.Static() {
		t.Errorf("Stored: %v", st)
	}
	want := "bearerToken, tlsClientConfig.certData, tlsClientConfig.keyData, username, password, execProviderConfig.env.API_TOKEN"
	if got := strings.Join(st.Fields(), ", "); got != want {
		t.Errorf("Fields = %s, want %s", got, want)
	}
	var printed strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		fmt.Fprintf(&printed, verb+" "+verb+"\n", s, st)
	}
	fmt.Fprintf(&printed, "%v %#v\n", *s, *s)
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	printed.Write(js)
	for _, secret := range []string{token, key, "key-bytes", password, envSecret} {
		if strings.Contains(printed.String(), secret) {
			t.Errorf("%q printed:\n%s", secret, printed.String())
		}
	}
	if !strings.Contains(printed.String(), "(values redacted)") {
		t.Errorf("nothing says what is stored:\n%s", printed.String())
	}
}
