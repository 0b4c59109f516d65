// Package doctor diagnoses one downstream of a live federation from where
// ArgoCD runs: the token file, the issuer's discovery, the downstream's
// acceptance of the token and the username it maps it to, the RBAC the
// config promised, and the ArgoCD cluster Secret. Every check yields one
// result, pass, fail or skip, and every failure says how to fix it.
//
// The checks are plain functions of a Target (what the federation config and
// the cluster Secret say) and an Env (the clock, files and network clients),
// so they run against fakes in tests; NewEnv gives the real ones.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// The checks, in the order they run and are reported.
const (
	CheckTokenFile      = "token-file"
	CheckTokenExpiry    = "token-expiry"
	CheckTokenAudience  = "token-audience"
	CheckTokenIssuer    = "token-issuer"
	CheckTokenSubject   = "token-subject"
	CheckDiscovery      = "discovery"
	CheckDiscoveryKeys  = "discovery-keys"
	CheckDownstreamTLS  = "downstream-tls"
	CheckDownstreamAuth = "downstream-auth"
	CheckUsername       = "username"
	CheckRBAC           = "rbac"
	CheckClusterSecret  = "cluster-secret"
)

// Status is the outcome of one check.
type Status string

// The outcomes: skip is for a check that needs an input that was not given
// or a check before it that failed.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one line of the report.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Scope narrows the check: for rbac, the identity and the namespace
	// (or "cluster").
	Scope   string `json:"scope,omitempty"`
	Message string `json:"message"`
	// Fix says what to do, for a failure.
	Fix string `json:"fix,omitempty"`
	// Details are the individual findings (e.g. each denied permission).
	Details []string `json:"details,omitempty"`
}

// Report is the outcome of every check.
type Report struct {
	Downstream string   `json:"downstream"`
	Server     string   `json:"server"`
	Upstream   string   `json:"upstream,omitempty"`
	Workload   string   `json:"workload,omitempty"`
	TokenFile  string   `json:"tokenFile"`
	Checks     []Result `json:"checks"`
	Passed     int      `json:"passed"`
	Failed     int      `json:"failed"`
	Skipped    int      `json:"skipped"`
	// OK is true when no check failed.
	OK bool `json:"ok"`
}

// Result returns the first result of the named check.
func (r *Report) Result(check string) (Result, bool) {
	for _, c := range r.Checks {
		if c.Check == check {
			return c, true
		}
	}
	return Result{}, false
}

// WriteText prints the report for a person: one line per check, the fix
// under each failure, and a summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString("doctor: ")
	if r.Workload != "" {
		fmt.Fprintf(&b, "workload %s, ", r.Workload)
	}
	fmt.Fprintf(&b, "downstream %s (%s)", r.Downstream, r.Server)
	if r.Upstream != "" {
		fmt.Fprintf(&b, " of hub %s", r.Upstream)
	}
	fmt.Fprintf(&b, ", token file %s\n", r.TokenFile)
	for _, c := range r.Checks {
		name := c.Check
		if c.Scope != "" {
			name += " [" + c.Scope + "]"
		}
		fmt.Fprintf(&b, "%-4s  %-16s %s\n", strings.ToUpper(string(c.Status)), name, c.Message)
		if c.Status == Fail {
			for _, d := range c.Details {
				fmt.Fprintf(&b, "      - %s\n", d)
			}
			if c.Fix != "" {
				fmt.Fprintf(&b, "      fix: %s\n", c.Fix)
			}
		}
	}
	fmt.Fprintf(&b, "%d checks: %d passed, %d failed, %d skipped\n", len(r.Checks), r.Passed, r.Failed, r.Skipped)
	_, err := io.WriteString(w, b.String())
	return err
}

// Err is nil when no check failed, and otherwise names the failed checks.
func (r *Report) Err() error {
	if r.OK {
		return nil
	}
	var failed []string
	for _, c := range r.Checks {
		if c.Status == Fail && (len(failed) == 0 || failed[len(failed)-1] != c.Check) {
			failed = append(failed, c.Check)
		}
	}
	return fmt.Errorf("downstream %s: %d check(s) failed: %s", r.Downstream, r.Failed, strings.Join(failed, ", "))
}

