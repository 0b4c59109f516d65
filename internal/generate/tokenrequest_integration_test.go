package generate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// TestIntegrationTokenRequestAdmission applies the token-request source's
// generated RBAC, admission policy and audiences ConfigMap to a real API
// server and has it judge TokenRequests as the ArgoCD service accounts make
// them: the RBAC lets each one create tokens for itself only, and the
// ValidatingAdmissionPolicy (evaluated by the API server) lets it ask only
// for one audience of its downstreams, bound to a pod. Onboarding a
// downstream changes only the ConfigMap among these objects, and the API
// server then accepts its audience.
func TestIntegrationTokenRequestAdmission(t *testing.T) {
	feds := load(t, "testdata/token-request/federation.yaml")
	tree, err := Generate(context.Background(), set(t, feds...))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := testenv.Dir(t)
	api := testenv.StartAPIServer(t, dir, testenv.StartEtcd(t, dir), testenv.APIServerConfig{Name: "hub"})
	const ns = "argocd"
	for _, sa := range []string{config.DefaultControllerName, config.DefaultServerName} {
		if err := api.CreateServiceAccount(ctx, ns, sa); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"token-request.yaml", "token-audiences.yaml"} {
		applyDocuments(ctx, t, api, fileContent(tree, "upstream/hub/"+f))
	}

	// The pods the tokens are bound to (no kubelet: they stay Pending), and
	// each pod's own token, as the kubelet mounts it.
	pods := map[string]podRef{}
	own := map[string]string{}
	for _, sa := range []string{config.DefaultControllerName, config.DefaultServerName} {
		pods[sa] = createPod(ctx, t, api, ns, sa+"-0", sa)
		code, body := tokenRequest(ctx, t, api, "", ns, sa, []string{api.URL}, ptr(pods[sa]))
		if code != http.StatusCreated {
			t.Fatalf("admin token request for %s: %d %s", sa, code, body)
		}
		own[sa] = tokenOf(t, body)
	}
	controller, server := config.DefaultControllerName, config.DefaultServerName
	cpod := pods[controller]

	// The policy and its parameter reach the admission plugin
	// asynchronously: wait until it denies an audience of no downstream.
	const policy = "argocd-k8s-federate-hub-token-audiences"
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := tokenRequest(ctx, t, api, own[controller], ns, controller, []string{"not-a-downstream"}, &cpod)
		if code >= 400 && strings.Contains(body, "ValidatingAdmissionPolicy '"+policy+"'") {
			if !strings.Contains(body, "the audiences [not-a-downstream] are not one audience of a downstream of the hub hub") ||
				!strings.Contains(body, "argocd/argocd-k8s-federate-token-audiences") {
				t.Errorf("the denial does not say which audience and where the list is: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an audience of no downstream is still accepted after a minute (%d): %s", code, body)
		}
		time.Sleep(500 * time.Millisecond)
	}

	for _, tt := range []struct {
		name      string
		bearer    string
		sa        string
		audiences []string
		pod       *podRef
		code      int
		want      string
	}{
		{"controller, its downstream's audience", own[controller], controller, []string{"prod"}, &cpod, http.StatusCreated, ""},
		{"controller, a URL audience", own[controller], controller, []string{"https://staging.example.com"}, &cpod, http.StatusCreated, ""},
		{"server, its downstream's audience", own[server], server, []string{"prod"}, ptr(pods[server]), http.StatusCreated, ""},
		{"a projected downstream's audience", own[controller], controller, []string{"legacy"}, &cpod, 0, "ValidatingAdmissionPolicy '" + policy + "'"},
		{"two audiences in one token", own[controller], controller, []string{"prod", "https://staging.example.com"}, &cpod, 0, "one per token"},
		{"not bound to a pod", own[controller], controller, []string{"prod"}, nil, 0, "must be bound to the requesting pod"},
		{"the controller asks for the server's token", own[controller], server, []string{"prod"}, &cpod, http.StatusForbidden,
			`cannot create resource "serviceaccounts/token" in API group "" in the namespace "argocd"`},
		{"the server asks for the controller's token", own[server], controller, []string{"prod"}, ptr(pods[server]), http.StatusForbidden,
			`cannot create resource "serviceaccounts/token"`},
		// Others (the kubelet for projected volumes, here the admin) are
		// not fenced by the policy.
		{"the admin, any audience", "", controller, []string{"anything"}, &cpod, http.StatusCreated, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := tokenRequest(ctx, t, api, tt.bearer, ns, tt.sa, tt.audiences, tt.pod)
			switch {
			case tt.code == 0 && code < 400:
				t.Errorf("accepted (%d), want a denial saying %q", code, tt.want)
			case tt.code != 0 && code != tt.code:
				t.Errorf("status %d, want %d: %s", code, tt.code, body)
			case !strings.Contains(body, tt.want):
				t.Errorf("the response does not say %q: %s", tt.want, body)
			}
		})
	}

	// Onboarding: add a downstream and generate again. Among the upstream
	// objects only its Secret, the Component's resource list, the Helm
	// values and the audiences ConfigMap change; the pod patches do not.
	raw := []byte(strings.Replace(string(mustRead(t, "testdata/token-request/federation.yaml")), "downstreams:\n", `downstreams:
- name: onboarded
  server: https://onboarded.example.com:6443
  caFile: ../ca-2.crt
  access:
    namespaces: [apps]
`, 1))
	f2, err := config.Decode(raw, "testdata/token-request/federation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := f2.Complete(); err != nil {
		t.Fatal(err)
	}
	tree2, err := Generate(context.Background(), set(t, f2))
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, f := range tree2.Files {
		old := fileContent(tree, f.Path)
		switch {
		case !strings.HasPrefix(f.Path, "upstream/"):
		case old == nil:
			changed = append(changed, "added "+f.Path)
		case !bytes.Equal(old, f.Content):
			changed = append(changed, "changed "+f.Path)
		}
	}
	want := []string{
		"added upstream/hub/cluster-onboarded.yaml", "changed upstream/hub/helm-values.yaml",
		"changed upstream/hub/kustomization.yaml", "changed upstream/hub/token-audiences.yaml",
	}
	if fmt.Sprint(changed) != fmt.Sprint(want) {
		t.Errorf("onboarding changed %q in upstream/, want %q", changed, want)
	}
	applyDocuments(ctx, t, api, fileContent(tree2, "upstream/hub/token-audiences.yaml"))
	deadline = time.Now().Add(time.Minute)
	for {
		code, body := tokenRequest(ctx, t, api, own[controller], ns, controller, []string{"onboarded"}, &cpod)
		if code == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the onboarded downstream's audience is still refused a minute after the ConfigMap was applied (%d): %s", code, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type podRef struct{ Name, UID string }

func ptr[T any](v T) *T { return &v }

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := fileio.ReadFile(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// applyDocuments server-side applies every object of a generated YAML
// stream as the admin.
func applyDocuments(ctx context.Context, t *testing.T, api *testenv.APIServer, stream []byte) {
	t.Helper()
	if stream == nil {
		t.Fatal("no such generated file")
	}
	if err := api.ApplyYAML(ctx, stream, yaml.YAMLToJSONStrict); err != nil {
		t.Fatalf("the API server refused a generated object: %v", err)
	}
}

func createPod(ctx context.Context, t *testing.T, api *testenv.APIServer, ns, name, sa string) podRef {
	t.Helper()
	uid, err := api.CreatePod(ctx, ns, name, sa)
	if err != nil {
		t.Fatal(err)
	}
	return podRef{name, uid}
}

// tokenRequest asks for a token of sa, as bearer ("" for the admin), and
// returns the status and body.
func tokenRequest(ctx context.Context, t *testing.T, api *testenv.APIServer, bearer, ns, sa string, audiences []string, pod *podRef) (int, string) {
	t.Helper()
	spec := map[string]any{"audiences": audiences, "expirationSeconds": 600}
	if pod != nil {
		spec["boundObjectRef"] = map[string]any{"apiVersion": "v1", "kind": "Pod", "name": pod.Name, "uid": pod.UID}
	}
	body, err := json.Marshal(map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.URL+"/api/v1/namespaces/"+ns+"/serviceaccounts/"+sa+"/token", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := api.HTTPClient()
	if bearer != "" {
		// The service account's identity, not the admin's certificate.
		client.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		// The Status's message, as a client shows it.
		var st struct{ Message string }
		if json.Unmarshal(b, &st) == nil && st.Message != "" {
			return resp.StatusCode, st.Message
		}
	}
	return resp.StatusCode, string(b)
}

func tokenOf(t *testing.T, body string) string {
	t.Helper()
	var tr struct{ Status struct{ Token string } }
	if err := json.Unmarshal([]byte(body), &tr); err != nil || tr.Status.Token == "" {
		t.Fatalf("no token in %s", body)
	}
	return tr.Status.Token
}
