package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
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
			if ca, err = discovery.ReadCAFile("--issuer-ca", s.IssuerCA); err != nil {
				return nil, err
			}
		}
		client, err := discovery.HTTPClient(ca)
		if err != nil {
			return nil, fmt.Errorf("--issuer-ca %s: %w", s.IssuerCA, err)
		}
		return discovery.HTTPSource{Client: client, BaseURL: s.Issuer}, nil
	}
	client, base, err := openKubeconfig(s.Kubeconfig, s.Context, "upstream")
	if err != nil {
		return nil, fmt.Errorf("%w (give --kubeconfig and --context, or --issuer to read discovery anonymously)", err)
	}
	// Never follow a redirect to plain http with the credentials.
	client.CheckRedirect = discovery.RefuseInsecureRedirect
	return discovery.HTTPSource{Client: client, BaseURL: base}, nil
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

// paths are where files are written under dir, for messages.
func paths(dir string, files []fileio.File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = strings.TrimRight(dir, "/") + "/" + f.Path
	}
	return out
}
