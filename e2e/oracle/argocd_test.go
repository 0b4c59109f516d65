package oracle

import (
	"errors"
	"path"
	"testing"

	"github.com/argoproj/argo-cd/v2/common"
	appv1 "github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v2/util/db"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kjson "sigs.k8s.io/json"
)

// secretKeys are the keys of an ArgoCD cluster Secret this tool may write.
var secretKeys = map[string]bool{
	"name": true, "server": true, "config": true, "project": true,
	"namespaces": true, "clusterResources": true,
}

// TestArgoCDAcceptsClusterSecrets parses every generated cluster Secret with
// ArgoCD v2.14.21's own code (util/db.SecretToCluster, then
// Cluster.RawRestConfig) and checks what ArgoCD would connect with: the
// server, the exec plugin running token-file on the downstream's token, the
// CA, and no static credential anywhere.
func TestArgoCDAcceptsClusterSecrets(t *testing.T) {
	root := repoRoot(t)
	bin := buildCLI(t, root)
	for _, tc := range federationCases() {
		t.Run(tc.name, func(t *testing.T) {
			out := generate(t, bin, root, tc.config)
			secrets := clusterSecrets(t, out, tc.upstream)

			var want []string
			for _, c := range tc.clusters {
				want = append(want, c.secretName)
			}
			if diff := cmp.Diff(want, sortedKeys(secrets), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("cluster Secrets in upstream/%s/ (-want +got):\n%s", tc.upstream, diff)
			}
			for _, c := range tc.clusters {
				t.Run(c.name, func(t *testing.T) {
					s, ok := secrets[c.secretName]
					if !ok {
						t.Fatalf("no Secret %s in upstream/%s/", c.secretName, tc.upstream)
					}
					checkClusterSecret(t, root, tc, c, s)
				})
			}
		})
	}
}

// clusterView is what ArgoCD's Cluster holds, reduced to what we check.
type clusterView struct {
	Name, Server, Project string
	Namespaces            []string
	ClusterResources      bool
	Labels                map[string]string // the configured keys only
	Annotations           map[string]string
}

// restView is the client-go configuration ArgoCD connects with.
type restView struct {
	Host                string
	ExecAPIVersion      string
	ExecCommand         string
	ExecArgs            []string
	ExecEnv             []clientcmdapi.ExecEnvVar
	ExecInteractiveMode clientcmdapi.ExecInteractiveMode
	CAData              string
	Insecure            bool
	ServerName          string
}

