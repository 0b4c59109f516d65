package argocd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
)

// FuzzParse: whatever a --secret file holds, Parse does not panic, and what
// it accepts encodes (Object) to a Secret that Parse reads back the same.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("../../manifests/upstream/*/cluster-*.yaml")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no generated cluster Secrets in manifests/ to seed from (%v)", err)
	}
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"kind":"Secret","data":{"server":"aHR0cHM6Ly9h","config":"e30="}}`))
	f.Add([]byte("kind: Secret\nstringData:\n  server: https://a\n  namespaces: ' a, ,b'\n  config: '{\"bearerToken\":\"t\",\"execProviderConfig\":{\"command\":\"c\",\"args\":[\"token-file\",\"--file=/x\"]}}'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := argocd.Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		if s.Server == "" {
			t.Fatal("Parse accepted a Secret without a server")
		}
		_, _ = s.TokenFile()
		obj, err := s.Object()
		if err != nil {
			t.Fatalf("Object() of a parsed Secret: %v", err)
		}
		out, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		back, err := argocd.Parse(out, "fuzz.yaml")
		if err != nil {
			t.Fatalf("Parse(Object(Parse(x))): %v\n%s", err, out)
		}
		s.HasBearerToken, s.Stored = false, argocd.StoredCredential{} // never written
		if diff := cmp.Diff(s, back, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip (-parsed +reparsed):\n%s", diff)
		}
	})
}
