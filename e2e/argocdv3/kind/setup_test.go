//go:build e2e

package kind

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	argoappv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	argoclient "github.com/argoproj/argo-cd/v3/pkg/client/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// env is one run: the two clusters and everything the steps share.
type env struct {
	t        *testing.T
	work     string
	keep     bool
	provider *cluster.Provider
	phases   []phase
	created  []string // clusters this run created (or began to), deleted at the end

	root, kubectlBin, cli string
	versions              map[string]string
	nodeImage             string
	pluginImage           string
	cliImage              string
	workloadImage         string
	kubectlImage          string
	gitDaemonImage        string
	argocdModule          string // the argo-cd/v3 module's directory in the module cache

	up, down kindCluster
	out      string // the generated tree (pass 2)
	argocd   *argoclient.Clientset
}

// kindCluster is one cluster as the test reaches it from the host.
type kindCluster struct {
	name       string
	kubeconfig string
	config     *rest.Config
	client     *kubernetes.Clientset
	caPEM      []byte // /etc/kubernetes/pki/ca.crt of its node
}

func (e *env) preflight() {
	t := e.t
	var err error
	if e.root, err = testenv.RepoRoot(); err != nil {
		t.Fatal(err)
	}
	if e.versions, err = testenv.Versions(); err != nil {
		t.Fatal(err)
	}
	k8s, suite, argocd := e.versions["KUBERNETES_VERSION"], e.versions["DEBIAN_SUITE"], e.versions["ARGOCD_V3_VERSION"]
	if k8s == "" || suite == "" || argocd == "" {
		t.Fatalf("scripts/versions.env lacks KUBERNETES_VERSION, DEBIAN_SUITE or ARGOCD_V3_VERSION: %v", e.versions)
	}
	e.nodeImage = "argocd-k8s-federate/kind-node:" + k8s
	e.gitDaemonImage = "argocd-k8s-federate/git-daemon:" + suite
	e.pluginImage = envOr("E2E_PLUGIN_IMAGE", "argocd-k8s-federate-plugin:e2e")
	e.cliImage = envOr("E2E_CLI_IMAGE", "argocd-k8s-federate:e2e")
	e.workloadImage = envOr("E2E_WORKLOAD_IMAGE", "argocd-k8s-federate/debian:"+suite)
	e.kubectlImage = envOr("E2E_KUBECTL_IMAGE", "argocd-k8s-federate/kubectl:"+k8s)
	for _, img := range []string{e.nodeImage, e.gitDaemonImage, e.pluginImage, e.cliImage, e.workloadImage, e.kubectlImage} {
		e.requireImage(img)
	}
	e.kubectlBin = testenv.Binary(t, "kubectl")

	// ArgoCD's manifests come from the module the e2e module builds with.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/argoproj/argo-cd/v3").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("go list -m github.com/argoproj/argo-cd/v3: %v %s", err, out)
	}
	e.argocdModule = string(bytes.TrimSpace(out))
	if !strings.HasSuffix(e.argocdModule, "@"+argocd) {
		t.Fatalf("the e2e/argocdv3 module builds with %s, but versions.env says ARGOCD_V3_VERSION=%s", e.argocdModule, argocd)
	}

	// The real CLI, built from this checkout.
	e.cli = filepath.Join(e.work, "bin", "argocd-k8s-federate")
	cmd := exec.Command("go", "build", "-trimpath", "-o", e.cli, "./cmd/argocd-k8s-federate")
	cmd.Dir = e.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/argocd-k8s-federate: %v\n%s", err, b)
	}

	// Clusters left by an earlier run (E2E_KEEP=1, or an interrupted one).
	existing, err := e.provider.List()
	if err != nil {
		t.Fatalf("kind: list clusters: %v", err)
	}
	for _, name := range existing {
		if name == upName || name == downName || name == onboardName || name == legacyName {
			t.Logf("deleting the cluster %q left by an earlier run", name)
			if err := e.provider.Delete(name, ""); err != nil {
				t.Fatalf("delete the leftover cluster %s: %v", name, err)
			}
		}
	}
}

func (e *env) requireImage(img string) {
	e.t.Helper()
	if out, err := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", img).CombinedOutput(); err != nil {
		e.t.Fatalf("the image %s is not in the local Docker (%v: %s): scripts/e2e.sh builds every image the test needs", img, err, bytes.TrimSpace(out))
	}
}

