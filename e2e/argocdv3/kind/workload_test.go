//go:build e2e

package kind

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The upstream workload of the federation config: a Job of up that runs the
// pinned kubectl against down with nothing but the generated kubeconfig.
const (
	kubectlJob = "kubectl-check"
	jobsNS     = "e2e-jobs"
	kubectlSA  = "e2e-kubectl"
	kubectlID  = upName + ":system:serviceaccount:" + jobsNS + ":" + kubectlSA
)

// kubectlScript is what the Job runs: it prints one line per finding, and
// fails when anything it expects does not happen.
const kubectlScript = `set -eu
echo "KUBECONFIG $KUBECONFIG"
ctx=$(kubectl config current-context)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ns=$(kubectl config view --minify -o jsonpath='{.contexts[0].context.namespace}')
echo "CONTEXT $ctx SERVER $server NAMESPACE $ns"
who=$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}')
echo "WHOAMI $who"
pod=$(kubectl get pods -o name | head -n 1)
echo "GRANTED $ns $pod"
if out=$(kubectl -n ` + notGrantedNS + ` get pods 2>&1); then
  echo "NOT-GRANTED ` + notGrantedNS + ` allowed: $out"
  exit 1
fi
echo "NOT-GRANTED ` + notGrantedNS + ` $out"
echo OK
`

// testWorkloadKubeconfig deploys, from a kustomization of its own with the
// generated Component of workload kubectlJob, a Job in up whose pod has no
// service-account token of its own mounted (automountServiceAccountToken:
// false) and only the generated kubeconfig: kubectl auth whoami is the
// workload's prefixed user, it lists the pods of the granted namespace of
// down and is forbidden in notGrantedNS.
func (e *env) testWorkloadKubeconfig(t *testing.T) {
	dir := filepath.Join(e.work, "kubectl-job")
	component, err := filepath.Rel(dir, filepath.Join(e.out, "upstream", upName, "workloads", kubectlJob))
	if err != nil {
		t.Fatal(err)
	}
	script := "          " + strings.ReplaceAll(strings.TrimRight(kubectlScript, "\n"), "\n", "\n          ")
	e.writeFile(filepath.Join(dir, "kustomization.yaml"), []byte(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- job.yaml
components:
- `+component+`
`))
	e.writeFile(filepath.Join(dir, "job.yaml"), []byte(fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[2]s
  namespace: %[1]s
automountServiceAccountToken: false
---
apiVersion: batch/v1
kind: Job
metadata:
  name: %[3]s
  namespace: %[1]s
spec:
  backoffLimit: 0
  template:
    spec:
      serviceAccountName: %[2]s
      automountServiceAccountToken: false
      restartPolicy: Never
      containers:
      - name: %[3]s
        image: %[4]s
        command: [sh, -c]
        args:
        - |
%[5]s
`, jobsNS, kubectlSA, kubectlJob, e.kubectlImage, script)))
	e.kubectl(e.up, "apply", "--server-side", "-k", dir)

	ctx, cancel := e.ctx(3 * time.Minute)
	defer cancel()
	var job *batchv1.Job
	err = poll(ctx, time.Second, func() (bool, error) {
		j, err := e.up.client.BatchV1().Jobs(jobsNS).Get(ctx, kubectlJob, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		job = j
		return j.Status.Succeeded > 0 || j.Status.Failed > 0, nil
	})
	logs, errOut, logErr := e.runKubectl(e.up, "", "-n", jobsNS, "logs", "job/"+kubectlJob, "--all-containers")
	diagnostics := func() string {
		return fmt.Sprintf("log:\n%s%s(%v)\n%s", logs, errOut, logErr,
			e.kubectlAllowFail(e.up, "-n", jobsNS, "describe", "job,pods", "-l", "job-name="+kubectlJob))
	}
	switch {
	case err != nil:
		t.Fatalf("up: the Job %s/%s neither succeeded nor failed in 3 minutes\n%s", jobsNS, kubectlJob, diagnostics())
	case job.Status.Succeeded == 0:
		t.Fatalf("up: the Job %s/%s failed\n%s", jobsNS, kubectlJob, diagnostics())
	}
	t.Logf("up: the log of Job %s/%s:\n%s", jobsNS, kubectlJob, logs)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^KUBECONFIG /etc/argocd-k8s-federate/kubeconfig/config$`),
		regexp.MustCompile(`(?m)^CONTEXT ` + downName + ` SERVER ` + regexp.QuoteMeta(downServer) + ` NAMESPACE ` + allowedNS + `$`),
		regexp.MustCompile(`(?m)^WHOAMI ` + regexp.QuoteMeta(kubectlID) + `$`),
		regexp.MustCompile(`(?m)^GRANTED ` + allowedNS + ` pod/` + appName + `-\S+$`),
		regexp.MustCompile(`(?m)^NOT-GRANTED ` + notGrantedNS + ` Error from server \(Forbidden\): pods is forbidden: User "` + regexp.QuoteMeta(kubectlID) + `" cannot list resource "pods" in API group "" in the namespace "` + notGrantedNS + `"$`),
		regexp.MustCompile(`(?m)^OK$`),
	} {
		if !want.MatchString(logs) {
			t.Errorf("up: the log of Job %s/%s has no line matching %s", jobsNS, kubectlJob, want)
		}
	}

	// What the pod had: no token of its own, the kubeconfig of the Component.
	pods, err := e.up.client.CoreV1().Pods(jobsNS).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + kubectlJob})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("up: the pods of Job %s: %v (%d found)", kubectlJob, err, len(pods.Items))
	}
	spec := pods.Items[0].Spec
	for _, v := range spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			t.Errorf("up: the Job's pod mounts its service-account token (%s): automountServiceAccountToken: false did not hold", v.Name)
		}
	}
	var kubeconfigFrom string
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			kubeconfigFrom = v.ConfigMap.Name
		}
	}
	if want := "argocd-k8s-federate-kubeconfig-" + kubectlJob; kubeconfigFrom != want {
		t.Errorf("up: the Job's pod has its kubeconfig from ConfigMap %q, want %q", kubeconfigFrom, want)
	}
}
