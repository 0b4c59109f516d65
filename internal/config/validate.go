package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// DefaultIssuer is the service-account issuer every cluster has unless told
// otherwise: a downstream that trusted it would trust every cluster.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// ManyAudiences is the number of per-downstream audiences above which a
// warning suggests upstream.token.sharedAudience.
const ManyAudiences = 25

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelValue   = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	labelName    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	// flagSafe is what a value written into the --oidc-* flags file may hold:
	// nothing a shell, a systemd unit or a YAML list would read as syntax,
	// and nothing invisible.
	flagSafe = regexp.MustCompile(`^[A-Za-z0-9_.:/@-]+$`)
)

// flagSafeChars says in words what flagSafe accepts.
const flagSafeChars = "ASCII letters, digits and - _ . : / @"

// TokenSources are the values of upstream.token.source and
// downstreams[].tokenSource.
var TokenSources = []string{SourceProjected, SourceTokenRequest}

func checkTokenSource(errs *Errors, p, v string) {
	if !slices.Contains(TokenSources, v) {
		errs.add(p, "is %q; must be %s (the kubelet projects one token per audience into the ArgoCD pods) or %s (the plugin asks the API server for each token; adding a downstream restarts nothing)%s", v, SourceProjected, SourceTokenRequest, sourceNote(v))
	}
}

// sourceNote explains the source an identity provider implies, when it is
// written by hand.
func sourceNote(v string) string {
	if v == SourceIdentityProvider {
		return "; " + SourceIdentityProvider + " is implied by upstream.identityProvider, never written by hand"
	}
	return ""
}

// Presets are the reviewed roles shipped in rbac/.
var Presets = []string{PresetViewer}

// Complete defaults, resolves the CA files and validates the federation,
// returning every problem at once.
func (f *Federation) Complete() error {
	f.Default()
	errs := &Errors{Source: f.Source}
	f.validate(errs)
	return errs.err()
}

func (f *Federation) validate(errs *Errors) {
	if f.APIVersion != APIVersion {
		errs.add("apiVersion", "must be %s, got %q", APIVersion, f.APIVersion)
	}
	if f.Kind != Kind {
		errs.add("kind", "must be %s, got %q", Kind, f.Kind)
	}
	f.validateUpstream(errs, "upstream")
	f.validateWorkloads(errs)
	if len(f.Downstreams) == 0 {
		errs.add("downstreams", "list at least one downstream cluster (name, server, caFile, access.namespaces)")
	}
	names := map[string]int{}
	servers := map[string]int{}
	audiences := map[string]int{}
	tokenFiles := map[string]string{}
	for i := range f.Downstreams {
		p := index("downstreams", i)
		d := &f.Downstreams[i]
		f.validateDownstream(errs, p, d)
		if j, ok := names[d.Name]; ok && d.Name != "" {
			errs.add(path(p, "name"), "%q is already the name of downstreams[%d]; names must be unique", d.Name, j)
		} else {
			names[d.Name] = i
		}
		if key := urlKey(d.Server); key != "" {
			if j, ok := servers[key]; ok {
				errs.add(path(p, "server"), "%q is already the server of downstreams[%d]; list each cluster once", d.Server, j)
			} else {
				servers[key] = i
			}
		}
		if d.Audience == "" {
			continue
		}
		if shared := f.Upstream.Token.SharedAudience; shared != "" {
			if d.Audience != shared {
				errs.add(path(p, "audience"), "is %q but upstream.token.sharedAudience is %q: in shared-audience mode every downstream uses the shared audience (remove this field)", d.Audience, shared)
			}
			continue
		}
		if j, ok := audiences[d.Audience]; ok {
			errs.add(path(p, "audience"), "%q is already the audience of downstreams[%d]: a token for one downstream would be accepted by the other; give each downstream its own audience, or set upstream.token.sharedAudience to share one on purpose", d.Audience, j)
			continue
		}
		audiences[d.Audience] = i
		if !d.UsesProjected() {
			continue // no token file
		}
		file := plugin.TokenFileName(d.Audience)
		if other, ok := tokenFiles[file]; ok {
			errs.add(path(p, "audience"), "%q and %q map to the same token file name %q; choose audiences that differ in letters or digits", d.Audience, other, file)
		}
		tokenFiles[file] = d.Audience
	}
}

