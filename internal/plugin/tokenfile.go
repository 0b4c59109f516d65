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
)

// DefaultTokenFile is where the generated projected volume mounts the token.
const DefaultTokenFile = "/var/run/secrets/tokens/federated-token"

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
	return TokenFileOptions{File: DefaultTokenFile, Policy: credential.DefaultPolicy()}
}

// AddFlags binds the options to fs, with the current values as defaults.
// (A cobra command can take them with pflag's AddGoFlagSet.)
func (o *TokenFileOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.File, "file", o.File, "the projected service-account token `path`, re-read on every call")
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
	if o.File == "" {
		errs = append(errs, errors.New("--file must not be empty"))
	}
	if o.Policy.Skew < 0 {
		errs = append(errs, fmt.Errorf("--skew %v must not be negative", o.Policy.Skew))
	}
	if o.Policy.PollInterval < time.Second {
		errs = append(errs, fmt.Errorf("--poll-interval %v must be at least 1s", o.Policy.PollInterval))
	}
	if len(errs) > 0 {
		return joinLine(errs)
	}
	if err := o.Policy.Validate(); err != nil {
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
	data, err := readTokenFile(o.File)
	if err != nil {
		return err
	}
	tok, err := credential.ParseToken(data)
	if err != nil {
		return explainToken(o.File, err)
	}
	if err := o.checkClaims(tok.Claims); err != nil {
		return err
	}
	expiry, err := o.Policy.Expiry(tok.Claims, env.Now())
	if err != nil {
		return explainToken(o.File, err)
	}
	out, err := credential.NewExecCredential(apiVersion, tok.Raw, expiry).Marshal()
	if err != nil {
		return fmt.Errorf("encode ExecCredential: %w", err)
	}
	if _, err := stdout.Write(out); err != nil {
		return fmt.Errorf("write ExecCredential to stdout: %w", err)
	}
	return nil
}

// readTokenFile reads at most one byte more than a token may have.
func readTokenFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err == nil {
		var data []byte
		data, err = io.ReadAll(io.LimitReader(f, credential.MaxTokenSize+1))
		f.Close()
		if err == nil {
			return data, nil
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read token file %q: %w: the projected serviceAccountToken volume is not mounted in this container, or --file names the wrong path",
			path, fs.ErrNotExist)
	case errors.Is(err, syscall.EISDIR):
		return nil, fmt.Errorf("read token file %q: %w: --file must name the token file inside the projected volume (its mountPath joined with the serviceAccountToken path), not the directory",
			path, syscall.EISDIR)
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
func (o TokenFileOptions) checkClaims(c credential.Claims) error {
	if o.Audience != "" && !c.HasAudience(o.Audience) {
		err := &credential.Error{Problem: credential.ProblemAudience,
			Msg: fmt.Sprintf("token is for audience %q, want %q", c.Audience, o.Audience)}
		if len(c.Audience) == 0 {
			err.Msg = fmt.Sprintf("token has no aud claim, want %q", o.Audience)
		}
		return fmt.Errorf("token file %q: %w: the volume mounted there holds another downstream's token; mount the projected token whose serviceAccountToken.audience is %q, or fix --audience",
			o.File, err, o.Audience)
	}
	if o.Issuer != "" && c.Issuer != o.Issuer {
		err := &credential.Error{Problem: credential.ProblemIssuer,
			Msg: fmt.Sprintf("token was issued by %q, want %q", c.Issuer, o.Issuer)}
		if c.Issuer == "" {
			err.Msg = fmt.Sprintf("token has no iss claim, want %q", o.Issuer)
		}
		return fmt.Errorf("token file %q: %w: the token comes from another issuer; check the upstream's --service-account-issuer and the volume mount, or fix --issuer",
			o.File, err)
	}
	return nil
}
