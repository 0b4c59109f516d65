//go:build e2e

package kind

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The downstream onboarded into the running ArgoCD, with the TokenRequest
// token source.
const (
	onboardName   = "onboard"
	onboardServer = "https://" + onboardName + "-control-plane:6443"
	onboardApp    = "hello-onboard"
)

// onboardDownstream is the federation config's entry for the onboarded
// cluster; tls is its caFile line, or useSystemRoots before its CA exists.
func onboardDownstream(tls string) string {
	return fmt.Sprintf(`- name: %s
  server: %s
  %s
  tokenSource: TokenRequest
  access:
    namespaces: [%s]
`, onboardName, onboardServer, tls, allowedNS)
}

// createTrustingDownstream creates a downstream cluster name whose API
// server trusts up from the start (kind sets its flags at creation): a
// first generate, with the federation's downstreams plus entry (its CA not
// known yet), gives its AuthenticationConfiguration, which depends only on
// the upstream and the downstream's audience. The workload image is loaded
// into it. It returns the cluster and the AuthenticationConfiguration.
func (e *env) createTrustingDownstream(t *testing.T, name string, entries ...string) (kindCluster, []byte) {
	t.Helper()
	pass1 := filepath.Join(e.work, "out-"+name+"-pass1")
	e.writeFederation("federation-"+name+"-pass1.yaml", "caFile: down-ca.crt", entries...)
	e.generate("federation-"+name+"-pass1.yaml", pass1)
	authn, err := os.ReadFile(filepath.Join(pass1, "downstream", name, "apiserver", "authentication-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	nodeDir := filepath.Join(e.work, name+"-node")
	e.writeFile(filepath.Join(nodeDir, "authentication-config.yaml"), authn)
	start := time.Now()
	c := e.createDownstream(name, nodeDir)
	e.loadInto(name, e.workloadImage)
	t.Logf("cluster %s created and loaded in %v", name, time.Since(start).Round(time.Second))
	return c, authn
}

// podState is what a restart or a new pod changes.
type podState struct {
	uid      string
	restarts int32
}

// testOnboardWithoutRestart onboards a third cluster into the running
// ArgoCD by applying only what generate emits for it: the downstream's own
// tree to it, and the upstream tree (its cluster Secret, the token-request
// RBAC, admission policy and audiences) to up with the same kubectl apply
// as before. The ArgoCD pods keep their uids and restart counts (the pod
// templates did not change), and an Application on the new cluster syncs
// through tokens the plugin requests from the TokenRequest API. It runs
// while the rotation step waits for the kubelet.
func (e *env) testOnboardWithoutRestart(t *testing.T) {
	// The new cluster, created as the first downstream was: its API server
	// needs the generated AuthenticationConfiguration from the start.
	onboard, _ := e.createTrustingDownstream(t, onboardName, onboardDownstream("useSystemRoots: true"))

	before := e.argoPods(t)

	// The downstream side first: its namespace and the generated RBAC.
	e.writeFile(filepath.Join(e.work, "federation", onboardName+"-ca.crt"), onboard.caPEM)
	e.writeFederation("federation.yaml", "caFile: down-ca.crt", onboardDownstream("caFile: "+onboardName+"-ca.crt"))
	e.generate("federation.yaml", e.out)
	ctx, cancel := e.ctx(time.Minute)
	defer cancel()
	if _, err := onboard.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: allowedNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("%s: create namespace %s: %v", onboardName, allowedNS, err)
	}
	e.kubectl(onboard, "apply", "-k", filepath.Join(e.out, "downstream", onboardName))

	// The upstream side: the same apply as the installation, and the
	// Application. Onboarding latency: from this apply to Synced.
	applied := time.Now()
	generations := e.workloadGenerations(t)
	e.kubectl(e.up, "apply", "--server-side", "-k", filepath.Join(e.work, "argocd"))
	if after := e.workloadGenerations(t); after != generations {
		t.Errorf("onboarding changed the pod templates of ArgoCD's workloads: generations %v before, %v after", generations, after)
	}
	e.createApp(t, onboardApp, onboardServer, allowedNS)
	e.waitSyncedHealthy(t, onboardApp, 5*time.Minute)
	t.Logf("onboarding latency: %v from kubectl apply of the upstream tree to Application %s Synced and Healthy",
		time.Since(applied).Round(100*time.Millisecond), onboardApp)

	// The objects exist in the new cluster, created by the federated user.
	cm, err := onboard.client.CoreV1().ConfigMaps(allowedNS).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%s: the Application's ConfigMap: %v", onboardName, err)
	}
	managers := map[string]bool{}
	for _, m := range cm.ManagedFields {
		managers[m.Manager] = true
	}
	t.Logf("%s: ConfigMap %s/hello managed by %v", onboardName, allowedNS, managers)

	// The cluster Secret runs token-request, and the ArgoCD pods have no
	// token file for this downstream: the plugin requested the tokens.
	secret, err := e.up.client.CoreV1().Secrets(argocdNS).Get(ctx, "cluster-"+onboardName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(secret.Data["config"]), `"token-request"`) {
		t.Errorf("the cluster Secret of %s does not run token-request: %s", onboardName, secret.Data["config"])
	}
	if out, _, err := e.runKubectl(e.up, "", "-n", argocdNS, "exec", "argocd-application-controller-0", "-c", "argocd-application-controller",
		"--", "ls", "/var/run/secrets/argocd-k8s-federate/"); err != nil || strings.Contains(out, onboardName) {
		t.Errorf("the controller's token directory holds %q (err %v), want no token for %s", out, err, onboardName)
	}

	after := e.argoPods(t)
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			t.Errorf("ArgoCD pod %s is gone after onboarding (pods now: %v)", name, after)
		case a != b:
			t.Errorf("ArgoCD pod %s: uid %s restarts %d before onboarding, uid %s restarts %d after", name, b.uid, b.restarts, a.uid, a.restarts)
		}
	}
	t.Logf("the controller's and the server's pods kept their uids and restart counts: %v", after)
}

// workloadGenerations are the controller's and the server's
// metadata.generation: a change of their spec (the pod template) bumps it.
func (e *env) workloadGenerations(t *testing.T) [2]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sts, err := e.up.client.AppsV1().StatefulSets(argocdNS).Get(ctx, "argocd-application-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := e.up.client.AppsV1().Deployments(argocdNS).Get(ctx, "argocd-server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return [2]int64{sts.Generation, dep.Generation}
}

// argoPods are the controller's and the server's pods by name.
func (e *env) argoPods(t *testing.T) map[string]podState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]podState{}
	for _, sel := range []string{"app.kubernetes.io/name=argocd-application-controller", "app.kubernetes.io/name=argocd-server"} {
		pods, err := e.up.client.CoreV1().Pods(argocdNS).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil || len(pods.Items) == 0 {
			t.Fatalf("up: pods %s: %v (%d)", sel, err, len(pods.Items))
		}
		for _, p := range pods.Items {
			var restarts int32
			for _, c := range p.Status.ContainerStatuses {
				restarts += c.RestartCount
			}
			out[p.Name] = podState{uid: string(p.UID), restarts: restarts}
		}
	}
	return out
}
