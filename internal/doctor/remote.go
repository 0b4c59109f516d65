package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
)

// checkDiscovery runs discovery and discovery-keys: the issuer's discovery,
// read from here as a downstream reads it, and the token's signing key in it.
func (r *runner) checkDiscovery(ctx context.Context) {
	t := r.t
	if t.DiscoveryURL == "" {
		r.add(skip(CheckDiscovery, "where downstreams read the issuer's discovery is in the federation config (give -f)"))
		r.add(skip(CheckDiscoveryKeys, "needs the discovery check (give -f)"))
		return
	}
	client, err := r.env.HTTPClient(t.DiscoveryCAPEM)
	if err == nil {
		var snap *discovery.Snapshot
		snap, err = discovery.FetchPublished(ctx, client, t.DiscoveryURL)
		if err == nil {
			r.discoveryFound(snap)
			return
		}
	}
	r.add(Result{Check: CheckDiscovery, Status: Fail, Message: err.Error(), Fix: r.discoveryFix(err)})
	r.add(skip(CheckDiscoveryKeys, "no keys to look in ("+CheckDiscovery+" failed)"))
}

func (r *runner) discoveryFound(snap *discovery.Snapshot) {
	t := r.t
	if snap.Document.Issuer != t.Issuer {
		r.add(Result{Check: CheckDiscovery, Status: Fail,
			Message: fmt.Sprintf("%s says issuer %q, but downstreams trust %q and refuse a document of another issuer", snap.DocumentURL, snap.Document.Issuer, t.Issuer),
			Fix:     r.issuerMismatchFix(snap.Document.Issuer)})
	} else {
		r.add(Result{Check: CheckDiscovery, Status: Pass, Message: fmt.Sprintf("%s: issuer %s, %d key(s) at %s", snap.DocumentURL, snap.Document.Issuer, len(snap.Keys.Keys), snap.KeysURL)})
	}
	if r.token == "" {
		r.add(skip(CheckDiscoveryKeys, "no token to look up ("+CheckTokenFile+" did not pass)"))
		return
	}
	th, _ := discovery.ParseTokenHeader(r.token)
	err := discovery.VerifyWith(snap.Keys, r.token)
	var missing *discovery.MissingKeyError
	switch {
	case err == nil:
		r.add(Result{Check: CheckDiscoveryKeys, Status: Pass, Message: fmt.Sprintf("the token's signing key %s is among the %d key(s) at %s, and its signature verifies", orNone(th.KeyID), len(snap.Keys.Keys), snap.KeysURL)})
	case errors.As(err, &missing):
		res := Result{Check: CheckDiscoveryKeys, Status: Fail,
			Message: fmt.Sprintf("the token was signed with key %s, which is not among the keys at %s (%s): downstreams refuse it", missing.KeyID, snap.KeysURL, short(missing.Have, 5))}
		if t.Published {
			base := strings.TrimSuffix(t.DiscoveryURL, discovery.DocumentPath)
			res.Message += "; the upstream rotated its signing key and the published copy is stale"
			res.Fix = fmt.Sprintf("publish the upstream's current keys: argocd-k8s-federate discovery publish --base-url %s -o DIR (with the upstream's kubeconfig), upload DIR to %s, and run `discovery check --base-url %s` on a schedule to catch the next rotation", base, base, base)
		} else {
			res.Fix = "the issuer serves other keys than those that signed the token: the token comes from another API server with the same issuer (each API server of the upstream needs the same --service-account-key-file set), or predates a key rotation (the kubelet replaces it within the hour)"
		}
		r.add(res)
	default:
		r.add(Result{Check: CheckDiscoveryKeys, Status: Fail, Message: fmt.Sprintf("the token's signature does not verify with the keys at %s: %v", snap.KeysURL, err),
			Fix: "the published keys differ from the upstream's: publish them again (argocd-k8s-federate discovery publish)"})
	}
}

func (r *runner) issuerMismatchFix(got string) string {
	if r.t.Published {
		return fmt.Sprintf("the published copy belongs to issuer %s: publish this upstream's discovery (argocd-k8s-federate discovery publish) or correct upstream.discoveryURL", got)
	}
	return fmt.Sprintf("downstreams need the document's issuer to be upstream.issuer: if %s is this upstream's --service-account-issuer, set upstream.issuer: %s and generate again", got, got)
}

