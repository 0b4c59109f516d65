package plugin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
)

// TokenRequestCommand is the command ArgoCD runs for a downstream whose
// token source is the TokenRequest API: the plugin asks the upstream API
// server for a token of its pod's own service account, for the downstream's
// audience, bound to the pod.
const TokenRequestCommand = "token-request"

// The standard in-cluster paths every pod with a service-account token
// mount has (automountServiceAccountToken), and the variables the kubelet
// sets for the kubernetes Service.
const (
	InClusterTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	InClusterCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
	ServiceHostEnv     = "KUBERNETES_SERVICE_HOST"
	ServicePortEnv     = "KUBERNETES_SERVICE_PORT"
)

// The bounds of a TokenRequest's expirationSeconds: the API server refuses
// less than ten minutes; more than a day is never asked for.
const (
	MinExpirationSeconds     = 600
	MaxExpirationSeconds     = 86400
	DefaultExpirationSeconds = 3600
)

// TokenRequestOptions are the flags of token-request.
type TokenRequestOptions struct {
	// Audience the token is requested for (required): the downstream's.
	Audience string
	// ExpirationSeconds asked of the API server.
	ExpirationSeconds int64
	// Issuer, when set, must equal the new token's iss.
	Issuer string
	// APIServer is the upstream API server's URL; "" means
	// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.
	APIServer string
	// ServiceAccountTokenFile is the pod's own service-account token, which
	// authenticates the request and names the pod the new token is bound to.
	ServiceAccountTokenFile string
	// CAFile verifies the API server.
	CAFile string
	// Timeout bounds the whole request.
	Timeout time.Duration
	// Policy decides the credential's expirationTimestamp from the new
	// token (its rotation point, 80% of the TTL, is when client-go asks
	// again).
	Policy credential.Policy
}

// DefaultTokenRequestOptions returns the defaults of the flags.
func DefaultTokenRequestOptions() TokenRequestOptions {
	return TokenRequestOptions{
		ExpirationSeconds:       DefaultExpirationSeconds,
		ServiceAccountTokenFile: InClusterTokenFile,
		CAFile:                  InClusterCAFile,
		Timeout:                 10 * time.Second,
		Policy:                  credential.DefaultPolicy(),
	}
}

// Args is the command line that runs token-request with these options, as
// a cluster Secret's execProviderConfig.args: the command, then every flag
// whose value is not its default, in a fixed order. ParseTokenRequestArgs
// reads it back.
func (o TokenRequestOptions) Args() []string {
	def := DefaultTokenRequestOptions()
	return commandLine(TokenRequestCommand,
		flagArg{"audience", o.Audience, def.Audience},
		flagArg{"expiration-seconds", fmt.Sprint(o.ExpirationSeconds), fmt.Sprint(def.ExpirationSeconds)},
		flagArg{"issuer", o.Issuer, def.Issuer},
		flagArg{"api-server", o.APIServer, def.APIServer},
		flagArg{"service-account-token-file", o.ServiceAccountTokenFile, def.ServiceAccountTokenFile},
		flagArg{"ca-file", o.CAFile, def.CAFile},
		flagArg{"timeout", o.Timeout.String(), def.Timeout.String()},
		flagArg{"skew", o.Policy.Skew.String(), def.Policy.Skew.String()})
}

// ParseTokenRequestArgs parses a token-request command line (args[0] is
// the command) with the flags the plugin itself parses, as it would.
func ParseTokenRequestArgs(args []string) (TokenRequestOptions, error) {
	o := DefaultTokenRequestOptions()
	return o, tokenRequestCommand(Name, &o).parseLine(args)
}

// AddFlags binds the options to fs, with the current values as defaults.
func (o *TokenRequestOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Audience, "audience", o.Audience, "the `audience` to request the token for: the downstream's (required)")
	fs.Int64Var(&o.ExpirationSeconds, "expiration-seconds", o.ExpirationSeconds,
		fmt.Sprintf("the token's lifetime to ask for, in `seconds` (%d to %d); client-go asks again at 80%% of it", MinExpirationSeconds, MaxExpirationSeconds))
	fs.StringVar(&o.Issuer, "issuer", o.Issuer, "refuse a token whose iss is not this issuer `URL`")
	fs.StringVar(&o.APIServer, "api-server", o.APIServer,
		"the upstream API server `URL` (default https://$"+ServiceHostEnv+":$"+ServicePortEnv+", as in every pod)")
	fs.StringVar(&o.ServiceAccountTokenFile, "service-account-token-file", o.ServiceAccountTokenFile,
		"the pod's own service-account token `path`: it authenticates the request and names the pod the new token is bound to")
	fs.StringVar(&o.CAFile, "ca-file", o.CAFile, "the CA bundle `path` that verifies the API server")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up on the API server after this long")
	fs.DurationVar(&o.Policy.Skew, "skew", o.Policy.Skew, "expire the credential this long before the token's exp")
}

