// Package adopttest is a hub's cluster Secrets of every kind the audit
// tells apart, for the unit, integration and benchmark tests of adoption.
// The tokens are shaped like the real ones (JWTs with the claims the API
// server writes) but signed by nobody.
package adopttest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// Fixture is one cluster Secret and what the audit and import must say.
type Fixture struct {
	Secret argocd.SecretObject
	// Kind is the audit's kind; Static whether it keeps a static credential.
	Kind   string
	Static bool
	// Refused: import leaves it out, with a reason containing this.
	Refused string
	// Secrets are the values that must never be printed or written.
	Secrets []string
}

// Material is what the fixtures are made of: a CA bundle for caData, a
// client certificate and key.
type Material struct {
	CAPEM, ClientCertPEM, ClientKeyPEM []byte
	// Now dates the tokens.
	Now time.Time
}

// NewMaterial is a fresh CA and an admin client certificate of it
// (kubernetes-admin, group kubeadm:cluster-admins, as kubeadm makes it).
func NewMaterial(tb testing.TB) Material {
	tb.Helper()
	ca, err := testenv.NewCA("down-ca")
	if err != nil {
		tb.Fatal(err)
	}
	cert, key, err := ca.Issue("kubernetes-admin", []string{"kubeadm:cluster-admins"}, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return Material{CAPEM: ca.CertPEM, ClientCertPEM: cert, ClientKeyPEM: key, Now: time.Now()}
}

// JWT is an unsigned token with claims (the audit does not verify).
func JWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "test"})
	p, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "." + enc.EncodeToString([]byte("signature-of-nobody"))
}

// LegacyToken is a token of a kubernetes.io/service-account-token Secret:
// flat claims, no exp.
func LegacyToken(namespace, sa, secret string) string {
	return JWT(map[string]any{
		"iss":                                    "kubernetes/serviceaccount",
		"kubernetes.io/serviceaccount/namespace": namespace,
		"kubernetes.io/serviceaccount/secret.name":          secret,
		"kubernetes.io/serviceaccount/service-account.name": sa,
		"kubernetes.io/serviceaccount/service-account.uid":  "0b3c7c4e-0000-4000-8000-000000000001",
		"sub": "system:serviceaccount:" + namespace + ":" + sa,
	})
}

// BoundToken is a TokenRequest token of sa that expires at exp.
func BoundToken(namespace, sa string, iat, exp time.Time) string {
	return JWT(map[string]any{
		"aud": []string{"https://kubernetes.default.svc"}, "iss": "https://down.example.com",
		"iat": iat.Unix(), "nbf": iat.Unix(), "exp": exp.Unix(),
		"kubernetes.io": map[string]any{"namespace": namespace, "serviceaccount": map[string]string{"name": sa, "uid": "0b3c7c4e-0000-4000-8000-000000000002"}},
		"sub":           "system:serviceaccount:" + namespace + ":" + sa,
	})
}

// Secret is an ArgoCD cluster Secret in namespace argocd with stringData.
func Secret(name, cluster, server string, cfg map[string]any, extra map[string]string) argocd.SecretObject {
	var s argocd.SecretObject
	s.Kind = "Secret"
	s.Metadata.Name, s.Metadata.Namespace = name, "argocd"
	s.Metadata.Labels = map[string]string{argocd.SecretTypeLabel: argocd.SecretTypeCluster}
	js, _ := json.Marshal(cfg)
	s.StringData = map[string]string{"name": cluster, "server": server, "config": string(js)}
	for k, v := range extra {
		s.StringData[k] = v
	}
	return s
}

