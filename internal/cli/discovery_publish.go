package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// DiscoveryPublishOptions are the inputs of discovery publish.
type DiscoveryPublishOptions struct {
	IOStreams
	Source    liveSource
	BaseURL   string
	Output    string
	Filename  string
	TokenFile string
}

func newDiscoveryPublishCommand(streams IOStreams) *cobra.Command {
	o := &DiscoveryPublishOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "publish --base-url URL -o DIR",
		Short: "Write the discovery files to upload to a static https location, and the config for it",
		Long: `publish reads the live discovery and writes, ready to upload under --base-url:

  DIR/.well-known/openid-configuration   served at URL/.well-known/openid-configuration
                                         (the document, jwks_uri rewritten to URL/openid/v1/jwks)
  DIR/openid/v1/jwks                     served at URL/openid/v1/jwks (the keys, unchanged)

Each file is replaced atomically, the keys first; nothing is written when there is a
problem. Serve them anonymously, as application/json. Copy the directory itself, not
DIR/*: shell globs skip the hidden .well-known directory.

It refuses an issuer downstreams cannot trust (not https, or the shared default), and
a read of the live discovery redirected to plain http, and checks that the issuer is
the iss of the upstream's tokens (--token-file) and what federation.yaml says (-f). It prints the upstream lines of federation.yaml for one of
the two set-ups:

  - the upstream's --service-account-issuer is URL: downstreams read the copy as the
    issuer's own discovery; the config has issuer: URL and no discoveryURL;
  - the issuer stays as it is: the config keeps it and adds
    discoveryURL: URL/.well-known/openid-configuration (structured authentication
    configuration only: Kubernetes 1.30 and later).

After every key rotation of the upstream, publish again: discovery check tells when.`,
		Example: `  argocd-k8s-federate discovery publish --context hub \
      --base-url https://storage.googleapis.com/oidc-bucket/hub -o hub-discovery/
  gsutil -h "Content-Type:application/json" cp -r hub-discovery/. gs://oidc-bucket/hub/

  # Check the config and a real token too
  kubectl --context hub -n argocd create token argocd-application-controller --audience prod-eu > token
  argocd-k8s-federate discovery publish --context hub --base-url https://storage.googleapis.com/oidc-bucket/hub \
      -o hub-discovery/ -f federation.yaml --token-file token`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.Source.addFlags(cmd.Flags(), true)
	cmd.Flags().StringVar(&o.BaseURL, "base-url", "", "https URL the output directory will be served at (required)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "directory to write the files to (required)")
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "federation config to check against the set-up")
	cmd.Flags().StringVar(&o.TokenFile, "token-file", "", "a token of the upstream (e.g. kubectl create token): its iss must be the issuer and its key published")
	return cmd
}

// Validate checks the flags.
func (o *DiscoveryPublishOptions) Validate() error {
	problems := o.Source.validate()
	if o.BaseURL == "" {
		problems = append(problems, "--base-url is required: the https URL the files will be served at")
	} else if _, err := discovery.NormalizeBaseURL(o.BaseURL); err != nil {
		problems = append(problems, "--base-url: "+err.Error())
	}
	switch o.Output {
	case "":
		problems = append(problems, "--output (-o) is required: the directory to write the files to")
	case "-":
		problems = append(problems, "--output (-o) must be a directory: publish writes two files")
	}
	return joinProblems(problems)
}

// Run fetches, validates and writes the publication.
func (o *DiscoveryPublishOptions) Run(ctx context.Context) error {
	opts := discovery.PublishOptions{BaseURL: o.BaseURL}
	if o.Filename != "" {
		f, err := config.Load(o.Filename)
		if err != nil {
			return err
		}
		opts.Config = f
	}
	if o.TokenFile != "" {
		data, err := credential.ReadTokenFile(o.TokenFile)
		if err != nil {
			return fmt.Errorf("read --token-file: %w", err)
		}
		opts.Token, opts.TokenSource = string(data), o.TokenFile
	}
	snap, err := o.Source.fetch(ctx)
	if err != nil {
		return err
	}
	pub, err := discovery.Publish(snap, opts)
	if err != nil {
		return fmt.Errorf("nothing written: %w", err)
	}
	if err := fileio.WriteFiles(o.Output, pub.Files); err != nil {
		return err
	}
	e := o.ErrOut
	fmt.Fprintf(e, "Wrote the discovery of issuer %s (%d key(s): %s). Upload %s so that:\n", pub.Issuer, len(pub.KeyIDs), strings.Join(pub.KeyIDs, ", "), o.Output)
	for i, p := range paths(o.Output, pub.Files) {
		fmt.Fprintf(e, "  %s is served at %s\n", p, pub.URL(pub.Files[i]))
	}
	fmt.Fprintf(e, "anonymously, as application/json (copy the directory, not %s/*: the .well-known directory is hidden).\n", strings.TrimRight(o.Output, "/"))
	if opts.Token != "" {
		fmt.Fprintf(e, "The token %s is of this issuer and signed with a published key.\n", o.TokenFile)
	}
	if pub.ConfigChecked != "" {
		fmt.Fprintf(e, "%s says what this set-up needs.\n", pub.ConfigChecked)
	}
	fmt.Fprintf(e, "After each key rotation of the upstream, publish again; to catch it:\n  argocd-k8s-federate discovery check --base-url %s\n", pub.BaseURL)

	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(pub.Explain(), "\n"), "\n") {
		b.WriteString("# " + line + "\n")
	}
	b.WriteString(pub.ConfigSnippet())
	_, err = io.WriteString(o.Out, b.String())
	return err
}
