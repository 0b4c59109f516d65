package oracletest

import (
	"errors"
	"os/exec"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kjson "sigs.k8s.io/json"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// ArgoCD is one ArgoCD version's own code for cluster Secrets, handed over
// by the module that builds with it: each ArgoCD major version has its own
// Go types and pins its own Kubernetes libraries, so each lives in a module
// of its own and passes its functions in.
type ArgoCD struct {
	// Module is ArgoCD's module path and VersionKey the key of
	// scripts/versions.env that pins it: the calling module must build with
	// that version.
	Module, VersionKey string
	// SecretTypeLabel and ClusterSecretType are common.LabelKeySecretType
	// and common.LabelValueSecretTypeCluster: ArgoCD reads only the Secrets
	// so labelled.
	SecretTypeLabel, ClusterSecretType string
	// NewClusterConfig returns a new *ClusterConfig of ArgoCD's, into which
	// the Secret's config is decoded strictly.
	NewClusterConfig func() any
	// SecretToCluster is util/db.SecretToCluster, its result reduced to a
	// Cluster.
	SecretToCluster func(*corev1.Secret) (*Cluster, error)
}

// Cluster is what ArgoCD's Cluster holds, reduced to what the oracle checks.
type Cluster struct {
	Name, Server, Project string
	Namespaces            []string
	ClusterResources      bool
	Labels, Annotations   map[string]string
	Config                ClusterConfig
	// RawRestConfig is the Cluster's RawRestConfig method: the client-go
	// configuration ArgoCD connects with.
	RawRestConfig func() (*rest.Config, error)
}

// ClusterConfig is the part of ArgoCD's ClusterConfig that holds
// credentials, skips TLS verification or runs the exec plugin.
type ClusterConfig struct {
	Username, Password, BearerToken string
	CertData, KeyData               []byte
	Insecure                        bool
	HasAWSAuthConfig                bool
	HasExecProviderConfig           bool
	ExecProviderEnv                 map[string]string
}

// secretKeys are the keys of an ArgoCD cluster Secret this tool may write.
var secretKeys = map[string]bool{
	"name": true, "server": true, "config": true, "project": true,
	"namespaces": true, "clusterResources": true,
}

// CheckClusterSecrets parses every generated cluster Secret of every Case
// with ArgoCD's own code (util/db.SecretToCluster, then
// Cluster.RawRestConfig) and checks what ArgoCD would connect with: the
// server, the exec plugin running token-file on the downstream's token, the
// CA, and no static credential anywhere.
func CheckClusterSecrets(t *testing.T, argocd ArgoCD) {
	root := RepoRoot(t)
	version := checkModuleVersion(t, argocd)
	bin := BuildCLI(t, root)
	for _, tc := range Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			out := Generate(t, bin, root, tc.Config)
			secrets := ClusterSecrets(t, out, tc.Upstream)

			var want []string
			for _, c := range tc.Clusters {
				want = append(want, c.SecretName)
			}
			if diff := cmp.Diff(want, SortedKeys(secrets), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("cluster Secrets in upstream/%s/ (-want +got):\n%s", tc.Upstream, diff)
			}
			for _, c := range tc.Clusters {
				t.Run(c.Name, func(t *testing.T) {
					s, ok := secrets[c.SecretName]
					if !ok {
						t.Fatalf("no Secret %s in upstream/%s/", c.SecretName, tc.Upstream)
					}
					CheckClusterSecret(t, argocd, "ArgoCD "+version+"'s", root, tc, c, s)
				})
			}
		})
	}
}

// checkModuleVersion fails unless the module the test runs in builds with
// the version of ArgoCD that scripts/versions.env pins, and returns it.
func checkModuleVersion(t *testing.T, argocd ArgoCD) string {
	t.Helper()
	versions, err := testenv.Versions()
	if err != nil {
		t.Fatal(err)
	}
	want := versions[argocd.VersionKey]
	if want == "" {
		t.Fatalf("scripts/versions.env has no %s", argocd.VersionKey)
	}
	out, err := exec.Command(GoCommand(t), "list", "-m", "-f", "{{.Version}}", argocd.Module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", argocd.Module, err)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("this module builds with %s %s, but scripts/versions.env says %s=%s", argocd.Module, got, argocd.VersionKey, want)
	}
	return want
}

// clusterView is what ArgoCD's Cluster holds, reduced to what we compare.
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

