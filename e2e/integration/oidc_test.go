package integration

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
)

// idpEnv is a hub, a real OpenID provider (Ory Hydra) and downstreams that
// trust only the provider, each started with the AuthenticationConfiguration
// generate wrote for upstream.identityProvider.
type idpEnv struct {
	dir       string
	hub       *testenv.APIServer
	idp       *testenv.Hydra
	pluginBin string
}

// The provider's clients.
const (
	jwtBearerClient   = "argocd-hub"
	credentialsClient = "argocd-hub-cc"
	credentialsSecret = "cc-secret-3f1d9a7b2c"
	peopleClient      = "kubectl"
	peopleSecret      = "kubectl-secret-8e2a4c6b"
	peopleRedirect    = "http://127.0.0.1:8000/callback"
)

// TestIntegrationIdentityProvider proves oidc-token against a real Ory
// Hydra: each grant, driven by client-go's exec authenticator from the
// rest.Config ArgoCD's own code builds from the generated cluster Secret,
// is accepted by a downstream that trusts only the provider, as the
// expected user with the generated RBAC; the provider's and the API
// server's refusals come out as the plugin's one-line errors.
func TestIntegrationIdentityProvider(t *testing.T) {
	te := testenv.NewEnv(t)
	e := &idpEnv{dir: te.Dir}
	e.hub = te.StartUpstream(testenv.UpstreamConfig{
		Name: "hub", Namespace: argocdNS, ServiceAccounts: []string{controllerSA, serverSA, unprivilegedSA}, AnonymousDiscovery: true,
	})
	e.idp = testenv.StartHydra(t, te.Dir, testenv.HydraConfig{})
	// The people's client: kubelogin's at the provider.
	_, err := e.idp.CreateClient(context.Background(), testenv.HydraClient{
		ClientID: peopleClient, ClientSecret: peopleSecret,
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scope: "openid offline_access email groups", RedirectURIs: []string{peopleRedirect},
	})
	must(t, err)
	pluginDir := filepath.Join(e.dir, "pod", "plugin")
	must(t, os.MkdirAll(pluginDir, 0o755))
	run(t, plugin(t), "install", "--to", pluginDir)
	e.pluginBin = filepath.Join(pluginDir, "argocd-k8s-federate-plugin")

	people := &testenv.PeopleConfig{Issuer: e.idp.Issuer, CAFile: e.idp.CAFile, ClientID: peopleClient,
		Group: "platform", ClusterRole: "edit", Namespaces: []string{allowedNS}}
	federate := func(down, grant, client, assertionAudience string) string {
		out := filepath.Join(e.dir, "out-"+down)
		var idp *testenv.IdentityProviderConfig
		if grant != "" {
			idp = &testenv.IdentityProviderConfig{
				Issuer: e.idp.Issuer, CAFile: e.idp.CAFile, Grant: grant, ClientID: client,
				AssertionAudience: assertionAudience,
			}
		}
		var pe *testenv.PeopleConfig
		if down != "down-cc" {
			pe = people
		}
		te.Federate(testenv.FederationSetup{
			Downstream: down,
			Out:        out,
			Configs: []testenv.FederationConfig{{
				Hub: "hub", Issuer: e.hub.URL, CAFile: e.hub.CAFile,
				TokenMountPath: filepath.Join(e.dir, "pod", "tokens"), PluginDir: pluginDir,
				PluginImage:      "argocd-k8s-federate-plugin:test",
				Namespaces:       []string{allowedNS},
				IdentityProvider: idp,
				People:           pe,
			}},
			OtherNamespaces: []string{otherNS},
			RunCLI:          func(args ...string) error { return command(cli(t), args...) },
			YAMLToJSON:      yaml.YAMLToJSONStrict,
		})
		return out
	}
	outJB := federate("down-jb", "JWTBearer", jwtBearerClient, e.idp.TokenURL)
	outCC := federate("down-cc", "ClientCredentials", credentialsClient, "")
	// People of a hub whose ArgoCD keeps the hub's own tokens: the
	// downstream trusts two issuers.
	outPeople := federate("down-people", "", "", "")

	t.Run("JWTBearer", func(t *testing.T) { e.testJWTBearer(t, outJB) })
	t.Run("ClientCredentials", func(t *testing.T) { e.testClientCredentials(t, outCC) })
	t.Run("RefreshToken", e.testRefreshToken)
	t.Run("People", func(t *testing.T) {
		e.testPeople(t, map[string]string{"down-jb": outJB, "down-people": outPeople}, outCC)
	})
}

