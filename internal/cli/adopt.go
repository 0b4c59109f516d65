package cli

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// hubSource is where audit and import read the hub's cluster Secrets:
// files, or the hub through a kubeconfig.
type hubSource struct {
	Filenames  []string
	Kubeconfig string
	Context    string
	Namespace  string
	// live marks --kubeconfig/--context (or neither -f): read the hub.
	live bool
}

func (s *hubSource) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&s.Filenames, "filename", "f", nil, `file of cluster Secrets (YAML or JSON: Secrets, Lists, SecretLists, as kubectl get secrets -o yaml writes them; "-" for stdin; repeat for several)`)
	fs.StringVar(&s.Kubeconfig, "kubeconfig", "", "kubeconfig of the hub (default: $KUBECONFIG or ~/.kube/config; in a pod, its service account)")
	fs.StringVar(&s.Context, "context", "", "kubeconfig context of the hub (default: the current context)")
	fs.StringVarP(&s.Namespace, "namespace", "n", "argocd", `ArgoCD's namespace in the hub ("" for every namespace)`)
}

func (s *hubSource) validate() []string {
	if len(s.Filenames) > 0 && (s.Kubeconfig != "" || s.Context != "") {
		return []string{"--filename and --kubeconfig/--context are different sources of the cluster Secrets: give one"}
	}
	s.live = len(s.Filenames) == 0
	return nil
}

// read reads the cluster Secrets.
func (s *hubSource) read(ctx context.Context, streams IOStreams) (*adopt.Input, error) {
	if !s.live {
		return adopt.Read(s.Filenames, streams.In)
	}
	client, base, err := openKubeconfig(s.Kubeconfig, s.Context, "hub")
	if err != nil {
		return nil, fmt.Errorf("%w (give --kubeconfig and --context of the hub, or -f FILE)", err)
	}
	return adopt.ReadLive(ctx, adopt.Live{Client: client, Server: base, Namespace: s.Namespace})
}

// AuditOptions are the inputs of audit.
type AuditOptions struct {
	IOStreams
	Source hubSource
	Output string
	// Now is the audit's clock (tests).
	Now func() time.Time
}