// createUp creates up: kube-apiserver with its own issuer, and issuer
// discovery readable anonymously, as downstream API servers fetch it.
func (e *env) createUp() {
	t := e.t
	e.up = e.createCluster(upName, &v1alpha4.Cluster{
		Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}},
		KubeadmConfigPatches: []string{`kind: ClusterConfiguration
apiServer:
  extraArgs:
    service-account-issuer: ` + upIssuer + `
`},
	})
	ctx, cancel := e.ctx(time.Minute)
	defer cancel()
	_, err := e.up.client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-k8s-federate-e2e:anonymous-issuer-discovery"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:service-account-issuer-discovery"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:unauthenticated"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("up: bind system:service-account-issuer-discovery to system:unauthenticated: %v", err)
	}
	// The issuer as up serves it.
	raw, err := e.up.client.RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	if err != nil || !bytes.Contains(raw, []byte(`"issuer":"`+upIssuer+`"`)) {
		t.Fatalf("up's discovery document does not name the issuer %s (err %v): %s", upIssuer, err, raw)
	}
}

// The federation config: one hub (up), one downstream (down) that grants
// only allowedNS, to ArgoCD and to the Job kubectlJob of up. downCA is a caFile line, or "useSystemRoots: true" before
// down's CA exists.
func (e *env) writeFederation(file, downTLS string, more ...string) {
	e.t.Helper()
	cfg := fmt.Sprintf(`apiVersion: argocd-k8s-federate.io/v1alpha1
kind: Federation
upstream:
  name: %s
  issuer: %s
  caFile: up-ca.crt
  token:
    expirationSeconds: %d
  plugin:
    image: %s
    imagePullPolicy: IfNotPresent
  workloads:
  - name: %s
    namespace: %s
    kind: Job
    serviceAccount: %s
downstreams:
- name: %s
  server: %s
  %s
  access:
    namespaces: [%s]
    workloads:
    - name: %s
      namespaces: [%s]
      preset: viewer
`, upName, upIssuer, tokenExpirationSeconds, e.pluginImage, kubectlJob, jobsNS, kubectlSA, downName, downServer, downTLS, allowedNS, kubectlJob, allowedNS)
	cfg += strings.Join(more, "")
	e.writeFile(filepath.Join(e.work, "federation", file), []byte(cfg))
}

func (e *env) generate(file, out string) {
	e.t.Helper()
	cmd := exec.Command(e.cli, "generate", "-f", filepath.Join(e.work, "federation", file), "-o", out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("argocd-k8s-federate generate -f %s: %v\n%s", file, err, b)
	}
	e.t.Logf("argocd-k8s-federate generate -f %s -o %s: %s", file, out, bytes.TrimSpace(b))
}

// generatePass1 solves the order problem: down's API server needs the
// AuthenticationConfiguration when it is created, and the federation config
// needs down's CA, which kubeadm creates with down. The AuthenticationConfiguration
// depends only on the upstream (issuer, CA, audience, prefix), so a first
// generate with "useSystemRoots" for down yields it; pass 2 checks that it
// did not change.
func (e *env) generatePass1() {
	e.writeFile(filepath.Join(e.work, "federation", "up-ca.crt"), e.up.caPEM)
	e.writeFederation("federation-pass1.yaml", "useSystemRoots: true")
	out := filepath.Join(e.work, "out-pass1")
	e.generate("federation-pass1.yaml", out)
	data, err := os.ReadFile(filepath.Join(out, "downstream", downName, "apiserver", "authentication-config.yaml"))
	if err != nil {
		e.t.Fatal(err)
	}
	// What a platform engineer copies to the control-plane node. A directory
	// is mounted (not the file), so that replacing the file is seen.
	e.writeFile(filepath.Join(e.work, "down-node", "authentication-config.yaml"), data)
}

// createDown creates down with --authentication-config: the file is
// bind-mounted into the node (extraMounts) and into the kube-apiserver
// static pod (extraVolumes). RBAC is kubeadm's default authorization.
func (e *env) createDown() {
	e.down = e.createDownstream(downName, filepath.Join(e.work, "down-node"))
}

// createDownstream creates a downstream cluster whose kube-apiserver runs
// with the AuthenticationConfiguration in nodeDir.
func (e *env) createDownstream(name, nodeDir string) kindCluster {
	c := e.createCluster(name, &v1alpha4.Cluster{
		Nodes: []v1alpha4.Node{{
			Role: v1alpha4.ControlPlaneRole,
			ExtraMounts: []v1alpha4.Mount{{
				HostPath:      nodeDir,
				ContainerPath: authnConfigDir,
				Readonly:      true,
			}},
		}},
		KubeadmConfigPatches: []string{`kind: ClusterConfiguration
apiServer:
  extraArgs:
    authentication-config: ` + authnConfigDir + `/authentication-config.yaml
  extraVolumes:
  - name: argocd-k8s-federate
    hostPath: ` + authnConfigDir + `
    mountPath: ` + authnConfigDir + `
    readOnly: true
    pathType: Directory
`},
	})
	out := e.nodeExec(name, "ps", "-o", "args=", "-C", "kube-apiserver")
	if !strings.Contains(out, "--authentication-config="+authnConfigDir) || !strings.Contains(out, "--authorization-mode=Node,RBAC") {
		e.t.Fatalf("%s's kube-apiserver does not run with the AuthenticationConfiguration and RBAC: %s", name, out)
	}
	return c
}

