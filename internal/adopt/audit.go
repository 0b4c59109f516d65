package adopt

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// Kind is how ArgoCD authenticates to a cluster with its Secret.
type Kind string

// The kinds, in the order ArgoCD looks (Cluster.RawRestConfig): its own
// cluster, AWS, an exec plugin, then what the TLS and token fields hold.
const (
	// KindInCluster: https://kubernetes.default.svc with no credential;
	// ArgoCD uses its own service account.
	KindInCluster Kind = "in-cluster"
	// KindAWSAuth: awsAuthConfig; ArgoCD runs argocd-k8s-auth aws.
	KindAWSAuth Kind = "aws-auth"
	// KindFederated: this tool's plugin (token-file, token-request or
	// oidc-token).
	KindFederated Kind = "federated"
	// KindExec: another exec plugin (argocd-k8s-auth gcp/azure, kubelogin ...).
	KindExec Kind = "exec"
	// KindBearerToken: a token kept in the Secret.
	KindBearerToken Kind = "bearer-token"
	// KindClientCertificate: a client certificate and its key kept in the Secret.
	KindClientCertificate Kind = "client-certificate"
	// KindBasicAuth: a user name and password kept in the Secret.
	KindBasicAuth Kind = "basic-auth"
	// KindNone: no credential at all (anonymous).
	KindNone Kind = "none"
)

// Finding is the audit of one cluster Secret. It holds no credential.
type Finding struct {
	// Secret is namespace/name.
	Secret  string `json:"secret"`
	Cluster string `json:"cluster"`
	Server  string `json:"server"`
	Kind    Kind   `json:"kind"`
	// Static: the Secret keeps a long-lived secret (a token, a key, a
	// password), whatever else it does.
	Static bool `json:"static"`
	// StoredFields are the config fields that keep it (never the values).
	StoredFields []string `json:"storedFields,omitempty"`
	// Detail says what the credential is, in words: the plugin and token
	// source, the token's subject and expiry, the certificate's subject.
	Detail string `json:"detail"`
	// Identity is whom the stored credential authenticates as, when it
	// says (a service account, a certificate's subject).
	Identity string `json:"identity,omitempty"`
	// Expires is when the stored token or certificate expires; nil when it
	// never does or cannot be told (NeverExpires says which).
	Expires      *time.Time `json:"expires,omitempty"`
	NeverExpires bool       `json:"neverExpires,omitempty"`
	// Plugin is the exec plugin's command (its base name) and first
	// argument: "argocd-k8s-auth aws", "argocd-k8s-federate-plugin token-file".
	Plugin string `json:"plugin,omitempty"`
	// TokenSource of a federated Secret: Projected, TokenRequest or
	// IdentityProvider.
	TokenSource string `json:"tokenSource,omitempty"`
	// Audience of a federated Secret's tokens.
	Audience string `json:"audience,omitempty"`
}

// Classify audits one cluster Secret at now.
func Classify(s *argocd.ClusterSecret, now time.Time) Finding {
	f := Finding{
		Secret: s.Source, Cluster: s.ClusterName, Server: s.Server,
		Static: s.Stored.Static(), StoredFields: s.Stored.Fields(),
	}
	if f.Secret == "" {
		f.Secret = s.Name
	}
	st := s.Stored
	switch {
	case config.IsInClusterServer(s.Server) && st.BearerToken() == "" && st.Username() == "" && !st.HasPassword():
		f.Kind, f.Detail = KindInCluster, "ArgoCD's own cluster, through its own service account"
	case s.AWSAuth != nil:
		f.Kind, f.Plugin = KindAWSAuth, "argocd-k8s-auth aws"
		f.Detail = fmt.Sprintf("argocd-k8s-auth aws for EKS cluster %q", s.AWSAuth.ClusterName)
		if s.AWSAuth.RoleARN != "" {
			f.Detail += ", role " + s.AWSAuth.RoleARN
		}
	case s.Exec != nil:
		classifyExec(s, &f)
	case st.BearerToken() != "":
		f.Kind = KindBearerToken
		describeToken(st.BearerToken(), now, &f)
	case len(st.CertData()) > 0 || st.HasKey():
		f.Kind = KindClientCertificate
		describeCertificate(st.CertData(), now, &f)
	case st.Username() != "" || st.HasPassword():
		f.Kind, f.Identity = KindBasicAuth, st.Username()
		f.Detail = fmt.Sprintf("basic auth as %q", st.Username())
	default:
		f.Kind, f.Detail = KindNone, "no credential: ArgoCD connects anonymously"
	}
	if f.Static && f.Kind != KindBearerToken && f.Kind != KindClientCertificate && f.Kind != KindBasicAuth {
		f.Detail += "; the Secret also keeps " + strings.Join(f.StoredFields, ", ")
	}
	return f
}

