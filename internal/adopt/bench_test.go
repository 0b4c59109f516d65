package adopt_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt/adopttest"
)

// benchSecrets is n cluster Secrets, every kind of adopttest.Hub in turn,
// each with its own name and server, as kubectl get -o yaml writes them.
func benchSecrets(b *testing.B, n int) (yamlFile, jsonFile, caFile string) {
	b.Helper()
	m := adopttest.NewMaterial(b)
	kinds := adopttest.Hub(m)
	fx := make([]adopttest.Fixture, 0, n)
	for i := range n {
		f := kinds[i%len(kinds)]
		s := f.Secret
		s.Metadata.Name = fmt.Sprintf("%s-%04d", s.Metadata.Name, i)
		data := map[string]string{}
		for k, v := range s.StringData {
			data[k] = v
		}
		data["name"] = fmt.Sprintf("%s-%04d", data["name"], i)
		data["server"] = strings.Replace(data["server"], ".", fmt.Sprintf("-%04d.", i), 1)
		// Each federated Secret its own audience, as the config wants.
		for _, aud := range []string{"federated", "requested"} {
			data["config"] = strings.ReplaceAll(data["config"], `"--audience","`+aud+`"`, fmt.Sprintf(`"--audience","%s-%04d"`, aud, i))
		}
		s.StringData = data
		f.Secret = s
		fx = append(fx, f)
	}
	dir := b.TempDir()
	y := adopttest.YAML(fx)
	js, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		b.Fatal(err)
	}
	yamlFile, jsonFile, caFile = filepath.Join(dir, "secrets.yaml"), filepath.Join(dir, "secrets.json"), filepath.Join(dir, "hub-ca.crt")
	writeFile(b, yamlFile, []byte(y))
	writeFile(b, jsonFile, js)
	writeFile(b, caFile, m.CAPEM)
	return yamlFile, jsonFile, caFile
}

// BenchmarkAdopt1000: reading 1,000 cluster Secrets from a file (YAML and
// JSON), auditing and importing them (the import's config check included).
func BenchmarkAdopt1000(b *testing.B) {
	yamlFile, jsonFile, caFile := benchSecrets(b, 1000)
	in, err := adopt.Read([]string{yamlFile}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ReadYAML", func(b *testing.B) {
		for b.Loop() {
			if _, err := adopt.Read([]string{yamlFile}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadJSON", func(b *testing.B) {
		for b.Loop() {
			if _, err := adopt.Read([]string{jsonFile}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Audit", func(b *testing.B) {
		for b.Loop() {
			adopt.Audit(in, time.Now())
		}
	})
	b.Run("Import", func(b *testing.B) {
		source := filepath.Join(filepath.Dir(caFile), "federation.yaml")
		for b.Loop() {
			res, err := adopt.Import(in, adopt.Hub{Name: "hub", Issuer: "https://hub.example.com", CAFile: "hub-ca.crt"}, source, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.Downstreams), "downstreams")
		}
	})
}
