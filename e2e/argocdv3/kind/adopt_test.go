//go:build e2e

package kind

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cmdutil "github.com/argoproj/argo-cd/v3/cmd/util"
	argoappv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/clusterauth"
	"github.com/argoproj/argo-cd/v3/util/db"
	"github.com/argoproj/argo-cd/v3/util/settings"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// The cluster added to ArgoCD the way `argocd cluster add` adds one, then
// adopted.
const (
	legacyName   = "legacy"
	legacyServer = "https://" + legacyName + "-control-plane:6443"
	legacyApp    = "hello-legacy"
)

// legacyDownstream is the federation config's entry for legacy, from what
// import wrote (name, server, CA file, the Secret's name) and the review's
// decisions (the namespace it grants, the TokenRequest source so that no
// ArgoCD pod restarts).
func legacyDownstream(tls, secretName string) string {
	s := fmt.Sprintf(`- name: %s
  server: %s
  %s
  tokenSource: TokenRequest
  access:
    namespaces: [%s]
`, legacyName, legacyServer, tls, allowedNS)
	if secretName != "" {
		s += "  argocd:\n    secretName: " + secretName + "\n"
	}
	return s
}

// testAdoptLegacyCluster adopts a cluster ArgoCD reaches with a static
// credential, as docs/adopt.md says: a fourth cluster, legacy, is added with
// ArgoCD's own code for `argocd cluster add` (argocd-manager's never-
// expiring token Secret in legacy, stored in the cluster Secret in up), and
// an Application syncs through it. audit flags it (exit 1); import writes
// its config; the review keeps its name, server, CA and Secret name; the
// downstream's trust (given at cluster creation, as kind needs it) and RBAC
// come first, then the upstream apply replaces the cluster Secret. The
// Applications are read every second from before the first apply until
// after ArgoCD works through the new Secret: only Synced/Healthy may be
// seen. Then argocd-manager is deleted in legacy, its token is refused, the
// controller still self-heals there, and audit exits 0. It runs while the
// rotation step waits for the kubelet.
func (e *env) testAdoptLegacyCluster(t *testing.T) {
	legacy, authn := e.createTrustingDownstream(t, legacyName, onboardDownstream("caFile: "+onboardName+"-ca.crt"), legacyDownstream("useSystemRoots: true", ""))

	ctx, cancel := e.ctx(10 * time.Minute)
	defer cancel()
	if _, err := legacy.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: allowedNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("%s: create namespace %s: %v", legacyName, allowedNS, err)
	}

	// `argocd cluster add`: argocd-manager and its token Secret in legacy
	// (clusterauth), the Cluster as the CLI makes it (cmdutil.NewCluster),
	// stored by ArgoCD's db as argocd-server does.
	token, err := clusterauth.InstallClusterManagerRBAC(legacy.client, "kube-system", nil, time.Minute)
	if err != nil {
		t.Fatalf("%s: install argocd-manager: %v", legacyName, err)
	}
	conf := &rest.Config{Host: legacyServer, TLSClientConfig: rest.TLSClientConfig{CAData: legacy.caPEM}}
	cluster := cmdutil.NewCluster(legacyName, nil, false, conf, token, nil, nil, nil, nil)
	argoDB := db.NewDB(argocdNS, settings.NewSettingsManager(ctx, e.up.client, argocdNS), e.up.client)
	if _, err := argoDB.CreateCluster(ctx, cluster); err != nil {
		t.Fatalf("up: ArgoCD's db: create cluster %s: %v", legacyName, err)
	}
	original := e.legacySecret(t)
	t.Logf("up: ArgoCD stored cluster %s in Secret %s (keys %v)", legacyName, original.Name, keysOf(original.Data))
	e.createApp(t, legacyApp, legacyServer, allowedNS)
	e.waitSyncedHealthy(t, legacyApp, 5*time.Minute)
	t.Logf("Application %s Synced and Healthy through argocd-manager's token", legacyApp)

	// audit: the static credential is found.
	out, errOut, code := e.runCLI(t, "audit", "--kubeconfig", e.up.kubeconfig, "-o", "json")
	if code != 1 {
		t.Fatalf("audit of up exits %d with a static credential in it, want 1:\n%s%s", code, out, errOut)
	}
	var report adopt.Report
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("audit -o json: %v\n%s", err, out)
	}
	var found *adopt.Finding
	for i, f := range report.Clusters {
		if f.Server == legacyServer {
			found = &report.Clusters[i]
		}
	}
	if found == nil || found.Kind != adopt.KindBearerToken || !found.Static || !found.NeverExpires || found.Identity != "system:serviceaccount:kube-system:argocd-manager" {
		t.Fatalf("audit's finding for %s: %+v", legacyServer, found)
	}
	if strings.Contains(out+errOut, token) {
		t.Fatal("audit printed argocd-manager's token")
	}
	t.Logf("audit (exit 1): %s %s: %s", found.Secret, found.Kind, found.Detail)

	// import, then the review.
	imported := filepath.Join(e.work, "federation", "imported.yaml")
	if _, errOut, code := e.runCLI(t, "import", "--kubeconfig", e.up.kubeconfig, "--hub", upName, "--issuer", upIssuer, "--issuer-ca-file", "up-ca.crt", "-o", imported); code != 0 || strings.Contains(errOut, token) {
		t.Fatalf("import exits %d:\n%s", code, errOut)
	} else {
		t.Logf("import: %s", strings.TrimSpace(errOut))
	}
	data, err := os.ReadFile(imported)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(token)) {
		t.Fatal("import wrote argocd-manager's token")
	}
	fed, err := config.Load(imported)
	if err != nil {
		t.Fatalf("the imported config: %v", err)
	}
	var d *config.Downstream
	for i := range fed.Downstreams {
		if fed.Downstreams[i].Server == legacyServer {
			d = &fed.Downstreams[i]
		}
	}
	if d == nil || d.Name != legacyName || d.ArgoCD.SecretName != original.Name || !bytes.Equal(bytes.TrimSpace([]byte(d.PEM())), bytes.TrimSpace(legacy.caPEM)) || !d.Access.ClusterWide {
		t.Fatalf("import of %s: %+v\n%s", original.Name, d, data)
	}
	t.Logf("import: %d downstreams; %s as %q, Secret %s, CA from caData, clusterWide (REVIEW notes: %d)", len(fed.Downstreams), legacyServer, d.Name, d.ArgoCD.SecretName, bytes.Count(data, []byte("# REVIEW:")))
	e.writeFile(filepath.Join(e.work, "federation", legacyName+"-ca.crt"), []byte(d.PEM()))
	e.writeFederation("federation.yaml", "caFile: down-ca.crt", onboardDownstream("caFile: "+onboardName+"-ca.crt"), legacyDownstream("caFile: "+legacyName+"-ca.crt", d.ArgoCD.SecretName))
	e.generate("federation.yaml", e.out)
	now, err := os.ReadFile(filepath.Join(e.out, "downstream", legacyName, "apiserver", "authentication-config.yaml"))
	if err != nil || !bytes.Equal(now, authn) {
		t.Fatalf("legacy's trust as generated now differs from what its API server runs (%v)", err)
	}

	// The downstream first: the RBAC of the federated users.
	e.kubectl(legacy, "apply", "-k", filepath.Join(e.out, "downstream", legacyName))

	// Then the upstream: the same apply as the installation; it replaces
	// the cluster Secret. The Applications are watched all along.
	before := e.argoPods(t)
	generations := e.workloadGenerations(t)
	w := e.watchApps(t, appName, onboardApp, legacyApp)
	applied := time.Now()
	e.kubectl(e.up, "apply", "--server-side", "-k", filepath.Join(e.work, "argocd"))
	t.Logf("+%v upstream tree applied (kubectl apply --server-side -k)", time.Since(applied).Round(100*time.Millisecond))
	if after := e.workloadGenerations(t); after != generations {
		t.Errorf("the adoption changed the pod templates of ArgoCD's workloads: generations %v before, %v after", generations, after)
	}
	replaced := e.legacySecret(t)
	if replaced.UID != original.UID || !strings.Contains(string(replaced.Data["config"]), `"token-request"`) || strings.Contains(string(replaced.Data["config"]), "bearerToken") {
		t.Fatalf("the cluster Secret %s was not replaced in place by the federated one: uid %s (was %s), config %s", replaced.Name, replaced.UID, original.UID, replaced.Data["config"])
	}
	// ArgoCD sees the new Secret (it drops its cache of legacy and builds
	// it again through the plugin); a hard refresh then makes the
	// Application read legacy through the new credential.
	time.Sleep(10 * time.Second)
	e.hardRefresh(t, legacyApp)
	t.Logf("+%v hard refresh of %s done", time.Since(applied).Round(100*time.Millisecond), legacyApp)
	time.Sleep(5 * time.Second)
	w.stop(t)

	// argocd-manager goes: its token is refused, and the controller still
	// writes to legacy.
	if err := legacy.client.CoreV1().ServiceAccounts("kube-system").Delete(ctx, clusterauth.ArgoCDManagerServiceAccount, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("%s: delete argocd-manager: %v", legacyName, err)
	}
	err = poll(ctx, time.Second, func() (bool, error) {
		_, err := bearerClientOf(t, legacy, token).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
		return apierrors.IsUnauthorized(err), nil
	})
	if err != nil {
		t.Fatalf("%s: argocd-manager's token is still accepted after its service account was deleted", legacyName)
	}
	t.Logf("%s: argocd-manager deleted; its token is refused (401)", legacyName)
	e.selfHeal(t, legacy, legacyApp)

	if out, errOut, code := e.runCLI(t, "audit", "--kubeconfig", e.up.kubeconfig); code != 0 {
		t.Fatalf("audit after the adoption exits %d, want 0:\n%s%s", code, out, errOut)
	} else {
		t.Logf("audit after the adoption (exit 0):\n%s", out)
	}
	after := e.argoPods(t)
	for name, b := range before {
		if a, ok := after[name]; !ok || a != b {
			t.Errorf("ArgoCD pod %s: %+v before the adoption, %+v after (present %v)", name, b, a, ok)
		}
	}
}