// testPeople: a person's ID token from a real login at the provider, with
// an email and groups, is the prefixed user and groups in the downstreams
// that grant people (trusting the provider once, beside the hub's tokens,
// or twice, beside the hub's own issuer), with the generated RBAC, and
// nothing in a downstream that grants people nothing; the people's
// kubeconfig loads in client-go and runs kubelogin for the provider.
func (e *idpEnv) testPeople(t *testing.T, outs map[string]string, outNone string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	login, err := e.idp.Login(ctx, testenv.LoginRequest{
		ClientID: peopleClient, ClientSecret: peopleSecret, RedirectURI: peopleRedirect,
		Scopes: []string{"openid", "email", "groups"}, Subject: "alice",
		IDTokenClaims: map[string]any{"email": "alice@example.com", "email_verified": true, "groups": []string{"platform", "system:masters"}},
	})
	must(t, err)
	unverified, err := e.idp.Login(ctx, testenv.LoginRequest{
		ClientID: peopleClient, ClientSecret: peopleSecret, RedirectURI: peopleRedirect,
		Scopes: []string{"openid", "email", "groups"}, Subject: "mallory",
		IDTokenClaims: map[string]any{"email": "mallory@example.com", "email_verified": false, "groups": []string{"platform"}},
	})
	must(t, err)
	for down, out := range outs {
		t.Run(down, func(t *testing.T) {
			rc := restConfigFor(t, out, "hub", down)
			c := bearer(t, rc, login.IDToken)
			r, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("SelfSubjectReview with a person's ID token: %v", err)
			}
			u := r.Status.UserInfo
			t.Logf("%s: the person is %s, groups %v", down, u.Username, u.Groups)
			if u.Username != "oidc:alice@example.com" || !slices.Contains(u.Groups, "oidc:platform") || !slices.Contains(u.Groups, "oidc:system:masters") ||
				slices.Contains(u.Groups, "system:masters") {
				t.Errorf("user %s groups %v: want oidc:alice@example.com in oidc:platform, and no system:masters", u.Username, u.Groups)
			}
			checkIdentity(t, c, "oidc:alice@example.com", "via-people")
			// An email the provider has not verified is no username.
			_, err = bearer(t, rc, unverified.IDToken).CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
			assertUnauthorized(t, err)

			data, err := os.ReadFile(filepath.Join(out, "people", "hub", "kubeconfig.yaml"))
			must(t, err)
			kc, err := clientcmd.Load(data)
			must(t, err)
			must(t, clientcmd.Validate(*kc))
			ctxName := kc.CurrentContext
			user := kc.AuthInfos[kc.Contexts[ctxName].AuthInfo]
			if ctxName != down || user.Exec == nil || user.Exec.Command != "kubectl" ||
				!slices.Equal(user.Exec.Args[:4], []string{"oidc-login", "get-token", "--oidc-issuer-url=" + e.idp.Issuer, "--oidc-client-id=" + peopleClient}) {
				t.Errorf("the people's kubeconfig: context %q, exec %+v", ctxName, user.Exec)
			}
			if kc.Clusters[down].Server != rc.Host {
				t.Errorf("the people's kubeconfig names server %s, want %s", kc.Clusters[down].Server, rc.Host)
			}
		})
	}
	// A downstream that grants people nothing does not trust their tokens.
	rc := restConfigFor(t, outNone, "hub", "down-cc")
	_, err = bearer(t, rc, login.IDToken).CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
	assertUnauthorized(t, err)
}

// pluginRun runs the installed plugin as client-go would, and returns its
// stdout and stderr.
func (e *idpEnv) pluginRun(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(e.pluginBin, args...)
	var o, s strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &s
	err = cmd.Run()
	return o.String(), s.String(), err
}