func newAuditCommand(streams IOStreams) *cobra.Command {
	o := &AuditOptions{IOStreams: streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "audit [-f FILE... | --kubeconfig FILE --context NAME]",
		Short: "Say how ArgoCD authenticates to each of a hub's clusters; exit 1 while a static credential remains",
		Long: `Audit reads an ArgoCD hub's cluster Secrets (label argocd.argoproj.io/secret-type=cluster)
from the hub (--kubeconfig, --context, as kubectl; -n ArgoCD's namespace) or from
files (-f), and says for each how ArgoCD authenticates:

  federated            this tool's plugin (token-file or token-request)
  exec                 another exec plugin (argocd-k8s-auth gcp or azure, kubelogin ...)
  aws-auth             awsAuthConfig (argocd-k8s-auth aws)
  bearer-token         a token kept in the Secret; a service-account JWT is decoded
                       to say whose it is and when it expires (a legacy token
                       Secret's never does)
  client-certificate   a certificate and key kept in the Secret (subject, expiry)
  basic-auth           a user name and password kept in the Secret
  in-cluster           ArgoCD's own cluster, through its own service account
  none                 no credential

A Secret that keeps a token, a key or a password is STATIC whatever else it does.
No secret value is printed. The exit code is 1 while a static credential remains,
so that CI can gate on it. Next: argocd-k8s-federate import (docs/adopt.md).`,
		Example: `  # The live hub
  argocd-k8s-federate audit --context hub

  # From files, as JSON
  kubectl -n argocd get secrets -l argocd.argoproj.io/secret-type=cluster -o yaml > secrets.yaml
  argocd-k8s-federate audit -f secrets.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.Source.addFlags(cmd.Flags())
	addOutputFlag(cmd, &o.Output)
	return cmd
}

// Validate checks the flags.
func (o *AuditOptions) Validate() error {
	return joinProblems(append(o.Source.validate(), checkOutput(o.Output)...))
}

// Run reads the Secrets, audits them and prints the report.
func (o *AuditOptions) Run(ctx context.Context) error {
	in, err := o.Source.read(ctx, o.IOStreams)
	if err != nil {
		return err
	}
	return writeReport(o.Out, o.Output, adopt.Audit(in, o.Now()))
}

// ImportOptions are the inputs of import.
type ImportOptions struct {
	IOStreams
	Source hubSource
	Output string
	Hub    adopt.Hub
	Now    func() time.Time
}

func newImportCommand(streams IOStreams) *cobra.Command {
	o := &ImportOptions{IOStreams: streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "import [-f FILE... | --kubeconfig FILE --context NAME] --hub NAME --issuer URL --issuer-ca-file FILE -o federation.yaml",
		Short: "Write a federation config from a hub's cluster Secrets (no credential copied)",
		Long: `Import reads an ArgoCD hub's cluster Secrets as audit does and writes a federation
config: one downstream per Secret with ArgoCD's name (a DNS label derived from it
when it is not one, ArgoCD's own kept as argocd.clusterName), its server, its CA
(from tlsClientConfig.caData), labels, annotations, project, the Secret's name
(argocd.secretName, so that the generated Secret replaces it) and its access
(access.namespaces from the Secret's namespaces, else clusterWide). No credential
is copied. What needs a decision (the roles, cluster-wide access, clusters reached
by a cloud's identity) is marked REVIEW in comments.

Refused, with the reason: ArgoCD's own cluster (in-cluster), a server that is not
https, insecure TLS, tlsClientConfig.serverName, proxyUrl, a caData with no valid
certificate, a second Secret for the same server.

The config is checked as generate checks it before it is written; the output is
deterministic. Then: generate, apply each downstream's trust and RBAC, then
replace the cluster Secrets (docs/adopt.md).`,
		Example: `  argocd-k8s-federate import --context hub --hub hub \
      --issuer https://hub.example.com --issuer-ca-file hub-ca.crt -o federation.yaml`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.Source.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `the federation config to write, or "-" for stdout`)
	cmd.Flags().StringVar(&o.Hub.Name, "hub", "", "upstream.name: a short DNS-label name of the hub")
	cmd.Flags().StringVar(&o.Hub.Issuer, "issuer", "", "upstream.issuer: the hub API server's --service-account-issuer (https)")
	cmd.Flags().StringVar(&o.Hub.CAFile, "issuer-ca-file", "", "upstream.caFile: the CA of the issuer's certificate, as the config will name it (relative to the written config)")
	cmd.Flags().BoolVar(&o.Hub.UseSystemRoots, "issuer-system-roots", false, "upstream.useSystemRoots: the issuer's certificate is publicly trusted")
	return cmd
}

// Validate checks the flags.
func (o *ImportOptions) Validate() error {
	problems := o.Source.validate()
	if o.Output == "" {
		problems = append(problems, `--output (-o) is required: the federation config to write, or "-" for stdout`)
	}
	if o.Hub.Name == "" {
		problems = append(problems, "--hub is required: upstream.name of the config")
	}
	if o.Hub.Issuer == "" {
		problems = append(problems, "--issuer is required: the hub's --service-account-issuer")
	}
	if (o.Hub.CAFile == "") == !o.Hub.UseSystemRoots {
		problems = append(problems, "give one of --issuer-ca-file and --issuer-system-roots")
	}
	o.Hub.Namespace = o.Source.Namespace
	return joinProblems(problems)
}

// Run reads the Secrets, imports them and writes the config.
func (o *ImportOptions) Run(ctx context.Context) error {
	in, err := o.Source.read(ctx, o.IOStreams)
	if err != nil {
		return err
	}
	source := o.Output
	if source == "-" {
		source = filepath.Join(".", "federation.yaml") // caFile resolves against the working directory
	}
	res, err := adopt.Import(in, o.Hub, source, o.Now())
	for _, r := range res.Refused {
		fmt.Fprintf(o.ErrOut, "refused: Secret %s (%s): %s\n", r.Secret, r.Server, r.Reason)
	}
	if err != nil {
		return err
	}
	if o.Output == "-" {
		_, err = o.Out.Write(res.Config)
		return err
	}
	if err := fileio.WriteFile(o.Output, bytes.NewReader(res.Config), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.Output, err)
	}
	fmt.Fprintf(o.ErrOut, "wrote %s: %d downstreams imported, %d refused, %d REVIEW notes; then: argocd-k8s-federate generate -f %s -o DIR\n",
		o.Output, res.Downstreams, len(res.Refused), len(res.Reviews), o.Output)
	return nil
}