// Hub is one Secret of every kind, and of every refusal.
func Hub(m Material) []Fixture {
	ca := base64.StdEncoding.EncodeToString(m.CAPEM)
	tls := func(more map[string]any) map[string]any {
		t := map[string]any{"insecure": false, "caData": ca}
		for k, v := range more {
			t[k] = v
		}
		return t
	}
	legacy := LegacyToken("kube-system", "argocd-manager", "argocd-manager-token-x7k2p")
	bound := BoundToken("kube-system", "deployer", m.Now.Add(-time.Hour), m.Now.Add(365*24*time.Hour))
	opaque := "opaque-token-0123456789abcdef"
	password := "hunter2-password-value"
	awsKey := "AKIA-secret-access-key-value"
	tokenFile := plugin.TokenFileOptions{File: "/var/run/secrets/argocd-k8s-federate/federated", Audience: "federated", Issuer: "https://hub.example.com"}.Args()
	tr := plugin.DefaultTokenRequestOptions()
	tr.Audience, tr.Issuer = "requested", "https://hub.example.com"
	exec := func(cmd string, args []string) map[string]any {
		return map[string]any{"command": cmd, "args": args, "apiVersion": "client.authentication.k8s.io/v1beta1"}
	}
	key := string(m.ClientKeyPEM)
	fx := []Fixture{
		{Secret: Secret("cluster-legacy", "legacy", "https://legacy.example.com:6443", map[string]any{"bearerToken": legacy, "tlsClientConfig": tls(nil)},
			map[string]string{"namespaces": "apps,web", "project": "team-a"}),
			Kind: "bearer-token", Static: true, Secrets: []string{legacy}},
		{Secret: Secret("cluster-bound", "Prod EU (bound)", "https://bound.example.com", map[string]any{"bearerToken": bound, "tlsClientConfig": tls(nil)}, nil),
			Kind: "bearer-token", Static: true, Secrets: []string{bound}},
		{Secret: Secret("cluster-opaque", "opaque", "https://opaque.example.com", map[string]any{"bearerToken": opaque, "tlsClientConfig": tls(nil)}, map[string]string{"namespaces": "apps"}),
			Kind: "bearer-token", Static: true, Secrets: []string{opaque}},
		{Secret: Secret("cluster-cert", "cert", "https://cert.example.com", map[string]any{"tlsClientConfig": tls(map[string]any{
			"certData": base64.StdEncoding.EncodeToString(m.ClientCertPEM), "keyData": base64.StdEncoding.EncodeToString(m.ClientKeyPEM)})},
			map[string]string{"namespaces": "apps", "clusterResources": "true"}),
			Kind: "client-certificate", Static: true, Secrets: []string{key, base64.StdEncoding.EncodeToString(m.ClientKeyPEM)}},
		{Secret: Secret("cluster-basic", "basic", "https://basic.example.com", map[string]any{"username": "admin", "password": password, "tlsClientConfig": tls(nil)}, map[string]string{"namespaces": "apps"}),
			Kind: "basic-auth", Static: true, Secrets: []string{password}},
		{Secret: Secret("cluster-aws", "arn:aws:eks:eu-west-1:123456789012:cluster/prod", "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com", map[string]any{
			"awsAuthConfig": map[string]string{"clusterName": "prod", "roleARN": "arn:aws:iam::123456789012:role/argocd"}, "tlsClientConfig": tls(nil)}, map[string]string{"namespaces": "apps"}),
			Kind: "aws-auth"},
		{Secret: Secret("cluster-gke", "gke", "https://gke.example.com", map[string]any{"execProviderConfig": exec("argocd-k8s-auth", []string{"gcp"}), "tlsClientConfig": tls(nil)}, map[string]string{"namespaces": "apps"}),
			Kind: "exec"},
		{Secret: Secret("cluster-exec-env", "exec-env", "https://exec-env.example.com", map[string]any{"execProviderConfig": map[string]any{
			"command": "/usr/local/bin/vault-login", "args": []string{"k8s"}, "apiVersion": "client.authentication.k8s.io/v1beta1",
			"env": map[string]string{"AWS_SECRET_ACCESS_KEY": awsKey, "REGION": "eu-west-1"}}, "tlsClientConfig": tls(nil)}, map[string]string{"namespaces": "apps"}),
			Kind: "exec", Static: true, Secrets: []string{awsKey}},
		{Secret: Secret("cluster-exec-token", "exec-token", "https://exec-token.example.com", map[string]any{"bearerToken": opaque + "-exec",
			"execProviderConfig": exec("argocd-k8s-auth", []string{"azure"}), "tlsClientConfig": tls(nil)}, map[string]string{"namespaces": "apps"}),
			Kind: "exec", Static: true, Secrets: []string{opaque + "-exec"}},
		{Secret: Secret("cluster-federated", "federated", "https://federated.example.com", map[string]any{"execProviderConfig": exec("/var/run/argocd-k8s-federate/"+plugin.Name, tokenFile), "tlsClientConfig": tls(nil)},
			map[string]string{"namespaces": "apps", "clusterResources": "false"}),
			Kind: "federated"},
		{Secret: Secret("cluster-requested", "requested", "https://requested.example.com", map[string]any{"execProviderConfig": exec("/var/run/argocd-k8s-federate/"+plugin.Name, tr.Args()), "tlsClientConfig": tls(nil)},
			map[string]string{"namespaces": "apps", "clusterResources": "false"}),
			Kind: "federated"},
		{Secret: Secret("cluster-public", "public", "https://public.example.com", map[string]any{"tlsClientConfig": map[string]any{"insecure": false}}, map[string]string{"namespaces": "apps"}),
			Kind: "none"},
		// Refused.
		{Secret: Secret("cluster-in-cluster", "in-cluster", "https://kubernetes.default.svc", map[string]any{"tlsClientConfig": map[string]any{"insecure": false}}, nil),
			Kind: "in-cluster", Refused: "in-cluster"},
		{Secret: Secret("cluster-insecure", "insecure", "https://insecure.example.com", map[string]any{"bearerToken": opaque + "-insecure", "tlsClientConfig": map[string]any{"insecure": true}}, nil),
			Kind: "bearer-token", Static: true, Refused: "insecure", Secrets: []string{opaque + "-insecure"}},
		{Secret: Secret("cluster-http", "http", "http://http.example.com", map[string]any{"tlsClientConfig": tls(nil)}, nil),
			Kind: "none", Refused: "not an https URL"},
		{Secret: Secret("cluster-servername", "servername", "https://10.0.0.9", map[string]any{"tlsClientConfig": tls(map[string]any{"serverName": "api.internal"})}, nil),
			Kind: "none", Refused: "serverName"},
		{Secret: Secret("cluster-proxy", "proxy", "https://proxy.example.com", map[string]any{"proxyUrl": "http://proxy:3128", "tlsClientConfig": tls(nil)}, nil),
			Kind: "none", Refused: "proxyUrl"},
		{Secret: Secret("cluster-badca", "badca", "https://badca.example.com", map[string]any{"tlsClientConfig": map[string]any{"caData": base64.StdEncoding.EncodeToString([]byte("not a certificate"))}}, nil),
			Kind: "none", Refused: "caData"},
		{Secret: Secret("cluster-legacy-again", "legacy-again", "https://LEGACY.example.com:6443/", map[string]any{"tlsClientConfig": tls(nil)}, nil),
			Kind: "none", Refused: "second Secret"},
	}
	// kubectl's client-side apply keeps a copy of the object, credential
	// and all, in an annotation: import must not carry it.
	fx[0].Secret.Metadata.Annotations = map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": `{"stringData":{"config":"{\"bearerToken\":\"` + legacy + `\"}"}}`,
		"team": "platform",
	}
	fx[0].Secret.Metadata.Labels["env"] = "prod"
	return fx
}

// YAML renders the fixtures as kubectl get secrets -o yaml does: a List of
// Secrets with base64 data.
func YAML(fx []Fixture) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for _, f := range fx {
		s := f.Secret
		fmt.Fprintf(&b, "- apiVersion: v1\n  kind: Secret\n  type: Opaque\n  metadata:\n    name: %s\n    namespace: %s\n", s.Metadata.Name, s.Metadata.Namespace)
		writeMap(&b, "labels", s.Metadata.Labels)
		writeMap(&b, "annotations", s.Metadata.Annotations)
		b.WriteString("  data:\n")
		for _, k := range sortedKeys(s.StringData) {
			fmt.Fprintf(&b, "    %s: %s\n", k, base64.StdEncoding.EncodeToString([]byte(s.StringData[k])))
		}
	}
	return b.String()
}

func writeMap(b *strings.Builder, name string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(b, "    %s:\n", name)
	for _, k := range sortedKeys(m) {
		v, _ := json.Marshal(m[k])
		fmt.Fprintf(b, "      %s: %s\n", k, v)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
