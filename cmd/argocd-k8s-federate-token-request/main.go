// Command argocd-k8s-federate-token-request is the network half of the
// plugin's token-request and oidc-token commands: argocd-k8s-federate-plugin execs it, from
// beside itself, with the same arguments, so that the plugin's own start-up
// (every token-file exec) never pays for net/http and crypto/tls. It links
// only the standard library and this module's small packages (a test keeps
// it so), and speaks as argocd-k8s-federate-plugin in its messages.
package main

import (
	"os"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oidc"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/tokenrequest"
)

func main() {
	plugin.TokenRequester = tokenrequest.Run
	plugin.OIDCRequester = oidc.Run
	os.Exit(plugin.Main(os.Args[1:], plugin.OSEnv(), os.Stdout, os.Stderr))
}