func (r *runner) discoveryFix(err error) string {
	t := r.t
	host := hostOf(t.DiscoveryURL)
	publish := "if the upstream API server is not reachable from the downstreams, publish a copy where they can read it (argocd-k8s-federate discovery publish) and set upstream.discoveryURL"
	var herr *discovery.HTTPError
	var insecureKeys *discovery.InsecureJWKSURIError
	var insecureRedirect *discovery.InsecureRedirectError
	switch {
	case errors.As(err, &insecureKeys) && t.Published:
		base := strings.TrimSuffix(t.DiscoveryURL, discovery.DocumentPath)
		return fmt.Sprintf("publish again: argocd-k8s-federate discovery publish --base-url %s -o DIR (with the upstream's kubeconfig) writes jwks_uri %s; upload DIR to %s", base, base+discovery.KeysPath, base)
	case errors.As(err, &insecureKeys):
		return "set the upstream API server's --service-account-jwks-uri to an https URL, or leave it unset (it then names the API server's own https address); or " + publish
	case errors.As(err, &insecureRedirect):
		return fmt.Sprintf("make %s serve discovery over https without redirecting to http: downstream API servers must not read it in clear", hostOf(insecureRedirect.From))
	case isTLSError(err):
		return fmt.Sprintf("the CA of the upstream in the federation config (upstream.caFile, ca or useSystemRoots) does not verify %s's certificate: set it to the CA that signed that certificate; downstreams verify it with the same CA (%s)", host, tlsReason(err))
	case errors.As(err, &herr) && (herr.StatusCode == http.StatusUnauthorized || herr.StatusCode == http.StatusForbidden):
		if t.Published {
			return fmt.Sprintf("the published copy at %s is not readable anonymously: make the objects public (downstream API servers send no credentials)", host)
		}
		return "the upstream API server refuses anonymous clients its discovery, and downstream API servers send no credentials: kubectl create clusterrolebinding oidc-discovery --clusterrole=system:service-account-issuer-discovery --group=system:unauthenticated (on the upstream); or " + publish
	case errors.As(err, &herr) && herr.StatusCode == http.StatusNotFound:
		if t.Published {
			return fmt.Sprintf("nothing is published at %s: upload the directory argocd-k8s-federate discovery publish wrote (with its hidden .well-known directory: copy the directory, not DIR/*), or correct upstream.discoveryURL", t.DiscoveryURL)
		}
		return "the issuer URL does not serve discovery: upstream.issuer must be the upstream API server's URL (its --service-account-issuer); " + publish
	case errors.As(err, &herr):
		return fmt.Sprintf("%s answers %s: downstreams need a 200 with the discovery document", host, herr.Status)
	case isNetError(err):
		return fmt.Sprintf("%s is not reachable from here, and the downstream API servers must reach it: check the URL, DNS, firewalls and proxies; %s", host, publish)
	}
	return fmt.Sprintf("%s must serve the issuer's OIDC discovery document, and its jwks_uri the keys: publish them with argocd-k8s-federate discovery publish", t.DiscoveryURL)
}

// checkDownstream runs downstream-tls, downstream-auth, username and rbac.
func (r *runner) checkDownstream(ctx context.Context) {
	t := r.t
	later := []string{CheckDownstreamAuth, CheckUsername, CheckRBAC}
	if !r.checkTLS(ctx) {
		for _, c := range later {
			r.add(skip(c, "the downstream is not reachable over verified TLS ("+CheckDownstreamTLS+" failed)"))
		}
		return
	}
	if !r.tokenUsable {
		why := "the token would be refused for what the token checks found; fix those first"
		if r.token == "" {
			why = "no token to present (" + CheckTokenFile + " did not pass)"
		}
		for _, c := range later {
			r.add(skip(c, why))
		}
		return
	}
	client, err := r.env.Downstream(t.Server, t.CAPEM, r.token)
	if err == nil {
		r.username, err = client.WhoAmI(ctx)
	}
	if err != nil {
		r.add(Result{Check: CheckDownstreamAuth, Status: Fail, Message: fmt.Sprintf("SelfSubjectReview with the token: %v", err), Fix: r.authFix(err)})
		r.add(skip(CheckUsername, "the downstream does not accept the token ("+CheckDownstreamAuth+" failed)"))
		r.add(skip(CheckRBAC, "the downstream does not accept the token ("+CheckDownstreamAuth+" failed)"))
		return
	}
	r.add(Result{Check: CheckDownstreamAuth, Status: Pass, Message: fmt.Sprintf("the downstream accepts the token as %s", r.username)})
	r.checkUsername()
	r.checkRBAC(ctx, client)
}