// Target is the downstream under diagnosis, as the federation config and
// the cluster Secret describe it.
type Target struct {
	// Name and Server of the downstream.
	Name   string
	Server string
	// CAPEM verifies the downstream's certificate; empty means the system
	// roots.
	CAPEM []byte
	// TokenFile is the projected token, Audience and Issuer what it must
	// carry.
	// TokenFile is "" for a downstream whose tokens the plugin requests
	// (token-request): --token-file gives one.
	TokenFile string
	Audience  string
	Issuer    string
	// IdentityProvider is the issuer of the OpenID provider the plugin gets
	// the tokens from (oidc-token), "" otherwise. Only the cluster Secret
	// is checked for such a downstream yet.
	IdentityProvider string
	// ServiceAccount is the service account whose token is checked (the
	// controller's, or the workload's; "" when unknown), in
	// ServiceAccountNamespace.
	ServiceAccount          string
	ServiceAccountNamespace string
	// Workload is the upstream workload under diagnosis ("" for ArgoCD).
	Workload string
	// Others are the sub claims of the hub's other identities this
	// downstream accepts, each with how to diagnose it instead.
	Others map[string]string

	// Upstream is the hub's name ("" without a config).
	Upstream string
	// ConfigSource is the federation config file ("" without one).
	ConfigSource string
	// DiscoveryURL is where downstreams read the issuer's discovery
	// document, and DiscoveryCAPEM verifies it (empty: system roots).
	// DiscoveryURL is "" when unknown (no config).
	DiscoveryURL   string
	DiscoveryCAPEM []byte
	// Published is set when DiscoveryURL is a published copy (the config's
	// discoveryURL) rather than the issuer itself.
	Published bool
	// UsernamePrefix the downstream puts before sub ("" when unknown).
	UsernamePrefix string
	// Grants are what the config promises the controller and the server
	// (or the workload).
	Grants []config.Grant
	// ArgoCDNamespace is where ArgoCD runs (for hints).
	ArgoCDNamespace string

	// Secret is the cluster Secret ArgoCD uses, when given; Want is what
	// the config says it must be (nil without a config).
	Secret *argocd.ClusterSecret
	Want   *argocd.ClusterSecret
}

// Downstream is the downstream API server, reached with the token as bearer.
type Downstream interface {
	// WhoAmI returns the username the downstream maps the token to
	// (SelfSubjectReview).
	WhoAmI(ctx context.Context) (string, error)
	// Allowed asks whether the token's user may do p
	// (SelfSubjectAccessReview).
	Allowed(ctx context.Context, p Probe) (bool, error)
	// Rules lists what the token's user may do in namespace
	// (SelfSubjectRulesReview).
	Rules(ctx context.Context, namespace string) ([]Rule, error)
}

// Errors a Downstream returns, wrapped.
var (
	ErrUnauthorized = errors.New("401 Unauthorized")
	ErrForbidden    = errors.New("403 Forbidden")
	ErrNotFound     = errors.New("404 Not Found")
)

// Env is what the checks take from the world.
type Env struct {
	Now func() time.Time
	// ReadFile reads the token file.
	ReadFile func(path string) ([]byte, error)
	// HTTPClient returns a client that verifies servers with caPEM (the
	// system roots when empty).
	HTTPClient func(caPEM []byte) (*http.Client, error)
	// Downstream connects to a downstream API server with a bearer token.
	Downstream func(server string, caPEM []byte, token string) (Downstream, error)
}

// Run runs every check against t and reports them all.
func Run(ctx context.Context, t *Target, env Env) *Report {
	r := &runner{t: t, env: env, report: &Report{
		Downstream: t.Name, Server: t.Server, Upstream: t.Upstream, Workload: t.Workload, TokenFile: t.TokenFile,
	}}
	r.run(ctx)
	rep := r.report
	for _, c := range rep.Checks {
		switch c.Status {
		case Pass:
			rep.Passed++
		case Fail:
			rep.Failed++
		case Skip:
			rep.Skipped++
		}
	}
	rep.OK = rep.Failed == 0
	return rep
}

// runner holds what one check hands to the next.
type runner struct {
	t      *Target
	env    Env
	report *Report

	token       string
	sub         string
	tokenUsable bool // the downstream could accept it as far as its claims go
	username    string
	status      map[string]Status
}

func (r *runner) add(res Result) {
	if r.status == nil {
		r.status = map[string]Status{}
	}
	if prev, ok := r.status[res.Check]; !ok || prev != Fail {
		r.status[res.Check] = res.Status
	}
	r.report.Checks = append(r.report.Checks, res)
}

func (r *runner) failed(check string) bool { return r.status[check] == Fail }

// run runs the checks in order, and no more of them once ctx is done.
func (r *runner) run(ctx context.Context) {
	if r.t.IdentityProvider != "" {
		// oidc-token: the token, the provider's discovery and the
		// downstream's view of the provider's tokens are not checked yet.
		why := fmt.Sprintf("not checked yet for %s: the plugin gets this downstream's tokens from the identity provider %s, not from the hub", plugin.OIDCTokenCommand, r.t.IdentityProvider)
		for _, c := range []string{CheckTokenFile, CheckTokenExpiry, CheckTokenAudience, CheckTokenIssuer, CheckTokenSubject,
			CheckDiscovery, CheckDiscoveryKeys, CheckDownstreamTLS, CheckDownstreamAuth, CheckUsername, CheckRBAC} {
			r.add(skip(c, why))
		}
		r.checkSecret()
		return
	}
	for _, check := range []func(context.Context){
		func(context.Context) { r.checkToken() },
		r.checkDiscovery,
		r.checkDownstream,
		func(context.Context) { r.checkSecret() },
	} {
		if ctx.Err() != nil {
			return
		}
		check(ctx)
	}
}

func skip(check, why string) Result { return Result{Check: check, Status: Skip, Message: why} }

// short lists at most n items, then how many more.
func short(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
