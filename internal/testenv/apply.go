package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// plurals are the resources of the kinds the generator writes.
var plurals = map[string]string{
	"ConfigMap": "configmaps", "Secret": "secrets", "ServiceAccount": "serviceaccounts", "Namespace": "namespaces",
	"Role": "roles", "RoleBinding": "rolebindings", "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
	"ValidatingAdmissionPolicy": "validatingadmissionpolicies", "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
}

// clusterScoped are the kinds above that have no namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
}

// ApplyYAML server-side applies, as the admin and with strict field
// validation, every object of a YAML stream ("---" between documents) of
// the kinds the generator writes; yamlToJSON reads each document (the
// caller's YAML library: this package links only the standard library). A
// namespace on a cluster-scoped object is ignored, as kubectl does.
func (a *APIServer) ApplyYAML(ctx context.Context, stream []byte, yamlToJSON func([]byte) ([]byte, error)) error {
	for _, doc := range strings.Split(string(stream), "\n---\n") {
		js, err := yamlToJSON([]byte(doc))
		if err != nil {
			return err
		}
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct{ Name, Namespace string }
		}
		if err := json.Unmarshal(js, &obj); err != nil {
			return err
		}
		plural := plurals[obj.Kind]
		if plural == "" {
			return fmt.Errorf("apply: kind %q is not one the generator writes", obj.Kind)
		}
		p := "/apis/" + obj.APIVersion
		if obj.APIVersion == "v1" {
			p = "/api/v1"
		}
		if obj.Metadata.Namespace != "" && !clusterScoped[obj.Kind] {
			p += "/namespaces/" + obj.Metadata.Namespace
		}
		p += "/" + plural + "/" + obj.Metadata.Name + "?fieldManager=argocd-k8s-federate&fieldValidation=Strict"
		req, err := http.NewRequestWithContext(ctx, http.MethodPatch, a.URL+p, bytes.NewReader(js))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/apply-patch+yaml")
		resp, err := a.HTTPClient().Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("apply %s %s: %s: %s", obj.Kind, obj.Metadata.Name, resp.Status, b)
		}
	}
	return nil
}