// checkTLS is downstream-tls: an HTTPS request without credentials, which
// any answer (even 401) shows was verified.
func (r *runner) checkTLS(ctx context.Context) bool {
	t := r.t
	client, err := r.env.HTTPClient(t.CAPEM)
	if err == nil {
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(t.Server, "/")+"/version", nil)
		if err == nil {
			var resp *http.Response
			resp, err = client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		res := Result{Check: CheckDownstreamTLS, Status: Fail, Message: fmt.Sprintf("%s: %v", t.Server, err)}
		switch {
		case isTLSError(err):
			res.Fix = fmt.Sprintf("the CA for the downstream (downstreams[%s].caFile, ca or useSystemRoots in the federation config; caData in the cluster Secret) does not verify %s's certificate (%s): set it to the CA that signed the downstream API server's certificate (its kubeconfig's certificate-authority-data) and generate again", t.Name, hostOf(t.Server), tlsReason(err))
		case isNetError(err):
			res.Fix = fmt.Sprintf("%s is not reachable from here: check the server URL, DNS, network policies and firewalls between ArgoCD and the downstream", hostOf(t.Server))
		default:
			res.Fix = "check the downstream's server URL and CA in the federation config"
		}
		r.add(res)
		return false
	}
	r.add(Result{Check: CheckDownstreamTLS, Status: Pass, Message: fmt.Sprintf("%s presents a certificate the configured CA verifies", hostOf(t.Server))})
	return true
}

func (r *runner) authFix(err error) string {
	t := r.t
	switch {
	case errors.Is(err, ErrUnauthorized):
		switch {
		case r.failed(CheckDiscoveryKeys):
			return "the downstream cannot find the token's signing key: fix " + CheckDiscoveryKeys + " above"
		case r.failed(CheckDiscovery):
			return "the downstream cannot read the issuer's discovery: fix " + CheckDiscovery + " above"
		}
		where := "downstream/" + t.Name + "/apiserver/authentication-config.yaml from generate"
		return fmt.Sprintf("the downstream API server does not accept tokens of issuer %s for audience %q: check that it runs with --authentication-config (%s; it must list this issuer) or the equivalent --oidc-* flags, that it reaches %s with the CA given there, that its claimValidationRules accept the token's sub %s (only ArgoCD's controller and server service accounts are generated), and its log for \"oidc\" or \"jwt\" errors", t.Issuer, t.Audience, where, orDefault(t.DiscoveryURL, "the issuer's discovery"), orDefault(r.sub, "(none)"))
	case errors.Is(err, ErrNotFound):
		return "the downstream has no authentication.k8s.io/v1 SelfSubjectReview (Kubernetes before 1.28): doctor needs 1.28 or later"
	case isTLSError(err):
		return "the downstream's certificate does not verify: see " + CheckDownstreamTLS
	}
	return "check the downstream API server's health and the network between here and it"
}

// checkUsername is username: the prefixed user the config's RBAC binds.
func (r *runner) checkUsername() {
	t := r.t
	if t.UsernamePrefix == "" {
		prefix, ok := strings.CutSuffix(r.username, r.sub)
		if !ok || prefix == "" || strings.HasPrefix(prefix, "system:") {
			r.add(Result{Check: CheckUsername, Status: Fail,
				Message: fmt.Sprintf("the downstream maps the token to %s, which is not a prefix followed by the token's sub %s", r.username, r.sub),
				Fix:     "the downstream's authentication configuration must map claim sub with a username prefix (claimMappings.username: {claim: sub, prefix: \"<hub>:\"}): apply the generated authentication-config.yaml"})
			return
		}
		r.add(Result{Check: CheckUsername, Status: Pass, Message: fmt.Sprintf("mapped to %s (prefix %q; give -f to compare it with the config)", r.username, prefix)})
		return
	}
	want := t.UsernamePrefix + r.sub
	if r.username != want {
		r.add(Result{Check: CheckUsername, Status: Fail,
			Message: fmt.Sprintf("the downstream maps the token to %s, but the config's RBAC binds %s", r.username, want),
			Fix:     fmt.Sprintf("the downstream's authentication configuration must map claim sub with prefix %q for issuer %s: apply the generated downstream/%s/apiserver/authentication-config.yaml (another jwt entry for the same issuer, or hand-written --oidc-username-prefix, maps to users nobody binds)", t.UsernamePrefix, t.Issuer, t.Name)})
		return
	}
	r.add(Result{Check: CheckUsername, Status: Pass, Message: fmt.Sprintf("mapped to %s, the user the config binds", r.username)})
}

func isTLSError(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &record)
}

func tlsReason(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown):
		return "signed by an authority the CA bundle does not hold"
	case errors.As(err, &hostname):
		return "issued for other names: " + hostname.Error()
	case errors.As(err, &invalid):
		return invalid.Error()
	case errors.As(err, &record):
		return "the server does not speak TLS there"
	}
	return err.Error()
}

func isNetError(err error) bool {
	var ne net.Error
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) || (errors.As(err, &ne) && ne.Timeout())
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}
