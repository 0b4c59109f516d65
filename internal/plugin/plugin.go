// Package plugin is the command line of argocd-k8s-federate-plugin, the small
// build that ArgoCD executes through a cluster Secret's execProviderConfig:
// token-file, token-request, install and version, parsed with the standard
// flag package.
//
// It links only the standard library and this module's small packages, so
// that every exec starts as fast as a bare Go program; the full
// argocd-k8s-federate CLI delegates its token-file and token-request
// commands to TokenFile and TokenRequest.
//
// Every failure is one line on stderr naming what to fix, exit code 1, and
// nothing on stdout; stdout carries only the product (the ExecCredential, the
// installed path, the version, or help that was asked for).
package plugin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/install"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/version"
)

// Name is the name of the small build's binary.
const Name = "argocd-k8s-federate-plugin"

// Env is what the plugin takes from its process besides files: the
// environment (KUBERNETES_EXEC_INFO) and the clock.
type Env interface {
	Getenv(key string) string
	Now() time.Time
}

// OSEnv returns the process's environment and the system clock.
func OSEnv() Env { return osEnv{} }

type osEnv struct{}

func (osEnv) Getenv(key string) string { return os.Getenv(key) }
func (osEnv) Now() time.Time           { return time.Now() }

// Main runs the plugin build with args (without the program name) and
// returns the process exit code.
func Main(args []string, env Env, stdout, stderr io.Writer) int {
	return Run(Name, args, env, stdout, stderr)
}

// Run is Main for a binary named prog: the full argocd-k8s-federate CLI runs
// its token-file, token-request and install commands through it, so that its
// messages and help name it.
func Run(prog string, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return fail(stderr, prog, errors.New(`missing command: run "`+prog+` help" for usage (ArgoCD runs "`+prog+` token-file --file PATH" or "`+prog+` token-request --audience AUD")`))
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case TokenFileCommand:
		return runTokenFile(prog, rest, env, stdout, stderr)
	case TokenRequestCommand:
		return runTokenRequest(prog, rest, env, stdout, stderr)
	case OIDCTokenCommand:
		return runOIDCToken(prog, rest, env, stdout, stderr)
	case "install":
		return runInstall(prog, rest, stdout, stderr)
	case "version":
		return runVersion(prog, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		return runHelp(prog, rest, stdout, stderr)
	}
	if strings.HasPrefix(cmd, "-") {
		return fail(stderr, prog, fmt.Errorf("unknown flag %q before the command: run \"%s help\" for usage", cmd, prog))
	}
	return fail(stderr, prog, fmt.Errorf("unknown command %q: this is the small plugin build (token-file, token-request, oidc-token, install, version); generate and the other commands live in the full argocd-k8s-federate CLI",
		cmd))
}

// fail prints err as exactly one line and returns exit code 1.
func fail(stderr io.Writer, prefix string, err error) int {
	io.WriteString(stderr, oneLine(prefix+": "+err.Error())+"\n")
	return 1
}

// maxMessage caps an error line: messages quote inputs (a path,
// KUBERNETES_EXEC_INFO) whose size is not ours to choose.
const maxMessage = 4096

