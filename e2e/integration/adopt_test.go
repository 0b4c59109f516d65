package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/util/db"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt/adopttest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// TestIntegrationAdopt adopts a hub holding cluster Secrets of every kind,
// created through a real API server: audit reads them from the hub and from
// `kubectl get -o yaml`'s file alike; import writes a config that generate
// takes; ArgoCD's own parser (util/db.SecretToCluster) reads each original
// Secret and its generated replacement with the same name, server, project,
// namespaces, labels, annotations and CA, the replacement with no stored
// credential. The replacements are applied (server-side, as kubectl apply
// --server-side does) over the originals; audit then finds only the refused
// insecure Secret static, and nothing once it is gone.
func TestIntegrationAdopt(t *testing.T) {
	te := testenv.NewEnv(t)
	hub := te.StartUpstream(testenv.UpstreamConfig{Name: "hub", Namespace: argocdNS, ServiceAccounts: []string{controllerSA, serverSA}})
	client := adminClient(t, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	fx := adopttest.Hub(adopttest.NewMaterial(t))
	want := map[string]adopttest.Fixture{}
	for _, f := range fx {
		s := f.Secret
		_, err := client.CoreV1().Secrets(argocdNS).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.Metadata.Name, Labels: s.Metadata.Labels, Annotations: s.Metadata.Annotations},
			StringData: s.StringData,
		}, metav1.CreateOptions{})
		must(t, err)
		want[argocdNS+"/"+s.Metadata.Name] = f
	}

	dir := t.TempDir()
	// The hub's view and kubectl get -o yaml's file give the same audit.
	fromHub := audit(t, 1, "--kubeconfig", hub.Kubeconfig)
	list, err := client.CoreV1().Secrets(argocdNS).List(ctx, metav1.ListOptions{})
	must(t, err)
	list.APIVersion, list.Kind = "v1", "List"
	for i := range list.Items {
		list.Items[i].APIVersion, list.Items[i].Kind = "v1", "Secret"
	}
	file, err := yaml.Marshal(list)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "secrets.yaml"), file, 0o600))
	fromFile := audit(t, 1, "-f", filepath.Join(dir, "secrets.yaml"))
	if diff := cmp.Diff(fromHub.Clusters, fromFile.Clusters); diff != "" {
		t.Errorf("audit from the hub and from its file differ (-hub +file):\n%s", diff)
	}
	for _, f := range fromHub.Clusters {
		w, ok := want[f.Secret]
		if !ok || string(f.Kind) != w.Kind || f.Static != w.Static {
			t.Errorf("%s: %s static %v, want %s static %v (%s)", f.Secret, f.Kind, f.Static, w.Kind, w.Static, f.Detail)
		}
	}

	// Import from the hub, generate.
	must(t, os.WriteFile(filepath.Join(dir, "hub-ca.crt"), hub.CAPEM, 0o644))
	cfgFile := filepath.Join(dir, "federation.yaml")
	out := runCLI(t, 0, "import", "--kubeconfig", hub.Kubeconfig, "--hub", "hub", "--issuer", hub.URL, "--issuer-ca-file", "hub-ca.crt", "-o", cfgFile)
	t.Logf("import: %s", lastLine(out))
	imported, err := os.ReadFile(cfgFile)
	must(t, err)
	for _, f := range fx {
		for _, secret := range f.Secrets {
			if bytes.Contains(imported, []byte(secret)) || strings.Contains(out, secret) {
				t.Errorf("import wrote or printed a secret value of %s", f.Secret.Metadata.Name)
			}
		}
	}
	fed, err := config.Load(cfgFile)
	must(t, err)
	tree := filepath.Join(dir, "out")
	out = runCLI(t, 0, "generate", "-f", cfgFile, "-o", tree)
	if !strings.Contains(out, "cannot key the argo-helm chart") {
		t.Errorf("generate does not warn that the AWS cluster's name cannot key the Helm values: %s", out)
	}

	// ArgoCD's parser: each original and its replacement.
	for _, d := range fed.Downstreams {
		t.Run(d.Name, func(t *testing.T) {
			orig, err := client.CoreV1().Secrets(argocdNS).Get(ctx, d.ArgoCD.SecretName, metav1.GetOptions{})
			must(t, err)
			before, err := db.SecretToCluster(orig)
			must(t, err)
			after, err := db.SecretToCluster(generatedSecret(t, filepath.Join(tree, "upstream", "hub", d.ArgoCD.SecretName+".yaml")))
			must(t, err)
			type view struct {
				Name, Server, Project string
				Namespaces            []string
				Annotations           map[string]string
				CAData                string
			}
			got := view{after.Name, after.Server, after.Project, sorted(after.Namespaces), after.Annotations, strings.TrimSpace(string(after.Config.TLSClientConfig.CAData))}
			wantView := view{before.Name, before.Server, before.Project, sorted(before.Namespaces), before.Annotations, strings.TrimSpace(string(before.Config.TLSClientConfig.CAData))}
			if diff := cmp.Diff(wantView, got); diff != "" {
				t.Errorf("ArgoCD reads the replacement differently (-original +generated):\n%s", diff)
			}
			for k, v := range before.Labels {
				if after.Labels[k] != v {
					t.Errorf("label %s: %q, generated %q", k, v, after.Labels[k])
				}
			}
			if len(before.Namespaces) > 0 && after.ClusterResources {
				t.Errorf("clusterResources: true with namespaces in the generated Secret")
			}
			c := after.Config
			if c.BearerToken != "" || c.Password != "" || len(c.TLSClientConfig.KeyData) > 0 || len(c.TLSClientConfig.CertData) > 0 || c.ExecProviderConfig == nil || c.AWSAuthConfig != nil {
				t.Errorf("the replacement keeps a credential or runs no plugin: %+v", c.ExecProviderConfig)
			}
		})
	}

	// Replace the originals in the hub, as kubectl apply --server-side.
	for _, d := range fed.Downstreams {
		data, err := os.ReadFile(filepath.Join(tree, "upstream", "hub", d.ArgoCD.SecretName+".yaml"))
		must(t, err)
		must(t, hub.ApplyYAML(ctx, data, yaml.YAMLToJSONStrict))
	}
	after := audit(t, 1, "--kubeconfig", hub.Kubeconfig)
	var static []string
	for _, f := range after.Clusters {
		if f.Static {
			static = append(static, f.Secret)
		}
	}
	if !slices.Equal(static, []string{"argocd/cluster-insecure"}) || after.Summary.ByKind[adopt.KindFederated] != len(fed.Downstreams) {
		t.Errorf("after the replacement: static %v, %v", static, after.Summary.ByKind)
	}
	must(t, client.CoreV1().Secrets(argocdNS).Delete(ctx, "cluster-insecure", metav1.DeleteOptions{}))
	audit(t, 0, "--kubeconfig", hub.Kubeconfig)
}

// audit runs the CLI's audit -o json and checks its exit code.
func audit(t *testing.T, code int, args ...string) *adopt.Report {
	t.Helper()
	out := runCLI(t, code, append([]string{"audit", "-o", "json"}, args...)...)
	var r adopt.Report
	// The JSON report is stdout; the error line, if any, follows it.
	if i := strings.LastIndex(out, "\n}\n"); i >= 0 {
		out = out[:i+3]
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("audit %v: %v\n%s", args, err, out)
	}
	return &r
}

// runCLI runs the CLI, checks its exit code and returns stdout then stderr.
func runCLI(t *testing.T, code int, args ...string) string {
	t.Helper()
	cmd := exec.Command(cli(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else {
		must(t, err)
	}
	if got != code {
		t.Fatalf("argocd-k8s-federate %s: exit %d, want %d\n%s%s", strings.Join(args, " "), got, code, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

// generatedSecret is a generated Secret file as the API server stores it
// (stringData turned into data) and ArgoCD reads it.
func generatedSecret(t *testing.T, path string) *corev1.Secret {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	var s corev1.Secret
	must(t, yaml.UnmarshalStrict(data, &s))
	s.Data = map[string][]byte{}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	return &s
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