// refused runs the plugin, which must fail with one line on stderr holding
// every want and none of the secrets, and nothing on stdout.
func (e *idpEnv) refused(t *testing.T, what string, args []string, wants []string, secrets ...string) {
	t.Helper()
	stdout, stderr, err := e.pluginRun(args...)
	t.Logf("%s: %s", what, strings.TrimSpace(stderr))
	if err == nil {
		t.Errorf("%s: the plugin succeeded: %s", what, stdout)
		return
	}
	if stdout != "" {
		t.Errorf("%s: stdout is not empty: %q", what, stdout)
	}
	if strings.Count(stderr, "\n") != 1 {
		t.Errorf("%s: stderr is not one line: %q", what, stderr)
	}
	for _, w := range wants {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: stderr does not say %q: %s", what, w, stderr)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(stderr, s) {
			t.Errorf("%s: stderr holds a secret or token", what)
		}
	}
}

// credentialToken is the token of the ExecCredential the plugin printed.
func credentialToken(t *testing.T, stdout string) string {
	t.Helper()
	var c struct {
		Status struct {
			Token               string `json:"token"`
			ExpirationTimestamp string `json:"expirationTimestamp"`
		} `json:"status"`
	}
	must(t, json.Unmarshal([]byte(stdout), &c))
	if c.Status.Token == "" || c.Status.ExpirationTimestamp == "" {
		t.Fatalf("ExecCredential without token or expiry: %s", stdout)
	}
	return c.Status.Token
}

// claimsOf decodes a JWT's payload, unverified.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	must(t, err)
	var c map[string]any
	must(t, json.Unmarshal(b, &c))
	return c
}

// clusterConfig is what ArgoCD builds from the generated cluster Secret of
// downstream down, with its own code; the exec must run oidc-token.
func clusterConfig(t *testing.T, out, down string) *rest.Config {
	t.Helper()
	cfg := restConfigFor(t, out, "hub", down)
	if len(cfg.ExecProvider.Args) == 0 || cfg.ExecProvider.Args[0] != "oidc-token" {
		t.Fatalf("the cluster Secret of %s runs %q, want oidc-token", down, cfg.ExecProvider.Args)
	}
	return cfg
}

