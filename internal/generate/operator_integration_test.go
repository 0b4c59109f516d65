package generate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// operatorCRD is argocd-operator's ArgoCD CustomResourceDefinition (v0.18.0),
// kept beside the repository as third-party test data.
const operatorCRD = "../shared/testdata/argocd-operator/argoproj.io_argocds.yaml"

// TestIntegrationOperatorAcceptsArgoCDPatch installs argocd-operator's CRD
// into a real API server and has it judge the generated ArgoCD resource
// (server-side apply, dry run, strict field validation): its structural
// schema accepts every field, and a misspelt field is refused, so the judge
// is awake.
func TestIntegrationOperatorAcceptsArgoCDPatch(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	crdYAML, err := os.ReadFile(filepath.Join(root, operatorCRD))
	if err != nil {
		t.Fatalf("argocd-operator's CRD, the test data beside the repository: %v", err)
	}
	feds := load(t, "../../examples/federation.yaml")
	feds[0].Upstream.ArgoCD.Operator = &config.Operator{Name: "openshift-gitops"}
	feds[0].Upstream.ArgoCD.Namespace = "openshift-gitops"
	feds[0].Upstream.ArgoCD.Controller = config.Workload{}
	feds[0].Upstream.ArgoCD.Server = config.Workload{}
	feds[0].Default()
	if err := feds[0].Complete(); err != nil {
		t.Fatal(err)
	}
	if got, want := feds[0].Upstream.ArgoCD.Controller.ServiceAccount, "openshift-gitops-argocd-application-controller"; got != want {
		t.Errorf("the controller's service account with the operator is %q, want %q", got, want)
	}
	tree, err := Generate(context.Background(), set(t, feds...))
	if err != nil {
		t.Fatal(err)
	}
	var patch []byte
	for _, f := range tree.Files {
		if f.Path == "upstream/hub/"+OperatorPatchFile {
			patch = f.Content
		}
	}
	if patch == nil {
		t.Fatalf("no upstream/hub/%s", OperatorPatchFile)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := testenv.Dir(t)
	api := testenv.StartAPIServer(t, dir, testenv.StartEtcd(t, dir), testenv.APIServerConfig{Name: "hub"})
	crd, err := yaml.YAMLToJSON(crdYAML)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Do(ctx, http.MethodPost, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json.RawMessage(crd)); err != nil {
		t.Fatalf("install the CRD: %v", err)
	}
	if err := api.CreateNamespace(ctx, "openshift-gitops"); err != nil {
		t.Fatal(err)
	}
	apply := func(body []byte) (int, string) {
		path := "/apis/argoproj.io/v1beta1/namespaces/openshift-gitops/argocds/openshift-gitops?fieldManager=argocd-k8s-federate&dryRun=All&fieldValidation=Strict"
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodPatch, api.URL+path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/apply-patch+yaml")
			resp, err := api.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// Until the CRD is established, the resource is not served.
			if resp.StatusCode == http.StatusNotFound && ctx.Err() == nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			return resp.StatusCode, string(b)
		}
	}

	code, body := apply(patch)
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("the API server refused the generated ArgoCD resource (%d):\n%s\n%s", code, body, patch)
	}
	var got struct {
		Spec struct {
			Controller struct {
				InitContainers []struct{ Name string }      `json:"initContainers"`
				Volumes        []struct{ Name string }      `json:"volumes"`
				VolumeMounts   []struct{ MountPath string } `json:"volumeMounts"`
				RespectRBAC    string                       `json:"respectRBAC"`
			} `json:"controller"`
			Server struct {
				VolumeMounts []struct{ MountPath string } `json:"volumeMounts"`
			} `json:"server"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	c := got.Spec.Controller
	if len(c.InitContainers) != 1 || len(c.Volumes) != 2 || len(c.VolumeMounts) != 2 || c.RespectRBAC != "normal" || len(got.Spec.Server.VolumeMounts) != 2 {
		t.Errorf("the stored ArgoCD lost fields of the patch: %s", body)
	}

	misspelt := strings.Replace(string(patch), "volumeMounts:", "volumeMount:", 1)
	if code, body := apply([]byte(misspelt)); code < 400 || !strings.Contains(body, "volumeMount: field not declared in schema") {
		t.Errorf("a misspelt field was not refused (%d): %s", code, body)
	}
}
