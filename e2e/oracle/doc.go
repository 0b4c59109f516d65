// Package oracle holds the oracle tests of the generator: other people's
// code judging what `argocd-k8s-federate generate` writes.
//
//   - argocd_test.go: ArgoCD v2.14.21's own util/db.SecretToCluster and
//     Cluster.RawRestConfig parse every generated cluster Secret, and
//     client-go builds a transport from the result.
//   - kustomize_test.go: kustomize's krusty builds every generated downstream
//     kustomization, and the generated upstream Component applied on top of
//     ArgoCD's real install.yaml (shipped in the argo-cd/v2 module).
//
// The tests build the main module's CLI and run it, so they see exactly what
// a user gets. They live in their own Go module because argo-cd/v2 pins the
// Kubernetes libraries at k8s.io/* v0.31 (see go.mod). Run them with
//
//	cd e2e && go test ./oracle/
package oracle
