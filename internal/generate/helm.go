package generate

import (
	"fmt"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// HelmValuesFile is the values file for the argo-helm argo-cd chart, in
// upstream/<hub>/ beside the Component.
const HelmValuesFile = "helm-values.yaml"

// helmValues are the argo-cd chart's values that give the same result as the
// Component: the pods' additions, argocd-cm's setting, and the cluster
// Secrets through configs.clusterCredentials (rendered apart, see
// helmValuesFile).
type helmValues struct {
	Controller helmComponent  `json:"controller"`
	Server     *helmComponent `json:"server,omitempty"`
	// ExtraObjects are the token-request source's RBAC, admission policy
	// and audiences ConfigMap, and the identity provider's CA ConfigMap:
	// the chart renders them as they are.
	ExtraObjects []any `json:"extraObjects,omitempty"`
}

type helmComponent struct {
	InitContainers []container   `json:"initContainers,omitempty"`
	Volumes        []volume      `json:"volumes"`
	VolumeMounts   []volumeMount `json:"volumeMounts"`
}

// helmValuesFile renders upstream/<hub>/helm-values.yaml. The
// configs.clusterCredentials entries, one per downstream in name order, are
// rendered beside the cluster Secrets (helmCredentialYAML, in parallel) and
// placed under their key here: the same values as one YAML document of the
// whole (long strings fold at other columns), at fleet scale in a fraction
// of the time.
func (t *Tree) helmValuesFile(dir string, f *config.Federation, entries [][]byte) error {
	u := &f.Upstream
	a := argoCDPodAdditions(f)
	var v helmValues
	v.Controller = helmComponent{InitContainers: a.InitContainers, Volumes: a.Volumes, VolumeMounts: a.Mounts}
	if u.ArgoCD.Server.IsEnabled() {
		server := v.Controller
		v.Server = &server
	}
	if requestsAnyTokens(f) {
		v.ExtraObjects = append(tokenRequestObjects(f), audiencesConfigMap(f))
	}
	if cm, ok := oidcCAConfigMap(f, config.OIDCCAConfigMap, u.ArgoCD.Namespace); ok {
		v.ExtraObjects = append(v.ExtraObjects, cm)
	}
	pods, err := toYAML(v)
	if err != nil {
		return fmt.Errorf("render %s%s: %w", dir, HelmValuesFile, err)
	}

	var b strings.Builder
	b.WriteString(Header)
	b.WriteString(comment(fmt.Sprintf(`The argo-helm argo-cd chart's values for the federation: the same init
container, volumes and mounts as the Component, argocd-cm's setting, and one
cluster Secret per downstream (configs.clusterCredentials: the chart names them
argocd-cluster-<name>). Give it after your own values:

  helm upgrade --install argocd argo/argo-cd -n %s -f your-values.yaml -f %s

Helm replaces lists: if your values set controller or server initContainers,
volumes, volumeMounts or extraObjects, add these entries to yours instead.
`, u.ArgoCD.Namespace, HelmValuesFile)))
	b.WriteString("configs:\n  clusterCredentials:\n")
	for _, e := range entries {
		if len(e) == 0 {
			continue // a name the chart cannot key (a warning says so)
		}
		for _, line := range strings.SplitAfter(strings.TrimSuffix(string(e), "\n"), "\n") {
			b.WriteString("    " + strings.TrimSuffix(line, "\n") + "\n")
		}
	}
	if namespaced(f) {
		b.WriteString("  cm:\n    resource.respectRBAC: normal\n")
	}
	b.Write(pods)
	t.add(dir+HelmValuesFile, []byte(b.String()))
	return nil
}

// helmCredentialYAML is one downstream's entry of configs.clusterCredentials.
func helmCredentialYAML(cs *argocd.ClusterSecret) ([]byte, error) {
	key, value, err := cs.HelmCredential()
	if err != nil {
		return nil, err
	}
	return toYAML(map[string]any{key: value})
}