func (f *Federation) validateUpstream(errs *Errors, p string) {
	u := &f.Upstream
	checkDNSLabel(errs, path(p, "name"), u.Name, `a short name for this ArgoCD hub, e.g. "hub"`)
	if checkHTTPS(errs, path(p, "issuer"), u.Issuer, "the upstream API server's --service-account-issuer", issuerNote) {
		if strings.TrimRight(u.Issuer, "/") == DefaultIssuer || isInClusterHost(u.Issuer) {
			errs.add(path(p, "issuer"), "%q is the default issuer every cluster shares: a downstream trusting it would trust any cluster. Give the upstream API server its own --service-account-issuer (its public https URL) and use that here", u.Issuer)
		}
	}
	if u.DiscoveryURL != "" {
		if checkHTTPS(errs, path(p, "discoveryURL"), u.DiscoveryURL, "the published discovery document", "") && u.DiscoveryURL == u.Issuer {
			errs.add(path(p, "discoveryURL"), "equals issuer: leave it out when the discovery document is served by the issuer itself")
		}
	}
	f.resolveCA(errs, p, &u.CertificateAuthority, "the issuer's TLS certificate (or the discoveryURL's)")
	f.validateIdentityProvider(errs, path(p, "identityProvider"))
	f.validatePeople(errs, path(p, "people"))

	a := &u.ArgoCD
	checkDNSLabel(errs, path(p, "argocd.namespace"), a.Namespace, `the namespace ArgoCD runs in, e.g. "argocd"`)
	checkWorkload(errs, path(p, "argocd.controller"), a.Controller, []string{KindStatefulSet, KindDeployment})
	checkWorkload(errs, path(p, "argocd.server"), a.Server, []string{KindDeployment})
	if a.Operator != nil {
		checkDNSLabel(errs, path(p, "argocd.operator.name"), a.Operator.Name, `the name of the ArgoCD resource argocd-operator runs, e.g. "argocd" or "openshift-gitops"`)
	}
	if !a.Controller.IsEnabled() {
		errs.add(path(p, "argocd.controller.enabled"), "is false, but the application controller is what deploys into the downstreams: remove the field")
	}
	if a.Controller.Name == a.Server.Name && a.Controller.Kind == a.Server.Kind {
		errs.add(path(p, "argocd.server.name"), "is the same workload as upstream.argocd.controller")
	}

	t := &u.Token
	if u.IdentityProvider == nil {
		checkTokenSource(errs, path(p, "token.source"), t.Source)
	}
	checkAbsPath(errs, path(p, "token.mountPath"), t.MountPath)
	if t.ExpirationSeconds < MinExpirationSeconds || t.ExpirationSeconds > MaxExpirationSeconds {
		errs.add(path(p, "token.expirationSeconds"), "is %d; must be between %d (the kubelet's minimum) and %d", t.ExpirationSeconds, MinExpirationSeconds, MaxExpirationSeconds)
	}
	if t.SharedAudience != "" {
		checkAudience(errs, path(p, "token.sharedAudience"), t.SharedAudience)
	}

	pl := &u.Plugin
	switch pl.Delivery {
	case DeliveryInitContainer:
		if strings.ContainsAny(pl.Image, " \t\n") {
			errs.add(path(p, "plugin.image"), "%q is not an image reference", pl.Image)
		}
		if !slices.Contains([]string{"Always", "IfNotPresent", "Never"}, pl.ImagePullPolicy) {
			errs.add(path(p, "plugin.imagePullPolicy"), "is %q; must be Always, IfNotPresent or Never", pl.ImagePullPolicy)
		}
		checkAbsPath(errs, path(p, "plugin.dir"), pl.Dir)
		if pl.Command != "" {
			errs.add(path(p, "plugin.command"), "is only for delivery: Preinstalled; with InitContainer the command is plugin.dir/%s", plugin.Name)
		}
		if pl.Dir != "" && (pl.Dir == t.MountPath || strings.HasPrefix(t.MountPath+"/", pl.Dir+"/") || strings.HasPrefix(pl.Dir+"/", t.MountPath+"/")) {
			errs.add(path(p, "plugin.dir"), "%q overlaps upstream.token.mountPath %q; use separate directories", pl.Dir, t.MountPath)
		}
	case DeliveryPreinstalled:
		if pl.Command == "" {
			errs.add(path(p, "plugin.command"), "is required with delivery: Preinstalled: the absolute path of %s in the ArgoCD image, e.g. /usr/local/bin/%s", plugin.Name, plugin.Name)
		} else {
			checkAbsPath(errs, path(p, "plugin.command"), pl.Command)
		}
		for field, v := range map[string]string{"image": pl.Image, "dir": pl.Dir, "imagePullPolicy": pl.ImagePullPolicy} {
			if v != "" {
				errs.add(path(p, "plugin."+field), "is only for delivery: InitContainer")
			}
		}
	default:
		errs.add(path(p, "plugin.delivery"), "is %q; must be %s (an init container copies the plugin into the pods) or %s (the ArgoCD image has it at plugin.command)", pl.Delivery, DeliveryInitContainer, DeliveryPreinstalled)
	}
}