// CheckClusterSecret judges one Secret, as argocd reads it; whose names
// ArgoCD in messages.
func CheckClusterSecret(t *testing.T, argocd ArgoCD, whose, root string, tc Case, c Downstream, s *corev1.Secret) {
	if got := s.Labels[argocd.SecretTypeLabel]; got != argocd.ClusterSecretType {
		t.Errorf("label %s = %q, want %q: ArgoCD ignores the Secret without it", argocd.SecretTypeLabel, got, argocd.ClusterSecretType)
	}
	if s.Namespace != ArgoCDNamespace {
		t.Errorf("namespace = %q, want %q (ArgoCD reads cluster Secrets from its own namespace)", s.Namespace, ArgoCDNamespace)
	}
	for _, k := range SortedKeys(s.Data) {
		if !secretKeys[k] {
			t.Errorf("unexpected key %q in the Secret's data", k)
		}
	}

	// ArgoCD decodes config leniently (encoding/json: unknown fields
	// ignored, names matched in any case); decode it strictly too, so a
	// misspelled field cannot pass unnoticed.
	strictErrs, err := kjson.UnmarshalStrict(s.Data["config"], argocd.NewClusterConfig())
	if err = errors.Join(append(strictErrs, err)...); err != nil {
		t.Errorf("config does not decode strictly into %s ClusterConfig: %v\n%s", whose, err, s.Data["config"])
	}

	cluster, err := argocd.SecretToCluster(s)
	if err != nil {
		t.Fatalf("%s SecretToCluster rejects the Secret: %v", whose, err)
	}
	wantCluster := clusterView{
		Name:        c.Name,
		Server:      c.Server,
		Project:     c.Project,
		Namespaces:  c.Namespaces,
		Labels:      c.Labels,
		Annotations: c.Annotations,
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
		Labels:           pick(cluster.Labels, c.Labels),
		Annotations:      cluster.Annotations,
	}
	if diff := cmp.Diff(wantCluster, gotCluster, cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("%s Cluster (-want +got):\n%s", whose, diff)
	}
	if !c.ClusterWide() && string(s.Data["clusterResources"]) != "false" {
		t.Errorf(`clusterResources = %q, want "false" with namespaced access`, s.Data["clusterResources"])
	}
	if c.ClusterWide() {
		for _, k := range []string{"namespaces", "clusterResources"} {
			if v, ok := s.Data[k]; ok {
				t.Errorf("cluster-wide access, yet the Secret sets %s: %q", k, v)
			}
		}
	}
	checkNoCredentials(t, cluster.Config)

	rc, err := cluster.RawRestConfig()
	if err != nil {
		t.Fatalf("%s RawRestConfig: %v", whose, err)
	}
	if rc.ExecProvider == nil {
		t.Fatalf("rest.Config has no exec provider: ArgoCD would connect without the plugin")
	}
	if !path.IsAbs(rc.ExecProvider.Command) {
		t.Errorf("exec command %q is not absolute: ArgoCD's PATH does not hold the plugin", rc.ExecProvider.Command)
	}
	wantRest := restView{
		Host:                c.Server,
		ExecAPIVersion:      ExecAPIVersion,
		ExecCommand:         tc.Command,
		ExecArgs:            tc.ExecArgs(c),
		ExecInteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		CAData:              ReadPEM(t, root, c.CAFile),
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
		t.Errorf("rest.Config from %s RawRestConfig (-want +got):\n%s", whose, diff)
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
func checkNoCredentials(t *testing.T, cfg ClusterConfig) {
	t.Helper()
	var set []string
	for field, isSet := range map[string]bool{
		"username":                 cfg.Username != "",
		"password":                 cfg.Password != "",
		"bearerToken":              cfg.BearerToken != "",
		"tlsClientConfig.certData": len(cfg.CertData) > 0,
		"tlsClientConfig.keyData":  len(cfg.KeyData) > 0,
		"tlsClientConfig.insecure": cfg.Insecure,
		"awsAuthConfig":            cfg.HasAWSAuthConfig,
		"execProviderConfig.env":   len(cfg.ExecProviderEnv) > 0,
	} {
		if isSet {
			set = append(set, field)
		}
	}
	if len(set) > 0 {
		t.Errorf("the cluster config sets %v; it must hold no credential and never skip TLS verification", set)
	}
	if !cfg.HasExecProviderConfig {
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