// oneLine makes msg one printable line: line breaks and tabs become spaces,
// other non-printable characters and invalid UTF-8 are escaped, and a very
// long message is cut.
func oneLine(msg string) string {
	var b strings.Builder
	for i, r := range msg {
		if b.Len() >= maxMessage {
			b.WriteString("...")
			break
		}
		switch {
		case r == utf8.RuneError && len(msg[i:]) > 0 && !strings.HasPrefix(msg[i:], string(utf8.RuneError)):
			b.WriteString(`\x` + strconv.FormatUint(uint64(msg[i]), 16))
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case !strconv.IsPrint(r):
			b.WriteString(`\u` + strconv.FormatUint(uint64(r), 16))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// command is one subcommand's flag set and help.
type command struct {
	prog     string
	name     string
	synopsis string
	help     string
	flags    *flag.FlagSet
}

func newCommand(prog, name, synopsis, help string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print its error and the whole usage; we print
	// one line instead, and help only when it is asked for.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &command{prog: prog, name: name, synopsis: synopsis, help: help, flags: fs}
}

// parse parses args; it returns done when help was printed or parsing
// failed, with the exit code to return.
func (c *command) parse(args []string, stdout, stderr io.Writer) (code int, done bool) {
	err := c.flags.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.usage(stdout)
		return 0, true
	case err != nil:
		return c.fail(stderr, fmt.Errorf("%w (run \"%s %s -h\" for usage)", err, c.prog, c.name)), true
	case c.flags.NArg() > 0:
		return c.fail(stderr, fmt.Errorf("unexpected argument %q (run \"%s %s -h\" for usage)", c.flags.Arg(0), c.prog, c.name)), true
	}
	return 0, false
}

// parseLine parses a whole command line (args[0] is the command) with the
// command's flags, as the plugin does when ArgoCD runs it.
func (c *command) parseLine(args []string) error {
	if len(args) == 0 || args[0] != c.name {
		return fmt.Errorf("the arguments do not start with the command %s", c.name)
	}
	if err := c.flags.Parse(args[1:]); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", c.flags.Arg(0))
	}
	return nil
}

// flagArg is one flag of a command line: its name, value and default.
type flagArg struct{ name, value, def string }

// commandLine is cmd and every flag whose value is not its default, in the
// order given: the one spelling of a command line for the cluster Secrets.
func commandLine(cmd string, flags ...flagArg) []string {
	args := []string{cmd}
	for _, f := range flags {
		if f.value != f.def {
			args = append(args, "--"+f.name, f.value)
		}
	}
	return args
}

func (c *command) fail(stderr io.Writer, err error) int {
	return fail(stderr, c.prog+" "+c.name, err)
}

func (c *command) usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage:\n  " + c.prog + " " + c.synopsis + "\n\n" + c.help)
	first := true
	c.flags.VisitAll(func(f *flag.Flag) {
		if first {
			b.WriteString("\nFlags:\n")
			first = false
		}
		arg, usage := flag.UnquoteUsage(f)
		b.WriteString("  --" + f.Name)
		if arg != "" {
			b.WriteString(" " + arg)
		}
		b.WriteString("\n      " + usage)
		if f.DefValue != "" {
			b.WriteString(" (default " + f.DefValue + ")")
		}
		b.WriteString("\n")
	})
	io.WriteString(w, b.String())
}

func tokenFileCommand(prog string, o *TokenFileOptions) *command {
	c := newCommand(prog, TokenFileCommand, TokenFileCommand+" [--file PATH] [--audience AUD] [--issuer URL] [--skew 10s] [--poll-interval 30s]",
		`Prints a client.authentication.k8s.io ExecCredential for the projected
service-account token in --file, in the apiVersion that client-go asks for in
KUBERNETES_EXEC_INFO (v1 when unset). The file is re-read on every call.

The credential's expirationTimestamp makes client-go run the plugin again
when the kubelet rotates the token (80% of its TTL), never later than exp
minus --skew; once the token is past its rotation point and the kubelet has
not yet replaced the file, it expires after --poll-interval instead, so
client-go polls gently until the new token appears. An expired token is an
error.

Example (an ArgoCD cluster Secret's config):
  "execProviderConfig": {
    "command": "/plugins/`+Name+`",
    "args": ["token-file", "--file", "`+DefaultTokenDir+`/downstream-a", "--audience", "downstream-a"],
    "apiVersion": "client.authentication.k8s.io/v1"
  }
`)
	o.AddFlags(c.flags)
	return c
}

func runTokenFile(prog string, args []string, env Env, stdout, stderr io.Writer) int {
	o := DefaultTokenFileOptions()
	c := tokenFileCommand(prog, &o)
	if code, done := c.parse(args, stdout, stderr); done {
		return code
	}
	if err := TokenFile(o, env, stdout); err != nil {
		return c.fail(stderr, err)
	}
	return 0
}

func installCommand(prog string, dir *string) *command {
	c := newCommand(prog, "install", "install --to DIR",
		`Copies this binary into DIR atomically (a temporary file in DIR, fsync,
mode 0755, rename) and prints the installed path; the plugin build first
copies `+TokenRequestBinary+` from beside itself the same way (token-request
runs it). Run from this image as an init container, it drops the plugin into
an emptyDir that the ArgoCD containers mount.

Example:
  `+prog+` install --to /plugins
`)
	c.flags.StringVar(dir, "to", "", "the `directory` to install into (must exist and be writable)")
	return c
}

