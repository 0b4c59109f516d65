package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
)

// rotationGrace is how long after the kubelet's rotation point a token may
// still be in the file: the kubelet writes the new one on the pod's next
// volume sync, a minute or two later.
const rotationGrace = 5 * time.Minute

// minRemaining is the least lifetime a healthy token has left.
const minRemaining = time.Minute

// checkToken runs token-file, token-expiry, token-audience, token-issuer
// and token-subject.
func (r *runner) checkToken() {
	t := r.t
	claims := []string{CheckTokenExpiry, CheckTokenAudience, CheckTokenIssuer, CheckTokenSubject}
	if t.TokenFile == "" {
		// A token-request downstream: no file in the pods to read.
		r.add(Result{Check: CheckTokenFile, Status: Skip,
			Message: fmt.Sprintf("the plugin requests this downstream's tokens (token-request): there is no token file; give --token-file with a token for audience %q", t.Audience),
			Fix:     fmt.Sprintf("kubectl -n %s create token %s --audience %s > token, then doctor ... --token-file token", orDefault(t.ServiceAccountNamespace, "argocd"), orDefault(t.ServiceAccount, "argocd-application-controller"), t.Audience)})
		for _, c := range claims {
			r.add(skip(c, "no token to check (give --token-file)"))
		}
		return
	}
	data, err := r.env.ReadFile(t.TokenFile)
	if err != nil {
		r.add(Result{Check: CheckTokenFile, Status: Fail, Message: fmt.Sprintf("cannot read %s: %v", t.TokenFile, err), Fix: r.readFix(err)})
		for _, c := range claims {
			r.add(skip(c, "no token to check ("+CheckTokenFile+" failed)"))
		}
		return
	}
	tok, err := credential.ParseToken(data)
	if err != nil {
		r.add(Result{Check: CheckTokenFile, Status: Fail, Message: fmt.Sprintf("%s does not hold a service-account token: %v", t.TokenFile, err), Fix: parseFix(err)})
		for _, c := range claims {
			r.add(skip(c, "no token to check ("+CheckTokenFile+" failed)"))
		}
		return
	}
	c := tok.Claims
	r.token, r.sub = tok.Raw, c.Subject
	r.add(Result{Check: CheckTokenFile, Status: Pass, Message: fmt.Sprintf("%s holds a token of %s", t.TokenFile, orNone(c.Subject))})

	now := r.env.Now()
	r.add(expiry(c, now))
	// A token close to expiry or not refreshed is still accepted; an expired
	// one is not.
	usable := now.Before(c.Expiry)

	switch {
	case t.Audience == "":
		r.add(skip(CheckTokenAudience, "the expected audience is unknown (give -f, or a --secret whose exec args have --audience)"))
	case c.HasAudience(t.Audience):
		r.add(Result{Check: CheckTokenAudience, Status: Pass, Message: fmt.Sprintf("aud includes %q", t.Audience)})
	default:
		usable = false
		r.add(Result{Check: CheckTokenAudience, Status: Fail,
			Message: fmt.Sprintf("the token is for audience %s, downstream %s accepts %q: the file holds the token of another audience", quoteList(c.Audience), t.Name, t.Audience),
			Fix:     fmt.Sprintf("mount, at %s, the projected serviceAccountToken whose audience is %q: the generated upstream Component does (re-apply it and restart the ArgoCD pods); if the mount is right, the file path in the cluster Secret (--file) or --token-file names another downstream's token", t.TokenFile, t.Audience)})
	}

	switch {
	case t.Issuer == "":
		r.add(skip(CheckTokenIssuer, "the expected issuer is unknown (give -f, or a --secret whose exec args have --issuer)"))
	case c.Issuer == t.Issuer:
		r.add(Result{Check: CheckTokenIssuer, Status: Pass, Message: fmt.Sprintf("iss is %s", c.Issuer)})
	default:
		usable = false
		r.add(Result{Check: CheckTokenIssuer, Status: Fail,
			Message: fmt.Sprintf("the token was issued by %s, the downstream trusts %s", orNone(c.Issuer), t.Issuer),
			Fix:     fmt.Sprintf("upstream.issuer must be the upstream API server's --service-account-issuer (the iss of its tokens): if %s is this upstream's, set upstream.issuer: %s and generate again; otherwise the token comes from another cluster", orNone(c.Issuer), c.Issuer)})
	}
	r.tokenUsable = usable

	switch {
	case len(t.Grants) == 0:
		r.add(skip(CheckTokenSubject, "the config's ArgoCD identities are unknown (give -f)"))
	case len(r.grantsOf(c.Subject)) > 0:
		g := r.grantsOf(c.Subject)[0]
		r.add(Result{Check: CheckTokenSubject, Status: Pass, Message: fmt.Sprintf("sub is the %s's service account", g.Who)})
	case t.Others[c.Subject] != "":
		r.add(Result{Check: CheckTokenSubject, Status: Fail,
			Message: fmt.Sprintf("sub is %s, not %s: %s", c.Subject, r.identity(), t.Others[c.Subject]),
			Fix:     "run doctor for the identity whose token this is (" + t.Others[c.Subject] + "), or give a token of " + r.identity()})
	default:
		var want []string
		for _, g := range t.Grants {
			if !slices.Contains(want, g.Subject) {
				want = append(want, g.Subject)
			}
		}
		fix := "the file holds another service account's token: run doctor in (or with a token of) the application controller or the server, or fix upstream.argocd.*.serviceAccount in the config"
		if t.Workload != "" {
			fix = fmt.Sprintf("the file holds another service account's token: run doctor in (or with a token of) workload %s, or fix upstream.workloads[].serviceAccount in the config", t.Workload)
		}
		r.add(Result{Check: CheckTokenSubject, Status: Fail,
			Message: fmt.Sprintf("sub is %s, which is %s (%s): the generated authentication-config.yaml refuses it (401)", orNone(c.Subject), r.notIdentity(), strings.Join(want, ", ")),
			Fix:     fix})
	}
}

