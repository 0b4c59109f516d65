// Package cli is the argocd-k8s-federate command line: cobra commands that
// parse flags into Options and call the packages that do the work. Nothing
// here is global; tests run the whole CLI in-process on buffers.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// IOStreams are the standard streams of one run. Out carries the product
// (YAML, JSON, credentials); everything else goes to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// exitError carries an exit code for an error already reported.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitInterrupted is the exit code of a run stopped by a signal (128 +
// SIGINT, as shells report it).
const ExitInterrupted = 130

// Run executes the CLI with args (without the program name) and returns the
// process exit code. Errors are printed once, here.
func Run(ctx context.Context, args []string, streams IOStreams) int {
	cmd := NewRootCommand(streams)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Interrupted (Ctrl-C, SIGTERM, a deadline): what was being written
		// is left as it was.
		fmt.Fprintf(streams.ErrOut, "error: interrupted: %v\n", err)
		return ExitInterrupted
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintf(streams.ErrOut, "error: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
	return 1
}

// NewRootCommand builds the argocd-k8s-federate command tree.
func NewRootCommand(streams IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "argocd-k8s-federate",
		Short: "Let ArgoCD deploy into other clusters with federated service-account tokens, no shared secret",
		Long: `argocd-k8s-federate lets an ArgoCD in one cluster (the upstream) deploy into other
clusters (downstreams) with no shared secret. The kubelet projects short-lived,
audience-bound service-account tokens into the ArgoCD pods; each downstream API
server trusts the upstream's service-account issuer as an OIDC issuer and maps
the tokens to prefixed users; RBAC grants those users exactly what ArgoCD needs.

Write one federation config, then:

  argocd-k8s-federate generate -f federation.yaml -o federation/

and commit the tree: the upstream Component goes into your ArgoCD kustomization,
each downstream directory is applied to its cluster. ArgoCD then runs the
credential plugin (argocd-k8s-federate-plugin token-file) for every downstream.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// No subcommand: show help.
		Args: cobra.NoArgs,
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.AddCommand(
		newGenerateCommand(streams),
		newTokenFileCommand(streams),
		newTokenRequestCommand(streams),
		newOIDCTokenCommand(streams),
		newInstallCommand(streams),
		newVersionCommand(streams),
		newDiscoveryCommand(streams),
		newDoctorCommand(streams),
		newAuditCommand(streams),
		newImportCommand(streams),
	)
	return cmd
}
