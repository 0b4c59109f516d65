package generate

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// staticComponent is the plugin Component the repository ships, for
// ArgoCD's default names and the plugin image of the shipped example.
const staticComponent = "../../kustomize/plugin"

// TestStaticPluginComponent: kustomize/plugin/ is byte for byte what
// generate writes into upstream/<hub>/ for a hub whose downstreams all use
// token-request, with ArgoCD's default names (run go test -update after a
// change of the patches).
func TestStaticPluginComponent(t *testing.T) {
	example := load(t, "../../examples/federation.yaml")[0]
	f := load(t, "testdata/token-request-only/federation.yaml")[0]
	f.Upstream.Plugin.Image = example.Upstream.Plugin.Image
	if err := f.Complete(); err != nil {
		t.Fatal(err)
	}
	tree, err := PluginComponent(f)
	if err != nil {
		t.Fatal(err)
	}
	// The shipped files are generate's own: the same patches and guards.
	full, err := Generate(context.Background(), set(t, f))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range tree.Files {
		got := fileContent(full, "upstream/hub/"+file.Path)
		if file.Path == "kustomization.yaml" {
			got = withoutResources(got)
		}
		if !bytes.Equal(got, file.Content) {
			t.Errorf("upstream/hub/%s differs from the plugin Component's %s:\n%s", file.Path, file.Path, cmp.Diff(string(file.Content), string(got)))
		}
	}
	// The README is the repository's own, kept as it is.
	readme, err := os.ReadFile(staticComponent + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	tree.Files = append(tree.Files, fileio.File{Path: "README.md", Content: readme})
	if *update {
		if err := WriteDir(context.Background(), staticComponent, tree); err != nil {
			t.Fatal(err)
		}
	}
	diffs, err := Check(context.Background(), staticComponent, tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("kustomize/plugin/%s: %s (run go test ./internal/generate -update to accept)", d.Path, d.What)
	}

	// With a projected downstream the pod templates depend on the fleet.
	f.Downstreams[0].TokenSource = config.SourceProjected
	if _, err := PluginComponent(f); err == nil || !strings.Contains(err.Error(), "projected tokens change the pod templates") {
		t.Errorf("PluginComponent with a projected downstream: %v", err)
	}
}

// withoutResources drops the resources list of a kustomization.
func withoutResources(k []byte) []byte {
	i := bytes.Index(k, []byte("\nresources:\n"))
	if i < 0 {
		return k
	}
	rest := k[i+len("\nresources:\n"):]
	for len(rest) > 0 && rest[0] == '-' {
		if j := bytes.IndexByte(rest, '\n'); j >= 0 {
			rest = rest[j+1:]
		} else {
			rest = nil
		}
	}
	return append(append([]byte(nil), k[:i+1]...), rest...)
}
