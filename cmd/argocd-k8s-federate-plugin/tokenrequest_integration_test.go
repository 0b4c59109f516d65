package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential/credentialtest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// The pod token-request runs in: ArgoCD's application controller.
const (
	trNamespace = "argocd"
	trSA        = "argocd-application-controller"
	trPod       = "argocd-application-controller-0"
	trUser      = "system:serviceaccount:" + trNamespace + ":" + trSA
)

// tokenRequestEnv is a real kube-apiserver (and etcd) with the controller's
// service account, a Pending pod of it, and that pod's own token in a file,
// bound to the pod with the API server's audience, as the kubelet mounts it.
type tokenRequestEnv struct {
	bin       string
	up        *testenv.APIServer
	dir       string
	podUID    string
	tokenFile string
}

// TestIntegrationTokenRequest runs the real plugin binary's token-request
// against a real kube-apiserver: what it refuses without the Role, the
// ExecCredential once the Role is bound (printed for the plugin and used by
// client-go's exec authenticator), the admission policy that fences the
// audiences, and every way the exchange can fail.
func TestIntegrationTokenRequest(t *testing.T) {
	e := &tokenRequestEnv{bin: buildPlugin(t)}
	env := testenv.NewEnv(t)
	e.dir = env.Dir
	e.up = testenv.StartAPIServer(t, env.Dir, env.Etcd, testenv.APIServerConfig{Name: "up"})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	must(t, e.up.CreateServiceAccount(ctx, trNamespace, trSA))
	// The pod and its kube-api-access token, as the kubelet mounts it.
	e.tokenFile = filepath.Join(e.dir, "pod", "serviceaccount", "token")
	var err error
	e.podUID, err = e.up.StartPod(ctx, trNamespace, trPod, trSA, e.tokenFile)
	must(t, err)

	t.Run("without the Role: 403 names it", func(t *testing.T) {
		res := e.run(t, nil, "--audience", "downstream-a")
		res.fails(t, "the API server "+e.up.URL+" forbids "+trUser+" to create a token for itself (403 Forbidden: ",
			`cannot create resource "serviceaccounts/token"`, // the API server's message, quoted
			"apply the Role "+plugin.TokenRequestRoleName(trSA)+" and its RoleBinding in namespace "+trNamespace,
			"upstream/<hub>/"+plugin.TokenRequestFile)
	})

	e.grant(ctx, t)

	t.Run("ExecCredential", e.testExecCredential)
	t.Run("client-go exec", e.testClientGo)
	t.Run("admission fences the audiences", func(t *testing.T) { e.testAdmission(ctx, t) })
	t.Run("unreachable", e.testUnreachable)
	t.Run("TLS verification", e.testWrongCA)
	t.Run("a token the API server did not issue", func(t *testing.T) {
		forged := filepath.Join(e.dir, "forged-token")
		c := credentialtest.Claims(e.up.URL, time.Now().Add(-time.Minute), time.Hour)
		c["iss"], c["sub"] = e.up.URL, trUser
		must(t, os.WriteFile(forged, []byte(credentialtest.Token(c)), 0o600))
		res := e.run(t, nil, "--audience", "downstream-a", "--service-account-token-file", forged)
		res.fails(t, "the API server "+e.up.URL+` refused the pod's own service-account token from "`+forged+`" (401 Unauthorized`,
			"its pod was deleted, or it is another cluster's token")
	})
	// Last: the pod is gone.
	t.Run("pod deleted: 401", func(t *testing.T) { e.testPodDeleted(ctx, t) })
}

// grant applies the Role and RoleBinding that let the service account create
// tokens for itself, and waits until the authorizer has them.
func (e *tokenRequestEnv) grant(ctx context.Context, t *testing.T) {
	t.Helper()
	must(t, e.up.CreateTokenRequestRole(ctx, trNamespace, trSA, plugin.TokenRequestRoleName(trSA)))
	e.eventually(ctx, t, "the Role to be in force", func() (bool, string) {
		res := e.run(t, nil, "--audience", "downstream-a")
		return res.code == 0, res.stderr
	})
}

