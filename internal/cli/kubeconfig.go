package cli

import (
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// loadKubeconfig is the rest.Config of a kubeconfig and context, found as
// kubectl finds them ($KUBECONFIG, ~/.kube/config; in a pod, its service
// account), with a timeout and client-go's warnings silenced. what names
// the cluster in the error.
func loadKubeconfig(kubeconfig, context, what string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load the %s's kubeconfig: %w", what, err)
	}
	cfg.Timeout = 30 * time.Second
	cfg.WarningHandler = rest.NoWarnings{}
	return cfg, nil
}
