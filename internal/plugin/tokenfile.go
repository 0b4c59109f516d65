package plugin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// TokenFileCommand is the command ArgoCD runs: the first of the args in a
// cluster Secret's execProviderConfig.
const TokenFileCommand = "token-file"

// DefaultTokenDir is where the generated projected volume is mounted by
// default; the token of each audience is the file TokenFileName(audience)
// in it, which is also token-file's --file when only --audience is given.
const DefaultTokenDir = "/var/run/secrets/argocd-k8s-federate"

// TokenFileName is the file name, inside the token mount, of the token for
// one audience: the audience with every character that is not safe in a file
// name replaced by '-'.
func TokenFileName(audience string) string {
	b := []byte(audience)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	name := string(b)
	if name == "" || name == "." || name == ".." || name[0] == '.' {
		name = "token-" + name
	}
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

// TokenPath is the path of the token for audience in a mount at dir.
func TokenPath(dir, audience string) string {
	return dir + "/" + TokenFileName(audience)
}

// TokenFileOptions are the flags of token-file.
type TokenFileOptions struct {
	// File is the projected service-account token, re-read on every call.
	File string
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Policy decides the credential's expirationTimestamp.
	Policy credential.Policy
}

// DefaultTokenFileOptions returns the defaults of the flags.
func DefaultTokenFileOptions() TokenFileOptions {
	return TokenFileOptions{Policy: credential.DefaultPolicy()}
}

// Args is the command line that runs token-file with these options, as a
// cluster Secret's execProviderConfig.args: the command, then every flag
// whose value is not its default, in a fixed order. ParseTokenFileArgs
// reads it back.
func (o TokenFileOptions) Args() []string {
	def := DefaultTokenFileOptions()
	return commandLine(TokenFileCommand,
		flagArg{"file", o.File, def.File},
		flagArg{"audience", o.Audience, def.Audience},
		flagArg{"issuer", o.Issuer, def.Issuer},
		flagArg{"skew", o.Policy.Skew.String(), def.Policy.Skew.String()},
		flagArg{"poll-interval", o.Policy.PollInterval.String(), def.Policy.PollInterval.String()})
}

// ParseTokenFileArgs parses a token-file command line (args[0] is the
// command) with the flags the plugin itself parses, as it would.
func ParseTokenFileArgs(args []string) (TokenFileOptions, error) {
	o := DefaultTokenFileOptions()
	return o, tokenFileCommand(Name, &o).parseLine(args)
}

// file is the token file to read: --file, or the token of --audience in
// the default mount.
func (o TokenFileOptions) file() string {
	if o.File == "" && o.Audience != "" {
		return TokenPath(DefaultTokenDir, o.Audience)
	}
	return o.File
}

// AddFlags binds the options to fs, with the current values as defaults.
// (A cobra command can take them with pflag's AddGoFlagSet.)
func (o *TokenFileOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.File, "file", o.File, "the projected service-account token `path`, re-read on every call (default with --audience: "+DefaultTokenDir+"/<audience>, where the generated volume mounts it)")
	fs.StringVar(&o.Audience, "audience", o.Audience,
		"refuse a token whose aud does not contain this `audience` (catches a wrong volume mount)")
	fs.StringVar(&o.Issuer, "issuer", o.Issuer, "refuse a token whose iss is not this issuer `URL`")
	fs.DurationVar(&o.Policy.Skew, "skew", o.Policy.Skew,
		"expire the credential this long before the token's exp")
	fs.DurationVar(&o.Policy.PollInterval, "poll-interval", o.Policy.PollInterval,
		"once the token is past its rotation point, let client-go re-run the plugin this often until the kubelet has replaced the file (at least 1s)")
}

// Validate reports every flag that cannot work.
func (o TokenFileOptions) Validate() error {
	var errs []error
	if o.File == "" && o.Audience == "" {
		errs = append(errs, errors.New("--file is required: the projected token file (or --audience alone, whose token the generated volume mounts at "+DefaultTokenDir+"/<audience>)"))
	}
	if o.Policy.PollInterval < time.Second {
		errs = append(errs, fmt.Errorf("--poll-interval %v must be at least 1s", o.Policy.PollInterval))
	}
	return finishValidate(errs, 1, o.Policy)
}

// finishValidate adds the checks every command's flags share to errs: a
// positive --timeout (when the command has one) and a --skew that is not
// negative; then the policy's own, once the flags are right.
func finishValidate(errs []error, timeout time.Duration, p credential.Policy) error {
	if timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %v must be positive", timeout))
	}
	if p.Skew < 0 {
		errs = append(errs, fmt.Errorf("--skew %v must not be negative", p.Skew))
	}
	if len(errs) > 0 {
		return joinLine(errs)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("invalid expiry policy: %w", err)
	}
	return nil
}

// joinLine joins errors on one line, unlike errors.Join.
func joinLine(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msg := errs[0].Error()
	for _, e := range errs[1:] {
		msg += "; " + e.Error()
	}
	return errors.New(msg)
}

