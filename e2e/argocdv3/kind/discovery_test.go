//go:build e2e

package kind

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	discoveryDoc     = "docs/discovery.md"
	discoveryCronJob = "discovery-check"
	discoveryJob     = "discovery-check-now"
	// The URL and the CA in the documented manifest are an example; up
	// publishes nowhere else, so the copy checked is its own issuer's.
	docsBaseURL   = `"https://storage.googleapis.com/oidc-bucket/hub"`
	saCA          = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
	e2eBaseURLArg = `"` + upIssuer + `", --base-url-ca, ` + saCA
)

// testDiscoveryCheckCronJob runs the CronJob of docs/discovery.md as the
// document gives it (only its image and URL replaced) in up, and a Job
// created from it the way an operator runs it now (kubectl create job
// --from=cronjob/...): the CLI image, non-root on a read-only root file
// system, reads up's live discovery with its in-cluster service account (no
// RBAC of its own), reads the copy at --base-url as a downstream does, and
// reports them in sync, in the JSON the document describes.
func (e *env) testDiscoveryCheckCronJob(t *testing.T) {
	manifest := e.documentedCronJob(t)
	if _, errOut, err := e.runKubectl(e.up, manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("up: kubectl apply the CronJob of %s: %v\n%s\n%s", discoveryDoc, err, errOut, manifest)
	}
	if _, errOut, err := e.runKubectl(e.up, "", "-n", argocdNS, "create", "job", discoveryJob, "--from=cronjob/"+discoveryCronJob); err != nil {
		t.Fatalf("up: kubectl create job --from=cronjob/%s: %v\n%s", discoveryCronJob, err, errOut)
	}

	ctx, cancel := e.ctx(3 * time.Minute)
	defer cancel()
	var job *batchv1.Job
	err := poll(ctx, 2*time.Second, func() (bool, error) {
		j, err := e.up.client.BatchV1().Jobs(argocdNS).Get(ctx, discoveryJob, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		job = j
		return j.Status.Succeeded > 0 || j.Status.Failed > 0, nil
	})
	logs, errOut, logErr := e.runKubectl(e.up, "", "-n", argocdNS, "logs", "job/"+discoveryJob)
	diagnostics := func() string {
		return fmt.Sprintf("log: %s%s(%v)\n%s", logs, errOut, logErr,
			e.kubectlAllowFail(e.up, "-n", argocdNS, "describe", "job,pods", "-l", "job-name="+discoveryJob))
	}
	switch {
	case err != nil:
		t.Fatalf("up: the Job %s neither succeeded nor failed in 3 minutes\n%s", discoveryJob, diagnostics())
	case job.Status.Succeeded == 0:
		t.Fatalf("up: the Job %s failed (exit 1 is the check's alert)\n%s", discoveryJob, diagnostics())
	}

	var report discovery.Comparison // what discovery check -o json prints
	if err := json.Unmarshal([]byte(logs), &report); err != nil {
		t.Fatalf("up: the Job's log is not the JSON object of discovery check -o json: %v\n%s", err, diagnostics())
	}
	if !report.InSync || report.Error != "" || len(report.Problems) > 0 || len(report.MissingKeyIDs) > 0 {
		t.Fatalf("up: discovery check reports inSync=%v error=%q problems=%q missing=%q\n%s",
			report.InSync, report.Error, report.Problems, report.MissingKeyIDs, logs)
	}
	if report.Issuer != upIssuer || report.PublishedIssuer != upIssuer {
		t.Errorf("up: discovery check saw issuer %q, published %q; want %q for both", report.Issuer, report.PublishedIssuer, upIssuer)
	}
	if len(report.LiveKeyIDs) == 0 || strings.Join(report.LiveKeyIDs, ",") != strings.Join(report.PublishedKeyIDs, ",") {
		t.Errorf("up: live key ids %q, published %q: want the same, at least one", report.LiveKeyIDs, report.PublishedKeyIDs)
	}

	// What the pod ran as: the documented security context, on the CLI image.
	pods, err := e.up.client.CoreV1().Pods(argocdNS).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + discoveryJob})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("up: the pods of the Job %s: %v (%d found)", discoveryJob, err, len(pods.Items))
	}
	c := pods.Items[0].Spec.Containers[0]
	if c.Image != e.cliImage {
		t.Errorf("up: the Job ran the image %s, want %s", c.Image, e.cliImage)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("up: the Job's container is not non-root with a read-only root file system: %+v", sc)
	}
	if pods.Items[0].Status.Phase != corev1.PodSucceeded {
		t.Errorf("up: the Job's pod is %s, want Succeeded", pods.Items[0].Status.Phase)
	}
	t.Logf("up: the documented CronJob's Job, image %s: in sync, issuer %s, key ids %q", c.Image, report.Issuer, report.LiveKeyIDs)
}

// documentedCronJob is the first YAML block under "As a CronJob" in
// docs/discovery.md, with the CLI image and up's issuer as the base URL.
func (e *env) documentedCronJob(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(e.root, discoveryDoc))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### As a CronJob.*?```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatalf("%s has no ```yaml block under \"### As a CronJob\": the test runs the manifest the document gives", discoveryDoc)
	}
	manifest := string(m[1])
	image := regexp.MustCompile(`(?m)^(\s*image:)\s.*$`)
	if !image.MatchString(manifest) || !strings.Contains(manifest, docsBaseURL) || !strings.Contains(manifest, "name: "+discoveryCronJob+"\n") {
		t.Fatalf("the CronJob of %s changed: the test replaces its image: line and %s, and runs the CronJob %s\n%s",
			discoveryDoc, docsBaseURL, discoveryCronJob, manifest)
	}
	manifest = image.ReplaceAllString(manifest, "${1} "+e.cliImage)
	manifest = strings.Replace(manifest, docsBaseURL, e2eBaseURLArg, 1)
	return manifest
}
