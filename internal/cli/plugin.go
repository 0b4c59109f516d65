package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oidc"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/tokenrequest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/version"
)

// The full CLI links the network half of token-request itself (it links
// net/http anyway): no second binary to exec.
func init() {
	plugin.TokenRequester = tokenrequest.Run
	plugin.OIDCRequester = oidc.Run
}

// The token-file, token-request and install commands are the plugin build's own code
// (internal/plugin, standard library only), so both binaries parse the same
// flags and fail the same way. Flags are parsed there, not by cobra.

func newTokenFileCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "token-file [--file PATH] [--audience AUD] [--issuer URL]",
		Short: "Credential plugin: print an ExecCredential for a projected service-account token",
		Long: `token-file is the client-go credential plugin ArgoCD runs (execProviderConfig).
It reads the projected token file on every call and prints one ExecCredential
whose expirationTimestamp makes client-go run it again soon after the kubelet
rotates the token. ArgoCD should run the small plugin build
(argocd-k8s-federate-plugin), which has the same command; run with --help for
every flag.`,
		Example:            `  argocd-k8s-federate token-file --file /var/run/secrets/argocd-k8s-federate/prod-eu --audience prod-eu`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return delegate(streams, "token-file", args)
		},
	}
}

func newTokenRequestCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "token-request --audience AUD [--expiration-seconds 3600] [--issuer URL]",
		Short: "Credential plugin: print an ExecCredential for a token the TokenRequest API issues to this pod",
		Long: `token-request is the client-go credential plugin ArgoCD runs (execProviderConfig)
for a downstream whose tokens come from the TokenRequest API. In an ArgoCD pod it
asks the upstream API server, with the pod's own service-account token, for a
token of the pod's service account with --audience, bound to the pod, and prints
one ExecCredential that expires at 80% of the token's lifetime. ArgoCD should run
the small plugin build (argocd-k8s-federate-plugin), which has the same command;
run with --help for every flag.`,
		Example:            `  argocd-k8s-federate token-request --audience prod-eu`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return delegate(streams, plugin.TokenRequestCommand, args)
		},
	}
}

func newOIDCTokenCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "oidc-token --issuer URL --grant GRANT --client-id ID --audience AUD [flags]",
		Short: "Credential plugin: print an ExecCredential for a token of an OpenID provider the downstream trusts",
		Long: `oidc-token is the client-go credential plugin for downstreams that trust the
company's OpenID provider (Keycloak, Entra ID, Okta, Hydra) instead of the hub's
service-account issuer. It gets a token with the client-credentials, JWT-bearer
(a service-account token of the hub as the assertion: no secret anywhere) or
refresh-token grant and prints one ExecCredential that expires at 80% of the
token's lifetime. ArgoCD should run the small plugin build
(argocd-k8s-federate-plugin), which has the same command; run with --help for
every flag. docs/identity-providers.md has each flow and the provider settings.`,
		Example:            `  argocd-k8s-federate oidc-token --issuer https://login.example.com --grant client-credentials --client-id ci --client-secret-file /var/run/secrets/ci/client-secret --audience prod-eu`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return delegate(streams, plugin.OIDCTokenCommand, args)
		},
	}
}

func newInstallCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "install --to DIR",
		Short: "Copy this binary into DIR atomically (for an init container)",
		Long: `install copies the running binary into DIR (temporary file, then rename; mode 0755),
so an init container of the plugin image can drop it into an emptyDir that the
ArgoCD containers mount.`,
		Example:            `  argocd-k8s-federate install --to /var/run/argocd-k8s-federate`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return delegate(streams, "install", args)
		},
	}
}

// delegate runs a plugin-build command; it reports its own errors.
func delegate(streams IOStreams, name string, args []string) error {
	code := plugin.Run("argocd-k8s-federate", append([]string{name}, args...), plugin.OSEnv(), streams.Out, streams.ErrOut)
	if code != 0 {
		return &exitError{code: code, err: errors.New("")}
	}
	return nil
}

func newVersionCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(streams.Out, "argocd-k8s-federate %s (commit %s)\n", version.Version, version.Commit)
			return err
		},
	}
}
