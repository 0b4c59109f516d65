//go:build e2e

package kind

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	argocommon "github.com/argoproj/argo-cd/v3/common"
	argoappv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// testSyncedHealthyAndRunning: the Application reaches Synced and Healthy,
// and its Deployment's pod runs in down's granted namespace.
func (e *env) testSyncedHealthyAndRunning(t *testing.T) {
	ctx, cancel := e.ctx(5 * time.Minute)
	defer cancel()
	var app *argoappv1.Application
	err := poll(ctx, 2*time.Second, func() (bool, error) {
		a, err := e.argocd.ArgoprojV1alpha1().Applications(argocdNS).Get(ctx, appName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		app = a
		return a.Status.Sync.Status == argoappv1.SyncStatusCodeSynced && string(a.Status.Health.Status) == "Healthy", nil
	})
	if err != nil {
		t.Fatalf("Application %s is not Synced and Healthy after 5 minutes: %s\n%s\n%s\n%s", appName, appSummary(app),
			e.podLogs(e.up, argocdNS, "argocd-application-controller-0", "argocd-application-controller", 60),
			e.podLogs(e.up, argocdNS, "deploy/argocd-repo-server", "argocd-repo-server", 30),
			e.kubectlAllowFail(e.down, "-n", allowedNS, "get", "all,configmaps,events"))
	}
	t.Logf("Application %s: %s", appName, appSummary(app))

	pod := e.helloPod(t, ctx)
	t.Logf("down: pod %s/%s is %s on %s (image %s)", allowedNS, pod.Name, pod.Status.Phase, pod.Spec.NodeName, pod.Spec.Containers[0].Image)
	cm, err := e.down.client.CoreV1().ConfigMaps(allowedNS).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("down: the Application's ConfigMap %s/hello: %v", allowedNS, err)
	}
	// ArgoCD v3 tracks what it deploys with an annotation (v2: a label).
	want := appName + ":/ConfigMap:" + allowedNS + "/hello"
	if got := cm.Annotations[argocommon.AnnotationKeyAppInstance]; got != want {
		t.Errorf("down: ConfigMap hello carries %s=%q, want %q (ArgoCD's tracking annotation)", argocommon.AnnotationKeyAppInstance, got, want)
	}
}

// helloPod waits for the Deployment's pod to run in down.
func (e *env) helloPod(t *testing.T, ctx context.Context) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := poll(ctx, 2*time.Second, func() (bool, error) {
		pods, err := e.down.client.CoreV1().Pods(allowedNS).List(ctx, metav1.ListOptions{LabelSelector: "app=hello"})
		if err != nil {
			return false, nil
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				pod = p
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("down: no Running pod app=hello in %s: %v\n%s", allowedNS, err,
			e.kubectlAllowFail(e.down, "-n", allowedNS, "describe", "pods"))
	}
	return pod
}

// testFederatedIdentity: the tokens the kubelet projects into ArgoCD's pods
// in up, presented to down, are the prefixed service-account users, and
// those users have what the config granted and nothing more.
func (e *env) testFederatedIdentity(t *testing.T) {
	for _, tc := range []struct {
		pod, container, user string
		mayCreateDeployments bool
	}{
		{"argocd-application-controller-0", "argocd-application-controller", controllerUser, true},
		{e.serverPod(t), "argocd-server", serverUser, false},
	} {
		token := e.readToken(t, tc.pod, tc.container)
		claims := jwtClaims(t, token)
		t.Logf("%s: token from %s: iss=%v sub=%v aud=%v", tc.container, tokenFile, claims["iss"], claims["sub"], claims["aud"])
		if claims["iss"] != upIssuer || !audienceIs(claims["aud"], downName) {
			t.Errorf("%s's token: iss %v, aud %v; want iss %s, aud [%s]", tc.container, claims["iss"], claims["aud"], upIssuer, downName)
		}
		c := e.bearerClient(t, token)
		ctx, cancel := e.ctx(time.Minute)
		r, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
		cancel()
		if err != nil {
			t.Errorf("down: SelfSubjectReview with %s's token: %v\n%s", tc.container, err, e.downAPIServerLog(40))
			continue
		}
		if got := r.Status.UserInfo.Username; got != tc.user {
			t.Errorf("down: SelfSubjectReview with %s's token: user %q, want %q", tc.container, got, tc.user)
			continue
		}
		t.Logf("down: SelfSubjectReview with %s's token: user %q, groups %v", tc.container, r.Status.UserInfo.Username, r.Status.UserInfo.Groups)
		for _, a := range []struct {
			ns   string
			want bool
		}{{allowedNS, tc.mayCreateDeployments}, {notGrantedNS, false}} {
			attrs := authzv1.ResourceAttributes{Namespace: a.ns, Verb: "create", Group: "apps", Resource: "deployments"}
			ctx, cancel := e.ctx(time.Minute)
			rev, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
				Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}}, metav1.CreateOptions{})
			cancel()
			if err != nil {
				t.Errorf("down: SelfSubjectAccessReview as %s: %v", tc.user, err)
				continue
			}
			if rev.Status.Allowed != a.want {
				t.Errorf("down: %s may create Deployments in %s: %v, want %v", tc.user, a.ns, rev.Status.Allowed, a.want)
			}
		}
	}
}