func checkClusterSecret(t *testing.T, root string, tc federationCase, c wantCluster, s *corev1.Secret) {
	if got := s.Labels[common.LabelKeySecretType]; got != common.LabelValueSecretTypeCluster {
		t.Errorf("label %s = %q, want %q: ArgoCD ignores the Secret without it", common.LabelKeySecretType, got, common.LabelValueSecretTypeCluster)
	}
	if s.Namespace != argocdNamespace {
		t.Errorf("namespace = %q, want %q (ArgoCD reads cluster Secrets from its own namespace)", s.Namespace, argocdNamespace)
	}
	for _, k := range sortedKeys(s.Data) {
		if !secretKeys[k] {
			t.Errorf("unexpected key %q in the Secret's data", k)
		}
	}

	// ArgoCD decodes config leniently (encoding/json: unknown fields
	// ignored, names matched in any case); decode it strictly too, so a
	// misspelled field cannot pass unnoticed.
	var strict appv1.ClusterConfig
	strictErrs, err := kjson.UnmarshalStrict(s.Data["config"], &strict)
	if err = errors.Join(append(strictErrs, err)...); err != nil {
		t.Errorf("config does not decode strictly into ArgoCD's ClusterConfig: %v\n%s", err, s.Data["config"])
	}

	cluster, err := db.SecretToCluster(s)
	if err != nil {
		t.Fatalf("ArgoCD's SecretToCluster rejects the Secret: %v", err)
	}
	wantCluster := clusterView{
		Name:        c.name,
		Server:      c.server,
		Project:     c.project,
		Namespaces:  c.namespaces,
		Labels:      c.labels,
		Annotations: c.annotations,
		// namespaces set: clusterResources must be false (RBAC grants no
		// cluster-scoped access); cluster-wide: ArgoCD's default (unset).
		ClusterResources: false,
	}
	gotCluster := clusterView{
		Name:             cluster.Name,
		Server:           cluster.Server,
		Project:          cluster.Project,
		Namespaces:       cluster.Namespaces,
		ClusterResources: cluster.ClusterResources,
		Labels:           pick(cluster.Labels, c.labels),
		Annotations:      cluster.Annotations,
	}
	if diff := cmp.Diff(wantCluster, gotCluster, cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("ArgoCD's Cluster (-want +got):\n%s", diff)
	}
	if !c.clusterWide() && string(s.Data["clusterResources"]) != "false" {
		t.Errorf(`clusterResources = %q, want "false" with namespaced access`, s.Data["clusterResources"])
	}
	if c.clusterWide() {
		for _, k := range []string{"namespaces", "clusterResources"} {
			if v, ok := s.Data[k]; ok {
				t.Errorf("cluster-wide access, yet the Secret sets %s: %q", k, v)
			}
		}
	}
	checkNoCredentials(t, cluster.Config)

	rc, err := cluster.RawRestConfig()
	if err != nil {
		t.Fatalf("ArgoCD's RawRestConfig: %v", err)
	}
	if rc.ExecProvider == nil {
		t.Fatalf("rest.Config has no exec provider: ArgoCD would connect without the plugin")
	}
	if !path.IsAbs(rc.ExecProvider.Command) {
		t.Errorf("exec command %q is not absolute: ArgoCD's PATH does not hold the plugin", rc.ExecProvider.Command)
	}
	wantRest := restView{
		Host:                c.server,
		ExecAPIVersion:      execAPIVersion,
		ExecCommand:         tc.command,
		ExecArgs:            []string{"token-file", "--file", tc.tokenPath(c), "--audience", c.audience, "--issuer", tc.issuer},
		ExecInteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		CAData:              readPEM(t, root, c.caFile),
	}
	gotRest := restView{
		Host:                rc.Host,
		ExecAPIVersion:      rc.ExecProvider.APIVersion,
		ExecCommand:         rc.ExecProvider.Command,
		ExecArgs:            rc.ExecProvider.Args,
		ExecEnv:             rc.ExecProvider.Env,
		ExecInteractiveMode: rc.ExecProvider.InteractiveMode,
		CAData:              string(rc.TLSClientConfig.CAData),
		Insecure:            rc.TLSClientConfig.Insecure,
		ServerName:          rc.TLSClientConfig.ServerName,
	}
	if diff := cmp.Diff(wantRest, gotRest, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("rest.Config from ArgoCD's RawRestConfig (-want +got):\n%s", diff)
	}
	var creds []string
	for field, set := range map[string]bool{
		"BearerToken":     rc.BearerToken != "",
		"BearerTokenFile": rc.BearerTokenFile != "",
		"Username":        rc.Username != "",
		"Password":        rc.Password != "",
		"CertData":        len(rc.CertData) > 0,
		"CertFile":        rc.CertFile != "",
		"KeyData":         len(rc.KeyData) > 0,
		"KeyFile":         rc.KeyFile != "",
		"AuthProvider":    rc.AuthProvider != nil,
		"Impersonate":     rc.Impersonate.UserName != "",
	} {
		if set {
			creds = append(creds, field)
		}
	}
	if len(creds) > 0 {
		t.Errorf("rest.Config carries credentials besides the exec plugin: %v", creds)
	}

	// client-go itself accepts the TLS and exec configuration (it parses
	// the CA and validates the exec provider; nothing is executed here).
	if _, err := rest.TransportFor(rc); err != nil {
		t.Errorf("client-go rejects the rest.Config: %v", err)
	}
}

// checkNoCredentials fails when the cluster config holds anything secret:
// the tokens live only in the pods' projected volume.
func checkNoCredentials(t *testing.T, cfg appv1.ClusterConfig) {
	t.Helper()
	var set []string
	for field, isSet := range map[string]bool{
		"username":                 cfg.Username != "",
		"password":                 cfg.Password != "",
		"bearerToken":              cfg.BearerToken != "",
		"tlsClientConfig.certData": len(cfg.TLSClientConfig.CertData) > 0,
		"tlsClientConfig.keyData":  len(cfg.TLSClientConfig.KeyData) > 0,
		"tlsClientConfig.insecure": cfg.TLSClientConfig.Insecure,
		"awsAuthConfig":            cfg.AWSAuthConfig != nil,
		"execProviderConfig.env":   cfg.ExecProviderConfig != nil && len(cfg.ExecProviderConfig.Env) > 0,
	} {
		if isSet {
			set = append(set, field)
		}
	}
	if len(set) > 0 {
		t.Errorf("the cluster config sets %v; it must hold no credential and never skip TLS verification", set)
	}
	if cfg.ExecProviderConfig == nil {
		t.Errorf("the cluster config has no execProviderConfig")
	}
}

// pick returns the entries of m whose keys are in want.
func pick(m, want map[string]string) map[string]string {
	out := map[string]string{}
	for k := range want {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}
