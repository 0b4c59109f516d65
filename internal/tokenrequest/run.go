// Package tokenrequest is the network half of the plugin's token-request
// command: it asks the upstream API server's TokenRequest API for a token of
// the pod's own service account. It links net/http and crypto/tls, whose
// package initialisation would slow every token-file exec, so the small
// plugin binary does not link it: its token-request command execs
// argocd-k8s-federate-token-request (plugin.TokenRequestBinary) beside it,
// which does. The full CLI links it too.
package tokenrequest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// Run writes to stdout the ExecCredential for a new token of the
// pod's own service account, for o.Audience and bound to the pod, that it
// asks the upstream API server for with the pod's service-account token
// (re-read on every call), in the apiVersion that KUBERNETES_EXEC_INFO asks
// for. It writes nothing when it fails; its error is one line that names what
// to fix, and never contains a token.
//
// o has been validated (plugin.TokenRequestOptions.Validate) by the command
// that calls it, before any exec.
func Run(o plugin.TokenRequestOptions, env plugin.Env, stdout io.Writer) error {
	apiVersion, err := credential.ParseExecInfo(env.Getenv(credential.ExecInfoEnv))
	if err != nil {
		return fmt.Errorf("%w: client-go sets it from execProviderConfig (apiVersion %s or v1beta1); unset it to run the plugin by hand",
			err, credential.APIVersionV1)
	}
	tok, server, err := Token(o, env)
	if err != nil {
		return err
	}
	expiry, err := o.Policy.Expiry(tok.Claims, env.Now())
	if err != nil {
		return fmt.Errorf("the token the API server %s issued: %w: this machine's clock is far from the API server's", server, err)
	}
	return credential.WriteExecCredential(stdout, apiVersion, tok.Raw, expiry)
}

