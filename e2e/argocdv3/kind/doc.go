// Package kind is the end-to-end test of argocd-k8s-federate on two kind
// clusters: ArgoCD v3 (ARGOCD_V3_VERSION in scripts/versions.env, its images
// built offline from the argo-cd/v3 module this module requires) in "up", patched by the generated Component, deploys into
// "down", whose API server trusts up's service-account issuer through the
// generated AuthenticationConfiguration. No secret is shared between them.
//
// The test needs Docker, the offline kind node image and the ArgoCD, plugin,
// CLI and workload images; scripts/e2e.sh builds or finds them all and runs it:
//
//	scripts/e2e.sh
//
// or, with everything in place:
//
//	cd e2e/argocdv3 && go test -tags e2e -run TestE2E -timeout 60m -v ./kind/
//
// The test files carry the "e2e" build constraint, so go test ./... and
// make test do not run them.
package kind