// testOtherServiceAccountRefused: a token of another service account of up
// (the repo server's, minted with TokenRequest), for down's audience and
// validly signed, is refused by down at authentication: the generated
// claimValidationRule accepts only the controller's and the server's.
func (e *env) testOtherServiceAccountRefused(t *testing.T) {
	ctx, cancel := e.ctx(time.Minute)
	defer cancel()
	const sa = "argocd-repo-server"
	exp := int64(600)
	tr, err := e.up.client.CoreV1().ServiceAccounts(argocdNS).CreateToken(ctx, sa, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: []string{downName}, ExpirationSeconds: &exp},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("up: TokenRequest for %s/%s with audience %s: %v", argocdNS, sa, downName, err)
	}
	_, err = e.bearerClient(t, tr.Status.Token).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if !apierrors.IsUnauthorized(err) {
		t.Fatalf("down: SelfSubjectReview with a token of up's %s/%s (audience %s): %v; want 401 Unauthorized\n%s",
			argocdNS, sa, downName, err, e.downAPIServerLog(20))
	}
	t.Logf("down: a token of up's %s/%s for audience %s is refused: %v", argocdNS, sa, downName, err)
}

func (e *env) serverPod(t *testing.T) string {
	t.Helper()
	ctx, cancel := e.ctx(time.Minute)
	defer cancel()
	pods, err := e.up.client.CoreV1().Pods(argocdNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=argocd-server"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			return p.Name
		}
	}
	t.Fatalf("up: no Running argocd-server pod\n%s", e.kubectlAllowFail(e.up, "-n", argocdNS, "get", "pods"))
	return ""
}

// readToken reads the projected token from the pod's file, as the plugin
// does. It is never logged.
func (e *env) readToken(t *testing.T, pod, container string) string {
	t.Helper()
	out, errOut, err := e.runKubectl(e.up, "", "-n", argocdNS, "exec", pod, "-c", container, "--", "cat", tokenFile)
	if err != nil {
		t.Fatalf("up: read %s in %s/%s: %v\n%s", tokenFile, pod, container, err, errOut)
	}
	return strings.TrimSpace(out)
}

