package cli

import (
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// openKubeconfig is an HTTP client of the API server of a kubeconfig and
// context, found as kubectl finds them ($KUBECONFIG, ~/.kube/config; in a
// pod, its service account), and that server's base URL. The client carries
// the kubeconfig's credentials on every request, redirects included: the
// caller sets its CheckRedirect. what names the cluster in errors.
func openKubeconfig(kubeconfig, context, what string) (*http.Client, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("load the %s's kubeconfig: %w", what, err)
	}
	cfg.Timeout = 30 * time.Second
	cfg.WarningHandler = rest.NoWarnings{}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("client of the %s's API server %s: %w", what, cfg.Host, err)
	}
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("the kubeconfig's server %q: %w", cfg.Host, err)
	}
	return client, base.String(), nil
}
