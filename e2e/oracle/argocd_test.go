package oracle

import (
	"testing"

	"github.com/argoproj/argo-cd/v2/common"
	appv1 "github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v2/util/db"
	corev1 "k8s.io/api/core/v1"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oracletest"
)

// TestArgoCDAcceptsClusterSecrets parses every generated cluster Secret with
// ArgoCD v2's own code (util/db.SecretToCluster, then
// Cluster.RawRestConfig), at the version scripts/versions.env pins as
// ARGOCD_VERSION, and checks what ArgoCD would connect with: the server,
// the exec plugin running token-file on the downstream's token, the CA, and
// no static credential anywhere (oracletest.CheckClusterSecrets).
func TestArgoCDAcceptsClusterSecrets(t *testing.T) {
	oracletest.CheckClusterSecrets(t, argoCDv2)
}

// argoCDv2 is ArgoCD v2's own code for cluster Secrets.
var argoCDv2 = oracletest.ArgoCD{
	Module:            "github.com/argoproj/argo-cd/v2",
	VersionKey:        "ARGOCD_VERSION",
	SecretTypeLabel:   common.LabelKeySecretType,
	ClusterSecretType: common.LabelValueSecretTypeCluster,
	NewClusterConfig:  func() any { return &appv1.ClusterConfig{} },
	SecretToCluster:   secretToCluster,
}

// secretToCluster is ArgoCD v2's util/db.SecretToCluster, its Cluster
// reduced to what the oracle checks.
func secretToCluster(s *corev1.Secret) (*oracletest.Cluster, error) {
	c, err := db.SecretToCluster(s)
	if err != nil {
		return nil, err
	}
	cfg := c.Config
	out := &oracletest.Cluster{
		Name:             c.Name,
		Server:           c.Server,
		Project:          c.Project,
		Namespaces:       c.Namespaces,
		ClusterResources: c.ClusterResources,
		Labels:           c.Labels,
		Annotations:      c.Annotations,
		Config: oracletest.ClusterConfig{
			Username:              cfg.Username,
			Password:              cfg.Password,
			BearerToken:           cfg.BearerToken,
			CertData:              cfg.CertData,
			KeyData:               cfg.KeyData,
			Insecure:              cfg.Insecure,
			HasAWSAuthConfig:      cfg.AWSAuthConfig != nil,
			HasExecProviderConfig: cfg.ExecProviderConfig != nil,
		},
		RawRestConfig: c.RawRestConfig,
	}
	if cfg.ExecProviderConfig != nil {
		out.Config.ExecProviderEnv = cfg.ExecProviderConfig.Env
	}
	return out, nil
}
