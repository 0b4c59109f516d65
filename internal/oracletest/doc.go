// Package oracletest is what the oracle tests share: the federation configs
// every oracle judges and, written out by hand, what must be found in their
// generated trees (Cases); building and running the CLI; reading the
// generated YAML strictly into the real API types; and the check of the
// cluster Secrets by ArgoCD's own code (CheckClusterSecrets), which each
// ArgoCD version's module calls with that version's functions.
//
// The oracles live in modules of their own, each pinning the Kubernetes
// libraries its ArgoCD wants (e2e: argo-cd/v2 on k8s.io/* v0.31;
// e2e/argocdv3: argo-cd/v3 on v0.34), so this package imports nothing but
// the standard library and the Kubernetes and go-cmp packages whose API is
// the same on all those versions.
package oracletest
