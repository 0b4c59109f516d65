//go:build e2e

package kind

import (
	"context"
	"testing"
	"time"

	argoappv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tokenExpirationSeconds is upstream.token.expirationSeconds in the test's
// federation config: the shortest lifetime Kubernetes allows, so that the
// kubelet replaces the projected tokens (at 80%, 480 s) while the test runs.
const tokenExpirationSeconds = 600

// projected is one ArgoCD pod's projected token for down, as first read.
type projected struct {
	pod, container string
	token          string
	iat, exp       time.Time
}

// testTokenRotation: the kubelet replaces the projected tokens of the
// controller and the server; once the tokens ArgoCD started with have
// expired (down refuses them), ArgoCD still works in down with its own
// credentials: the controller re-creates a ConfigMap deleted behind its
// back (self-heal: new requests to down), and argocd-server reads the
// downstream pod's logs. client-go ran the plugin again and got the new
// tokens.
func (e *env) testTokenRotation(t *testing.T) {
	pods := []*projected{
		{pod: "argocd-application-controller-0", container: "argocd-application-controller"},
		{pod: e.serverPod(t), container: "argocd-server"},
	}
	var lastExp time.Time
	for _, p := range pods {
		p.token = e.readToken(t, p.pod, p.container)
		p.iat, p.exp = tokenTimes(t, p.token)
		if ttl := p.exp.Sub(p.iat); ttl != tokenExpirationSeconds*time.Second {
			t.Fatalf("%s's token lives %v, want %ds (upstream.token.expirationSeconds)", p.container, ttl, tokenExpirationSeconds)
		}
		if p.exp.After(lastExp) {
			lastExp = p.exp
		}
		t.Logf("%s: token issued %s, expires %s; the kubelet replaces it after %s",
			p.container, p.iat.Format(time.TimeOnly), p.exp.Format(time.TimeOnly), p.iat.Add(tokenExpirationSeconds*time.Second*8/10).Format(time.TimeOnly))
	}

	// While the kubelet's rotation is due: onboard a cluster into the
	// running ArgoCD (the TokenRequest source), which restarts nothing.
	t.Run("OnboardWithoutRestart", e.testOnboardWithoutRestart)
	// And adopt a cluster ArgoCD reaches with a static credential.
	t.Run("AdoptLegacyCluster", e.testAdoptLegacyCluster)

	// The kubelet replaces each token (a new iat) before it expires.
	ctx, cancel := context.WithDeadline(context.Background(), lastExp.Add(2*time.Minute))
	defer cancel()
	rotated := map[string]bool{}
	err := poll(ctx, 15*time.Second, func() (bool, error) {
		for _, p := range pods {
			if rotated[p.container] {
				continue
			}
			iat, _ := tokenTimes(t, e.readToken(t, p.pod, p.container))
			if iat.After(p.iat) {
				rotated[p.container] = true
				t.Logf("%s: the kubelet replaced the token %v after it was issued (new iat %s)", p.container, iat.Sub(p.iat).Round(time.Second), iat.Format(time.TimeOnly))
			}
		}
		return len(rotated) == len(pods), nil
	})
	if err != nil {
		t.Fatalf("the kubelet did not replace the projected tokens (replaced: %v) within 2 minutes of their expiry", rotated)
	}

	// Past the old tokens' expiry, down refuses them: whatever works now
	// works with the new ones.
	if wait := time.Until(lastExp.Add(5 * time.Second)); wait > 0 {
		t.Logf("waiting %v for the first tokens to expire", wait.Round(time.Second))
		time.Sleep(wait)
	}
	for _, p := range pods {
		rctx, rcancel := e.ctx(time.Minute)
		_, err := e.bearerClient(t, p.token).AuthenticationV1().SelfSubjectReviews().Create(rctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
		rcancel()
		if !apierrors.IsUnauthorized(err) {
			t.Fatalf("down: %s's first token, expired at %s, is not refused: %v", p.container, p.exp.Format(time.TimeOnly), err)
		}
	}
	t.Logf("down refuses both first tokens (expired); ArgoCD now has only the new ones")

	e.selfHealAfterRotation(t)
	e.testLogsThroughArgoCDAPI(t)
}

// selfHealAfterRotation deletes the Application's ConfigMap in down and
// waits for the controller to create it again.
func (e *env) selfHealAfterRotation(t *testing.T) {
	ctx, cancel := e.ctx(5 * time.Minute)
	defer cancel()
	cms := e.down.client.CoreV1().ConfigMaps(allowedNS)
	old, err := cms.Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("down: ConfigMap %s/hello: %v", allowedNS, err)
	}
	if err := cms.Delete(ctx, "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("down: delete ConfigMap %s/hello: %v", allowedNS, err)
	}
	deleted := time.Now()
	var app *argoappv1.Application
	err = poll(ctx, 2*time.Second, func() (bool, error) {
		cm, err := cms.Get(ctx, "hello", metav1.GetOptions{})
		if err != nil || cm.UID == old.UID {
			return false, nil
		}
		a, err := e.argocd.ArgoprojV1alpha1().Applications(argocdNS).Get(ctx, appName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		app = a
		op := a.Status.OperationState
		return op != nil && op.Phase == "Succeeded" && op.FinishedAt != nil && op.FinishedAt.After(deleted.Add(-time.Second)) &&
			a.Status.Sync.Status == argoappv1.SyncStatusCodeSynced, nil
	})
	if err != nil {
		t.Fatalf("after the token rotation, the controller did not re-create ConfigMap %s/hello in down within 5 minutes: %s\n%s\n%s", allowedNS, appSummary(app),
			e.podLogs(e.up, argocdNS, "argocd-application-controller-0", "argocd-application-controller", 60),
			e.downAPIServerLog(30))
	}
	t.Logf("after the token rotation, the controller re-created ConfigMap %s/hello in down %v after it was deleted: %s",
		allowedNS, time.Since(deleted).Round(time.Second), appSummary(app))
}

// tokenTimes are a token's iat and exp.
func tokenTimes(t *testing.T, token string) (iat, exp time.Time) {
	t.Helper()
	claims := jwtClaims(t, token)
	num := func(k string) time.Time {
		v, ok := claims[k].(float64)
		if !ok {
			t.Fatalf("the token has no numeric %s claim: %v", k, claims[k])
		}
		return time.Unix(int64(v), 0)
	}
	return num("iat"), num("exp")
}