// generatePass2 writes the final federation config (down's CA from its node)
// and generates the tree that is applied.
func (e *env) generatePass2() {
	e.writeFile(filepath.Join(e.work, "federation", "down-ca.crt"), e.down.caPEM)
	e.writeFederation("federation.yaml", "caFile: down-ca.crt")
	e.out = filepath.Join(e.work, "out")
	e.generate("federation.yaml", e.out)
	onNode, err := os.ReadFile(filepath.Join(e.work, "down-node", "authentication-config.yaml"))
	if err != nil {
		e.t.Fatal(err)
	}
	now, err := os.ReadFile(filepath.Join(e.out, "downstream", downName, "apiserver", "authentication-config.yaml"))
	if err != nil {
		e.t.Fatal(err)
	}
	if !bytes.Equal(onNode, now) {
		e.t.Fatalf("the AuthenticationConfiguration changed once down's CA was in the config; down runs with:\n%s\nthe generator now writes:\n%s", onNode, now)
	}
}

func (e *env) createCluster(name string, cfg *v1alpha4.Cluster) kindCluster {
	t := e.t
	cfg.TypeMeta = v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"}
	// The node image has a bridge CNI configuration and no kindnetd.
	cfg.Networking.DisableDefaultCNI = true
	kubeconfig := filepath.Join(e.work, name+".kubeconfig")
	e.created = append(e.created, name)
	if err := e.provider.Create(name,
		cluster.CreateWithV1Alpha4Config(cfg),
		cluster.CreateWithNodeImage(e.nodeImage),
		cluster.CreateWithKubeconfigPath(kubeconfig),
		cluster.CreateWithWaitForReady(4*time.Minute),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	); err != nil {
		t.Fatalf("kind: create cluster %s: %v", name, err)
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	c := kindCluster{name: name, kubeconfig: kubeconfig, config: restCfg, client: client}
	c.caPEM = []byte(e.nodeExec(name, "cat", "/etc/kubernetes/pki/ca.crt"))
	if !bytes.Contains(c.caPEM, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Fatalf("%s: /etc/kubernetes/pki/ca.crt is not a PEM certificate: %q", name, c.caPEM)
	}
	return c
}

// nodeExec runs a command in the cluster's (only) node and returns stdout.
func (e *env) nodeExec(clusterName string, name string, args ...string) string {
	e.t.Helper()
	nodes, err := e.provider.ListInternalNodes(clusterName)
	if err != nil || len(nodes) != 1 {
		e.t.Fatalf("kind: nodes of %s: %v %v", clusterName, nodes, err)
	}
	var stdout, stderr bytes.Buffer
	if err := nodes[0].Command(name, args...).SetStdout(&stdout).SetStderr(&stderr).Run(); err != nil {
		e.t.Fatalf("%s: %s %s: %v\n%s", nodes[0], name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// loadImages renders the ArgoCD kustomization, checks that nothing in it
// would be pulled, and loads every image it names (ArgoCD, redis, the
// plugin) plus the git daemon and the CLI image into up, and the workload image into down,
// with kind's own loader (ctr import of a docker save stream).
func (e *env) loadImages() {
	t := e.t
	e.prepareArgoCDKustomization()
	rendered := e.kubectl(e.up, "kustomize", filepath.Join(e.work, "argocd"))
	if strings.Contains(rendered, "imagePullPolicy: Always") {
		t.Fatalf("the ArgoCD kustomization still has imagePullPolicy: Always (install.yaml changed?): see %s", filepath.Join(e.work, "argocd"))
	}
	images := map[string]bool{e.gitDaemonImage: true, e.cliImage: true, e.kubectlImage: true}
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:-\s+)?image:\s*(\S+)\s*$`).FindAllStringSubmatch(rendered, -1) {
		images[m[1]] = true
	}
	var upImages []string
	for img := range images {
		upImages = append(upImages, img)
	}
	sort.Strings(upImages)
	for _, img := range upImages {
		e.requireImage(img)
	}
	t.Logf("images for up: %s; for down: %s", strings.Join(upImages, ", "), e.workloadImage)
	e.loadInto(upName, upImages...)
	e.loadInto(downName, e.workloadImage)
}

func (e *env) loadInto(clusterName string, images ...string) {
	t := e.t
	nodes, err := e.provider.ListInternalNodes(clusterName)
	if err != nil {
		t.Fatalf("kind: nodes of %s: %v", clusterName, err)
	}
	for _, n := range nodes {
		start := time.Now()
		save := exec.Command("docker", append([]string{"save"}, images...)...)
		var stderr bytes.Buffer
		save.Stderr = &stderr
		pipe, err := save.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := save.Start(); err != nil {
			t.Fatal(err)
		}
		loadErr := nodeutils.LoadImageArchive(n, pipe)
		_, _ = io.Copy(io.Discard, pipe) // let docker save finish if the load stopped early
		saveErr := save.Wait()
		if saveErr != nil || loadErr != nil {
			t.Fatalf("load %s into %s: docker save: %v %s; import: %v", strings.Join(images, " "), n, saveErr, stderr.String(), loadErr)
		}
		t.Logf("loaded %d images into %s in %v", len(images), n, time.Since(start).Round(time.Second))
	}
}

// prepareArgoCDKustomization lays out what a platform engineer keeps in Git:
// the kustomization of testdata/argocd, ArgoCD's install.yaml from the
// argo-cd/v3 module, next to the generated tree (../out/upstream/up).
func (e *env) prepareArgoCDKustomization() {
	dir := filepath.Join(e.work, "argocd")
	for _, f := range []string{"kustomization.yaml", "namespace.yaml"} {
		e.writeFile(filepath.Join(dir, f), e.readTestdata("argocd/"+f))
	}
	install, err := os.ReadFile(filepath.Join(e.argocdModule, "manifests", "install.yaml"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.writeFile(filepath.Join(dir, "install.yaml"), install)
}

func (e *env) installArgoCD() {
	e.kubectl(e.up, "apply", "--server-side", "-k", filepath.Join(e.work, "argocd"))
	var err error
	if e.argocd, err = argoclient.NewForConfig(e.up.config); err != nil {
		e.t.Fatal(err)
	}
}

// applyDownstream: the namespaces (the allowed one must exist, the other one
// is granted to nobody), then the generated RBAC.
func (e *env) applyDownstream() {
	ctx, cancel := e.ctx(time.Minute)
	defer cancel()
	for _, ns := range []string{allowedNS, notGrantedNS} {
		if _, err := e.down.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			e.t.Fatalf("down: create namespace %s: %v", ns, err)
		}
	}
	e.kubectl(e.down, "apply", "-k", filepath.Join(e.out, "downstream", downName))
}

func (e *env) startGitServer() {
	manifest := strings.ReplaceAll(string(e.readTestdata("git-server.yaml")), "GIT_DAEMON_IMAGE", e.gitDaemonImage)
	e.kubectlStdin(e.up, manifest, "apply", "-f", "-")
	source := map[string]string{}
	for _, f := range []string{"configmap.yaml", "deployment.yaml"} {
		source[f] = strings.ReplaceAll(string(e.readTestdata("app/"+f)), "WORKLOAD_IMAGE", e.workloadImage)
	}
	ctx, cancel := e.ctx(time.Minute)
	defer cancel()
	if _, err := e.up.client.CoreV1().ConfigMaps(gitNS).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "app-source"},
		Data:       source,
	}, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("up: create the ConfigMap app-source: %v", err)
	}
}

// waitArgoCD waits until every ArgoCD workload and the git server are ready.
func (e *env) waitArgoCD() {
	t := e.t
	ctx, cancel := e.ctx(8 * time.Minute)
	defer cancel()
	var notReady []string
	err := poll(ctx, 3*time.Second, func() (bool, error) {
		notReady = nil
		for _, ns := range []string{argocdNS, gitNS} {
			deps, err := e.up.client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			for _, d := range deps.Items {
				if !deploymentReady(&d) {
					notReady = append(notReady, ns+"/deployment/"+d.Name)
				}
			}
		}
		sts, err := e.up.client.AppsV1().StatefulSets(argocdNS).Get(ctx, "argocd-application-controller", metav1.GetOptions{})
		if err != nil || sts.Status.ReadyReplicas < 1 || sts.Status.UpdatedReplicas < 1 {
			notReady = append(notReady, "argocd/statefulset/argocd-application-controller")
		}
		return len(notReady) == 0, nil
	})
	if err != nil {
		t.Fatalf("ArgoCD or the git server not ready after 8 minutes: %s\n%s\n%s", strings.Join(notReady, ", "),
			e.kubectlAllowFail(e.up, "get", "pods", "-A", "-o", "wide"),
			e.kubectlAllowFail(e.up, "get", "events", "-A", "--field-selector", "type=Warning"))
	}
	// Nothing in up pulls: the images were loaded, the policies say IfNotPresent.
	for _, ns := range []string{argocdNS, gitNS} {
		pods, err := e.up.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
				if c.ImagePullPolicy == corev1.PullAlways {
					t.Errorf("%s/%s container %s has imagePullPolicy Always", ns, p.Name, c.Name)
				}
			}
		}
	}
}

func deploymentReady(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas >= want &&
		d.Status.ReadyReplicas >= want && d.Status.AvailableReplicas >= want
}

// createApplications creates two Applications from the same source: one
// into the granted namespace, one into the namespace nobody granted. Both
// sync automatically.
func (e *env) createApplications() {
	e.createApp(e.t, appName, downServer, allowedNS)
	e.createApp(e.t, notGrantedAppName, downServer, notGrantedNS)
}

// createApp creates an Application of the test's source (git daemon in up)
// into namespace of server, syncing automatically (prune, self-heal).
func (e *env) createApp(t *testing.T, name, server, namespace string) {
	t.Helper()
	ctx, cancel := e.ctx(time.Minute)
	defer cancel()
	app := &argoappv1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: argocdNS},
		Spec: argoappv1.ApplicationSpec{
			Project: "default",
			Source: &argoappv1.ApplicationSource{
				RepoURL: "git://git." + gitNS + ".svc.cluster.local/apps.git", Path: "app", TargetRevision: "HEAD",
			},
			Destination: argoappv1.ApplicationDestination{Server: server, Namespace: namespace},
			SyncPolicy:  &argoappv1.SyncPolicy{Automated: &argoappv1.SyncPolicyAutomated{Prune: true, SelfHeal: true}},
		},
	}
	if _, err := e.argocd.ArgoprojV1alpha1().Applications(argocdNS).Create(ctx, app, metav1.CreateOptions{}); err != nil {
		t.Fatalf("up: create Application %s: %v", name, err)
	}
}

// waitSyncedHealthy waits until the Application is Synced and Healthy.
func (e *env) waitSyncedHealthy(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := e.ctx(timeout)
	defer cancel()
	var last *argoappv1.Application
	err := poll(ctx, time.Second, func() (bool, error) {
		a, err := e.argocd.ArgoprojV1alpha1().Applications(argocdNS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = a
		return a.Status.Sync.Status == argoappv1.SyncStatusCodeSynced && string(a.Status.Health.Status) == "Healthy", nil
	})
	if err != nil {
		t.Fatalf("Application %s is not Synced and Healthy after %v: %s\n%s", name, timeout, appSummary(last),
			e.kubectlAllowFail(e.up, "-n", argocdNS, "logs", "argocd-application-controller-0", "--tail", "30"))
	}
}

// ---------------------------------------------------------------------------
// kubectl, files

// kubectl runs kubectl against the cluster and fails the test on error.
func (e *env) kubectl(c kindCluster, args ...string) string {
	e.t.Helper()
	return e.kubectlStdin(c, "", args...)
}

func (e *env) kubectlStdin(c kindCluster, stdin string, args ...string) string {
	e.t.Helper()
	out, errOut, err := e.runKubectl(c, stdin, args...)
	if err != nil {
		e.t.Fatalf("kubectl --kubeconfig %s %s: %v\n%s%s", c.kubeconfig, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// kubectlAllowFail is for diagnostics: it returns what kubectl printed,
// error included.
func (e *env) kubectlAllowFail(c kindCluster, args ...string) string {
	out, errOut, err := e.runKubectl(c, "", args...)
	if err != nil {
		return fmt.Sprintf("$ kubectl %s\n%s%s(%v)\n", strings.Join(args, " "), out, errOut, err)
	}
	return fmt.Sprintf("$ kubectl %s\n%s%s", strings.Join(args, " "), out, errOut)
}

func (e *env) runKubectl(c kindCluster, stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.kubectlBin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func (e *env) writeFile(path string, data []byte) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) readTestdata(name string) []byte {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		e.t.Fatal(err)
	}
	return data
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// poll calls fn every interval until it returns true, an error, or ctx ends.
func poll(ctx context.Context, interval time.Duration, fn func() (bool, error)) error {
	for {
		ok, err := fn()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
