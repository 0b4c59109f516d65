package generate

import (
	"fmt"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// OperatorPatchFile is the patch of argocd-operator's ArgoCD resource, in
// upstream/<hub>/ beside the Component, written when upstream.argocd.operator
// is set.
const OperatorPatchFile = "argocd-operator-patch.yaml"

// argoCDResource is argocd-operator's argoproj.io/v1beta1 ArgoCD, with the
// fields this tool sets: the controller's and the server's init containers,
// volumes and mounts (the operator adds them to the pods it runs), and
// respectRBAC (the operator's setting for argocd-cm's resource.respectRBAC).
type argoCDResource struct {
	typeMeta `json:",inline"`
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Controller operatorComponent  `json:"controller"`
		Server     *operatorComponent `json:"server,omitempty"`
	} `json:"spec"`
}

type operatorComponent struct {
	InitContainers []container   `json:"initContainers,omitempty"`
	Volumes        []volume      `json:"volumes"`
	VolumeMounts   []volumeMount `json:"volumeMounts"`
	RespectRBAC    string        `json:"respectRBAC,omitempty"`
}

// operatorAlso names the other plain manifests an operator user applies.
func operatorAlso(f *config.Federation) string {
	var files []string
	if requestsAnyTokens(f) {
		files = append(files, plugin.TokenRequestFile, plugin.AudiencesFile)
	}
	if _, ok := oidcCAConfigMap(f, config.OIDCCAConfigMap, ""); ok {
		files = append(files, OIDCCAFile)
	}
	if len(files) == 0 {
		return ""
	}
	return ", and " + strings.Join(files, " and ")
}

// operatorPatch renders upstream/<hub>/argocd-operator-patch.yaml.
func (t *Tree) operatorPatch(dir string, f *config.Federation) error {
	u := &f.Upstream
	op := u.ArgoCD.Operator
	a := argoCDPodAdditions(f)
	component := operatorComponent{InitContainers: a.InitContainers, Volumes: a.Volumes, VolumeMounts: a.Mounts}
	var r argoCDResource
	r.typeMeta = typeMeta{APIVersion: "argoproj.io/v1beta1", Kind: "ArgoCD"}
	r.Metadata = objectMeta{Name: op.Name, Namespace: u.ArgoCD.Namespace}
	r.Spec.Controller = component
	if namespaced(f) {
		r.Spec.Controller.RespectRBAC = "normal"
	}
	if u.ArgoCD.Server.IsEnabled() {
		server := component
		r.Spec.Server = &server
	}
	y, err := toYAML(r)
	if err != nil {
		return fmt.Errorf("render %s%s: %w", dir, OperatorPatchFile, err)
	}
	note := fmt.Sprintf(`argocd-operator (OpenShift GitOps): what the ArgoCD resource %s needs for
the federation. Merge it into that resource where you keep it, or patch it:

  kubectl -n %s patch argocd %s --type merge --patch-file %s

A merge patch replaces lists: if your ArgoCD already sets controller or server
initContainers, volumes or volumeMounts, add these entries to yours instead.
Apply the cluster Secrets of this directory (cluster-*.yaml) beside it%s; the
Component (kustomization.yaml) is for ArgoCD installed with kustomize.
`, op.Name, u.ArgoCD.Namespace, op.Name, OperatorPatchFile, operatorAlso(f))
	t.add(dir+OperatorPatchFile, []byte(Header+comment(note)+string(y)))
	return nil
}