func (f *Federation) validateDownstream(errs *Errors, p string, d *Downstream) {
	checkDNSLabel(errs, path(p, "name"), d.Name, `the cluster's name in ArgoCD, e.g. "prod-eu"`)
	if checkHTTPS(errs, path(p, "server"), d.Server, "the downstream API server URL", "") {
		if isInClusterHost(d.Server) {
			errs.add(path(p, "server"), "%q is how ArgoCD reaches its own cluster (it then ignores the exec config and uses its in-cluster credentials); use the downstream API server's external URL", d.Server)
		}
	}
	f.resolveCA(errs, p, &d.CertificateAuthority, "the downstream API server's certificate")
	if d.Audience != "" {
		checkAudience(errs, path(p, "audience"), d.Audience)
	}
	checkPrefix(errs, path(p, "usernamePrefix"), d.UsernamePrefix)
	if f.Upstream.IdentityProvider == nil {
		checkTokenSource(errs, path(p, "tokenSource"), d.TokenSource)
	}

	a := &d.Access
	ap := path(p, "access")
	checkScope(errs, ap, "access", a.Namespaces, a.ClusterWide, "ArgoCD may deploy into")
	checkRole(errs, path(ap, "controller"), a.Controller, a.ClusterWide)
	checkRole(errs, path(ap, "server"), a.Server, a.ClusterWide)
	f.validateWorkloadAccess(errs, path(ap, "workloads"), a.Workloads)
	f.validatePeopleAccess(errs, path(ap, "people"), a.People)

	s := &d.ArgoCD
	sp := path(p, "argocd")
	checkDNSSubdomain(errs, path(sp, "secretName"), s.SecretName, "the cluster Secret's name")
	checkClusterName(errs, path(sp, "clusterName"), s.ClusterName, d.Name)
	if s.Project != "" {
		checkDNSSubdomain(errs, path(sp, "project"), s.Project, "an ArgoCD AppProject name")
	}
	checkLabels(errs, path(sp, "labels"), s.Labels, true)
	checkLabels(errs, path(sp, "annotations"), s.Annotations, false)

	v := d.APIServer.AuthenticationConfigVersion
	if v != AuthnV1 && v != AuthnV1beta1 {
		errs.add(path(p, "apiServer.authenticationConfigVersion"), "is %q; must be %s (Kubernetes 1.34 and later) or %s (1.30 to 1.33)", v, AuthnV1, AuthnV1beta1)
	}
	checkFlagPath(errs, path(p, "apiServer.oidcCAFile"), d.APIServer.OIDCCAFile)
}