// classifyExec tells this tool's plugin from the others.
func classifyExec(s *argocd.ClusterSecret, f *Finding) {
	cmd := path.Base(s.Exec.Command)
	f.Plugin = cmd
	if len(s.Exec.Args) > 0 {
		f.Plugin += " " + s.Exec.Args[0]
	}
	if cmd == plugin.Name {
		if o, err := s.TokenFile(); err == nil {
			f.Kind, f.TokenSource, f.Audience = KindFederated, config.SourceProjected, o.Audience
			f.Detail = fmt.Sprintf("%s token-file: the projected token %s (audience %s)", plugin.Name, o.File, o.Audience)
			return
		}
		if o, err := s.TokenRequest(); err == nil {
			f.Kind, f.TokenSource, f.Audience = KindFederated, config.SourceTokenRequest, o.Audience
			f.Detail = fmt.Sprintf("%s token-request: tokens requested from the hub (audience %s)", plugin.Name, o.Audience)
			return
		}
		if o, err := s.OIDCToken(); err == nil {
			f.Kind, f.TokenSource, f.Audience = KindFederated, config.SourceIdentityProvider, o.Audience
			f.Detail = fmt.Sprintf("%s oidc-token: tokens of the identity provider %s, grant %s, client %s (audience %s)", plugin.Name, o.Issuer, o.Grant, o.ClientID, o.Audience)
			return
		}
	}
	f.Kind = KindExec
	switch {
	case cmd == "argocd-k8s-auth" && len(s.Exec.Args) > 0:
		f.Detail = fmt.Sprintf("argocd-k8s-auth %s: the cloud's workload identity", s.Exec.Args[0])
	default:
		f.Detail = "exec plugin " + f.Plugin
	}
}

// describeToken says whose the token is and when it expires, from its JWT
// claims (not verified: the downstream verifies). A token that is no JWT
// tells nothing.
func describeToken(token string, now time.Time, f *Finding) {
	c, ok := jwtClaims(token)
	if !ok {
		f.Detail = "an opaque bearer token (not a JWT): its owner and lifetime cannot be told here"
		return
	}
	if c.Kubernetes.Namespace != "" && c.Kubernetes.ServiceAccount.Name != "" {
		f.Identity = "system:serviceaccount:" + c.Kubernetes.Namespace + ":" + c.Kubernetes.ServiceAccount.Name
	} else if c.LegacyNamespace != "" && c.LegacyName != "" {
		f.Identity = "system:serviceaccount:" + c.LegacyNamespace + ":" + c.LegacyName
	} else if c.Subject != "" {
		f.Identity = c.Subject
	}
	who := "a JWT"
	if f.Identity != "" {
		who = f.Identity + "'s JWT"
	}
	switch {
	case c.Expiry == 0 && c.LegacySecretName != "":
		f.NeverExpires = true
		f.Detail = fmt.Sprintf("%s from the token Secret %s: never expires (valid until the Secret or the service account is deleted)", who, c.LegacySecretName)
	case c.Expiry == 0:
		f.NeverExpires = true
		f.Detail = who + " with no exp: never expires"
	default:
		exp := time.Unix(c.Expiry, 0).UTC()
		f.Expires = &exp
		if exp.Before(now) {
			f.Detail = fmt.Sprintf("%s, expired %s", who, exp.Format(time.RFC3339))
		} else {
			f.Detail = fmt.Sprintf("%s, expires %s (in %s)", who, exp.Format(time.RFC3339), humanDuration(exp.Sub(now)))
		}
	}
}

