package plugin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
)

// OIDCTokenCommand is the command that gets the downstream's token from an
// OpenID provider (the company's Keycloak, Entra ID, Okta, Hydra) that the
// downstream trusts, instead of a service-account token of the hub.
const OIDCTokenCommand = "oidc-token"

// The grants oidc-token can use (--grant).
const (
	// GrantClientCredentials: the client's id and a secret read from a file
	// (a mounted Secret), never from the command line.
	GrantClientCredentials = "client-credentials"
	// GrantJWTBearer: RFC 7523, a service-account token of the hub as the
	// assertion; the provider trusts the hub's issuer, so there is no client
	// secret anywhere.
	GrantJWTBearer = "jwt-bearer"
	// GrantRefreshToken: a refresh token kept in a file, which the plugin
	// rewrites atomically, under a lock, when the provider rotates it.
	GrantRefreshToken = "refresh-token"
)

// Grants are the values of --grant.
var Grants = []string{GrantClientCredentials, GrantJWTBearer, GrantRefreshToken}

// The tokens of a provider's answer that oidc-token can hand to client-go
// (--token).
const (
	// TokenAccess is the access token, which must be a JWT (Keycloak, Entra
	// ID and Okta issue JWTs; Hydra with strategies.access_token jwt).
	TokenAccess = "access-token"
	// TokenID is the OpenID Connect ID token, whose aud is the client id.
	TokenID = "id-token"
)

// OIDCTokenOptions are the flags of oidc-token.
type OIDCTokenOptions struct {
	// Issuer is the provider's issuer URL (https): its discovery document
	// is at Issuer + "/.well-known/openid-configuration", and every token
	// it issues must carry iss = Issuer.
	Issuer string
	// Grant is one of Grants.
	Grant string
	// ClientID of the provider's client.
	ClientID string
	// ClientSecretFile holds the client secret (client-credentials; a
	// confidential client of the other grants). Never given in the args.
	ClientSecretFile string
	// Audience the downstream accepts: asked for with the token request's
	// audience parameter (unless it is the client id, the grant is
	// refresh-token or Token is TokenID) and required in the token's aud.
	Audience string
	// Scope is the space-separated scope parameter.
	Scope string
	// Token is which token of the answer is the credential: TokenAccess
	// (default) or TokenID.
	Token string
	// CAFile verifies the provider; "" uses the system roots.
	CAFile string

	// AssertionFile is the jwt-bearer assertion: a token file (a projected
	// service-account token whose audience is the provider's). A provider
	// that refuses a reused assertion (jti) needs AssertionAudience instead.
	AssertionFile string
	// AssertionAudience makes the jwt-bearer assertion a new token of the
	// pod's own service account for this audience, from the upstream's
	// TokenRequest API, on every exec (see TokenRequestOptions for the
	// fields below).
	AssertionAudience string
	// APIServer, ServiceAccountTokenFile and APIServerCAFile are how the
	// assertion is requested (TokenRequest's --api-server,
	// --service-account-token-file and --ca-file).
	APIServer               string
	ServiceAccountTokenFile string
	APIServerCAFile         string

	// RefreshTokenFile holds the refresh token (refresh-token): read and,
	// when the provider rotates it, rewritten under a lock.
	RefreshTokenFile string

	// Timeout bounds the whole exchange.
	Timeout time.Duration
	// Policy decides the credential's expirationTimestamp from the token.
	Policy credential.Policy
}

// DefaultOIDCTokenOptions returns the defaults of the flags.
func DefaultOIDCTokenOptions() OIDCTokenOptions {
	return OIDCTokenOptions{
		Token:                   TokenAccess,
		ServiceAccountTokenFile: InClusterTokenFile,
		APIServerCAFile:         InClusterCAFile,
		Timeout:                 10 * time.Second,
		Policy:                  credential.DefaultPolicy(),
	}
}