func (e *tokenRequestEnv) testExecCredential(t *testing.T) {
	for _, apiVersion := range []string{credential.APIVersionV1, credential.APIVersionV1beta1} {
		t.Run(apiVersion, func(t *testing.T) {
			info := map[string]string{credential.ExecInfoEnv: `{"kind":"ExecCredential","apiVersion":"` + apiVersion + `","spec":{"interactive":false}}`}
			res := e.run(t, info, "--audience", "downstream-a", "--issuer", e.up.URL)
			cred, claims := res.credential(t)
			if cred.APIVersion != apiVersion || cred.Kind != credential.Kind {
				t.Errorf("apiVersion %q kind %q, want %q ExecCredential", cred.APIVersion, cred.Kind, apiVersion)
			}
			if len(claims.Audience) != 1 || claims.Audience[0] != "downstream-a" {
				t.Errorf("aud = %q, want [downstream-a]", claims.Audience)
			}
			if claims.Subject != trUser || claims.Issuer != e.up.URL {
				t.Errorf("sub %q iss %q, want %q and %q", claims.Subject, claims.Issuer, trUser, e.up.URL)
			}
			if claims.Pod != (credential.ObjectRef{Name: trPod, UID: e.podUID}) || claims.Namespace != trNamespace || claims.ServiceAccount.Name != trSA {
				t.Errorf("kubernetes.io = %q %+v %+v, want the pod %s (uid %s) of %s/%s", claims.Namespace, claims.Pod, claims.ServiceAccount, trPod, e.podUID, trNamespace, trSA)
			}
			if ttl := claims.Expiry.Sub(claims.IssuedAt); ttl != time.Hour {
				t.Errorf("exp - iat = %v, want the default --expiration-seconds 3600", ttl)
			}
			// The rotation point: client-go runs the plugin again at 80% of
			// the lifetime, and a new token is requested.
			want := claims.IssuedAt.Add(48 * time.Minute).UTC().Format(time.RFC3339)
			if cred.Status.ExpirationTimestamp != want {
				t.Errorf("expirationTimestamp = %s, want iat + 48m = %s", cred.Status.ExpirationTimestamp, want)
			}
		})
	}
	t.Run("--expiration-seconds and --skew", func(t *testing.T) {
		res := e.run(t, nil, "--audience", "downstream-a", "--expiration-seconds", "600", "--skew", "3m")
		cred, claims := res.credential(t)
		if ttl := claims.Expiry.Sub(claims.IssuedAt); ttl != 10*time.Minute {
			t.Errorf("exp - iat = %v, want 10m", ttl)
		}
		if want := claims.Expiry.Add(-3 * time.Minute).UTC().Format(time.RFC3339); cred.Status.ExpirationTimestamp != want {
			t.Errorf("expirationTimestamp = %s, want exp - skew = %s (before iat + 8m)", cred.Status.ExpirationTimestamp, want)
		}
	})
	t.Run("every call asks again", func(t *testing.T) {
		_, a := e.run(t, nil, "--audience", "downstream-a").credential(t)
		time.Sleep(1100 * time.Millisecond) // iat is in seconds
		_, b := e.run(t, nil, "--audience", "downstream-a").credential(t)
		if !b.IssuedAt.After(a.IssuedAt) {
			t.Errorf("second token issued at %v, first at %v: want a new token per call", b.IssuedAt, a.IssuedAt)
		}
	})
	t.Run("--issuer mismatch", func(t *testing.T) {
		e.run(t, nil, "--audience", "downstream-a", "--issuer", "https://other.example.com").
			fails(t, `token was issued by "`+e.up.URL+`", want "https://other.example.com"`)
	})
}

// testClientGo lets client-go's exec authenticator run token-request, for
// the API server's own audience, and asks the API server who it is.
func (e *tokenRequestEnv) testClientGo(t *testing.T) {
	cfg := &rest.Config{
		Host:            e.up.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.up.CAPEM},
		ExecProvider: &clientcmdapi.ExecConfig{
			APIVersion:      credential.APIVersionV1,
			Command:         e.bin,
			Args:            e.args("--audience", e.up.URL),
			InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		},
		Timeout: 30 * time.Second,
	}
	client, err := kubernetes.NewForConfig(cfg)
	must(t, err)
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectReview with the plugin's token: %v", err)
	}
	u := review.Status.UserInfo
	if u.Username != trUser {
		t.Errorf("username %q, want %q", u.Username, trUser)
	}
	if got := u.Extra["authentication.kubernetes.io/pod-name"]; len(got) != 1 || got[0] != trPod {
		t.Errorf("pod-name %q, want [%s]: the token is not bound to the pod", got, trPod)
	}
	if got := u.Extra["authentication.kubernetes.io/pod-uid"]; len(got) != 1 || got[0] != e.podUID {
		t.Errorf("pod-uid %q, want [%s]", got, e.podUID)
	}
}

