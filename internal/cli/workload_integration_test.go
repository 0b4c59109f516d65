package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// The upstream workload of TestIntegrationWorkloadKubeconfig.
const (
	runnerNS   = "ci"
	runnerSA   = "runner"
	runnerName = "ci-runner"
	runnerUser = "hub:system:serviceaccount:" + runnerNS + ":" + runnerSA
)

// TestIntegrationWorkloadKubeconfig runs the pinned kubectl with the
// kubeconfig generate wrote for an upstream workload, and the real plugin it
// names, against a downstream API server started with the generated
// AuthenticationConfiguration and RBAC: kubectl auth whoami is the
// workload's prefixed user, what was granted is allowed and nothing else,
// and another service account of the hub with a token for the same
// audience is refused (401) by the generated claim rule. Then the same with
// the downstream's tokens from the TokenRequest API, in a pod of the
// workload, the generated admission policy and Role applied to the upstream.
func TestIntegrationWorkloadKubeconfig(t *testing.T) {
	kubectl := testenv.Binary(t, "kubectl")
	env := testenv.NewEnv(t)
	up := env.StartUpstream(testenv.UpstreamConfig{
		Name: "up", Namespace: "argocd", ServiceAccounts: []string{controllerSA, "argocd-server"}, AnonymousDiscovery: true,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for _, sa := range []string{runnerSA, "intruder"} {
		must(t, up.CreateServiceAccount(ctx, runnerNS, sa))
	}
	pluginDir := filepath.Join(env.Dir, "plugin")
	buildPlugin(t, pluginDir)
	tokens := filepath.Join(env.Dir, "tokens")
	cfg := testenv.FederationConfig{
		Hub: "hub", Issuer: up.URL, CAFile: up.CAFile, TokenMountPath: tokens,
		PluginDir: pluginDir, PluginImage: "argocd-k8s-federate-plugin:test",
		Namespaces: []string{appsNS},
		Workloads: []testenv.WorkloadConfig{{
			Name: runnerName, Namespace: runnerNS, Kind: "Deployment", ServiceAccount: runnerSA,
			Namespaces: []string{appsNS}, ClusterRole: "edit",
		}},
	}
	runCLI := func(args ...string) error {
		if _, stderr, code := run(t, args...); code != 0 {
			t.Fatalf("%s: exit code %d: %s", strings.Join(args, " "), code, stderr)
		}
		return nil
	}
	fed := env.Federate(testenv.FederationSetup{
		Downstream: "down", Configs: []testenv.FederationConfig{cfg}, OtherNamespaces: []string{"other"},
		RunCLI: runCLI, YAMLToJSON: yaml.YAMLToJSONStrict,
	})
	home := filepath.Join(env.Dir, "home") // kubectl's cache, not the user's
	kc := func(kubeconfig string, args ...string) (string, string, error) {
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Env = []string{"KUBECONFIG=" + kubeconfig, "HOME=" + home, "PATH=" + os.Getenv("PATH")}
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return strings.TrimSpace(out.String()), strings.TrimSpace(errOut.String()), err
	}

	t.Run("TokenFile", func(t *testing.T) {
		kubeconfig := workloadKubeconfig(t, fed.Out, filepath.Join(env.Dir, "token-file.kubeconfig"), nil)
		tok, err := up.RequestToken(ctx, runnerNS, runnerSA, "down", 600)
		must(t, err)
		must(t, testenv.WriteTokenFile(filepath.Join(tokens, "down"), tok))
		checkWorkloadAccess(t, kc, kubeconfig)

		// Another service account of the hub, a token for the same audience
		// where the workload's is: refused at authentication.
		other, err := up.RequestToken(ctx, runnerNS, "intruder", "down", 600)
		must(t, err)
		must(t, testenv.WriteTokenFile(filepath.Join(tokens, "down"), other))
		out, errOut, err := kc(kubeconfig, "auth", "whoami")
		if err == nil || !strings.Contains(errOut, "You must be logged in to the server (Unauthorized)") {
			t.Fatalf("kubectl auth whoami with another service account's token: %v %q %q; want 401", err, out, errOut)
		}
		t.Logf("another service account of the hub: %s", errOut)
		eventually(t, 10*time.Second, func() error {
			log, err := os.ReadFile(fed.Down.Log())
			if err != nil {
				return err
			}
			if !bytes.Contains(log, []byte("only ArgoCD's service accounts of hub hub, and the workloads this downstream grants,")) {
				return os.ErrNotExist
			}
			return nil
		})
	})

	t.Run("TokenRequestInAPod", func(t *testing.T) {
		// The same federation with the TokenRequest source: the downstream's
		// side is the same; the upstream gets the admission policy, the
		// audiences and the workload's own token Role.
		trCfg := cfg
		trCfg.Downstream, trCfg.Server, trCfg.DownstreamCAFile = fed.Configs[0].Downstream, fed.Configs[0].Server, fed.Configs[0].DownstreamCAFile
		trCfg.TokenSource = "TokenRequest"
		file := filepath.Join(env.Dir, "token-request.yaml")
		must(t, trCfg.Write(file))
		out := filepath.Join(env.Dir, "out-token-request")
		must(t, runCLI("generate", "-f", file, "-o", out))
		for _, f := range []string{"upstream/hub/token-request.yaml", "upstream/hub/token-audiences.yaml", "upstream/hub/workloads/" + runnerName + "/token-request.yaml"} {
			data, err := os.ReadFile(filepath.Join(out, f))
			must(t, err)
			must(t, up.ApplyYAML(ctx, data, yaml.YAMLToJSONStrict))
		}
		podToken := filepath.Join(env.Dir, "pod", "token")
		_, err := up.StartPod(ctx, runnerNS, runnerName+"-0", runnerSA, podToken)
		must(t, err)
		// What the pod's environment gives token-request in a cluster: the
		// API server, its CA and the pod's own token at their in-cluster
		// places; here, flags after the generated ones.
		kubeconfig := workloadKubeconfig(t, out, filepath.Join(env.Dir, "token-request.kubeconfig"),
			[]string{"--api-server", up.URL, "--ca-file", up.CAFile, "--service-account-token-file", podToken})
		checkWorkloadAccess(t, kc, kubeconfig)

		// The admission policy fences the workload's requests too: an
		// audience of no downstream is denied (once the policy is loaded).
		plugin := filepath.Join(pluginDir, "argocd-k8s-federate-plugin")
		eventually(t, time.Minute, func() error {
			cmd := exec.CommandContext(ctx, plugin, "token-request", "--audience", "not-a-downstream",
				"--api-server", up.URL, "--ca-file", up.CAFile, "--service-account-token-file", podToken)
			b, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(b), "ValidatingAdmissionPolicy 'argocd-k8s-federate-hub-token-audiences'") {
				return os.ErrPermission
			}
			t.Logf("an audience of no downstream, asked by the workload: %s", bytes.TrimSpace(b))
			return nil
		})
	})
}

// checkWorkloadAccess runs kubectl with the workload's kubeconfig: whoami
// is the workload's user, edit is granted in apps (the context's
// namespace), and other namespaces and cluster-scoped resources are not.
func checkWorkloadAccess(t *testing.T, kc func(string, ...string) (string, string, error), kubeconfig string) {
	t.Helper()
	out, errOut, err := kc(kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if err != nil || out != runnerUser {
		t.Fatalf("kubectl auth whoami: %q, %v %s; want %s", out, err, errOut, runnerUser)
	}
	for _, args := range [][]string{
		{"create", "configmap", "from-ci"},
		{"get", "configmap", "from-ci"},
		{"delete", "configmap", "from-ci"},
	} {
		if out, errOut, err := kc(kubeconfig, args...); err != nil {
			t.Errorf("kubectl %s in %s: %v %s %s", strings.Join(args, " "), appsNS, err, out, errOut)
		}
	}
	for _, args := range [][]string{
		{"-n", "other", "get", "configmaps"},
		{"get", "nodes"},
		{"-n", appsNS, "get", "secrets", "--all-namespaces"},
	} {
		_, errOut, err := kc(kubeconfig, args...)
		if err == nil || !strings.Contains(errOut, "Forbidden") || !strings.Contains(errOut, `User "`+runnerUser+`"`) {
			t.Errorf("kubectl %s: %v %q; want Forbidden for %s", strings.Join(args, " "), err, errOut, runnerUser)
		}
	}
}

// workloadKubeconfig writes, to file, the kubeconfig of workload
// runnerName as the generated ConfigMap in out holds it, with extra
// arguments after the plugin's.
func workloadKubeconfig(t *testing.T, out, file string, extra []string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "upstream", "hub", "workloads", runnerName, "kubeconfig.yaml"))
	must(t, err)
	var cm corev1.ConfigMap
	must(t, yaml.UnmarshalStrict(data, &cm))
	cfg, err := clientcmd.Load([]byte(cm.Data["config"]))
	must(t, err)
	if cfg.CurrentContext != "down" || len(cfg.AuthInfos) != 1 {
		t.Fatalf("the kubeconfig has current-context %q and %d users; want down, 1", cfg.CurrentContext, len(cfg.AuthInfos))
	}
	for _, u := range cfg.AuthInfos {
		u.Exec.Args = append(u.Exec.Args, extra...)
	}
	must(t, clientcmd.WriteToFile(*cfg, file))
	return file
}

// buildPlugin builds the plugin and the token-request binary beside it into
// dir, where the federation config's plugin.dir says they are.
func buildPlugin(t *testing.T, dir string) {
	t.Helper()
	root, err := testenv.RepoRoot()
	must(t, err)
	for _, pkg := range []string{"argocd-k8s-federate-plugin", "argocd-k8s-federate-token-request"} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, pkg), "./cmd/"+pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/%s: %v\n%s", pkg, err, b)
		}
	}
}
