package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
)

// DiscoveryCheckOptions are the inputs of discovery check.
type DiscoveryCheckOptions struct {
	IOStreams
	Source    liveSource
	BaseURL   string
	BaseURLCA string
	Output    string
}

func newDiscoveryCheckCommand(streams IOStreams) *cobra.Command {
	o := &DiscoveryCheckOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "check --base-url URL [-o json]",
		Short: "Exit 1, naming the missing key ids, when the published discovery is stale",
		Long: `check reads the live discovery from the upstream and the published copy from --base-url
as a downstream reads it (URL/.well-known/openid-configuration, then its jwks_uri), and
compares them. The upstream rotating its signing keys without a new publish breaks
federation silently: every new token is refused downstream.

Exit code 0: the copy has every live key and the same issuer. 1: it does not (the
missing key ids are named), its jwks_uri is not https (downstreams would fetch the keys
in clear), or the check could not run. Published keys the upstream no longer has are
only a warning. Redirects are followed to https URLs only.

-o json prints one object in every case, for monitoring:
  {"baseURL", "documentURL", "keysURL", "issuer", "publishedIssuer",
   "liveKeyIDs", "publishedKeyIDs", "missingKeyIDs", "changedKeyIDs", "extraKeyIDs",
   "problems", "warnings", "inSync": bool,
   "error": "set when the check could not run, invalid flags included"}

Run it on a schedule: a CronJob in the upstream cluster whose service account reads
discovery (Kubernetes grants that to every service account) needs no kubeconfig; its
failed Jobs are the alert. See docs/discovery.md for the manifest.`,
		Example: `  argocd-k8s-federate discovery check --context hub --base-url https://storage.googleapis.com/oidc-bucket/hub

  # In a CronJob of the upstream cluster (in-cluster service account), for monitoring
  argocd-k8s-federate discovery check --base-url https://storage.googleapis.com/oidc-bucket/hub -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.Source.addFlags(cmd.Flags(), false)
	cmd.Flags().StringVar(&o.BaseURL, "base-url", "", "https URL the discovery is published at (required)")
	cmd.Flags().StringVar(&o.BaseURLCA, "base-url-ca", "", "PEM file of the CA that verifies --base-url (default: the system roots)")
	addOutputFlag(cmd, &o.Output)
	return cmd
}

// Validate checks the flags.
func (o *DiscoveryCheckOptions) Validate() error {
	problems := o.Source.validate()
	if o.BaseURL == "" {
		problems = append(problems, "--base-url is required: the https URL the discovery is published at")
	} else if _, err := discovery.NormalizeBaseURL(o.BaseURL); err != nil {
		problems = append(problems, "--base-url: "+err.Error())
	}
	problems = append(problems, checkOutput(o.Output)...)
	return joinProblems(problems)
}

// Run compares and reports; a stale copy, or a check that could not run,
// exits 1.
func (o *DiscoveryCheckOptions) Run(ctx context.Context) error {
	base, _ := discovery.NormalizeBaseURL(o.BaseURL)
	c, err := o.compare(ctx, base)
	if err != nil {
		c = discovery.Failed(base, err)
	}
	return writeReport(o.Out, o.Output, c)
}

// ReportInvalid reports invalid flags as a check that could not run: -o json
// promises one object in every case.
func (o *DiscoveryCheckOptions) ReportInvalid(err error) error {
	base, nerr := discovery.NormalizeBaseURL(o.BaseURL)
	if nerr != nil {
		base = o.BaseURL
	}
	return writeReport(o.Out, o.Output, discovery.Failed(base, err))
}

func (o *DiscoveryCheckOptions) compare(ctx context.Context, base string) (*discovery.Comparison, error) {
	// Local files first, then the network.
	var ca []byte
	if o.BaseURLCA != "" {
		var err error
		if ca, err = discovery.ReadCAFile("--base-url-ca", o.BaseURLCA); err != nil {
			return nil, err
		}
	}
	live, err := o.Source.fetch(ctx)
	if err != nil {
		return nil, err
	}
	client, err := discovery.HTTPClient(ca)
	if err != nil {
		return nil, fmt.Errorf("--base-url-ca %s: %w", o.BaseURLCA, err)
	}
	published, err := discovery.FetchPublished(ctx, client, base+discovery.DocumentPath)
	var insecure *discovery.InsecureJWKSURIError
	if err != nil && !errors.As(err, &insecure) {
		return nil, fmt.Errorf("read the published discovery: %w", err)
	}
	// A jwks_uri that is not https is one of the comparison's problems.
	return discovery.Compare(live, published, base), nil
}