// testAdmission applies a ValidatingAdmissionPolicy that lets the service
// account ask only for the audiences the ConfigMap lists as its data keys.
func (e *tokenRequestEnv) testAdmission(ctx context.Context, t *testing.T) {
	const policy = "argocd-k8s-federate-token-audiences"
	_, err := e.up.Do(ctx, http.MethodPost, "/api/v1/namespaces/"+trNamespace+"/configmaps", map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": plugin.AudiencesConfigMap},
		"data":     map[string]string{"downstream-a": ""},
	})
	must(t, err)
	_, err = e.up.Do(ctx, http.MethodPost, "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies", map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
		"metadata": map[string]any{"name": policy},
		"spec": map[string]any{
			"failurePolicy": "Fail",
			"paramKind":     map[string]any{"apiVersion": "v1", "kind": "ConfigMap"},
			"matchConstraints": map[string]any{"resourceRules": []any{map[string]any{
				"apiGroups": []string{""}, "apiVersions": []string{"v1"}, "operations": []string{"CREATE"}, "resources": []string{"serviceaccounts/token"},
			}}},
			"matchConditions": []any{map[string]any{
				"name": "argocd-service-accounts", "expression": "request.userInfo.username == '" + trUser + "'",
			}},
			"validations": []any{map[string]any{
				"expression": "object.spec.audiences.all(a, a in params.data)",
				"message":    "the audience is not one of this hub's downstreams",
			}},
		},
	})
	must(t, err)
	_, err = e.up.Do(ctx, http.MethodPost, "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings", map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
		"metadata": map[string]any{"name": policy},
		"spec": map[string]any{
			"policyName":        policy,
			"paramRef":          map[string]any{"name": plugin.AudiencesConfigMap, "namespace": trNamespace, "parameterNotFoundAction": "Deny"},
			"validationActions": []string{"Deny"},
		},
	})
	must(t, err)

	var refused result
	e.eventually(ctx, t, "the admission policy to be in force", func() (bool, string) {
		refused = e.run(t, nil, "--audience", "downstream-unlisted")
		return strings.Contains(refused.stderr, "ValidatingAdmissionPolicy"), refused.stderr
	})
	refused.fails(t, "admission refused "+trUser+` a token for audience "downstream-unlisted" (422 Unprocessable Entity: `,
		"ValidatingAdmissionPolicy '"+policy+"'", "the audience is not one of this hub's downstreams",
		"the ConfigMap "+plugin.AudiencesConfigMap, "upstream/<hub>/"+plugin.AudiencesFile,
		"add the downstream to the federation config, run generate and apply")
	if _, claims := e.run(t, nil, "--audience", "downstream-a").credential(t); !claims.HasAudience("downstream-a") {
		t.Errorf("a listed audience: aud %q", claims.Audience)
	}
}

func (e *tokenRequestEnv) testUnreachable(t *testing.T) {
	t.Run("nothing listens", func(t *testing.T) {
		url := "https://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
		e.run(t, nil, "--audience", "downstream-a", "--api-server", url).
			fails(t, "cannot reach the API server "+url+": ", "connection refused",
				"a NetworkPolicy must allow egress to the kubernetes Service", "KUBERNETES_SERVICE_HOST (or --api-server)")
	})
	t.Run("no answer within --timeout", func(t *testing.T) {
		// A listener that never accepts: the kernel completes the TCP
		// handshake, nobody answers the TLS one, as behind a dropping firewall.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		defer l.Close()
		url := "https://" + l.Addr().String()
		start := time.Now()
		res := e.run(t, nil, "--audience", "downstream-a", "--api-server", url, "--timeout", "1s")
		res.fails(t, "the API server "+url+" did not answer within --timeout 1s", "a NetworkPolicy must allow egress")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the plugin took %v with --timeout 1s", d)
		}
	})
}

