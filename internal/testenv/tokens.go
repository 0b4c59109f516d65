package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// CreateNamespace creates a namespace unless it exists.
func (a *APIServer) CreateNamespace(ctx context.Context, name string) error {
	if _, err := a.Do(ctx, http.MethodGet, "/api/v1/namespaces/"+name, nil); err == nil {
		return nil
	}
	if _, err := a.Do(ctx, http.MethodPost, "/api/v1/namespaces", map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name},
	}); err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// CreateServiceAccount creates a namespace (if missing) and a service
// account in it.
func (a *APIServer) CreateServiceAccount(ctx context.Context, namespace, name string) error {
	if err := a.CreateNamespace(ctx, namespace); err != nil {
		return err
	}
	if _, err := a.Do(ctx, http.MethodPost, "/api/v1/namespaces/"+namespace+"/serviceaccounts", map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": name},
	}); err != nil {
		return fmt.Errorf("create service account %s/%s: %w", namespace, name, err)
	}
	return nil
}

// RequestToken mints a service-account token with the TokenRequest API, as
// the kubelet does for a projected volume.
func (a *APIServer) RequestToken(ctx context.Context, namespace, sa, audience string, seconds int64) (string, error) {
	return a.requestToken(ctx, namespace, sa, map[string]any{"audiences": []string{audience}, "expirationSeconds": seconds})
}

// RequestTokenAudiences is RequestToken for a token of several audiences.
func (a *APIServer) RequestTokenAudiences(ctx context.Context, namespace, sa string, audiences []string, seconds int64) (string, error) {
	return a.requestToken(ctx, namespace, sa, map[string]any{"audiences": audiences, "expirationSeconds": seconds})
}

// CreatePod creates a pod of the service account sa and returns its uid. No
// kubelet runs it: it stays Pending, which is all a token bound to it needs.
func (a *APIServer) CreatePod(ctx context.Context, namespace, name, sa string) (string, error) {
	b, err := a.Do(ctx, http.MethodPost, "/api/v1/namespaces/"+namespace+"/pods", map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"serviceAccountName": sa,
			"containers":         []any{map[string]any{"name": "main", "image": "registry.invalid/none:0"}},
		},
	})
	if err != nil {
		return "", fmt.Errorf("create pod %s/%s: %w: %s", namespace, name, err, b)
	}
	var pod struct {
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(b, &pod); err != nil || pod.Metadata.UID == "" {
		return "", fmt.Errorf("create pod %s/%s: no uid in %s", namespace, name, b)
	}
	return pod.Metadata.UID, nil
}

// RequestPodToken mints a token of sa bound to the pod (name and uid), as
// the kubelet does for the pod's service-account token mount.
func (a *APIServer) RequestPodToken(ctx context.Context, namespace, sa, pod, podUID, audience string, seconds int64) (string, error) {
	return a.requestToken(ctx, namespace, sa, map[string]any{
		"audiences":         []string{audience},
		"expirationSeconds": seconds,
		"boundObjectRef":    map[string]any{"apiVersion": "v1", "kind": "Pod", "name": pod, "uid": podUID},
	})
}

// StartPod creates a pod of sa (CreatePod) and writes, to tokenFile, its
// service-account token as the kubelet mounts it: bound to the pod, for the
// API server's own audience (its issuer here), 3607 seconds. It returns the
// pod's uid.
func (a *APIServer) StartPod(ctx context.Context, namespace, name, sa, tokenFile string) (string, error) {
	uid, err := a.CreatePod(ctx, namespace, name, sa)
	if err != nil {
		return "", err
	}
	tok, err := a.RequestPodToken(ctx, namespace, sa, name, uid, a.URL, 3607)
	if err != nil {
		return "", err
	}
	return uid, WriteTokenFile(tokenFile, tok)
}

// CreateTokenRequestRole lets the service account sa create tokens for
// itself, and only for itself: a Role name with create on
// serviceaccounts/token for the resource name sa, and a RoleBinding of the
// same name to sa.
func (a *APIServer) CreateTokenRequestRole(ctx context.Context, namespace, sa, name string) error {
	base := "/apis/rbac.authorization.k8s.io/v1/namespaces/" + namespace
	if b, err := a.Do(ctx, http.MethodPost, base+"/roles", map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": map[string]any{"name": name},
		"rules": []any{map[string]any{
			"apiGroups": []string{""}, "resources": []string{"serviceaccounts/token"},
			"verbs": []string{"create"}, "resourceNames": []string{sa},
		}},
	}); err != nil {
		return fmt.Errorf("create Role %s/%s: %w: %s", namespace, name, err, b)
	}
	if b, err := a.Do(ctx, http.MethodPost, base+"/rolebindings", map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": map[string]any{"name": name},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": sa, "namespace": namespace}},
	}); err != nil {
		return fmt.Errorf("create RoleBinding %s/%s: %w: %s", namespace, name, err, b)
	}
	return nil
}

func (a *APIServer) requestToken(ctx context.Context, namespace, sa string, spec map[string]any) (string, error) {
	b, err := a.Do(ctx, http.MethodPost, "/api/v1/namespaces/"+namespace+"/serviceaccounts/"+sa+"/token", map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec,
	})
	if err != nil {
		return "", fmt.Errorf("token request for %s/%s: %w: %s", namespace, sa, err, b)
	}
	var tr struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.Status.Token == "" {
		return "", fmt.Errorf("token request for %s/%s: no token in %s", namespace, sa, b)
	}
	return tr.Status.Token, nil
}

// WriteTokenFile replaces path with token atomically (a temporary file in
// the same directory, then rename), as the kubelet swaps projected volumes.
func WriteTokenFile(path, token string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(token); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
