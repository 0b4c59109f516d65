package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/doctor"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// maxSecretBytes caps a cluster Secret file.
const maxSecretBytes = 1 << 20

// DoctorOptions are the inputs of doctor.
type DoctorOptions struct {
	IOStreams
	Filename   string
	Downstream string
	Workload   string
	Secret     string
	TokenFile  string
	Output     string
}

func newDoctorCommand(streams IOStreams) *cobra.Command {
	o := &DoctorOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "doctor (-f FEDERATION.yaml [--downstream NAME] [--workload NAME] | --secret FILE) [--token-file PATH] [-o json]",
		Short: "Diagnose one downstream from where ArgoCD runs: token, discovery, authentication, RBAC, cluster Secret",
		Long: `doctor checks, from inside (or beside) an ArgoCD pod, everything one downstream needs,
and prints one line per check with pass, fail or skip, and under each failure the fix:

  token-file       the projected token file exists and holds a service-account token
  token-expiry     it is not expired, not about to, and the kubelet keeps refreshing it
  token-audience   its aud is the downstream's audience (the right volume is mounted)
  token-issuer     its iss is the upstream issuer the downstream trusts
  token-subject    it is the application controller's or the server's service account
                   (with --workload, the workload's)
  discovery        the issuer's discovery (or its published copy) is readable with the
                   config's CA and names the same issuer
  discovery-keys   its keys include the key that signed the token, and the signature verifies
  downstream-tls   the downstream API server's certificate verifies with the configured CA
  downstream-auth  the downstream accepts the token (SelfSubjectReview)
  username         it maps the token to the prefixed user the config's RBAC binds
  rbac             every permission the config promises is allowed
                   (SelfSubjectAccessReview), per namespace
  cluster-secret   the ArgoCD cluster Secret (--secret) is what the config yields: its
                   namespaces match the RBAC, and server, CA and plugin arguments
                   (skipped with --workload: a workload has its kubeconfig instead)

Give the federation config and the downstream's name (the token file is then the one
the generated pods mount; --token-file overrides it), or only the cluster Secret (then
checks that need the config are skipped), or both. --workload NAME checks the path of an upstream workload
(upstream.workloads) instead of ArgoCD's: its token, the user it maps to and only
what the downstream grants it. Checks that depend on a failed one are skipped.
The token is never printed.

Exit code 0 when no check fails, 1 otherwise. -o json prints the report as one object:
{"downstream", "server", "upstream", "tokenFile", "checks": [{"check", "status",
"scope", "message", "fix", "details"}], "passed", "failed", "skipped", "ok"}.`,
		Example: `  # In the application controller's pod (the token at its mounted path)
  argocd-k8s-federate doctor -f federation.yaml --downstream prod-eu

  # Beside it, with a token of the controller's service account
  kubectl -n argocd create token argocd-application-controller --audience prod-eu > token
  argocd-k8s-federate doctor -f federation.yaml --downstream prod-eu --token-file token

  # In a pod of the upstream workload ci-runner (its token at the same path)
  argocd-k8s-federate doctor -f federation.yaml --downstream prod-eu --workload ci-runner

  # With the Secret ArgoCD really uses
  kubectl -n argocd get secret cluster-prod-eu -o yaml | \
    argocd-k8s-federate doctor -f federation.yaml --secret - --token-file token`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "federation config")
	cmd.Flags().StringVar(&o.Downstream, "downstream", "", "name of the downstream to diagnose (default: the config's only one, or the --secret's)")
	cmd.Flags().StringVar(&o.Workload, "workload", "", "name of an upstream workload (upstream.workloads) whose path to check instead of ArgoCD's")
	cmd.Flags().StringVar(&o.Secret, "secret", "", `ArgoCD cluster Secret of the downstream, as YAML or JSON ("-" for stdin)`)
	cmd.Flags().StringVar(&o.TokenFile, "token-file", "", "token to use instead of the one the config or Secret names (e.g. from kubectl create token)")
	addOutputFlag(cmd, &o.Output)
	return cmd
}