// legacySecret is the cluster Secret of legacy in up.
func (e *env) legacySecret(t *testing.T) *corev1.Secret {
	t.Helper()
	ctx, cancel := e.ctx(30 * time.Second)
	defer cancel()
	list, err := e.up.client.CoreV1().Secrets(argocdNS).List(ctx, metav1.ListOptions{LabelSelector: "argocd.argoproj.io/secret-type=cluster"})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range list.Items {
		if string(s.Data["server"]) == legacyServer {
			return &list.Items[i]
		}
	}
	t.Fatalf("up: no cluster Secret for %s", legacyServer)
	return nil
}

func keysOf(m map[string][]byte) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}

// runCLI runs the CLI built from this checkout in the federation
// directory; it returns stdout, stderr and the exit code.
func (e *env) runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(e.cli, args...)
	cmd.Dir = filepath.Join(e.work, "federation")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", e.cli, args, err)
	}
	return out.String(), errOut.String(), code
}

// hardRefresh asks ArgoCD to read the Application's resources again and
// waits until it has (the annotation is removed when done).
func (e *env) hardRefresh(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := e.ctx(2 * time.Minute)
	defer cancel()
	apps := e.argocd.ArgoprojV1alpha1().Applications(argocdNS)
	patch := []byte(`{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"hard"}}}`)
	if _, err := apps.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("up: hard refresh of %s: %v", name, err)
	}
	err := poll(ctx, time.Second, func() (bool, error) {
		a, err := apps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		_, pending := a.Annotations["argocd.argoproj.io/refresh"]
		return !pending, nil
	})
	if err != nil {
		t.Fatalf("up: the hard refresh of %s did not finish in 2 minutes", name)
	}
}