// bearerClient is a client of down that authenticates with the token only.
func (e *env) bearerClient(t *testing.T, token string) *kubernetes.Clientset {
	t.Helper()
	c, err := kubernetes.NewForConfig(&rest.Config{
		Host:            e.down.config.Host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.down.caPEM},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testNotGrantedNamespace: the Application that targets a namespace the
// config did not grant never syncs, and nothing is created there.
func (e *env) testNotGrantedNamespace(t *testing.T) {
	// ArgoCD decides within its first reconciliations (the Application was
	// created with the granted one, which is Synced by now).
	ctx, cancel := e.ctx(3 * time.Minute)
	defer cancel()
	var app *argoappv1.Application
	// A refusal that names the namespace: an error condition (ArgoCD's own
	// check against the cluster Secret's namespaces) or a failed sync
	// (down's API server forbids it). Any other error, e.g. a cluster cache
	// that cannot be built, proves nothing about the grant.
	refused := func(a *argoappv1.Application) bool {
		for _, c := range a.Status.Conditions {
			if c.IsError() && strings.Contains(c.Message, notGrantedNS) {
				return true
			}
		}
		op := a.Status.OperationState
		return op != nil && op.Phase.Completed() && !op.Phase.Successful() && strings.Contains(op.Message+appSummary(a), notGrantedNS)
	}
	err := poll(ctx, 2*time.Second, func() (bool, error) {
		a, err := e.argocd.ArgoprojV1alpha1().Applications(argocdNS).Get(ctx, notGrantedAppName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		app = a
		if a.Status.Sync.Status == argoappv1.SyncStatusCodeSynced {
			return false, fmt.Errorf("synced")
		}
		return refused(a), nil
	})
	switch {
	case app != nil && app.Status.Sync.Status == argoappv1.SyncStatusCodeSynced:
		t.Errorf("Application %s (namespace %s, not granted) is Synced: %s", notGrantedAppName, notGrantedNS, appSummary(app))
	case err != nil:
		t.Errorf("Application %s (namespace %s, not granted) shows no refusal naming %s after 3 minutes: %s\n%s", notGrantedAppName, notGrantedNS, notGrantedNS, appSummary(app),
			e.podLogs(e.up, argocdNS, "argocd-application-controller-0", "argocd-application-controller", 40))
	default:
		t.Logf("Application %s refused: %s", notGrantedAppName, appSummary(app))
	}

	// Nothing in down's namespace but what Kubernetes itself puts there.
	ctx, cancel = e.ctx(time.Minute)
	defer cancel()
	var found []string
	listErr := func(what string, err error) {
		if err != nil {
			t.Fatalf("down: list %s in %s: %v", what, notGrantedNS, err)
		}
	}
	deps, err := e.down.client.AppsV1().Deployments(notGrantedNS).List(ctx, metav1.ListOptions{})
	listErr("Deployments", err)
	for _, o := range deps.Items {
		found = append(found, "deployment/"+o.Name)
	}
	rss, err := e.down.client.AppsV1().ReplicaSets(notGrantedNS).List(ctx, metav1.ListOptions{})
	listErr("ReplicaSets", err)
	for _, o := range rss.Items {
		found = append(found, "replicaset/"+o.Name)
	}
	pods, err := e.down.client.CoreV1().Pods(notGrantedNS).List(ctx, metav1.ListOptions{})
	listErr("Pods", err)
	for _, o := range pods.Items {
		found = append(found, "pod/"+o.Name)
	}
	cms, err := e.down.client.CoreV1().ConfigMaps(notGrantedNS).List(ctx, metav1.ListOptions{})
	listErr("ConfigMaps", err)
	for _, o := range cms.Items {
		if o.Name != "kube-root-ca.crt" {
			found = append(found, "configmap/"+o.Name)
		}
	}
	if len(found) > 0 {
		sort.Strings(found)
		t.Errorf("down: objects were created in the namespace nobody granted (%s): %v", notGrantedNS, found)
	} else {
		t.Logf("down: namespace %s holds no Deployment, ReplicaSet, Pod or ConfigMap (but kube-root-ca.crt)", notGrantedNS)
	}
}

// testLogsThroughArgoCDAPI: argocd-server shows the downstream pod's logs
// through ArgoCD's API, reading them from down with its own federated
// identity (the viewer preset grants pods/log).
func (e *env) testLogsThroughArgoCDAPI(t *testing.T) {
	podCtx, podCancel := e.ctx(time.Minute)
	pod := e.helloPod(t, podCtx)
	podCancel()
	ctx, cancel := e.ctx(3 * time.Minute)
	defer cancel()
	wantLine := strings.TrimSpace(strings.SplitN(strings.SplitN(string(e.readTestdata("app/configmap.yaml")), "greeting:", 2)[1], "\n", 2)[0])

	secret, err := e.up.client.CoreV1().Secrets(argocdNS).Get(ctx, "argocd-initial-admin-secret", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("up: the admin password (Secret argocd-initial-admin-secret): %v", err)
	}
	port, stop := e.portForward(t, argocdNS, e.serverPod(t), 8080)
	defer stop()
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	// argocd-server's own self-signed certificate, reached through the
	// port-forward.
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

	body, _ := json.Marshal(map[string]string{"username": "admin", "password": string(secret.Data["password"])})
	resp, err := client.Post(base+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("argocd-server: POST /api/v1/session: %v", err)
	}
	var session struct {
		Token string `json:"token"`
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &session) != nil || session.Token == "" {
		t.Fatalf("argocd-server: POST /api/v1/session: %s %s", resp.Status, data)
	}

	q := url.Values{
		"namespace": {allowedNS}, "podName": {pod.Name}, "container": {"hello"},
		"tailLines": {"100"}, "follow": {"false"},
	}
	var lines []string
	var last string
	err = poll(ctx, 3*time.Second, func() (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/applications/"+appName+"/logs?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+session.Token)
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		last = fmt.Sprintf("%s %s", resp.Status, raw)
		if resp.StatusCode != http.StatusOK {
			return false, nil
		}
		lines = nil
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			var entry struct {
				Result *struct {
					Content string `json:"content"`
					PodName string `json:"podName"`
				} `json:"result"`
				Error *struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(sc.Bytes(), &entry) != nil {
				continue
			}
			if entry.Error != nil {
				return false, nil
			}
			if entry.Result != nil && entry.Result.Content != "" {
				lines = append(lines, entry.Result.PodName+": "+entry.Result.Content)
			}
		}
		for _, l := range lines {
			if strings.HasSuffix(l, wantLine) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("argocd-server: GET /api/v1/applications/%s/logs?%s does not show %q: last answer %s\n%s", appName, q.Encode(), wantLine, last,
			e.podLogs(e.up, argocdNS, "deploy/argocd-server", "argocd-server", 40))
	}
	t.Logf("argocd-server returned down's pod logs through its API: %q", lines)
}

// testNoDownstreamCredentialInUp: nothing in up's Secrets and ConfigMaps
// would let anyone into down: no token, no client certificate, no
// kubeconfig; the cluster Secret holds only the exec config and down's CA.
func (e *env) testNoDownstreamCredentialInUp(t *testing.T) {
	ctx, cancel := e.ctx(2 * time.Minute)
	defer cancel()
	// down's admin credentials, as kind wrote them on the host.
	kc, err := clientcmd.LoadFromFile(e.down.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var adminMaterial [][]byte
	for _, a := range kc.AuthInfos {
		for _, b := range [][]byte{a.ClientCertificateData, a.ClientKeyData, []byte(a.Token)} {
			if len(bytes.TrimSpace(b)) > 0 {
				adminMaterial = append(adminMaterial, b, []byte(base64.StdEncoding.EncodeToString(b)))
			}
		}
	}
	if len(adminMaterial) == 0 {
		t.Fatalf("no credentials in down's kubeconfig %s: the scan would prove nothing", e.down.kubeconfig)
	}
	jwtRE := regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
	downHost := strings.TrimPrefix(downServer, "https://")
	downHost = downHost[:strings.IndexByte(downHost, ':')]

	var problems []string
	jwts := 0
	inspect := func(where string, value []byte) {
		for _, m := range adminMaterial {
			if bytes.Contains(value, m) {
				problems = append(problems, where+": holds down's admin credentials")
			}
		}
		for _, tok := range jwtRE.FindAll(value, -1) {
			jwts++
			claims, err := decodeJWTClaims(string(tok))
			if err != nil {
				continue
			}
			if claims["iss"] != upIssuer || audienceIs(claims["aud"], downName) {
				problems = append(problems, fmt.Sprintf("%s: holds a token for down (iss %v, aud %v, sub %v)", where, claims["iss"], claims["aud"], claims["sub"]))
			}
		}
		if bytes.Contains(value, []byte(downHost)) && where != "secret/"+argocdNS+"/cluster-"+downName+"[server]" {
			problems = append(problems, where+": names down's API server ("+downHost+"): a kubeconfig?")
		}
	}
	secrets, err := e.up.client.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		for k, v := range s.Data {
			inspect(fmt.Sprintf("secret/%s/%s[%s]", s.Namespace, s.Name, k), v)
		}
		for k, v := range s.Annotations {
			inspect(fmt.Sprintf("secret/%s/%s annotation %s", s.Namespace, s.Name, k), []byte(v))
		}
	}
	cms, err := e.up.client.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cms.Items {
		for k, v := range c.Data {
			inspect(fmt.Sprintf("configmap/%s/%s[%s]", c.Namespace, c.Name, k), []byte(v))
		}
		for k, v := range c.BinaryData {
			inspect(fmt.Sprintf("configmap/%s/%s[%s]", c.Namespace, c.Name, k), v)
		}
		for k, v := range c.Annotations {
			inspect(fmt.Sprintf("configmap/%s/%s annotation %s", c.Namespace, c.Name, k), []byte(v))
		}
	}

	// The cluster Secret: exactly the exec config and the CA.
	cs, err := e.up.client.CoreV1().Secrets(argocdNS).Get(ctx, "cluster-"+downName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("up: the cluster Secret: %v", err)
	}
	var keys []string
	for k := range cs.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"clusterResources", "config", "name", "namespaces", "server"}; !slices.Equal(keys, want) {
		problems = append(problems, fmt.Sprintf("cluster Secret keys %v, want %v", keys, want))
	}
	var config map[string]json.RawMessage
	if err := json.Unmarshal(cs.Data["config"], &config); err != nil {
		t.Fatalf("cluster Secret config: %v", err)
	}
	var configKeys []string
	for k := range config {
		configKeys = append(configKeys, k)
	}
	sort.Strings(configKeys)
	if want := []string{"execProviderConfig", "tlsClientConfig"}; !slices.Equal(configKeys, want) {
		problems = append(problems, fmt.Sprintf("cluster Secret config holds %v, want only %v", configKeys, want))
	}
	var tlsConfig map[string]any
	_ = json.Unmarshal(config["tlsClientConfig"], &tlsConfig)
	caData, _ := tlsConfig["caData"].(string)
	ca, _ := base64.StdEncoding.DecodeString(caData)
	if !bytes.Equal(bytes.TrimSpace(ca), bytes.TrimSpace(e.down.caPEM)) || tlsConfig["insecure"] != false || len(tlsConfig) != 2 {
		problems = append(problems, fmt.Sprintf("cluster Secret tlsClientConfig is not {insecure: false, caData: down's CA}: keys %v", mapKeys(tlsConfig)))
	}
	var execConfig struct {
		Command string   `json:"command"`
		Args    []string `json:"args"`
	}
	_ = json.Unmarshal(config["execProviderConfig"], &execConfig)
	if !strings.HasSuffix(execConfig.Command, "/argocd-k8s-federate-plugin") || !slices.Contains(execConfig.Args, tokenFile) {
		problems = append(problems, fmt.Sprintf("cluster Secret exec config runs %s %v, want the plugin reading %s", execConfig.Command, execConfig.Args, tokenFile))
	}

	if len(problems) > 0 {
		t.Errorf("up holds credentials or kubeconfigs of down:\n  %s", strings.Join(problems, "\n  "))
		return
	}
	t.Logf("scanned %d Secrets and %d ConfigMaps of up: no credential of down (%d JWTs seen, none for down); cluster Secret: keys %v, config %v, exec %s %v",
		len(secrets.Items), len(cms.Items), jwts, keys, configKeys, execConfig.Command, execConfig.Args)
}

// ---------------------------------------------------------------------------
// Helpers of the steps

func appSummary(a *argoappv1.Application) string {
	if a == nil {
		return "(no Application read)"
	}
	var b strings.Builder
	// (v3 no longer fills the application's health message: the
	// resources' health below says why.)
	fmt.Fprintf(&b, "sync=%s health=%s", a.Status.Sync.Status, a.Status.Health.Status)
	for _, c := range a.Status.Conditions {
		fmt.Fprintf(&b, "; condition %s: %s", c.Type, c.Message)
	}
	if op := a.Status.OperationState; op != nil {
		fmt.Fprintf(&b, "; operation %s: %s", op.Phase, op.Message)
		if op.SyncResult != nil {
			for _, r := range op.SyncResult.Resources {
				fmt.Fprintf(&b, "; %s/%s %s: %s", r.Kind, r.Name, r.Status, r.Message)
			}
		}
	}
	for _, r := range a.Status.Resources {
		h := ""
		if r.Health != nil {
			h = string(r.Health.Status)
		}
		fmt.Fprintf(&b, "; resource %s/%s %s %s", r.Kind, r.Name, r.Status, h)
	}
	return b.String()
}

// podLogs is the end of a container's log, for failure messages.
func (e *env) podLogs(c kindCluster, ns, pod, container string, lines int) string {
	return e.kubectlAllowFail(c, "-n", ns, "logs", pod, "-c", container, fmt.Sprintf("--tail=%d", lines))
}

func (e *env) downAPIServerLog(lines int) string {
	return e.podLogs(e.down, "kube-system", "kube-apiserver-"+downName+"-control-plane", "kube-apiserver", lines)
}

func (e *env) portForward(t *testing.T, ns, pod string, port int) (uint16, func()) {
	t.Helper()
	rt, upgrader, err := spdy.RoundTripperFor(e.up.config)
	if err != nil {
		t.Fatal(err)
	}
	u := e.up.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	var errOut bytes.Buffer
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stopCh, readyCh, io.Discard, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case <-readyCh:
	case err := <-done:
		t.Fatalf("port-forward to %s/%s:%d: %v %s", ns, pod, port, err, errOut.String())
	case <-time.After(time.Minute):
		close(stopCh)
		t.Fatalf("port-forward to %s/%s:%d: not ready after a minute", ns, pod, port)
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		close(stopCh)
		t.Fatalf("port-forward ports: %v %v", ports, err)
	}
	return ports[0].Local, func() { close(stopCh); <-done }
}

func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	claims, err := decodeJWTClaims(token)
	if err != nil {
		t.Fatalf("the projected token is not a JWT: %v", err)
	}
	return claims
}

// decodeJWTClaims reads a JWT's payload without verifying it (down does).
func decodeJWTClaims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(payload, &claims)
}

func audienceIs(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return len(a) == 1 && a[0] == want
	}
	return false
}

func mapKeys(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