// checkIdentity proves that c is user in the downstream, with the
// generated RBAC: ConfigMaps in allowedNS, nothing in otherNS.
func checkIdentity(t *testing.T, c *kubernetes.Clientset, user, name string) {
	t.Helper()
	ctx := context.Background()
	if got := whoami(t, c); got != user {
		t.Fatalf("SelfSubjectReview username = %q, want %q", got, user)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.CoreV1().ConfigMaps(allowedNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ConfigMap in %s as %s: %v", allowedNS, user, err)
	}
	must(t, c.CoreV1().ConfigMaps(allowedNS).Delete(ctx, name, metav1.DeleteOptions{}))
	_, err := c.CoreV1().ConfigMaps(otherNS).Create(ctx, cm, metav1.CreateOptions{})
	assertForbidden(t, "create ConfigMap in "+otherNS+" as "+user, err)
}

// bearer is a client of the downstream that sends token as it is.
func bearer(t *testing.T, like *rest.Config, token string) *kubernetes.Clientset {
	t.Helper()
	cfg := rest.CopyConfig(like)
	cfg.ExecProvider = nil
	cfg.BearerToken = token
	c, err := kubernetes.NewForConfig(cfg)
	must(t, err)
	return c
}

func (e *idpEnv) testJWTBearer(t *testing.T, out string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	idp := e.idp
	// The provider trusts the hub's issuer for ArgoCD's two service
	// accounts, with the hub's public key; the client is public: no
	// secret anywhere.
	jwk, err := testenv.JWKFromRSAPublicKeyPEM(e.hub.ServiceAccountPublicKeyPEM(), "")
	must(t, err)
	for _, sa := range []string{controllerSA, serverSA} {
		must(t, idp.TrustJWTBearerIssuer(ctx, e.hub.URL, "system:serviceaccount:"+argocdNS+":"+sa, nil, jwk, time.Now().Add(time.Hour)))
	}
	_, err = idp.CreateClient(ctx, testenv.HydraClient{
		ClientID: jwtBearerClient, GrantTypes: []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		TokenEndpointAuthMethod: "none", Audience: []string{"down-jb", idp.TokenURL},
	})
	must(t, err)

	// The generated TokenRequest rights and audience fence, applied to
	// the hub; the controller's pod and its own token.
	for _, f := range []string{"token-request.yaml", "token-audiences.yaml"} {
		data, err := os.ReadFile(filepath.Join(out, "upstream", "hub", f))
		must(t, err)
		must(t, e.hub.ApplyYAML(ctx, data, yaml.YAMLToJSONStrict))
	}
	podToken := filepath.Join(e.dir, "controller-pod", "serviceaccount", "token")
	_, err = e.hub.StartPod(ctx, argocdNS, "argocd-application-controller-0", controllerSA, podToken)
	must(t, err)

	rc := clusterConfig(t, out, "down-jb")
	args := replaceArg(t, rc.ExecProvider.Args, "--ca-file", idp.CAFile)
	// Outside a pod: what the in-pod defaults would be.
	args = append(args, "--api-server", e.hub.URL, "--service-account-token-file", podToken, "--api-server-ca-file", e.hub.CAFile)
	rc.ExecProvider.Args = args
	if !slices.Contains(args, "--assertion-audience") || slices.Contains(args, "--client-secret-file") {
		t.Fatalf("the JWTBearer Secret's plugin args %q: want --assertion-audience and no client secret", args)
	}

	// RBAC and the admission policy reach the hub's caches asynchronously.
	deadline := time.Now().Add(time.Minute)
	var stdout, stderr string
	for {
		stdout, stderr, err = e.pluginRun(args...)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("oidc-token --grant jwt-bearer: %v: %s; Hydra log %s", err, stderr, idp.Log())
	}
	claims := claimsOf(t, credentialToken(t, stdout))
	t.Logf("the access token ArgoCD gets: iss %v sub %v aud %v", claims["iss"], claims["sub"], claims["aud"])

	c, err := kubernetes.NewForConfig(rc)
	must(t, err)
	checkIdentity(t, c, "hub:system:serviceaccount:argocd:argocd-application-controller", "via-jwt-bearer")

	t.Run("Refusals", func(t *testing.T) {
		fileArgs := func(assertion string) []string {
			file := filepath.Join(t.TempDir(), "assertion")
			must(t, os.WriteFile(file, []byte(assertion), 0o600))
			a := slices.Clone(rc.ExecProvider.Args)
			i := slices.Index(a, "--assertion-audience")
			return append(append(a[:i:i], "--assertion-file", file), a[i+2:]...)
		}
		both := []string{idp.TokenURL}
		// A service account of the hub the provider does not trust.
		other, err := e.hub.RequestToken(ctx, argocdNS, unprivilegedSA, idp.TokenURL, 600)
		must(t, err)
		e.refused(t, "untrusted subject", fileArgs(other),
			[]string{"invalid_grant", "register the hub's service-account issuer as trusted", unprivilegedSA}, other)
		// An issuer the provider has never heard of, claiming to be the
		// controller.
		forged := selfSigned(t, map[string]any{
			"iss": "https://hub.invalid", "sub": "system:serviceaccount:argocd:" + controllerSA, "aud": both,
			"iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(), "jti": "forged-1",
		})
		e.refused(t, "untrusted issuer", fileArgs(forged), []string{"invalid_grant", "https://hub.invalid"}, forged)
		// A trusted assertion is good once.
		once, err := e.hub.RequestToken(ctx, argocdNS, controllerSA, idp.TokenURL, 600)
		must(t, err)
		a := fileArgs(once)
		if _, stderr, err := e.pluginRun(a...); err != nil {
			t.Fatalf("first use of an assertion: %v: %s", err, stderr)
		}
		e.refused(t, "reused assertion", a, []string{"jti", "--assertion-audience"}, once)
		// The assertion is for the provider alone; the downstream's
		// audience is asked for, and the provider adds it.
		narrow, err := e.hub.RequestToken(ctx, argocdNS, controllerSA, idp.TokenURL, 600)
		must(t, err)
		stdout, stderr, err := e.pluginRun(fileArgs(narrow)...)
		if err != nil {
			t.Fatalf("an assertion for the provider's audience only: %v: %s", err, stderr)
		}
		if aud := claimsOf(t, credentialToken(t, stdout))["aud"]; !slices.Contains(aud.([]any), any("down-jb")) {
			t.Errorf("the access token is for %v, want down-jb among its audiences", aud)
		}
	})
}

// selfSigned is a JWT with claims, signed by a key nobody trusts.
func selfSigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	enc := func(v any) string {
		b, err := json.Marshal(v)
		must(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "forged"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	must(t, err)
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (e *idpEnv) testClientCredentials(t *testing.T, out string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	idp := e.idp
	_, err := idp.CreateClient(ctx, testenv.HydraClient{
		ClientID: credentialsClient, ClientSecret: credentialsSecret,
		GrantTypes: []string{"client_credentials"}, Audience: []string{"down-cc", "elsewhere"},
	})
	must(t, err)
	secretFile := filepath.Join(e.dir, "cc-pod", "client-secret")
	must(t, os.MkdirAll(filepath.Dir(secretFile), 0o755))
	must(t, os.WriteFile(secretFile, []byte(credentialsSecret+"\n"), 0o600))

	rc := clusterConfig(t, out, "down-cc")
	args := replaceArg(t, rc.ExecProvider.Args, "--client-secret-file", secretFile)
	args = replaceArg(t, args, "--ca-file", idp.CAFile)
	rc.ExecProvider.Args = args
	c, err := kubernetes.NewForConfig(rc)
	must(t, err)
	checkIdentity(t, c, "hub:"+credentialsClient, "via-client-credentials")

	t.Run("Refusals", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "client-secret")
		must(t, os.WriteFile(wrong, []byte("not-the-secret-123"), 0o600))
		e.refused(t, "wrong secret", replaceArg(t, args, "--client-secret-file", wrong),
			[]string{"invalid_client", "--client-secret-file"}, "not-the-secret-123", credentialsSecret)

		_, err := idp.CreateClient(ctx, testenv.HydraClient{
			ClientID: "login-only", ClientSecret: "login-only-secret-1",
			GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, RedirectURIs: []string{peopleRedirect},
			Audience: []string{"down-cc"},
		})
		must(t, err)
		loginOnly := filepath.Join(t.TempDir(), "client-secret")
		must(t, os.WriteFile(loginOnly, []byte("login-only-secret-1"), 0o600))
		e.refused(t, "grant not allowed for the client",
			replaceArg(t, replaceArg(t, args, "--client-id", "login-only"), "--client-secret-file", loginOnly),
			[]string{"client_credentials", "login-only"}, "login-only-secret-1")

		e.refused(t, "audience not allowed for the client", replaceArg(t, args, "--audience", "not-allowed"),
			[]string{"not-allowed"}, credentialsSecret)

		// A provider answer for another audience: without the audience
		// parameter (--audience is the client id), Hydra issues a token
		// for no audience, which the plugin refuses.
		e.refused(t, "a token for another audience", replaceArg(t, args, "--audience", credentialsClient),
			[]string{"is for audience", `not "` + credentialsClient + `"`}, credentialsSecret)

		// The API server: a token of the provider for another audience,
		// and a client of the provider that is not ArgoCD's.
		tr, err := idp.Token(ctx, map[string][]string{"grant_type": {"client_credentials"}, "audience": {"elsewhere"}},
			credentialsClient, credentialsSecret)
		must(t, err)
		_, err = bearer(t, rc, tr.AccessToken).CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
		assertUnauthorized(t, err)

		_, err = idp.CreateClient(ctx, testenv.HydraClient{
			ClientID: "intruder", ClientSecret: "intruder-secret-1",
			GrantTypes: []string{"client_credentials"}, Audience: []string{"down-cc"},
		})
		must(t, err)
		tr, err = idp.Token(ctx, map[string][]string{"grant_type": {"client_credentials"}, "audience": {"down-cc"}}, "intruder", "intruder-secret-1")
		must(t, err)
		_, err = bearer(t, rc, tr.AccessToken).CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
		assertUnauthorized(t, err)

		// An expired token: the client's tokens live one second.
		setLifespan(t, idp, credentialsClient, "1s")
		defer setLifespan(t, idp, credentialsClient, "")
		tr, err = idp.Token(ctx, map[string][]string{"grant_type": {"client_credentials"}, "audience": {"down-cc"}},
			credentialsClient, credentialsSecret)
		must(t, err)
		e.refused(t, "a token that lives shorter than the skew", args, []string{"lifespan", "within --skew"}, credentialsSecret)
		time.Sleep(2 * time.Second)
		_, err = bearer(t, rc, tr.AccessToken).CoreV1().ConfigMaps(allowedNS).List(ctx, metav1.ListOptions{})
		assertUnauthorized(t, err)
	})
}

// setLifespan sets the client_credentials access-token lifespan of a
// client ("" for Hydra's default), through Hydra's admin API.
func setLifespan(t *testing.T, idp *testenv.Hydra, client, lifespan string) {
	t.Helper()
	body := "{}"
	if lifespan != "" {
		body = fmt.Sprintf(`{"client_credentials_grant_access_token_lifespan":%q}`, lifespan)
	}
	req, err := http.NewRequest(http.MethodPut, idp.AdminURL+"/admin/clients/"+client+"/lifespans", strings.NewReader(body))
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := idp.HTTPClient().Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set the lifespans of %s: %s", client, resp.Status)
	}
}

