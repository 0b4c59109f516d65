//go:build e2e

package kind

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/cluster"
)

// The names below are the test's own. A kind cluster NAME runs in the Docker
// container NAME-control-plane, which every other container on kind's Docker
// network (the other cluster's node, and pods through CoreDNS) resolves.
const (
	upName   = "up"
	downName = "down"
	// upIssuer is up's --service-account-issuer: its own API server, by the
	// name down reaches it at, never the default every cluster shares.
	upIssuer = "https://" + upName + "-control-plane:6443"
	// downServer is down's API server as ArgoCD in up reaches it.
	downServer = "https://" + downName + "-control-plane:6443"

	argocdNS     = "argocd"
	allowedNS    = "e2e-apps"        // granted to ArgoCD by the federation config
	notGrantedNS = "e2e-not-granted" // exists in down, granted to nobody
	gitNS        = "e2e-git"

	appName           = "hello"
	notGrantedAppName = "hello-not-granted"

	// The generator's default username prefix is "<upstream.name>:".
	controllerUser = upName + ":system:serviceaccount:argocd:argocd-application-controller"
	serverUser     = upName + ":system:serviceaccount:argocd:argocd-server"

	// Where the generated Component mounts the projected tokens; the token
	// for audience A is the file A (the audience defaults to the
	// downstream's name).
	tokenFile = "/var/run/secrets/argocd-k8s-federate/" + downName
	// Where down's control-plane node keeps the AuthenticationConfiguration.
	authnConfigDir = "/etc/kubernetes/argocd-k8s-federate"
)

// TestE2E is the product as a platform engineer uses it: two real clusters,
// ArgoCD installed from its own manifests plus the generated Component, the
// downstream trusting the upstream's issuer with the generated
// AuthenticationConfiguration and RBAC, and an Application synced across.
//
// Environment: E2E_KEEP=1 keeps the clusters and the work directory;
// E2E_PLUGIN_IMAGE (default argocd-k8s-federate-plugin:e2e),
// E2E_CLI_IMAGE (default argocd-k8s-federate:e2e), E2E_WORKLOAD_IMAGE
// (default argocd-k8s-federate/debian:<DEBIAN_SUITE>) and E2E_KUBECTL_IMAGE
// (default argocd-k8s-federate/kubectl:<KUBERNETES_VERSION>) name images that must exist in the local Docker; KUBECTL a kubectl binary
// (else the pinned one is built or taken from the cache).
func TestE2E(t *testing.T) {
	e := newEnv(t)

	e.timed("preflight: images, kubectl, CLI", e.preflight)
	e.timed("create cluster up", e.createUp)
	e.timed("generate (pass 1: down's AuthenticationConfiguration)", e.generatePass1)
	e.timed("create cluster down", e.createDown)
	e.timed("generate (pass 2: down's CA known)", e.generatePass2)
	e.timed("load images into the nodes", e.loadImages)
	e.timed("apply ArgoCD + Component to up (kubectl apply --server-side -k)", e.installArgoCD)
	e.timed("apply the downstream RBAC to down (kubectl apply -k)", e.applyDownstream)
	e.timed("git server in up", e.startGitServer)
	e.timed("wait for ArgoCD and the git server", e.waitArgoCD)
	e.timed("create the Applications", e.createApplications)

	e.step("SyncedHealthyAndRunning", e.testSyncedHealthyAndRunning)
	e.step("FederatedIdentity", e.testFederatedIdentity)
	e.step("OtherServiceAccountRefused", e.testOtherServiceAccountRefused)
	e.step("NotGrantedNamespace", e.testNotGrantedNamespace)
	e.step("LogsThroughArgoCDAPI", e.testLogsThroughArgoCDAPI)
	e.step("NoDownstreamCredentialInUp", e.testNoDownstreamCredentialInUp)
	e.step("DiscoveryCheckCronJob", e.testDiscoveryCheckCronJob)
	e.step("WorkloadKubeconfig", e.testWorkloadKubeconfig)
	// Also onboards a third cluster, with the TokenRequest source, and
	// adopts a fourth added as `argocd cluster add` adds one, while it
	// waits for the kubelet.
	e.step("TokenRotation", e.testTokenRotation)
}

// newEnv prepares the work directory and registers, in this order of
// execution at the end: log export on failure, cluster deletion (unless
// E2E_KEEP=1), the phase summary.
func newEnv(t *testing.T) *env {
	start := time.Now()
	work, err := os.MkdirTemp("", "argocd-k8s-federate-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, work: work, keep: os.Getenv("E2E_KEEP") == "1"}
	e.provider = cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindLogger{t}))
	t.Logf("work directory: %s", work)

	// Cleanups run last registered first.
	t.Cleanup(func() {
		e.printPhases(time.Since(start))
		switch {
		case t.Failed():
			t.Logf("FAILED: files kept in %s (exported logs, if any clusters were created: %s)", work, filepath.Join(work, "logs"))
		case e.keep:
			t.Logf("E2E_KEEP=1: work directory kept in %s", work)
		default:
			os.RemoveAll(work)
		}
	})
	t.Cleanup(func() {
		if len(e.created) == 0 {
			return
		}
		if e.keep {
			t.Logf("E2E_KEEP=1: clusters kept; kubeconfigs %s and %s; the next run replaces them (or: kind delete clusters %s %s)",
				e.up.kubeconfig, e.down.kubeconfig, upName, downName)
			return
		}
		e.timed("delete clusters", func() {
			for _, name := range slices.Backward(e.created) {
				if err := e.provider.Delete(name, filepath.Join(work, name+".kubeconfig")); err != nil {
					t.Errorf("delete cluster %s: %v", name, err)
				}
			}
		})
	})
	t.Cleanup(func() {
		if t.Failed() && len(e.created) > 0 {
			e.timed("export logs", e.exportLogs)
		}
	})
	return e
}

func (e *env) ctx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
