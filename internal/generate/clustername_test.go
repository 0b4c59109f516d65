package generate

import (
	"context"
	"strings"
	"testing"
)

// downstreams[].argocd.clusterName is the name ArgoCD shows and
// Applications may use: the cluster Secret's name key. The Helm values
// cannot key a name that is no Secret name, and leave that cluster out.
func TestClusterName(t *testing.T) {
	feds := load(t, "../../examples/federation.yaml")
	for i := range feds[0].Downstreams {
		d := &feds[0].Downstreams[i]
		switch d.Name {
		case "prod-eu":
			d.ArgoCD.ClusterName = "Prod EU (old)"
		case "staging":
			d.ArgoCD.ClusterName = "staging.example.com"
		}
	}
	tree, err := Generate(context.Background(), set(t, feds...))
	if err != nil {
		t.Fatal(err)
	}
	secret := string(fileContent(tree, "upstream/hub/cluster-prod-eu.yaml"))
	if !strings.Contains(secret, "name: Prod EU (old)\n") {
		t.Errorf("the cluster Secret's name is not argocd.clusterName:\n%s", secret)
	}
	values := string(fileContent(tree, "upstream/hub/"+HelmValuesFile))
	if strings.Contains(values, "Prod EU") || !strings.Contains(values, "    staging.example.com:\n") || !strings.Contains(values, "    platform:\n") {
		t.Errorf("helm values: want staging.example.com and platform, not Prod EU:\n%s", values)
	}
}