func (e *idpEnv) testRefreshToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	idp := e.idp
	login, err := idp.Login(ctx, testenv.LoginRequest{
		ClientID: peopleClient, ClientSecret: peopleSecret, RedirectURI: peopleRedirect,
		Scopes: []string{"openid", "offline_access", "email", "groups"}, Subject: "alice",
		IDTokenClaims: map[string]any{"email": "alice@example.com", "groups": []string{"platform"}},
	})
	must(t, err)
	dir := t.TempDir()
	rtFile := filepath.Join(dir, "refresh-token")
	secretFile := filepath.Join(dir, "client-secret")
	must(t, os.WriteFile(rtFile, []byte(login.RefreshToken+"\n"), 0o600))
	must(t, os.WriteFile(secretFile, []byte(peopleSecret), 0o600))
	args := []string{"oidc-token", "--issuer", idp.Issuer, "--grant", "refresh-token", "--client-id", peopleClient,
		"--client-secret-file", secretFile, "--refresh-token-file", rtFile, "--token", "id-token", "--audience", peopleClient,
		"--ca-file", idp.CAFile}

	// 20 execs at once, while the provider rotates the refresh token on
	// every refresh: each succeeds, and the file ends with the newest.
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	outs := make([]string, n)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			stdout, stderr, err := e.pluginRun(args...)
			if err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, stderr)
			}
			outs[i] = stdout
		})
	}
	wg.Wait()
	t.Logf("%d concurrent refreshes in %v", n, time.Since(start).Round(time.Millisecond))
	for i, err := range errs {
		if err != nil {
			t.Errorf("exec %d: %v", i, err)
			continue
		}
		c := claimsOf(t, credentialToken(t, outs[i]))
		if c["email"] != "alice@example.com" || c["iss"] != idp.Issuer {
			t.Errorf("exec %d: ID token claims %v", i, c)
		}
	}
	data, err := os.ReadFile(rtFile)
	must(t, err)
	newest := strings.TrimSpace(string(data))
	if newest == login.RefreshToken {
		t.Fatal("the refresh token file still holds the login's token")
	}
	if fi, err := os.Stat(rtFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the refresh token file's mode: %v %v, want 0600", fi.Mode(), err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".refresh-token.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %q", leftovers)
	}
	// The file's token is the live one: one more exec works with it...
	if _, stderr, err := e.pluginRun(args...); err != nil {
		t.Fatalf("an exec after the concurrent ones: %v: %s", err, stderr)
	}
	// ...and a spent one is refused, with what to do.
	spent := filepath.Join(t.TempDir(), "refresh-token")
	must(t, os.WriteFile(spent, []byte(login.RefreshToken), 0o600))
	e.refused(t, "a spent refresh token", replaceArg(t, args, "--refresh-token-file", spent),
		[]string{"invalid_grant", "log in again"}, login.RefreshToken, peopleSecret)
}
