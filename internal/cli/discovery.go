package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
)

func newDiscoveryCommand(streams IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Fetch, publish and check the upstream issuer's OIDC discovery (for an upstream API server downstreams cannot reach)",
		Long: `Downstream API servers verify the upstream's tokens with the issuer's OIDC discovery:
the document at {issuer}/.well-known/openid-configuration and the signing keys at its
jwks_uri (/openid/v1/jwks). When the upstream API server is private, publish both to a
static https location the downstreams can read (a bucket), and keep that copy current:

  fetch     read the live discovery from the upstream API server
  publish   write the files to upload, jwks_uri rewritten under --base-url, and the
            federation.yaml lines for the set-up
  check     compare the published keys with the live ones; exit 1 when the upstream
            has rotated its keys and the copy is stale (run it on a schedule)

The upstream is read through a kubeconfig (--kubeconfig, --context, as kubectl; in a
pod, its service account), or anonymously from --issuer.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newDiscoveryFetchCommand(streams),
		newDiscoveryPublishCommand(streams),
		newDiscoveryCheckCommand(streams),
	)
	return cmd
}

// liveSource is where the live discovery is read: a kubeconfig (the
// default), the issuer URL anonymously, or a directory.
type liveSource struct {
	Kubeconfig string
	Context    string
	Issuer     string
	IssuerCA   string
	From       string
}

func (s *liveSource) addFlags(fs *pflag.FlagSet, withFrom bool) {
	fs.StringVar(&s.Kubeconfig, "kubeconfig", "", "kubeconfig of the upstream cluster (default: $KUBECONFIG or ~/.kube/config; in a pod, its service account)")
	fs.StringVar(&s.Context, "context", "", "kubeconfig context of the upstream cluster (default: the current context)")
	fs.StringVar(&s.Issuer, "issuer", "", "read discovery anonymously from this issuer URL instead, as a downstream does")
	fs.StringVar(&s.IssuerCA, "issuer-ca", "", "PEM file of the CA that verifies --issuer (default: the system roots)")
	if withFrom {
		fs.StringVar(&s.From, "from", "", "read discovery from a directory written by `discovery fetch -o DIR` instead")
	}
}

func (s *liveSource) validate() []string {
	var problems []string
	n := 0
	for _, set := range []bool{s.Kubeconfig != "" || s.Context != "", s.Issuer != "", s.From != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		problems = append(problems, "--kubeconfig/--context, --issuer and --from are different sources of the live discovery: give one")
	}
	if s.IssuerCA != "" && s.Issuer == "" {
		problems = append(problems, "--issuer-ca verifies --issuer: give --issuer too")
	}
	if s.Issuer != "" {
		if u, err := url.Parse(s.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
			problems = append(problems, fmt.Sprintf("--issuer %q must be an https URL (the upstream's --service-account-issuer)", s.Issuer))
		}
	}
	return problems
}

// open connects to the source.
func (s *liveSource) open() (discovery.Source, error) {
	switch {
	case s.From != "":
		return discovery.DirSource{Dir: s.From}, nil
	case s.Issuer != "":
		var ca []byte
		if s.IssuerCA != "" {
			var err error
			if ca, err = os.ReadFile(s.IssuerCA); err != nil {
				return nil, fmt.Errorf("read --issuer-ca: %w", err)
			}
		}
		client, err := discovery.HTTPClient(ca)
		if err != nil {
			return nil, fmt.Errorf("--issuer-ca %s: %w", s.IssuerCA, err)
		}
		return discovery.HTTPSource{Client: client, BaseURL: s.Issuer}, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = s.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: s.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load the upstream's kubeconfig: %w (give --kubeconfig and --context, or --issuer to read discovery anonymously)", err)
	}
	cfg.Timeout = 30 * time.Second
	cfg.WarningHandler = rest.NoWarnings{}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("client of the upstream API server %s: %w", cfg.Host, err)
	}
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig's server %q: %w", cfg.Host, err)
	}
	return discovery.HTTPSource{Client: client, BaseURL: base.String()}, nil
}

// fetch reads the live discovery and explains access errors.
func (s *liveSource) fetch(ctx context.Context) (*discovery.Snapshot, error) {
	src, err := s.open()
	if err != nil {
		return nil, err
	}
	snap, err := discovery.FetchLive(ctx, src)
	var herr *discovery.HTTPError
	if errors.As(err, &herr) && (herr.StatusCode == http.StatusUnauthorized || herr.StatusCode == http.StatusForbidden) {
		if s.Issuer != "" {
			return nil, fmt.Errorf("read the live discovery: %w: the issuer refuses anonymous clients; read it with a kubeconfig instead (--kubeconfig, --context)", err)
		}
		return nil, fmt.Errorf("read the live discovery: %w: the kubeconfig's user needs the ClusterRole system:service-account-issuer-discovery (Kubernetes binds it to all service accounts)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("read the live discovery: %w", err)
	}
	return snap, nil
}

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
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
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
	if err := discovery.WriteFiles(o.Output, snap.Layout()); err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "wrote %s\n", strings.Join(paths(o.Output, snap.Layout()), " and "))
	return nil
}

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
checks that the issuer is the iss of the upstream's tokens (--token-file) and what
federation.yaml says (-f). It prints the upstream lines of federation.yaml for one of
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
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
		data, err := readLimited(o.TokenFile, credential.MaxTokenSize+1)
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
	if err := discovery.WriteFiles(o.Output, pub.Files); err != nil {
		return err
	}
	e := o.ErrOut
	fmt.Fprintf(e, "Wrote the discovery of issuer %s (%d key(s): %s). Upload %s so that:\n", pub.Issuer, len(pub.KeyIDs), strings.Join(pub.KeyIDs, ", "), o.Output)
	for i, p := range paths(o.Output, pub.Files) {
		fmt.Fprintf(e, "  %s is served at %s\n", p, pub.Files[i].URL)
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

// Output formats of check and doctor.
const (
	outputText = "text"
	outputJSON = "json"
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
	o := &DiscoveryCheckOptions{IOStreams: streams, Output: outputText}
	cmd := &cobra.Command{
		Use:   "check --base-url URL [-o json]",
		Short: "Exit 1, naming the missing key ids, when the published discovery is stale",
		Long: `check reads the live discovery from the upstream and the published copy from --base-url
as a downstream reads it (URL/.well-known/openid-configuration, then its jwks_uri), and
compares them. The upstream rotating its signing keys without a new publish breaks
federation silently: every new token is refused downstream.

Exit code 0: the copy has every live key and the same issuer. 1: it does not (the
missing key ids are named), or the check could not run. Published keys the upstream no
longer has are only a warning.

-o json prints one object, for monitoring:
  {"baseURL", "documentURL", "keysURL", "issuer", "publishedIssuer",
   "liveKeyIDs", "publishedKeyIDs", "missingKeyIDs", "changedKeyIDs", "extraKeyIDs",
   "problems", "warnings", "inSync": bool, "error": "set when the check could not run"}

Run it on a schedule: a CronJob in the upstream cluster whose service account reads
discovery (Kubernetes grants that to every service account) needs no kubeconfig; its
failed Jobs are the alert. See docs/discovery.md for the manifest.`,
		Example: `  argocd-k8s-federate discovery check --context hub --base-url https://storage.googleapis.com/oidc-bucket/hub

  # In a CronJob of the upstream cluster (in-cluster service account), for monitoring
  argocd-k8s-federate discovery check --base-url https://storage.googleapis.com/oidc-bucket/hub -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Source.addFlags(cmd.Flags(), false)
	cmd.Flags().StringVar(&o.BaseURL, "base-url", "", "https URL the discovery is published at (required)")
	cmd.Flags().StringVar(&o.BaseURLCA, "base-url-ca", "", "PEM file of the CA that verifies --base-url (default: the system roots)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", outputText, "output format: text or json")
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
	if o.Output != outputText && o.Output != outputJSON {
		problems = append(problems, fmt.Sprintf("--output (-o) is %q: text or json", o.Output))
	}
	return joinProblems(problems)
}

