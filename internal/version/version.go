// Package version holds the build's version, stamped with -ldflags -X.
package version

// Set at build time:
//
//	-X github.com/argocd-k8s-federate/argocd-k8s-federate/internal/version.Version=v0.1.0
//	-X github.com/argocd-k8s-federate/argocd-k8s-federate/internal/version.Commit=abc1234
var (
	Version = "dev"
	Commit  = "unknown"
)