// maxCABytes caps a CA file.
const maxCABytes = fileio.MaxCABundle

// clockSkew is how far in the future a certificate's NotBefore may be and
// still count as valid: a CA made a moment ago on a machine whose clock is
// slightly ahead is not refused.
const clockSkew = 5 * time.Minute

// resolveCA checks that exactly one trust source is given, loads the PEM and
// checks that at least one of its certificates is valid now.
func (f *Federation) resolveCA(errs *Errors, p string, ca *CertificateAuthority, what string) {
	ca.pem = "" // resolved anew: a config completed again after an edit keeps no stale bundle
	n := 0
	for _, set := range []bool{ca.CAFile != "", ca.CA != "", ca.UseSystemRoots} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		errs.add(path(p, "caFile"), "no CA for %s: set caFile (a PEM file) or ca (inline PEM), or useSystemRoots: true if it is signed by a publicly trusted CA", what)
		return
	case n > 1:
		errs.add(path(p, "caFile"), "set only one of caFile, ca and useSystemRoots")
		return
	}
	if ca.UseSystemRoots {
		return
	}
	field, data := ca.field(), ca.CA
	if ca.CAFile != "" {
		file := ca.CAFile
		if !filepath.IsAbs(file) && f.Source != "" {
			file = filepath.Join(filepath.Dir(f.Source), file)
		}
		b, err := ReadCAFile(file)
		if err != nil {
			errs.add(path(p, field), "cannot read %s: %v (paths are relative to the config file)", file, err)
			return
		}
		data = string(b)
	}
	bundle, err := CheckCABundle(data)
	if errors.Is(err, ErrNoValidCertificate) {
		errs.add(path(p, field), "%v: TLS verification against it fails; renew the CA, or point %s at the current one", err, field)
		return
	}
	if err != nil {
		errs.add(path(p, field), "%v", err)
		return
	}
	ca.pem = bundle
}

// ErrNoValidCertificate is a CA bundle none of whose certificates is valid
// now.
var ErrNoValidCertificate = errors.New("holds no certificate valid now")

// CheckCABundle is the check of every CA bundle of a config (ca, caFile):
// CERTIFICATE blocks only, at least one, and one of them valid now. It
// returns the bundle normalised (the certificates re-encoded, nothing else),
// as the generated files hold it. A bundle with no valid certificate is an
// error wrapping ErrNoValidCertificate.
func CheckCABundle(data string) (string, error) {
	bundle, certs, err := parseCABundle(data)
	if err != nil {
		return "", err
	}
	if invalid := invalidNow(certs, time.Now()); len(invalid) == len(certs) {
		return "", fmt.Errorf("%w (%s)", ErrNoValidCertificate, strings.Join(invalid, "; "))
	}
	return bundle, nil
}

// field is the config field the bundle comes from: caFile or ca.
func (ca CertificateAuthority) field() string {
	if ca.CAFile != "" {
		return "caFile"
	}
	return "ca"
}

// ReadCAFile reads a CA file: a regular file of at most maxCABytes (a named
// pipe or a device such as /dev/zero would block or never end). Every CA file
// the tools read goes through it.
func ReadCAFile(file string) ([]byte, error) {
	return fileio.ReadFile(file, maxCABytes)
}

