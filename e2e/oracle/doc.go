// Package oracle holds the oracle tests of the generator: other people's
// code judging what `argocd-k8s-federate generate` writes.
//
//   - argocd_test.go: ArgoCD v2's own util/db.SecretToCluster and
//     Cluster.RawRestConfig (ARGOCD_VERSION in scripts/versions.env) parse
//     every generated cluster Secret, and client-go builds a transport from
//     the result. The check and the configs it runs on are in
//     internal/oracletest, shared with ArgoCD v3's oracle (e2e/argocdv3).
//   - kustomize_test.go: kustomize's krusty builds every generated downstream
//     kustomization, and the generated upstream Component applied on top of
//     ArgoCD's real install.yaml (shipped in the argo-cd/v2 module).
//   - shapes_test.go: the Component on every shape of ArgoCD v2's and v3's
//     install manifests.
//
// The tests build the main module's CLI and run it, so they see exactly what
// a user gets. They live in their own Go module because argo-cd/v2 pins the
// Kubernetes libraries at k8s.io/* v0.31 (see go.mod). Run them with
//
//	cd e2e && go test ./oracle/
package oracle