// Validate reports every flag that cannot work.
func (o TokenRequestOptions) Validate() error {
	var errs []error
	if o.Audience == "" {
		errs = append(errs, errors.New("--audience is required: the downstream's audience, which its API server's AuthenticationConfiguration lists"))
	}
	if o.ExpirationSeconds < MinExpirationSeconds || o.ExpirationSeconds > MaxExpirationSeconds {
		errs = append(errs, fmt.Errorf("--expiration-seconds %d must be between %d and %d", o.ExpirationSeconds, MinExpirationSeconds, MaxExpirationSeconds))
	}
	if o.ServiceAccountTokenFile == "" {
		errs = append(errs, errors.New("--service-account-token-file must not be empty (default "+InClusterTokenFile+")"))
	}
	if o.CAFile == "" {
		errs = append(errs, errors.New("--ca-file must not be empty (default "+InClusterCAFile+")"))
	}
	return finishValidate(errs, o.Timeout, o.Policy)
}

func tokenRequestCommand(prog string, o *TokenRequestOptions) *command {
	c := newCommand(prog, TokenRequestCommand, TokenRequestCommand+" --audience AUD [--expiration-seconds 3600] [--issuer URL] [--skew 10s]",
		`Asks the upstream API server (the TokenRequest API) for a token of this
pod's own service account with --audience, bound to this pod, and prints a
client.authentication.k8s.io ExecCredential for it, in the apiVersion that
client-go asks for in KUBERNETES_EXEC_INFO (v1 when unset). It runs inside
the ArgoCD pod: the pod's service-account token authenticates the request
and names the pod (its name and uid are claims of that token), so the pod
spec needs no volume per downstream and adding a downstream restarts nothing.

The credential's expirationTimestamp makes client-go run the plugin again at
80% of the token's lifetime, never later than exp minus --skew. The service
account needs "create" on serviceaccounts/token for itself (the Role generate
writes), and admission lets it ask only for its downstreams' audiences.

Example (an ArgoCD cluster Secret's config):
  "execProviderConfig": {
    "command": "/plugins/`+Name+`",
    "args": ["token-request", "--audience", "downstream-a"],
    "apiVersion": "client.authentication.k8s.io/v1"
  }
`)
	o.AddFlags(c.flags)
	return c
}

// The upstream objects that let a pod's service account use token-request,
// named here because the plugin's errors name them and generate writes them.
const (
	// TokenRequestFile is the file, in upstream/<hub>/, that holds the Roles
	// and RoleBindings (and the admission policy that fences the audiences).
	TokenRequestFile = "token-request.yaml"
	// AudiencesConfigMap lists, as its data keys, the audiences the hub's
	// service accounts may request tokens for.
	AudiencesConfigMap = "argocd-k8s-federate-token-audiences"
	// AudiencesFile is the file, in upstream/<hub>/, of AudiencesConfigMap.
	AudiencesFile = "token-audiences.yaml"
)

// TokenRequestRoleName is the Role that lets serviceAccount create tokens
// for itself, and only for itself.
func TokenRequestRoleName(serviceAccount string) string {
	return "argocd-k8s-federate-token-" + serviceAccount
}

// TokenRequestBinary is the binary, beside this one, that does the network
// half of token-request: the small plugin execs it, so that its own
// token-file path links neither net/http nor crypto/tls (whose package
// initialisation would cost every exec). The plugin image ships both, and
// install copies both.
const TokenRequestBinary = "argocd-k8s-federate-token-request"

// TokenRequester asks the API server for the token: set by the builds that
// link the network half (argocd-k8s-federate-token-request and the full
// CLI). When nil, token-request execs TokenRequestBinary beside this binary.
var TokenRequester func(o TokenRequestOptions, env Env, stdout io.Writer) error

func runTokenRequest(prog string, args []string, env Env, stdout, stderr io.Writer) int {
	o := DefaultTokenRequestOptions()
	c := tokenRequestCommand(prog, &o)
	if code, done := c.parse(args, stdout, stderr); done {
		return code
	}
	if err := o.Validate(); err != nil {
		return c.fail(stderr, err)
	}
	if TokenRequester == nil {
		return c.fail(stderr, execNetworkHalf(TokenRequestCommand, args))
	}
	if err := TokenRequester(o, env, stdout); err != nil {
		return c.fail(stderr, err)
	}
	return 0
}

// execNetworkHalf replaces this process with TokenRequestBinary, beside
// this binary, running cmd (token-request, oidc-token) with the same
// arguments; it returns only when it cannot.
func execNetworkHalf(cmd string, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this binary to run %s beside it: %w", TokenRequestBinary, err)
	}
	path := filepath.Join(filepath.Dir(self), TokenRequestBinary)
	err = syscall.Exec(path, append([]string{path, cmd}, args...), os.Environ())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing: "+cmd+" runs it from beside this binary; the plugin image ships both and install --to DIR copies both (with delivery Preinstalled, put it next to %s)", path, self)
	}
	return fmt.Errorf("run %s: %w", path, err)
}