// Args is the command line that runs oidc-token with these options, as a
// cluster Secret's execProviderConfig.args or a kubeconfig's exec: the
// command, then every flag whose value is not its default, in a fixed
// order. ParseOIDCTokenArgs reads it back.
func (o OIDCTokenOptions) Args() []string {
	def := DefaultOIDCTokenOptions()
	return commandLine(OIDCTokenCommand,
		flagArg{"issuer", o.Issuer, def.Issuer},
		flagArg{"grant", o.Grant, def.Grant},
		flagArg{"client-id", o.ClientID, def.ClientID},
		flagArg{"client-secret-file", o.ClientSecretFile, def.ClientSecretFile},
		flagArg{"audience", o.Audience, def.Audience},
		flagArg{"scope", o.Scope, def.Scope},
		flagArg{"token", o.Token, def.Token},
		flagArg{"ca-file", o.CAFile, def.CAFile},
		flagArg{"assertion-file", o.AssertionFile, def.AssertionFile},
		flagArg{"assertion-audience", o.AssertionAudience, def.AssertionAudience},
		flagArg{"api-server", o.APIServer, def.APIServer},
		flagArg{"service-account-token-file", o.ServiceAccountTokenFile, def.ServiceAccountTokenFile},
		flagArg{"api-server-ca-file", o.APIServerCAFile, def.APIServerCAFile},
		flagArg{"refresh-token-file", o.RefreshTokenFile, def.RefreshTokenFile},
		flagArg{"timeout", o.Timeout.String(), def.Timeout.String()},
		flagArg{"skew", o.Policy.Skew.String(), def.Policy.Skew.String()})
}

// ParseOIDCTokenArgs parses an oidc-token command line (args[0] is the
// command) with the flags the plugin itself parses, as it would.
func ParseOIDCTokenArgs(args []string) (OIDCTokenOptions, error) {
	o := DefaultOIDCTokenOptions()
	return o, oidcTokenCommand(Name, &o).parseLine(args)
}

// AddFlags binds the options to fs, with the current values as defaults.
func (o *OIDCTokenOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Issuer, "issuer", o.Issuer, "the OpenID provider's issuer `URL` (https); its discovery document names the token endpoint (required)")
	fs.StringVar(&o.Grant, "grant", o.Grant, "how to get the token: "+strings.Join(Grants, ", ")+" (required)")
	fs.StringVar(&o.ClientID, "client-id", o.ClientID, "the provider's client `id` (required)")
	fs.StringVar(&o.ClientSecretFile, "client-secret-file", o.ClientSecretFile,
		"the `path` of the client secret (a mounted Secret); required by client-credentials; never give the secret itself")
	fs.StringVar(&o.Audience, "audience", o.Audience,
		"the `audience` the downstream accepts: asked for with the audience parameter (not with refresh-token or --token id-token, nor when it is the client id) and required in the token's aud (required)")
	fs.StringVar(&o.Scope, "scope", o.Scope, "the scope parameter (`space-separated`)")
	fs.StringVar(&o.Token, "token", o.Token, "which token of the answer is the credential: "+TokenAccess+" (a JWT) or "+TokenID)
	fs.StringVar(&o.CAFile, "ca-file", o.CAFile, "the CA bundle `path` that verifies the provider (default: the system roots)")
	fs.StringVar(&o.AssertionFile, "assertion-file", o.AssertionFile,
		"jwt-bearer: the assertion's `path`, a token file re-read on every call (a projected service-account token for the provider's audience)")
	fs.StringVar(&o.AssertionAudience, "assertion-audience", o.AssertionAudience,
		"jwt-bearer: request a new token of this pod's service account for this `audience` (the provider's) as the assertion, on every call")
	fs.StringVar(&o.APIServer, "api-server", o.APIServer,
		"jwt-bearer with --assertion-audience: the upstream API server `URL` (default https://$"+ServiceHostEnv+":$"+ServicePortEnv+")")
	fs.StringVar(&o.ServiceAccountTokenFile, "service-account-token-file", o.ServiceAccountTokenFile,
		"jwt-bearer with --assertion-audience: the pod's own service-account token `path`")
	fs.StringVar(&o.APIServerCAFile, "api-server-ca-file", o.APIServerCAFile,
		"jwt-bearer with --assertion-audience: the CA bundle `path` that verifies the upstream API server")
	fs.StringVar(&o.RefreshTokenFile, "refresh-token-file", o.RefreshTokenFile,
		"refresh-token: the `path` of the refresh token, rewritten (atomically, under a lock) when the provider rotates it")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up on the provider after this long")
	fs.DurationVar(&o.Policy.Skew, "skew", o.Policy.Skew, "expire the credential this long before the token's exp")
}

