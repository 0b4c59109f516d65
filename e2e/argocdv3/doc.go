// Package argocdv3 is ArgoCD v3's module: its oracle here, and the
// end-to-end test in kind/, which installs that ArgoCD v3 in a kind cluster.
// The oracle: ArgoCD v3's own
// util/db.SecretToCluster and Cluster.RawRestConfig, at the version
// scripts/versions.env pins as ARGOCD_V3_VERSION, parse every generated
// cluster Secret, and client-go builds a transport from the result. The
// check and the configs it runs on are internal/oracletest, the same as
// ArgoCD v2's oracle in e2e/oracle.
//
// It is a module of its own because argo-cd/v3 pins the Kubernetes
// libraries at k8s.io/* v0.34.0 and the e2e module, for argo-cd/v2, at
// v0.31 (see go.mod). Run it with
//
//	cd e2e/argocdv3 && go test ./...
package argocdv3
