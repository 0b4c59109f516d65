package oracle

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oracletest"
)

// reportManifest is the CronJob of the golden case with upstream workloads
// (internal/generate/testdata/token-request), as its owners deploy it,
// before the Component; its CI runner is the example's
// (examples/ci-runner/deployment.yaml), the same Deployment ci/ci-runner.
const reportManifest = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
  namespace: ops
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: reporter
          restartPolicy: Never
          containers:
          - name: report
            image: report:1
          - name: upload
            image: upload:1
`

// TestKustomizeWorkloadComponents builds, with kustomize's krusty, each
// upstream workload's generated Component on the workload's own manifest,
// decodes the result strictly, and checks the pod template: the plugin's
// init container, the projected tokens of the downstreams the workload
// reaches, the kubeconfig ConfigMap mounted and KUBECONFIG in every listed
// container, the workload's own volumes kept. And the guards: without one
// of the listed containers, or without the workload, the build fails.
func TestKustomizeWorkloadComponents(t *testing.T) {
	root := oracletest.RepoRoot(t)
	golden := filepath.Join(root, "internal", "generate", "testdata", "token-request", "golden", "upstream", "hub", "workloads")
	containers := map[string][]string{"ci-runner": {"ci-runner"}, "report": {"report", "upload"}}
	audiences := map[string][]string{"ci-runner": nil, "report": {"legacy"}}
	runner, err := os.ReadFile(filepath.Join(root, "examples", "ci-runner", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, manifest := range map[string]string{"ci-runner": string(runner), "report": reportManifest} {
		t.Run(name, func(t *testing.T) {
			spec, docs := buildWorkload(t, golden, name, manifest)
			checkWorkloadPod(t, name, spec, containers[name], audiences[name])
			var cm corev1.ConfigMap
			for _, d := range docs {
				if d.Kind == "ConfigMap" {
					if err := oracletest.DecodeStrict(d, &cm); err != nil {
						t.Fatal(err)
					}
				}
			}
			if cm.Name != "argocd-k8s-federate-kubeconfig-"+name || cm.Data["config"] == "" {
				t.Errorf("the build has no kubeconfig ConfigMap of %s: %+v", name, cm.ObjectMeta)
			}

			for _, c := range containers[name] {
				t.Run("without container "+c, func(t *testing.T) {
					renamed := strings.Replace(manifest, "- name: "+c+"\n", "- name: other\n", 1)
					if _, err := tryBuildWorkload(t, golden, name, renamed); err == nil {
						t.Errorf("kustomize build succeeded without container %s: the guards do not hold", c)
					} else {
						t.Logf("refused as it should be: %v", err)
					}
				})
			}
			t.Run("without the workload", func(t *testing.T) {
				renamed := strings.Replace(manifest, "  name: "+name+"\n", "  name: "+name+"-other\n", 1)
				if _, err := tryBuildWorkload(t, golden, name, renamed); err == nil {
					t.Error("kustomize build succeeded without the workload: the guards do not hold")
				}
			})
		})
	}
}

// buildWorkload builds manifest with the Component of workload name and
// returns its pod spec and every document of the build.
func buildWorkload(t *testing.T, golden, name, manifest string) (*corev1.PodSpec, []oracletest.Document) {
	t.Helper()
	docs, err := tryBuildWorkload(t, golden, name, manifest)
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	for _, d := range docs {
		switch d.Kind {
		case "Deployment":
			var o appsv1.Deployment
			if err := oracletest.DecodeStrict(d, &o); err != nil {
				t.Fatal(err)
			}
			return &o.Spec.Template.Spec, docs
		case "CronJob":
			var o batchv1.CronJob
			if err := oracletest.DecodeStrict(d, &o); err != nil {
				t.Fatal(err)
			}
			return &o.Spec.JobTemplate.Spec.Template.Spec, docs
		}
	}
	t.Fatal("no workload in the build")
	return nil, nil
}

func tryBuildWorkload(t *testing.T, golden, name, manifest string) ([]oracletest.Document, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "component"), os.DirFS(filepath.Join(golden, name))); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "app")
	for file, content := range map[string]string{
		"workload.yaml":      manifest,
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- workload.yaml\ncomponents:\n- ../component\n",
	} {
		if err := os.MkdirAll(app, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(app, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), app)
	if err != nil {
		return nil, err
	}
	return resmapDocuments(t, m), nil
}

func checkWorkloadPod(t *testing.T, name string, spec *corev1.PodSpec, containers, audiences []string) {
	t.Helper()
	if len(spec.InitContainers) != 1 || spec.InitContainers[0].Name != "install-argocd-k8s-federate" {
		t.Errorf("init containers %v, want the plugin's", names(spec.InitContainers))
	}
	kc := volume(spec.Volumes, "argocd-k8s-federate-kubeconfig")
	if kc == nil || kc.ConfigMap == nil || kc.ConfigMap.Name != "argocd-k8s-federate-kubeconfig-"+name {
		t.Errorf("no kubeconfig volume from ConfigMap argocd-k8s-federate-kubeconfig-%s: %+v", name, kc)
	}
	var got []string
	if v := volume(spec.Volumes, "argocd-k8s-federate-tokens"); v != nil {
		for _, s := range v.Projected.Sources {
			got = append(got, s.ServiceAccountToken.Audience)
		}
	}
	if !slices.Equal(got, audiences) {
		t.Errorf("projected token audiences %v, want %v (the projected downstreams the workload reaches)", got, audiences)
	}
	if name == "ci-runner" && volume(spec.Volumes, "work") == nil {
		t.Error("the workload's own volume was lost")
	}
	for _, c := range containers {
		ct := container(spec.Containers, c)
		if ct == nil {
			t.Errorf("no container %s", c)
			continue
		}
		var env string
		for _, e := range ct.Env {
			if e.Name == "KUBECONFIG" {
				env = e.Value
			}
		}
		if env != "/etc/argocd-k8s-federate/kubeconfig/config" {
			t.Errorf("container %s: KUBECONFIG=%q", c, env)
		}
		if m := mount(ct.VolumeMounts, "/etc/argocd-k8s-federate/kubeconfig"); m == nil || !m.ReadOnly {
			t.Errorf("container %s does not mount the kubeconfig read-only", c)
		}
		if m := mount(ct.VolumeMounts, "/var/run/argocd-k8s-federate"); m == nil {
			t.Errorf("container %s does not mount the plugin", c)
		}
	}
}