// TokenFile writes to stdout the ExecCredential for the token in o.File, in
// the apiVersion that KUBERNETES_EXEC_INFO asks for. It writes nothing when it
// fails; its error is one line that names the file and the likely fix, and
// never contains the token.
func TokenFile(o TokenFileOptions, env Env, stdout io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	apiVersion, err := credential.ParseExecInfo(env.Getenv(credential.ExecInfoEnv))
	if err != nil {
		return fmt.Errorf("%w: client-go sets it from execProviderConfig (apiVersion %s or v1beta1); unset it to run the plugin by hand",
			err, credential.APIVersionV1)
	}
	file := o.file()
	data, err := readTokenFile(file)
	if err != nil {
		return err
	}
	tok, err := credential.ParseToken(data)
	if err != nil {
		return explainToken(file, err)
	}
	if err := o.checkClaims(file, tok.Claims); err != nil {
		return err
	}
	expiry, err := o.Policy.Expiry(tok.Claims, env.Now())
	if err != nil {
		return explainToken(file, err)
	}
	return credential.WriteExecCredential(stdout, apiVersion, tok.Raw, expiry)
}

// readTokenFile reads the token file and explains why it cannot.
func readTokenFile(path string) ([]byte, error) {
	// (It reads a missing file twice: the kubelet's swap of the volume.)
	data, err := credential.ReadTokenFile(path)
	var cerr *credential.Error
	switch {
	case err == nil:
		return data, nil
	case errors.As(err, &cerr):
		return nil, explainToken(path, err)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read token file %q: %w: the projected serviceAccountToken volume is not mounted in this container, or --file names the wrong path",
			path, fs.ErrNotExist)
	case errors.Is(err, syscall.EISDIR):
		return nil, fmt.Errorf("read token file %q: %w: --file must name the token file inside the projected volume (its mountPath joined with the serviceAccountToken path), not the directory",
			path, syscall.EISDIR)
	case errors.Is(err, fileio.ErrNotRegular):
		return nil, fmt.Errorf("read token file: %w: --file must name the token file inside the projected serviceAccountToken volume", err)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("read token file %q: %w for uid %d: let this container's user read the projected volume (pod securityContext.fsGroup or runAsUser, or the volume's defaultMode)",
			path, fs.ErrPermission, os.Getuid())
	}
	return nil, fmt.Errorf("read token file %q: %w: check --file and the projected serviceAccountToken volume", path, err)
}

// explainToken adds the file and the likely fix to an error of the
// credential package.
func explainToken(path string, err error) error {
	var cerr *credential.Error
	if !errors.As(err, &cerr) {
		return fmt.Errorf("token file %q: %w", path, err)
	}
	switch cerr.Problem {
	case credential.ProblemEmpty:
		return fmt.Errorf("token file %q: %w: the kubelet writes a whole token at once, so --file names the wrong file", path, err)
	case credential.ProblemTooLarge:
		return fmt.Errorf("token file %q: %w (a service-account token is about 1 KiB): --file names the wrong file", path, err)
	case credential.ProblemMalformed:
		return fmt.Errorf("token file %q does not hold a JWT: %w: --file must name a projected serviceAccountToken file", path, err)
	case credential.ProblemNoExpiry:
		return fmt.Errorf("token file %q: %w: it is not a bound service-account token (legacy Secret tokens never expire); point --file at a projected serviceAccountToken volume",
			path, err)
	case credential.ProblemExpired:
		return fmt.Errorf("token file %q: %w: the kubelet is not refreshing it; check that the pod mounts the projected serviceAccountToken volume at this path (a copied token is never refreshed) and that the node's kubelet runs",
			path, err)
	}
	return fmt.Errorf("token file %q: %w", path, err)
}

// checkClaims applies --audience and --issuer.
func (o TokenFileOptions) checkClaims(file string, c credential.Claims) error {
	if o.Audience != "" && !c.HasAudience(o.Audience) {
		err := &credential.Error{Problem: credential.ProblemAudience,
			Msg: fmt.Sprintf("token is for audience %q, want %q", c.Audience, o.Audience)}
		if len(c.Audience) == 0 {
			err.Msg = fmt.Sprintf("token has no aud claim, want %q", o.Audience)
		}
		return fmt.Errorf("token file %q: %w: the volume mounted there holds another downstream's token; mount the projected token whose serviceAccountToken.audience is %q, or fix --audience",
			file, err, o.Audience)
	}
	if o.Issuer != "" && c.Issuer != o.Issuer {
		err := &credential.Error{Problem: credential.ProblemIssuer,
			Msg: fmt.Sprintf("token was issued by %q, want %q", c.Issuer, o.Issuer)}
		if c.Issuer == "" {
			err.Msg = fmt.Sprintf("token has no iss claim, want %q", o.Issuer)
		}
		return fmt.Errorf("token file %q: %w: the token comes from another issuer; check the upstream's --service-account-issuer and the volume mount, or fix --issuer",
			file, err)
	}
	return nil
}
