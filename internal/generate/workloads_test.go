package generate

import (
	"context"
	"path"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// TestWorkloadKubeconfigs decodes every generated workload kubeconfig
// strictly into client-go's ConfigMap and clientcmd v1 Config, loads and
// validates it as kubectl does, and makes a client config of every
// context: one per downstream the workload reaches, each with the
// downstream's server and CA, the plugin as the cluster Secret runs it
// (argocd.Exec) and interactiveMode Never, the namespace when one is
// granted, and no credential.
func TestWorkloadKubeconfigs(t *testing.T) {
	var checked int
	for _, tc := range goldenCases {
		feds := load(t, tc.files...)
		tree, err := Generate(context.Background(), set(t, feds...))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range feds {
			for i := range f.Upstream.Workloads {
				w := &f.Upstream.Workloads[i]
				file := "upstream/" + f.Upstream.Name + "/workloads/" + w.Name + "/kubeconfig.yaml"
				t.Run(tc.name+"/"+w.Name, func(t *testing.T) {
					checkKubeconfig(t, f, w, fileContent(tree, file))
				})
				checked++
			}
		}
	}
	if checked < 2 {
		t.Fatalf("checked %d workload kubeconfigs: the golden cases lost their workloads", checked)
	}
}

func checkKubeconfig(t *testing.T, f *config.Federation, w *config.UpstreamWorkload, file []byte) {
	if file == nil {
		t.Fatal("no kubeconfig.yaml in the tree")
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(file, &cm); err != nil {
		t.Fatalf("not a ConfigMap: %v", err)
	}
	if cm.Name != config.KubeconfigConfigMap(w.Name) || cm.Namespace != w.Namespace || len(cm.Data) != 1 || len(cm.BinaryData) != 0 {
		t.Fatalf("ConfigMap %s/%s with keys %v", cm.Namespace, cm.Name, cm.Data)
	}
	data := []byte(cm.Data[config.KubeconfigKey])
	var v1 clientcmdv1.Config
	if err := yaml.UnmarshalStrict(data, &v1); err != nil {
		t.Fatalf("not a clientcmd v1 Config: %v\n%s", err, data)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatalf("clientcmd.Load: %v", err)
	}
	if err := clientcmd.Validate(*cfg); err != nil {
		t.Fatalf("clientcmd.Validate: %v", err)
	}
	reaches := f.Reaches(w)
	var names []string
	for _, d := range reaches {
		names = append(names, d.Name)
	}
	var contexts []string
	for name := range cfg.Contexts {
		contexts = append(contexts, name)
	}
	slices.Sort(contexts)
	if !slices.Equal(contexts, names) {
		t.Fatalf("contexts %v, want one per downstream the workload reaches: %v", contexts, names)
	}
	if want := map[bool]string{true: names[0], false: ""}[len(names) == 1]; cfg.CurrentContext != want {
		t.Errorf("current-context %q, want %q", cfg.CurrentContext, want)
	}
	for _, d := range reaches {
		var grant config.Grant
		for _, g := range f.WorkloadGrants(d) {
			if g.UpstreamWorkload.Name == w.Name {
				grant = g
			}
		}
		ctx := cfg.Contexts[d.Name]
		wantNS := ""
		if len(grant.Namespaces) == 1 {
			wantNS = grant.Namespaces[0]
		}
		if ctx.Namespace != wantNS {
			t.Errorf("%s: namespace %q, want %q (granted %v)", d.Name, ctx.Namespace, wantNS, grant.Namespaces)
		}
		rest, err := clientcmd.NewNonInteractiveClientConfig(*cfg, d.Name, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
		if err != nil {
			t.Fatalf("%s: client config: %v", d.Name, err)
		}
		if rest.Host != d.Server || string(rest.CAData) != d.PEM() || rest.Insecure {
			t.Errorf("%s: host %q, CA %d bytes, insecure %v; want %q and the downstream's CA", d.Name, rest.Host, len(rest.CAData), rest.Insecure, d.Server)
		}
		if rest.BearerToken != "" || rest.BearerTokenFile != "" || len(rest.CertData) > 0 || len(rest.KeyData) > 0 || rest.Username != "" || rest.Password != "" || rest.AuthProvider != nil {
			t.Errorf("%s: the kubeconfig holds a credential", d.Name)
		}
		want := argocd.Exec(f, d)
		e := rest.ExecProvider
		if e == nil || e.Command != want.Command || !slices.Equal(e.Args, want.Args) || e.APIVersion != want.APIVersion ||
			e.InteractiveMode != "Never" || e.ProvideClusterInfo || len(e.Env) != 0 {
			t.Errorf("%s: exec %+v, want the cluster Secret's %+v with interactiveMode Never", d.Name, e, want)
		}
	}
	if strings.Contains(string(data), "token:") || strings.Contains(string(data), "client-key") {
		t.Errorf("the kubeconfig holds a credential field:\n%s", data)
	}
}

// TestWorkloadOutputIsOnlyWhereGranted: the Component's token volume holds
// only the projected audiences of the downstreams the workload reaches, and
// the token Role is there only when it reaches a token-request downstream.
func TestWorkloadOutputIsOnlyWhereGranted(t *testing.T) {
	feds := load(t, "testdata/token-request/federation.yaml")
	tree, err := Generate(context.Background(), set(t, feds...))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range tree.Files {
		if dir, name := path.Split(f.Path); strings.Contains(dir, "/workloads/") {
			files[path.Base(dir)+"/"+name] = string(f.Content)
		}
	}
	// ci-runner reaches prod only (token-request): no projected token.
	if p := files["ci-runner/patch-deployment-ci-runner.yaml"]; strings.Contains(p, TokenVolume) {
		t.Errorf("ci-runner reaches only a token-request downstream, yet gets projected tokens:\n%s", p)
	}
	if _, ok := files["ci-runner/token-request.yaml"]; !ok {
		t.Error("ci-runner reaches a token-request downstream but has no token-request.yaml")
	}
	// report reaches prod and legacy (projected): legacy's token only.
	p := files["report/patch-cronjob-report.yaml"]
	if !strings.Contains(p, "audience: legacy") || strings.Contains(p, "audience: https://staging.example.com") || strings.Contains(p, "audience: prod") {
		t.Errorf("report's projected tokens are not exactly legacy's:\n%s", p)
	}
}