// Token asks the upstream API server for a new token of the pod's own
// service account, for o.Audience and bound to the pod, and checks it: what
// Run prints, and the assertion of oidc-token's jwt-bearer grant. It also
// returns the API server's URL, for messages.
func Token(o plugin.TokenRequestOptions, env plugin.Env) (credential.Token, *url.URL, error) {
	server, err := serverURL(o, env)
	if err != nil {
		return credential.Token{}, nil, err
	}
	pod, err := readPodToken(o.ServiceAccountTokenFile, env)
	if err != nil {
		return credential.Token{}, nil, err
	}
	roots, err := readCAFile(o.CAFile)
	if err != nil {
		return credential.Token{}, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	raw, err := requestToken(ctx, exchange{server: server, roots: roots, pod: pod, opts: o})
	if err != nil {
		return credential.Token{}, nil, err
	}
	tok, err := credential.ParseToken([]byte(raw))
	if err != nil {
		return credential.Token{}, nil, fmt.Errorf("the token the API server %s issued: %w", server, err)
	}
	if err := checkClaims(o, server, tok.Claims); err != nil {
		return credential.Token{}, nil, err
	}
	return tok, server, nil
}

// serverURL is the API server's URL: --api-server, else the kubernetes
// Service's address that the kubelet puts in every pod's environment, as
// client-go's rest.InClusterConfig builds it.
func serverURL(o plugin.TokenRequestOptions, env plugin.Env) (*url.URL, error) {
	if o.APIServer == "" {
		host, port := env.Getenv(plugin.ServiceHostEnv), env.Getenv(plugin.ServicePortEnv)
		if host == "" {
			return nil, errors.New(plugin.ServiceHostEnv + " is not set, so this is not a pod: token-request runs in the ArgoCD pods of the upstream cluster, where the kubelet sets " +
				plugin.ServiceHostEnv + " and " + plugin.ServicePortEnv + " to the kubernetes Service; elsewhere give --api-server URL")
		}
		if port == "" {
			return nil, fmt.Errorf("%s is not set (%s is %q): the kubelet sets both to the kubernetes Service; give --api-server URL", plugin.ServicePortEnv, plugin.ServiceHostEnv, host)
		}
		u, err := url.Parse("https://" + net.JoinHostPort(host, port))
		if err != nil {
			return nil, fmt.Errorf("%s %q and %s %q do not make a URL: %w; give --api-server URL", plugin.ServiceHostEnv, host, plugin.ServicePortEnv, port, err)
		}
		return u, nil
	}
	u, err := url.Parse(o.APIServer)
	switch {
	case err != nil:
		return nil, fmt.Errorf("--api-server: %w", err)
	case u.Scheme != "https":
		return nil, fmt.Errorf("--api-server %q: the scheme must be https: the request carries the pod's service-account token and gets a token back", u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("--api-server %q: a URL with a user name or password is refused: the pod's own token authenticates", u.Redacted())
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("--api-server %q has no host", o.APIServer)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("--api-server %q: a query or fragment is refused: give the API server's URL (https://HOST:PORT, with a path prefix if it has one)", o.APIServer)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// podToken is the pod's own service-account token and what it says about
// the pod.
type podToken struct {
	file                      string
	raw                       string
	namespace, serviceAccount string
	pod                       credential.ObjectRef
}

// user is the username the API server authenticates the pod's token as.
func (p podToken) user() string {
	return "system:serviceaccount:" + p.namespace + ":" + p.serviceAccount
}

// mountHint is how a pod gets the token that token-request reads.
const mountHint = "token-request needs the token the kubelet mounts in the pod, bound to it: the pod's automountServiceAccountToken must not be false (or mount a projected serviceAccountToken volume at --service-account-token-file)"

// readPodToken reads and checks the pod's own service-account token.
func readPodToken(path string, env plugin.Env) (podToken, error) {
	data, err := credential.ReadTokenFile(path)
	var cerr *credential.Error
	switch {
	case err == nil:
	case errors.As(err, &cerr):
		return podToken{}, fmt.Errorf("the pod's service-account token %q: %w: --service-account-token-file names the wrong file", path, err)
	case errors.Is(err, fs.ErrNotExist):
		return podToken{}, fmt.Errorf("read the pod's service-account token %q: %w: no service-account token is mounted in this container; %s",
			path, fs.ErrNotExist, mountHint)
	case errors.Is(err, syscall.EISDIR):
		return podToken{}, fmt.Errorf("read the pod's service-account token %q: %w: --service-account-token-file must name the token file (default %s), not its directory",
			path, syscall.EISDIR, plugin.InClusterTokenFile)
	case errors.Is(err, fileio.ErrNotRegular):
		return podToken{}, fmt.Errorf("read the pod's service-account token: %w: --service-account-token-file must name the token file (default %s)", err, plugin.InClusterTokenFile)
	case errors.Is(err, fs.ErrPermission):
		return podToken{}, fmt.Errorf("read the pod's service-account token %q: %w for uid %d: let this container's user read it (pod securityContext.fsGroup or runAsUser)",
			path, fs.ErrPermission, os.Getuid())
	default:
		return podToken{}, fmt.Errorf("read the pod's service-account token %q: %w: check --service-account-token-file", path, err)
	}
	tok, err := credential.ParseToken(data)
	if err != nil {
		var problem credential.Problem
		if errors.As(err, &cerr) {
			problem = cerr.Problem
		}
		switch problem {
		case credential.ProblemNoExpiry:
			return podToken{}, fmt.Errorf("the pod's service-account token %q is not bound to a pod: %w, as a legacy Secret token; %s", path, err, mountHint)
		case credential.ProblemMalformed:
			return podToken{}, fmt.Errorf("the pod's service-account token file %q does not hold a JWT: %w: --service-account-token-file names the wrong file", path, err)
		case credential.ProblemEmpty, credential.ProblemTooLarge:
			return podToken{}, fmt.Errorf("the pod's service-account token %q: %w: --service-account-token-file names the wrong file", path, err)
		}
		return podToken{}, fmt.Errorf("the pod's service-account token %q: %w", path, err)
	}
	c := tok.Claims
	if c.Pod.Name == "" || c.Pod.UID == "" {
		return podToken{}, fmt.Errorf("the pod's service-account token %q is not bound to a pod (it has no kubernetes.io.pod claim): it was made by hand (kubectl create token) or for a legacy Secret; %s",
			path, mountHint)
	}
	ns, sa, ok := c.ServiceAccountName()
	if !ok {
		return podToken{}, fmt.Errorf("the pod's service-account token %q names no service account (no kubernetes.io.serviceaccount, and sub %q is not system:serviceaccount:NAMESPACE:NAME); %s",
			path, c.Subject, mountHint)
	}
	if now := env.Now(); !now.Before(c.Expiry) {
		return podToken{}, fmt.Errorf("the pod's service-account token %q expired at %s (%v ago): the kubelet is not refreshing it (a copied token never is); check that --service-account-token-file is the kubelet's mount and that the node's kubelet runs",
			path, c.Expiry.UTC().Format(time.RFC3339), now.Sub(c.Expiry).Truncate(time.Second))
	}
	return podToken{file: path, raw: tok.Raw, namespace: ns, serviceAccount: sa, pod: c.Pod}, nil
}

// readCAFile reads the CA bundle that verifies the API server.
func readCAFile(path string) (*x509.CertPool, error) {
	data, err := fileio.ReadFile(path, fileio.MaxCABundle)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read --ca-file %q: %w: in a pod the kubelet mounts ca.crt beside the service-account token (automountServiceAccountToken); elsewhere give the CA bundle of the upstream API server",
			path, fs.ErrNotExist)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("read --ca-file %q: %w for uid %d", path, fs.ErrPermission, os.Getuid())
	case errors.Is(err, fileio.ErrTooLarge), errors.Is(err, fileio.ErrNotRegular):
		return nil, fmt.Errorf("read --ca-file: %w", err)
	default:
		return nil, fmt.Errorf("read --ca-file %q: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--ca-file %q holds no PEM certificate: give the CA bundle that signed the API server's serving certificate (in a pod: %s)", path, plugin.InClusterCAFile)
	}
	return pool, nil
}

// checkClaims checks that the API server issued what was asked for.
func checkClaims(o plugin.TokenRequestOptions, server *url.URL, c credential.Claims) error {
	if !c.HasAudience(o.Audience) {
		err := &credential.Error{Problem: credential.ProblemAudience,
			Msg: fmt.Sprintf("token is for audience %q, want %q", c.Audience, o.Audience)}
		return fmt.Errorf("the token the API server %s issued: %w: something changed the TokenRequest on its way (a mutating admission webhook?)", server, err)
	}
	if o.Issuer != "" && c.Issuer != o.Issuer {
		err := &credential.Error{Problem: credential.ProblemIssuer,
			Msg: fmt.Sprintf("token was issued by %q, want %q", c.Issuer, o.Issuer)}
		return fmt.Errorf("the token the API server %s issued: %w: the upstream's --service-account-issuer is not --issuer; fix --issuer (or --api-server, if it names another cluster)",
			server, err)
	}
	return nil
}