// parseCABundle requires at least one CERTIFICATE block, and only those, and
// returns the bundle normalised: its certificates re-encoded, in order, and
// nothing else.
//
// Text around the blocks is dropped rather than refused. It plays no part in
// verification, and bundles often carry it (openssl x509 -text output, the
// "# Subject:" comments of distribution bundles, the lines openssl s_client
// -showcerts prints between certificates); dropping it means the generated
// caData and CA files hold exactly the certificates checked here and no text
// nobody reviewed. A block that does not decode is another matter: pem.Decode
// skips it silently, so PEM armour left in the dropped text is refused (a
// truncated certificate must not vanish without a word).
func parseCABundle(data string) (string, []*x509.Certificate, error) {
	rest := []byte(data)
	var out bytes.Buffer
	var certs []*x509.Certificate
	for {
		block, after := pem.Decode(rest)
		// skipped is the text pem.Decode passed over: everything before the
		// block's own BEGIN line (the last one it consumed), or all the rest.
		skipped := rest
		if block != nil {
			consumed := rest[:len(rest)-len(after)]
			skipped = consumed[:bytes.LastIndex(consumed, []byte("-----BEGIN"))]
		}
		if bytes.Contains(skipped, []byte("-----BEGIN")) || bytes.Contains(skipped, []byte("-----END")) {
			return "", nil, fmt.Errorf("holds a PEM block that does not decode, after %d good certificates (truncated or damaged?); fix or remove it", len(certs))
		}
		if block == nil {
			break
		}
		rest = after
		if block.Type != "CERTIFICATE" {
			return "", nil, fmt.Errorf("holds a %s block; only CERTIFICATE blocks belong in a CA bundle (never a key)", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", nil, fmt.Errorf("certificate %d does not parse: %v", len(certs)+1, err)
		}
		certs = append(certs, cert)
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})
	}
	if len(certs) == 0 {
		return "", nil, fmt.Errorf("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return out.String(), certs, nil
}

// invalidNow describes the certificates that are not valid at now: their
// subject and the date that rules them out.
func invalidNow(certs []*x509.Certificate, now time.Time) []string {
	var invalid []string
	for _, c := range certs {
		subject := c.Subject.String()
		if subject == "" {
			subject = "(no subject)"
		}
		switch {
		case now.After(c.NotAfter):
			invalid = append(invalid, fmt.Sprintf("%s expired %s", subject, c.NotAfter.UTC().Format(time.RFC3339)))
		case now.Add(clockSkew).Before(c.NotBefore):
			invalid = append(invalid, fmt.Sprintf("%s is not valid before %s", subject, c.NotBefore.UTC().Format(time.RFC3339)))
		}
	}
	return invalid
}

func checkRole(errs *Errors, p string, r Role, clusterWide bool) {
	n := 0
	for _, set := range []bool{r.Preset != "", r.ClusterRole != "", len(r.Rules) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		errs.add(p, "set exactly one of preset (%s), clusterRole (an existing ClusterRole such as admin, edit or view) or rules", strings.Join(Presets, ", "))
		return
	}
	if r.Preset != "" && !slices.Contains(Presets, r.Preset) {
		errs.add(path(p, "preset"), "is %q; must be one of: %s", r.Preset, strings.Join(Presets, ", "))
	}
	if r.ClusterRole != "" {
		if strings.ContainsAny(r.ClusterRole, "/% \t\n") || r.ClusterRole == "." || r.ClusterRole == ".." {
			errs.add(path(p, "clusterRole"), "%q is not a valid ClusterRole name", r.ClusterRole)
		}
		if r.ClusterRole == "cluster-admin" && !clusterWide {
			errs.add(path(p, "clusterRole"), "cluster-admin bound in a namespace grants every permission there; use admin (or edit) for namespaces")
		}
	}
	for i, rule := range r.Rules {
		rp := index(path(p, "rules"), i)
		if len(rule.Verbs) == 0 {
			errs.add(path(rp, "verbs"), "list at least one verb (get, list, watch, create, update, patch, delete)")
		}
		if len(rule.Resources) == 0 && len(rule.NonResourceURLs) == 0 {
			errs.add(path(rp, "resources"), "list the resources the rule grants")
		}
		if len(rule.Resources) > 0 && len(rule.APIGroups) == 0 {
			errs.add(path(rp, "apiGroups"), `list the API groups of the resources ("" is the core group)`)
		}
		if len(rule.NonResourceURLs) > 0 && !clusterWide {
			errs.add(path(rp, "nonResourceURLs"), "only take effect cluster-wide; they are ignored in namespace RoleBindings")
		}
	}
}

// checkScope checks the scope of an access entry at p (rel is its path in
// the downstream): namespaces (each a name, once) or clusterWide, exactly
// one of them. what says who is granted the namespaces.
func checkScope(errs *Errors, p, rel string, namespaces []string, clusterWide bool, what string) {
	switch {
	case clusterWide && len(namespaces) > 0:
		errs.add(path(p, "clusterWide"), "is true and %s is set: choose one (namespaces bind per namespace; clusterWide binds the whole cluster)", path(rel, "namespaces"))
	case !clusterWide && len(namespaces) == 0:
		errs.add(path(p, "namespaces"), "list the namespaces %s, or set %s: true to grant the whole cluster on purpose", what, path(rel, "clusterWide"))
	}
	seen := map[string]bool{}
	for i, ns := range namespaces {
		np := index(path(p, "namespaces"), i)
		checkDNSLabel(errs, np, ns, "a namespace name")
		if seen[ns] {
			errs.add(np, "%q is listed twice", ns)
		}
		seen[ns] = true
	}
}

func checkWorkload(errs *Errors, p string, w Workload, kinds []string) {
	if !slices.Contains(kinds, w.Kind) {
		errs.add(path(p, "kind"), "is %q; must be %s", w.Kind, strings.Join(kinds, " or "))
	}
	checkDNSSubdomain(errs, path(p, "name"), w.Name, "the workload's name")
	checkDNSLabel(errs, path(p, "container"), w.Container, "the main container's name")
	checkDNSSubdomain(errs, path(p, "serviceAccount"), w.ServiceAccount, "the pods' service account")
}

func checkPrefix(errs *Errors, p, prefix string) {
	switch {
	case prefix == "":
		errs.add(p, `must not be empty: without a prefix an upstream token could claim any username of the downstream, e.g. "hub:"`)
	case strings.HasPrefix(prefix, "system:"):
		errs.add(p, "%q starts with system:, which would let upstream tokens act as the downstream's own system users; use e.g. \"hub:\"", prefix)
	case prefix == "-":
		errs.add(p, `"-" turns prefixing off in some authenticators; use e.g. "hub:"`)
	case !flagSafe.MatchString(prefix):
		errs.add(p, "%q may hold only %s (it is written as is into the --oidc-username-prefix flag and the API server's configuration); use e.g. \"hub:\"", prefix, flagSafeChars)
	}
}

func checkAudience(errs *Errors, p, aud string) {
	if !flagSafe.MatchString(aud) {
		errs.add(p, "%q may hold only %s, so no whitespace, commas, quotes or shell characters (it is written as is into the --oidc-client-id flag); use e.g. the downstream's name or https://host/path", aud, flagSafeChars)
	}
}

func checkAbsPath(errs *Errors, p, v string) {
	if v == "" || !filepath.IsAbs(v) || filepath.Clean(v) != v || v == "/" {
		errs.add(p, "%q must be an absolute, clean path such as /var/run/...", v)
	}
}

// checkFlagPath checks an absolute path that is written into the --oidc-*
// flags file.
func checkFlagPath(errs *Errors, p, v string) {
	checkAbsPath(errs, p, v)
	if v != "" && !flagSafe.MatchString(v) {
		errs.add(p, "%q may hold only %s (it is written as is into the --oidc-ca-file flag)", v, flagSafeChars)
	}
}

func checkDNSLabel(errs *Errors, p, v, what string) {
	if v == "" {
		errs.add(p, "is required: %s", what)
		return
	}
	if len(v) > 63 || !dnsLabel.MatchString(v) {
		errs.add(p, "%q is not a valid name: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", v)
	}
}

// maxClusterName caps argocd.clusterName: ArgoCD shows it in lists and
// selectors, and it is a Secret value.
const maxClusterName = 253

// checkClusterName checks downstreams[].argocd.clusterName: ArgoCD's name
// of a cluster that is not a DNS label (kept when a hub is adopted, as its
// Applications may name it). Printable text, trimmed, and not a repeat of
// the downstream's own name.
func checkClusterName(errs *Errors, p, v, name string) {
	if v == "" {
		return
	}
	switch {
	case v == name:
		errs.add(p, "%q is the downstream's name: leave clusterName out (it is for an ArgoCD name that is not a DNS label)", v)
	case len(v) > maxClusterName || strings.TrimSpace(v) != v || strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 || !utf8.ValidString(v):
		errs.add(p, "%q must be printable text of at most %d bytes with no leading or trailing space", v, maxClusterName)
	}
}

func checkDNSSubdomain(errs *Errors, p, v, what string) {
	if v == "" {
		errs.add(p, "is required: %s", what)
		return
	}
	if len(v) > 253 || !dnsSubdomain.MatchString(v) {
		errs.add(p, "%q is not a valid name: lowercase letters, digits, '-' and '.', at most 253 characters", v)
	}
}

func checkLabels(errs *Errors, p string, m map[string]string, values bool) {
	for k, v := range m {
		kp := path(p, k)
		prefix, name, found := strings.Cut(k, "/")
		if !found {
			name, prefix = prefix, ""
		}
		if (found && (len(prefix) > 253 || !dnsSubdomain.MatchString(prefix))) || len(name) > 63 || !labelName.MatchString(name) {
			errs.add(kp, "%q is not a valid key: [prefix/]name, name at most 63 letters, digits, '-', '_' and '.'", k)
		}
		if k == "argocd.argoproj.io/secret-type" {
			errs.add(kp, "is set by the generator")
		}
		if values && (len(v) > 63 || !labelValue.MatchString(v)) {
			errs.add(kp, "value %q is not a valid label value: at most 63 letters, digits, '-', '_' and '.'", v)
		}
	}
}

// ValidateSet checks federations generated together: several hubs that
// deploy into the same downstream (multi-hub) must not collide there.
func ValidateSet(feds []*Federation) error {
	errs := &Errors{}
	upstreams := map[string]string{}
	type seenIssuer struct{ src, issuer string }
	issuers := map[string]seenIssuer{}
	type seenDownstream struct {
		src     string
		server  string
		name    string
		prefix  string
		authn   string
		issuers []string
	}
	byName := map[string][]seenDownstream{}
	byServer := map[string]string{}
	for _, f := range feds {
		src := f.Source
		if other, ok := upstreams[f.Upstream.Name]; ok {
			errs.add(src+": upstream.name", "%q is also the upstream name in %s; each hub needs its own name", f.Upstream.Name, other)
		}
		upstreams[f.Upstream.Name] = src
		key := urlKey(f.Upstream.Issuer)
		if other, ok := issuers[key]; ok {
			if other.issuer == f.Upstream.Issuer {
				errs.add(src+": upstream.issuer", "%q is also the issuer in %s; each hub has its own issuer", f.Upstream.Issuer, other.src)
			} else {
				errs.add(src+": upstream.issuer", "%q and %q (in %s) name the same issuer, spelled differently (a trailing slash, the host's letter case or an explicit :443): downstreams compare the tokens' iss byte for byte and find one discovery document there, so one of the two hubs could never authenticate; each hub has its own issuer", f.Upstream.Issuer, other.issuer, other.src)
			}
		} else {
			issuers[key] = seenIssuer{src: src, issuer: f.Upstream.Issuer}
		}
		for i, d := range f.Downstreams {
			p := fmt.Sprintf("%s: %s", src, index("downstreams", i))
			key := urlKey(d.Server)
			if other, ok := byServer[key]; ok && other != d.Name {
				errs.add(p+".server", "%q is downstream %q elsewhere; use the same name for the same cluster in every federation", d.Server, other)
			}
			byServer[key] = d.Name
			for _, s := range byName[d.Name] {
				if s.server != key {
					errs.add(p+".server", "downstream %q has server %q in %s; one name, one cluster", d.Name, d.Server, s.src)
				}
				if s.prefix == d.UsernamePrefix {
					errs.add(p+".usernamePrefix", "%q is also the prefix of the hub in %s on this downstream: both hubs' service accounts would map to the same users; give each hub its own prefix", d.UsernamePrefix, s.src)
				}
				for _, iss := range f.trustedIssuers(&f.Downstreams[i]) {
					if slices.Contains(s.issuers, urlKey(iss)) {
						errs.add(p, "this hub and the one in %s have downstreams trust the same issuer %s: one API server takes each issuer once; let one hub deploy into this downstream, or people log in through one hub's config", s.src, iss)
					}
				}
				if s.authn != d.APIServer.AuthenticationConfigVersion {
					errs.add(p+".apiServer.authenticationConfigVersion", "is %s here and %s in %s; one API server reads one version", d.APIServer.AuthenticationConfigVersion, s.authn, s.src)
				}
			}
			var keys []string
			for _, iss := range f.trustedIssuers(&f.Downstreams[i]) {
				keys = append(keys, urlKey(iss))
			}
			byName[d.Name] = append(byName[d.Name], seenDownstream{src: src, server: key, name: d.Name, prefix: d.UsernamePrefix, authn: d.APIServer.AuthenticationConfigVersion, issuers: keys})
		}
	}
	return errs.err()
}

// trustedIssuers are the issuers downstream d trusts for this hub: the
// hub's (or its identity provider's), and the people's provider when d
// grants people.
func (f *Federation) trustedIssuers(d *Downstream) []string {
	out := []string{f.TrustedIssuer()}
	if f.TrustsPeople(d) && !f.SharesPeopleIssuer() {
		out = append(out, f.Upstream.People.Issuer)
	}
	return out
}

// Warnings are advice that does not stop generation.
func (f *Federation) Warnings() []string {
	var w []string
	if n := len(f.Projected()); f.Upstream.Token.SharedAudience == "" && n > ManyAudiences {
		w = append(w, fmt.Sprintf("%s: %d downstreams with their own projected audience: every ArgoCD pod keeps %d projected tokens fresh, and each downstream added restarts the controller; for large fleets consider upstream.token.source: %s, or upstream.token.sharedAudience (see docs/config.md for the trade-off)", f.Source, n, n, SourceTokenRequest))
	}
	for i, d := range f.Downstreams {
		if d.Access.ClusterWide {
			w = append(w, fmt.Sprintf("%s: downstream %q grants ArgoCD the whole cluster (access.clusterWide: true)", f.Source, d.Name))
		}
		w = append(w, f.caWarnings(index("downstreams", i), d.CertificateAuthority)...)
		if !HelmKeyable(d.ArgoCDName()) {
			w = append(w, fmt.Sprintf("%s: %s: %q cannot key the argo-helm chart's configs.clusterCredentials (the chart names the Secret argocd-cluster-<name> after it): helm-values.yaml leaves this cluster out; apply its cluster Secret from the Component", f.Source, path(index("downstreams", i), "argocd.clusterName"), d.ArgoCDName()))
		}
	}
	w = append(w, f.workloadWarnings()...)
	w = append(w, f.peopleWarnings()...)
	if p := f.Upstream.IdentityProvider; p != nil {
		w = append(f.caWarnings("upstream.identityProvider", p.CertificateAuthority), w...)
	}
	if p := f.Upstream.People; p != nil {
		w = append(f.caWarnings("upstream.people", p.CertificateAuthority), w...)
	}
	w = append(f.caWarnings("upstream", f.Upstream.CertificateAuthority), w...)
	return w
}

// caWarnings names the certificates of a resolved bundle that are not valid
// now, when others are (a bundle with none valid is refused).
func (f *Federation) caWarnings(p string, ca CertificateAuthority) []string {
	if ca.pem == "" {
		return nil
	}
	_, certs, err := parseCABundle(ca.pem)
	if err != nil {
		return nil
	}
	invalid := invalidNow(certs, time.Now())
	if len(invalid) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s: %s: %d of the %d certificates of the bundle are not valid now (%s); remove them once nothing they signed is in use", f.Source, path(p, ca.field()), len(invalid), len(certs), strings.Join(invalid, "; "))}
}
