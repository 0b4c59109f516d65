package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/generate"
)

// GenerateOptions are the inputs of generate.
type GenerateOptions struct {
	IOStreams
	Filenames []string
	Output    string
	Check     bool
}

func newGenerateCommand(streams IOStreams) *cobra.Command {
	o := &GenerateOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "generate -f FEDERATION.yaml -o DIR",
		Short: "Write the kustomize tree for the upstream ArgoCD and every downstream cluster",
		Long: `Generate reads a federation config (kind: Federation) and writes:

  DIR/upstream/<hub>/           a kustomize Component for the ArgoCD installation: projected
                                token volume and plugin for the controller and the server,
                                one cluster Secret per downstream; the same as values for
                                the argo-helm chart (helm-values.yaml) and, with
                                upstream.argocd.operator, as a patch of argocd-operator's
                                ArgoCD resource (argocd-operator-patch.yaml)
  DIR/downstream/<name>/        a kustomization with the RBAC for the hub's prefixed users
  DIR/downstream/<name>/apiserver/
                                the API server's trust: AuthenticationConfiguration,
                                --oidc-* flags, Gardener OpenIDConnect, and how to use them

The output is deterministic and replaces DIR as a whole; nothing is written when
the config has a problem. Several -f files generate hubs that share downstreams.`,
		Example: `  # Write the tree
  argocd-k8s-federate generate -f federation.yaml -o federation/

  # In CI: fail when the committed tree is not what the config yields
  argocd-k8s-federate generate -f federation.yaml -o federation/ --check

  # Print everything as one YAML stream
  argocd-k8s-federate generate -f federation.yaml -o -

  # Two hubs deploying into shared downstreams
  argocd-k8s-federate generate -f hub-a.yaml -f hub-b.yaml -o federation/`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	cmd.Flags().StringArrayVarP(&o.Filenames, "filename", "f", nil, "federation config file (repeat for several hubs)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `output directory, or "-" for one YAML stream on stdout`)
	cmd.Flags().BoolVar(&o.Check, "check", false, "write nothing; exit 1 and list the files that differ when the output directory is not what the config yields")
	return cmd
}

// Validate checks the flags.
func (o *GenerateOptions) Validate() error {
	var problems []string
	if len(o.Filenames) == 0 {
		problems = append(problems, "--filename (-f) is required: the federation config to read")
	}
	if o.Output == "" {
		problems = append(problems, `--output (-o) is required: a directory, or "-" for stdout`)
	}
	if o.Check && o.Output == "-" {
		problems = append(problems, "--check compares a directory: give -o DIR")
	}
	if o.Output != "" && o.Output != "-" && !o.Check {
		for _, f := range o.Filenames {
			if inside(f, o.Output) {
				problems = append(problems, fmt.Sprintf("--filename %s is inside the output directory %s, which generate replaces as a whole: keep the config outside it", f, o.Output))
			}
		}
	}
	return joinProblems(problems)
}

// Run loads the configs, generates the tree and writes or checks it.
func (o *GenerateOptions) Run(ctx context.Context) error {
	set, err := config.LoadSet(o.Filenames)
	if err != nil {
		return err
	}
	tree, err := generate.Generate(ctx, set)
	if err != nil {
		return err
	}
	for _, w := range set.Warnings() {
		fmt.Fprintf(o.ErrOut, "warning: %s\n", w)
	}
	switch {
	case o.Output == "-":
		return generate.WriteStream(o.Out, tree)
	case o.Check:
		diffs, err := generate.Check(ctx, o.Output, tree)
		if err != nil {
			return err
		}
		if len(diffs) == 0 {
			fmt.Fprintf(o.ErrOut, "%s is up to date (%d files)\n", o.Output, len(tree.Files))
			return nil
		}
		for _, d := range diffs {
			fmt.Fprintf(o.Out, "%s: %s\n", d.What, d.Path)
		}
		return &exitError{code: 1, err: fmt.Errorf("%s is not what the config yields (%d files differ): run argocd-k8s-federate generate %s", o.Output, len(diffs), o.regenerateArgs())}
	default:
		if err := generate.WriteDir(ctx, o.Output, tree); err != nil {
			return err
		}
		fmt.Fprintf(o.ErrOut, "wrote %d files to %s\n", len(tree.Files), o.Output)
		return nil
	}
}

func (o *GenerateOptions) regenerateArgs() string {
	var b strings.Builder
	for _, f := range o.Filenames {
		fmt.Fprintf(&b, "-f %s ", f)
	}
	b.WriteString("-o " + o.Output)
	return b.String()
}

// inside reports whether path is in (or is) dir.
func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