func runInstall(prog string, args []string, stdout, stderr io.Writer) int {
	var dir string
	c := installCommand(prog, &dir)
	if code, done := c.parse(args, stdout, stderr); done {
		return code
	}
	if dir == "" {
		return c.fail(stderr, errors.New("--to DIR is required: the directory to install into, e.g. an emptyDir shared with the ArgoCD containers"))
	}
	// The small build brings its token-request half along, installed
	// first, so that the plugin never appears without it.
	if self, err := os.Executable(); err == nil && filepath.Base(self) == Name {
		half := filepath.Join(filepath.Dir(self), TokenRequestBinary)
		path, err := install.File(half, dir)
		if err != nil {
			return c.fail(stderr, fmt.Errorf("install %s, which token-request runs, from beside this binary: %w (the plugin image ships both)", TokenRequestBinary, err))
		}
		io.WriteString(stdout, path+"\n")
	}
	path, err := install.Executable(dir)
	if err != nil {
		return c.fail(stderr, err)
	}
	io.WriteString(stdout, path+"\n")
	return 0
}

func versionCommand(prog string) *command {
	return newCommand(prog, "version", "version", "Prints the version, the commit and the Go toolchain of this build.\n")
}

func runVersion(prog string, args []string, stdout, stderr io.Writer) int {
	c := versionCommand(prog)
	if code, done := c.parse(args, stdout, stderr); done {
		return code
	}
	io.WriteString(stdout, prog+" "+version.Version+" (commit "+version.Commit+", "+
		runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")\n")
	return 0
}

func runHelp(prog string, args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		return fail(stderr, prog+" help", fmt.Errorf("expected at most one command, got %d arguments", len(args)))
	}
	if len(args) == 1 {
		o := DefaultTokenFileOptions()
		r := DefaultTokenRequestOptions()
		oi := DefaultOIDCTokenOptions()
		var dir string
		switch args[0] {
		case TokenFileCommand:
			tokenFileCommand(prog, &o).usage(stdout)
		case TokenRequestCommand:
			tokenRequestCommand(prog, &r).usage(stdout)
		case OIDCTokenCommand:
			oidcTokenCommand(prog, &oi).usage(stdout)
		case "install":
			installCommand(prog, &dir).usage(stdout)
		case "version":
			versionCommand(prog).usage(stdout)
		default:
			return fail(stderr, prog+" help", fmt.Errorf("unknown command %q: this build has token-file, token-request, oidc-token, install and version", args[0]))
		}
		return 0
	}
	io.WriteString(stdout, Name+` is the credential plugin ArgoCD executes for clusters
federated by argocd-k8s-federate: it turns the projected service-account token
the kubelet keeps fresh into a client-go ExecCredential (token-file), or asks
the upstream API server for a token of the pod's service account
(token-request).

Usage:
  `+Name+` token-file [--file PATH] [--audience AUD] [--issuer URL] [--skew 10s] [--poll-interval 30s]
  `+Name+` token-request --audience AUD [--expiration-seconds 3600] [--issuer URL] [--skew 10s]
  `+Name+` oidc-token --issuer URL --grant GRANT --client-id ID --audience AUD [flags]
  `+Name+` install --to DIR
  `+Name+` version
  `+Name+` help [COMMAND]

Commands:
  token-file     print the ExecCredential for the token in --file (what ArgoCD runs)
  token-request  print the ExecCredential for a token the TokenRequest API issues
                 for this pod's service account and --audience, bound to the pod
  oidc-token     print the ExecCredential for a token of an OpenID provider the
                 downstream trusts (client credentials, JWT bearer, refresh token)
  install        copy this binary into DIR (an init container filling a shared emptyDir)
  version        print the version

This is the small build, linked with the standard library only so that it
starts as fast as any Go program can; generate and the other commands live in
the full argocd-k8s-federate CLI, which has the same token-file and
token-request commands.
`)
	return 0
}
