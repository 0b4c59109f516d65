// Command argocd-k8s-federate-plugin is the small build that ArgoCD executes
// through a cluster Secret's execProviderConfig: the token-file and
// token-request credential plugin, plus install and version. It links only
// the standard library and this module's small packages (a test keeps it
// so); everything else lives in the full argocd-k8s-federate CLI.
package main

import (
	"os"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

func main() {
	os.Exit(plugin.Main(os.Args[1:], plugin.OSEnv(), os.Stdout, os.Stderr))
}