// Validate reports every flag that cannot work.
func (o OIDCTokenOptions) Validate() error {
	var errs []error
	if err := checkIssuer(o.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("--issuer: %w", err))
	}
	if o.ClientID == "" {
		errs = append(errs, errors.New("--client-id is required: the provider's client that ArgoCD (or this workload) uses"))
	}
	if o.Audience == "" {
		errs = append(errs, errors.New("--audience is required: the audience the downstream's AuthenticationConfiguration lists for this provider"))
	}
	switch o.Token {
	case TokenAccess:
	case TokenID:
		if o.Audience != "" && o.Audience != o.ClientID {
			errs = append(errs, fmt.Errorf("--token %s: an ID token's aud is the client id %q, so --audience %q can never match: make --audience the client id, or use --token %s",
				TokenID, o.ClientID, o.Audience, TokenAccess))
		}
	default:
		errs = append(errs, fmt.Errorf("--token %q: use %s or %s", o.Token, TokenAccess, TokenID))
	}
	assertion := o.AssertionFile != "" || o.AssertionAudience != ""
	switch o.Grant {
	case GrantClientCredentials:
		if o.ClientSecretFile == "" {
			errs = append(errs, errors.New("--grant client-credentials needs --client-secret-file: the path of the client secret, mounted from a Secret (the secret itself never goes on the command line)"))
		}
		if o.Token == TokenID {
			errs = append(errs, errors.New("--grant client-credentials issues no ID token: use --token access-token"))
		}
	case GrantJWTBearer:
		if o.AssertionFile != "" && o.AssertionAudience != "" {
			errs = append(errs, errors.New("--grant jwt-bearer takes one of --assertion-file and --assertion-audience, not both"))
		} else if !assertion {
			errs = append(errs, errors.New("--grant jwt-bearer needs its assertion: --assertion-audience AUD (a new token of this pod's service account per call, for the provider's audience) or --assertion-file PATH"))
		}
		if o.Token == TokenID {
			errs = append(errs, errors.New("--grant jwt-bearer issues no ID token at most providers: use --token access-token"))
		}
	case GrantRefreshToken:
		if o.RefreshTokenFile == "" {
			errs = append(errs, errors.New("--grant refresh-token needs --refresh-token-file: the file that keeps the refresh token (the plugin rewrites it when the provider rotates it)"))
		}
	case "":
		errs = append(errs, errors.New("--grant is required: "+strings.Join(Grants, ", ")))
	default:
		errs = append(errs, fmt.Errorf("--grant %q: use one of %s", o.Grant, strings.Join(Grants, ", ")))
	}
	if o.Grant != GrantJWTBearer && assertion {
		errs = append(errs, fmt.Errorf("--assertion-file and --assertion-audience belong to --grant jwt-bearer, not %q", o.Grant))
	}
	if o.Grant != GrantRefreshToken && o.RefreshTokenFile != "" {
		errs = append(errs, fmt.Errorf("--refresh-token-file belongs to --grant refresh-token, not %q", o.Grant))
	}
	if o.AssertionAudience != "" {
		if o.ServiceAccountTokenFile == "" {
			errs = append(errs, errors.New("--service-account-token-file must not be empty (default "+InClusterTokenFile+")"))
		}
		if o.APIServerCAFile == "" {
			errs = append(errs, errors.New("--api-server-ca-file must not be empty (default "+InClusterCAFile+")"))
		}
	}
	return finishValidate(errs, o.Timeout, o.Policy)
}

// AssertionRequest is the TokenRequest that makes the jwt-bearer
// assertion when --assertion-audience is set: a token of the pod's own
// service account for the provider's audience only, bound to the pod, for
// the shortest lifetime the API server grants. The downstream's audience is
// asked of the provider (the audience parameter), not put in the assertion.
func (o OIDCTokenOptions) AssertionRequest() TokenRequestOptions {
	t := DefaultTokenRequestOptions()
	t.Audience = o.AssertionAudience
	t.ExpirationSeconds = MinExpirationSeconds
	t.APIServer = o.APIServer
	t.ServiceAccountTokenFile = o.ServiceAccountTokenFile
	t.CAFile = o.APIServerCAFile
	t.Timeout = o.Timeout
	return t
}