// selfHeal deletes the Application's ConfigMap in c and waits for the
// controller to create it again: ArgoCD writes to c with what it has now.
func (e *env) selfHeal(t *testing.T, c kindCluster, app string) {
	t.Helper()
	ctx, cancel := e.ctx(5 * time.Minute)
	defer cancel()
	cms := c.client.CoreV1().ConfigMaps(allowedNS)
	old, err := cms.Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%s: ConfigMap %s/hello: %v", c.name, allowedNS, err)
	}
	if err := cms.Delete(ctx, "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	err = poll(ctx, time.Second, func() (bool, error) {
		cm, err := cms.Get(ctx, "hello", metav1.GetOptions{})
		return err == nil && cm.UID != old.UID, nil
	})
	if err != nil {
		t.Fatalf("%s: the controller did not re-create ConfigMap %s/hello within 5 minutes\n%s", c.name, allowedNS,
			e.podLogs(e.up, argocdNS, "argocd-application-controller-0", "argocd-application-controller", 40))
	}
	t.Logf("%s: the controller re-created ConfigMap %s/hello %v after it was deleted", c.name, allowedNS, time.Since(deleted).Round(time.Second))
	e.waitSyncedHealthy(t, app, 3*time.Minute)
}

// bearerClientOf is a client of c that authenticates with the token only.
func bearerClientOf(t *testing.T, c kindCluster, token string) *kubernetes.Clientset {
	t.Helper()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: c.config.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: c.caPEM}})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// appWatch reads Applications every second and records every state other
// than Synced/Healthy.
type appWatch struct {
	start  time.Time
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	reads  int
	errors int
	bad    []string
}

func (e *env) watchApps(t *testing.T, names ...string) *appWatch {
	w := &appWatch{start: time.Now(), done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			for _, n := range names {
				ctx, cancel := e.ctx(5 * time.Second)
				a, err := e.argocd.ArgoprojV1alpha1().Applications(argocdNS).Get(ctx, n, metav1.GetOptions{})
				cancel()
				w.mu.Lock()
				switch {
				case err != nil:
					w.errors++
				default:
					w.reads++
					if a.Status.Sync.Status != argoappv1.SyncStatusCodeSynced || string(a.Status.Health.Status) != "Healthy" {
						w.bad = append(w.bad, fmt.Sprintf("+%v %s: %s", time.Since(w.start).Round(100*time.Millisecond), n, appSummary(a)))
					}
				}
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// stop ends the watch and fails the test if anything but Synced/Healthy
// was seen.
func (w *appWatch) stop(t *testing.T) {
	t.Helper()
	close(w.done)
	w.wg.Wait()
	t.Logf("Applications read every second for %v: %d reads (%d failed reads), %d not Synced/Healthy",
		time.Since(w.start).Round(100*time.Millisecond), w.reads, w.errors, len(w.bad))
	if len(w.bad) > 0 {
		t.Errorf("during the adoption an Application was not Synced/Healthy:\n  %s", strings.Join(w.bad, "\n  "))
	}
}