func (e *tokenRequestEnv) testWrongCA(t *testing.T) {
	other, err := testenv.NewCA("another-cluster-ca")
	must(t, err)
	caFile := filepath.Join(e.dir, "another-ca.crt")
	must(t, os.WriteFile(caFile, other.CertPEM, 0o644))
	e.run(t, nil, "--audience", "downstream-a", "--ca-file", caFile).
		fails(t, "cannot verify the API server "+e.up.URL+` with --ca-file "`+caFile+`": `, "certificate signed by unknown authority",
			"give the CA bundle that signed its serving certificate")
}

// testPodDeleted deletes the pod. The API server caches a token's
// authentication for 10 seconds: until then the pod's token is still
// accepted but no token can be bound to the pod (404 for the pod); after,
// the pod's token is refused (401).
func (e *tokenRequestEnv) testPodDeleted(ctx context.Context, t *testing.T) {
	e.run(t, nil, "--audience", "downstream-a").credential(t) // authenticated, and cached, now
	cached := time.Now()
	_, err := e.up.Do(ctx, http.MethodDelete, "/api/v1/namespaces/"+trNamespace+"/pods/"+trPod+"?gracePeriodSeconds=0", nil)
	must(t, err)
	e.eventually(ctx, t, "the pod to be gone", func() (bool, string) {
		_, err := e.up.Do(ctx, http.MethodGet, "/api/v1/namespaces/"+trNamespace+"/pods/"+trPod, nil)
		return err != nil && strings.Contains(err.Error(), "404"), fmt.Sprint(err)
	})
	if res := e.run(t, nil, "--audience", "downstream-a"); time.Since(cached) < 9*time.Second {
		res.fails(t, "the API server "+e.up.URL+" has no pod "+trPod+" in namespace "+trNamespace+`, which the pod's own token from "`+e.tokenFile+`" is bound to (404 Not Found: `,
			"the pod was deleted, or the token was copied from another pod")
	} else {
		t.Logf("the 404 for the pod was not checked: the authentication cache may have expired (%v)", time.Since(cached))
	}

	var res result
	e.eventually(ctx, t, "the pod's token to be refused", func() (bool, string) {
		res = e.run(t, nil, "--audience", "downstream-a")
		return strings.Contains(res.stderr, "401"), res.stderr
	})
	res.fails(t, "the API server "+e.up.URL+` refused the pod's own service-account token from "`+e.tokenFile+`" (401 Unauthorized`,
		"the token has expired, its pod was deleted, or it is another cluster's token")
}

// args are the plugin's arguments with the API server, its CA and the pod's
// token file, then more (a later flag wins).
func (e *tokenRequestEnv) args(more ...string) []string {
	return append([]string{"token-request", "--api-server", e.up.URL, "--ca-file", e.up.CAFile, "--service-account-token-file", e.tokenFile}, more...)
}

// result is one run of the plugin binary.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the plugin binary as client-go does, with env added to a process
// environment that has no KUBERNETES_ variables.
func (e *tokenRequestEnv) run(t *testing.T, env map[string]string, more ...string) result {
	t.Helper()
	cmd := exec.Command(e.bin, e.args(more...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBERNETES_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run the plugin: %v", err)
		}
		res.code = ee.ExitCode()
	}
	return res
}

// credential decodes a successful run's ExecCredential and its token.
func (r result) credential(t *testing.T) (credential.ExecCredential, credential.Claims) {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var cred credential.ExecCredential
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cred); err != nil {
		t.Fatalf("stdout is not an ExecCredential: %v: %q", err, r.stdout)
	}
	tok, err := credential.ParseToken([]byte(cred.Status.Token))
	if err != nil {
		t.Fatalf("the ExecCredential's token: %v", err)
	}
	return cred, tok.Claims
}

// fails checks exit code 1, nothing on stdout and one stderr line holding
// every want, and no token.
func (r result) fails(t *testing.T, want ...string) {
	t.Helper()
	if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q: want 1, nothing and one line", r.code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "argocd-k8s-federate-plugin token-request: ") {
		t.Errorf("stderr %q does not name the command", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr = %q\nwant it to contain %q", r.stderr, w)
		}
	}
	if strings.Contains(r.stderr, "eyJ") {
		t.Errorf("stderr may hold a token: %q", r.stderr)
	}
}

// eventually retries check every 250ms until it is done, failing the test
// with the last state after a minute.
func (e *tokenRequestEnv) eventually(ctx context.Context, t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		done, last := check()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waited a minute for %s; last: %s", what, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