// Validate checks the flags.
func (o *DoctorOptions) Validate() error {
	var problems []string
	if o.Filename == "" && o.Secret == "" {
		problems = append(problems, "give the federation config (-f FILE, with --downstream NAME) or the cluster Secret (--secret FILE), or both")
	}
	if o.Downstream != "" && o.Filename == "" {
		problems = append(problems, "--downstream names a downstream of the federation config: give -f too")
	}
	if o.Workload != "" && o.Filename == "" {
		problems = append(problems, "--workload names a workload of the federation config: give -f too")
	}
	if o.Workload != "" && o.Secret != "" {
		problems = append(problems, "--workload checks a workload's path, which has no cluster Secret: leave out --secret")
	}
	problems = append(problems, checkOutput(o.Output)...)
	return joinProblems(problems)
}

// Run builds the target, runs the checks and prints the report.
func (o *DoctorOptions) Run(ctx context.Context) error {
	t, err := o.target()
	if err != nil {
		return err
	}
	rep := doctor.Run(ctx, t, doctor.NewEnv())
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("doctor stopped before its checks were done: %w", err)
	}
	return writeReport(o.Out, o.Output, rep)
}

func (o *DoctorOptions) target() (*doctor.Target, error) {
	var secret *argocd.ClusterSecret
	if o.Secret != "" {
		var data []byte
		var err error
		source := o.Secret
		if o.Secret == "-" {
			source = "(stdin)"
			data, err = io.ReadAll(io.LimitReader(o.In, maxSecretBytes))
		} else {
			data, err = fileio.ReadFile(o.Secret, maxSecretBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("read --secret: %w", err)
		}
		if secret, err = argocd.Parse(data, source); err != nil {
			return nil, err
		}
	}
	var t *doctor.Target
	if o.Filename == "" {
		t = doctor.FromSecret(secret)
	} else {
		f, err := config.Load(o.Filename)
		if err != nil {
			return nil, err
		}
		name := o.Downstream
		if name == "" && secret != nil {
			name = secret.ClusterName
		}
		if o.Workload != "" {
			w := f.Workload(o.Workload)
			if w == nil {
				return nil, fmt.Errorf("%s has no workload %q in upstream.workloads", f.Source, o.Workload)
			}
			d, err := pickWorkloadDownstream(f, w, name)
			if err != nil {
				return nil, err
			}
			t = doctor.FromWorkload(f, d, w)
		} else {
			d, err := pickDownstream(f, name)
			if err != nil {
				return nil, err
			}
			t = doctor.FromConfig(f, d)
			t.Secret = secret
		}
	}
	if o.TokenFile != "" {
		t.TokenFile = o.TokenFile
	}
	return t, nil
}

// pickDownstream finds the downstream called name, or the only one.
func pickDownstream(f *config.Federation, name string) (*config.Downstream, error) {
	var all []*config.Downstream
	for i := range f.Downstreams {
		all = append(all, &f.Downstreams[i])
	}
	d, names := pickDownstreamOf(all, name)
	switch {
	case d != nil:
		return d, nil
	case name == "":
		return nil, fmt.Errorf("%s has %d downstreams: choose one with --downstream (%s)", f.Source, len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("%s has no downstream %q; its downstreams are: %s", f.Source, name, strings.Join(names, ", "))
}

// pickWorkloadDownstream finds, among the downstreams workload w reaches,
// the one called name, or the only one.
func pickWorkloadDownstream(f *config.Federation, w *config.UpstreamWorkload, name string) (*config.Downstream, error) {
	d, names := pickDownstreamOf(f.Reaches(w), name)
	switch {
	case d != nil:
		return d, nil
	case name == "":
		return nil, fmt.Errorf("%s: workload %s reaches %d downstreams: choose one with --downstream (%s)", f.Source, w.Name, len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("%s: downstream %q grants workload %s nothing; it reaches: %s", f.Source, name, w.Name, strings.Join(names, ", "))
}

// pickDownstreamOf returns the downstream called name, or the only one,
// and otherwise the names to choose from.
func pickDownstreamOf(downstreams []*config.Downstream, name string) (*config.Downstream, []string) {
	var names []string
	for _, d := range downstreams {
		if d.Name == name || (name == "" && len(downstreams) == 1) {
			return d, nil
		}
		names = append(names, d.Name)
	}
	return nil, names
}
