package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// DiscoveryFetchOptions are the inputs of discovery fetch.
type DiscoveryFetchOptions struct {
	IOStreams
	Source liveSource
	Output string
}

func newDiscoveryFetchCommand(streams IOStreams) *cobra.Command {
	o := &DiscoveryFetchOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "fetch [-o DIR]",
		Short: "Read the upstream's discovery document and signing keys",
		Long: `fetch reads /.well-known/openid-configuration and /openid/v1/jwks from the upstream
API server (as kubectl get --raw does) or anonymously from --issuer, and prints them as
one JSON object {"openid-configuration": ..., "jwks": ...}; with -o DIR it writes them,
unchanged, to DIR/.well-known/openid-configuration and DIR/openid/v1/jwks. A summary
(issuer, key ids) goes to stderr.`,
		Example: `  # Through the current kubeconfig context
  argocd-k8s-federate discovery fetch

  # Anonymously, as a downstream API server reads it
  argocd-k8s-federate discovery fetch --issuer https://hub.k8s.example.com --issuer-ca hub-ca.crt

  # Keep a copy to publish from another machine (discovery publish --from DIR)
  argocd-k8s-federate discovery fetch --context hub -o hub-discovery/`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.Source.addFlags(cmd.Flags(), false)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `directory to write the two files to (default "-": one JSON object on stdout)`)
	return cmd
}

// Validate checks the flags.
func (o *DiscoveryFetchOptions) Validate() error {
	return joinProblems(o.Source.validate())
}

// Run fetches and prints or writes the live discovery.
func (o *DiscoveryFetchOptions) Run(ctx context.Context) error {
	snap, err := o.Source.fetch(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "issuer %s, %d signing key(s): %s\n", snap.Document.Issuer, len(snap.Keys.Keys), strings.Join(snap.Keys.IDs(), ", "))
	if o.Output == "" || o.Output == "-" {
		b, err := json.MarshalIndent(map[string]json.RawMessage{
			"openid-configuration": snap.DocumentRaw,
			"jwks":                 snap.KeysRaw,
		}, "", "  ")
		if err != nil {
			return fmt.Errorf("encode the discovery: %w", err)
		}
		_, err = o.Out.Write(append(b, '\n'))
		return err
	}
	if err := fileio.WriteFiles(o.Output, snap.Layout()); err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "wrote %s\n", strings.Join(paths(o.Output, snap.Layout()), " and "))
	return nil
}