// Run compares and reports; a stale copy exits 1.
func (o *DiscoveryCheckOptions) Run(ctx context.Context) error {
	base, _ := discovery.NormalizeBaseURL(o.BaseURL)
	c, err := o.compare(ctx, base)
	if err != nil {
		if o.Output == outputJSON {
			c = &discovery.Comparison{BaseURL: base, Error: err.Error()}
			if err := writeJSON(o.Out, c); err != nil {
				return err
			}
		}
		return err
	}
	if o.Output == outputJSON {
		if err := writeJSON(o.Out, c); err != nil {
			return err
		}
	} else {
		var b strings.Builder
		if c.InSync {
			fmt.Fprintf(&b, "in sync: %s publishes the %d live signing key(s) of issuer %s: %s\n", base, len(c.LiveKeyIDs), c.Issuer, strings.Join(c.LiveKeyIDs, ", "))
		}
		for _, p := range c.Problems {
			fmt.Fprintf(&b, "STALE: %s\n", p)
		}
		for _, w := range c.Warnings {
			fmt.Fprintf(&b, "warning: %s\n", w)
		}
		if !c.InSync {
			fmt.Fprintf(&b, "fix: argocd-k8s-federate discovery publish --base-url %s -o DIR (against the upstream), then upload DIR\n", base)
		}
		if _, err := io.WriteString(o.Out, b.String()); err != nil {
			return err
		}
	}
	if !c.InSync {
		what := "is stale"
		if len(c.MissingKeyIDs) > 0 {
			what = "lacks the live key(s) " + strings.Join(c.MissingKeyIDs, ", ")
		}
		return &exitError{code: 1, err: fmt.Errorf("the discovery published at %s %s: publish it again", base, what)}
	}
	return nil
}

func (o *DiscoveryCheckOptions) compare(ctx context.Context, base string) (*discovery.Comparison, error) {
	live, err := o.Source.fetch(ctx)
	if err != nil {
		return nil, err
	}
	var ca []byte
	if o.BaseURLCA != "" {
		if ca, err = os.ReadFile(o.BaseURLCA); err != nil {
			return nil, fmt.Errorf("read --base-url-ca: %w", err)
		}
	}
	client, err := discovery.HTTPClient(ca)
	if err != nil {
		return nil, fmt.Errorf("--base-url-ca %s: %w", o.BaseURLCA, err)
	}
	published, err := discovery.FetchPublished(ctx, client, base+discovery.DocumentPath)
	if err != nil {
		return nil, fmt.Errorf("read the published discovery: %w", err)
	}
	return discovery.Compare(live, published, base), nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func joinProblems(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

func paths(dir string, files []discovery.File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = strings.TrimRight(dir, "/") + "/" + f.Path
	}
	return out
}

// readLimited reads at most limit bytes of a file.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