// identity names what the target diagnoses; notIdentity says a token is
// not of it.
func (r *runner) identity() string {
	if r.t.Workload != "" {
		return "workload " + r.t.Workload + "'s service account"
	}
	return "an ArgoCD identity of the config"
}

func (r *runner) notIdentity() string {
	if r.t.Workload != "" {
		return "not workload " + r.t.Workload + "'s service account"
	}
	return "neither ArgoCD identity of the config"
}

// expiry is token-expiry: not expired, not close to it, and not left behind
// by a kubelet that stopped refreshing it.
func expiry(c credential.Claims, now time.Time) Result {
	left := c.Expiry.Sub(now).Truncate(time.Second)
	fix := "the kubelet refreshes a projected token in place: check that the pod mounts the projected serviceAccountToken volume (a copied token is never refreshed) and that the node's kubelet is healthy; beside the pod, take a fresh token (kubectl create token ... --audience ...)"
	if left <= 0 {
		return Result{Check: CheckTokenExpiry, Status: Fail, Message: fmt.Sprintf("the token expired %v ago (%s)", -left, c.Expiry.UTC().Format(time.RFC3339)), Fix: fix}
	}
	if left < minRemaining {
		return Result{Check: CheckTokenExpiry, Status: Fail, Message: fmt.Sprintf("the token expires in %v", left), Fix: fix}
	}
	if start, due, ok := credential.DefaultPolicy().Rotation(c); ok {
		if now.After(due.Add(rotationGrace)) {
			return Result{Check: CheckTokenExpiry, Status: Fail,
				Message: fmt.Sprintf("the token was due for replacement %v ago (issued %v ago, expires in %v): nobody is refreshing it", now.Sub(due).Truncate(time.Second), now.Sub(start).Truncate(time.Second), left),
				Fix:     fix}
		}
		return Result{Check: CheckTokenExpiry, Status: Pass, Message: fmt.Sprintf("expires in %v, issued %v ago", left, now.Sub(start).Truncate(time.Second))}
	}
	return Result{Check: CheckTokenExpiry, Status: Pass, Message: fmt.Sprintf("expires in %v", left)}
}

func (r *runner) readFix(err error) string {
	t := r.t
	create := fmt.Sprintf("kubectl -n %s create token <service account> --audience %s > token", orDefault(t.ServiceAccountNamespace, "argocd"), orDefault(t.Audience, "<audience>"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("in an ArgoCD pod, the projected token volume is not mounted there: apply the generated upstream Component and restart the pod. Beside the pod, pass a token with --token-file (%s)", create)
	case errors.Is(err, fs.ErrPermission):
		return "let this user read the projected volume (the pod's securityContext.fsGroup or runAsUser), or run doctor as the ArgoCD container's user"
	}
	return "--token-file (or the cluster Secret's --file) must name the token file, not a directory"
}

func parseFix(err error) string {
	var cerr *credential.Error
	if errors.As(err, &cerr) && cerr.Problem == credential.ProblemNoExpiry {
		return "this is a legacy Secret token, which never expires: use the projected serviceAccountToken volume the generated Component mounts"
	}
	return "the file must be a projected serviceAccountToken (a JWT): check the path (--token-file, or the cluster Secret's --file)"
}

// grantsOf are the grants of the identity whose tokens have subject sub.
func (r *runner) grantsOf(sub string) []config.Grant {
	var out []config.Grant
	for _, g := range r.t.Grants {
		if sub == g.Subject {
			out = append(out, g)
		}
	}
	return out
}

func quoteList(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