// claims are the JWT claims the audit reads: a bound service-account
// token's (kubernetes.io), a legacy token Secret's (flat, no exp), or
// anyone's (sub, exp). It reads tokens without exp, which the plugin's own
// parser (credential.ParseToken) refuses by design.
type claims struct {
	Subject    string `json:"sub"`
	Expiry     int64  `json:"exp"`
	Kubernetes struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
	LegacyNamespace  string `json:"kubernetes.io/serviceaccount/namespace"`
	LegacyName       string `json:"kubernetes.io/serviceaccount/service-account.name"`
	LegacySecretName string `json:"kubernetes.io/serviceaccount/secret.name"`
}

func jwtClaims(token string) (claims, bool) {
	var c claims
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, false
	}
	var raw struct {
		claims
		Exp json.Number `json:"exp"`
	}
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return c, false
	}
	c = raw.claims
	if raw.Exp != "" {
		f, err := raw.Exp.Float64()
		if err != nil {
			return c, false
		}
		c.Expiry = int64(f)
	}
	return c, true
}

// describeCertificate says whose the certificate is and when it expires.
func describeCertificate(certPEM []byte, now time.Time, f *Finding) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		f.Detail = "a client key with a certificate that is not PEM"
		return
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		f.Detail = "a client certificate that does not parse"
		return
	}
	f.Identity = cert.Subject.String()
	exp := cert.NotAfter.UTC()
	f.Expires = &exp
	state := fmt.Sprintf("expires %s (in %s)", exp.Format(time.RFC3339), humanDuration(exp.Sub(now)))
	if exp.Before(now) {
		state = "expired " + exp.Format(time.RFC3339)
	}
	who := "CN=" + cert.Subject.CommonName
	if len(cert.Subject.Organization) > 0 {
		who += ", O=" + strings.Join(cert.Subject.Organization, "+")
	}
	f.Detail = fmt.Sprintf("client certificate %s, %s", who, state)
	for _, o := range cert.Subject.Organization {
		if o == "system:masters" || o == "kubeadm:cluster-admins" {
			f.Detail += ": an admin certificate (" + o + ")"
		}
	}
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	default:
		return d.Round(time.Minute).String()
	}
}

// Report is the audit of a hub.
type Report struct {
	Clusters []Finding `json:"clusters"`
	Summary  Summary   `json:"summary"`
}

// Summary counts the clusters by kind, and those keeping a static credential.
type Summary struct {
	Total  int          `json:"total"`
	ByKind map[Kind]int `json:"byKind"`
	Static int          `json:"static"`
	// Skipped objects of the input that are no cluster Secret.
	Skipped int `json:"skipped,omitempty"`
}

// Audit classifies every Secret of in.
func Audit(in *Input, now time.Time) *Report {
	r := &Report{Clusters: make([]Finding, 0, len(in.Secrets)), Summary: Summary{ByKind: map[Kind]int{}, Skipped: in.Skipped}}
	for _, s := range in.Secrets {
		f := Classify(s, now)
		r.Clusters = append(r.Clusters, f)
		r.Summary.ByKind[f.Kind]++
		if f.Static {
			r.Summary.Static++
		}
	}
	r.Summary.Total = len(r.Clusters)
	return r
}

// WriteText prints one line per cluster and the summary.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SECRET\tCLUSTER\tSERVER\tKIND\tSTATIC\tDETAIL")
	for _, f := range r.Clusters {
		static := "-"
		if f.Static {
			static = "STATIC"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Secret, printable(f.Cluster), f.Server, f.Kind, static, f.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var kinds []string
	for k, n := range r.Summary.ByKind {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	_, err := fmt.Fprintf(w, "\n%d cluster Secrets (%s); %d keep a static credential\n", r.Summary.Total, strings.Join(kinds, ", "), r.Summary.Static)
	return err
}

// printable quotes a name with spaces or other characters a column would
// hide.
func printable(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// Err is the audit's failure: a static credential remains.
func (r *Report) Err() error {
	if r.Summary.Static == 0 {
		return nil
	}
	var names []string
	for _, f := range r.Clusters {
		if f.Static {
			names = append(names, f.Secret)
		}
	}
	if len(names) > 10 {
		names = append(names[:10], fmt.Sprintf("and %d more", len(names)-10))
	}
	return fmt.Errorf("%d cluster Secrets keep a static credential (%s): import them and migrate (docs/adopt.md)", r.Summary.Static, strings.Join(names, ", "))
}
