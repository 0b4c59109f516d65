package generate

import (
	"fmt"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// HelmValuesFile is the values file for the argo-helm argo-cd chart, in
// upstream/<hub>/ beside the Component.
const HelmValuesFile = "helm-values.yaml"

// helmValues are the argo-cd chart's values that give the same result as the
// Component: the pods' additions, argocd-cm's setting, and the cluster
// Secrets through configs.clusterCredentials.
type helmValues struct {
	Controller helmComponent  `json:"controller"`
	Server     *helmComponent `json:"server,omitempty"`
	Configs    struct {
		CM                 map[string]string         `json:"cm,omitempty"`
		ClusterCredentials map[string]map[string]any `json:"clusterCredentials"`
	} `json:"configs"`
}

type helmComponent struct {
	InitContainers []container   `json:"initContainers,omitempty"`
	Volumes        []volume      `json:"volumes"`
	VolumeMounts   []volumeMount `json:"volumeMounts"`
}

// helmValuesFile renders upstream/<hub>/helm-values.yaml.
func (t *Tree) helmValuesFile(dir string, f *config.Federation) error {
	u := &f.Upstream
	a := podAdditionsFor(f)
	var v helmValues
	v.Controller = helmComponent{InitContainers: a.InitContainers, Volumes: a.Volumes, VolumeMounts: a.Mounts}
	if u.ArgoCD.Server.IsEnabled() {
		server := v.Controller
		v.Server = &server
	}
	if namespaced(f) {
		v.Configs.CM = map[string]string{"resource.respectRBAC": "normal"}
	}
	v.Configs.ClusterCredentials = map[string]map[string]any{}
	for i := range f.Downstreams {
		d := &f.Downstreams[i]
		key, value, err := argocd.For(f, d).HelmCredential()
		if err != nil {
			return err
		}
		v.Configs.ClusterCredentials[key] = value
	}
	y, err := toYAML(v)
	if err != nil {
		return fmt.Errorf("render %s%s: %w", dir, HelmValuesFile, err)
	}
	note := fmt.Sprintf(`The argo-helm argo-cd chart's values for the federation: the same init
container, volumes and mounts as the Component, argocd-cm's setting, and one
cluster Secret per downstream (configs.clusterCredentials: the chart names them
argocd-cluster-<name>). Give it after your own values:

  helm upgrade --install argocd argo/argo-cd -n %s -f your-values.yaml -f %s

Helm replaces lists: if your values set controller or server initContainers,
volumes or volumeMounts, add these entries to yours instead.
`, u.ArgoCD.Namespace, HelmValuesFile)
	t.add(dir+HelmValuesFile, []byte(Header+comment(note)+string(y)))
	return nil
}