// checkIssuer is the plugin's own check of --issuer, without net/url (the
// small plugin does not link it): https, a host, no user, query or
// fragment. The network half parses it fully (oidc.CheckIssuerURL) before
// it sends anything.
func checkIssuer(issuer string) error {
	rest, ok := strings.CutPrefix(issuer, "https://")
	host, _, _ := strings.Cut(rest, "/")
	switch {
	case issuer == "":
		return errors.New("required: the provider's issuer URL, exactly as the iss claim of its tokens (https://...)")
	case !ok:
		return fmt.Errorf("%q: the scheme must be https", issuer)
	case host == "" || strings.HasPrefix(host, ":"):
		return fmt.Errorf("%q has no host", issuer)
	case strings.Contains(host, "@"):
		return errors.New("a URL with a user name or password is refused")
	case strings.ContainsAny(rest, "?#"):
		return fmt.Errorf("%q: an issuer has no query or fragment", issuer)
	}
	return nil
}

func oidcTokenCommand(prog string, o *OIDCTokenOptions) *command {
	c := newCommand(prog, OIDCTokenCommand, OIDCTokenCommand+" --issuer URL --grant GRANT --client-id ID --audience AUD [flags]",
		`Gets a token from an OpenID provider that the downstream trusts (the
company's identity provider) and prints a client.authentication.k8s.io
ExecCredential for it, in the apiVersion that client-go asks for in
KUBERNETES_EXEC_INFO (v1 when unset). The provider's token endpoint comes
from its discovery document (--issuer + /.well-known/openid-configuration).

Grants:
  client-credentials  the client id and the secret in --client-secret-file
  jwt-bearer          RFC 7523: a service-account token of the hub is the
                      assertion (--assertion-audience: a new one per call from
                      the TokenRequest API; --assertion-file: a token file);
                      the provider trusts the hub's issuer, no secret anywhere
  refresh-token       the refresh token in --refresh-token-file; when the
                      provider rotates it, the file is rewritten atomically
                      under a lock, so concurrent calls never lose it

The token (--token: the access token, which must be a JWT, or the ID token)
must be issued by --issuer for --audience; the credential's
expirationTimestamp makes client-go run the plugin again at 80% of its
lifetime, never later than exp minus --skew. Errors quote the provider's
error and error_description; no secret or token is ever printed.

Example (an ArgoCD cluster Secret's config):
  "execProviderConfig": {
    "command": "/plugins/`+Name+`",
    "args": ["oidc-token", "--issuer", "https://login.example.com/realms/platform",
             "--grant", "client-credentials", "--client-id", "argocd-hub",
             "--client-secret-file", "/var/run/secrets/argocd-k8s-federate-oidc/client-secret",
             "--audience", "downstream-a"],
    "apiVersion": "client.authentication.k8s.io/v1"
  }
`)
	o.AddFlags(c.flags)
	return c
}

// OIDCRequester gets the token from the provider: set by the builds that
// link the network half (argocd-k8s-federate-token-request and the full
// CLI). When nil, oidc-token execs TokenRequestBinary beside this binary.
var OIDCRequester func(o OIDCTokenOptions, env Env, stdout io.Writer) error

func runOIDCToken(prog string, args []string, env Env, stdout, stderr io.Writer) int {
	o := DefaultOIDCTokenOptions()
	c := oidcTokenCommand(prog, &o)
	if code, done := c.parse(args, stdout, stderr); done {
		return code
	}
	if err := o.Validate(); err != nil {
		return c.fail(stderr, err)
	}
	if OIDCRequester == nil {
		return c.fail(stderr, execNetworkHalf(OIDCTokenCommand, args))
	}
	if err := OIDCRequester(o, env, stdout); err != nil {
		return c.fail(stderr, err)
	}
	return 0
}
