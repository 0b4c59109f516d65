package tokenrequest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/version"
)

// maxResponse caps the API server's answer: a TokenRequest with its token
// (at most credential.MaxTokenSize), or a Status.
const maxResponse = credential.MaxTokenSize + 64<<10

// maxStatusMessage caps the API server's message quoted in an error.
const maxStatusMessage = 1024

// exchange is one TokenRequest: where, with what, for whom.
type exchange struct {
	server *url.URL
	roots  *x509.CertPool
	pod    podToken
	opts   plugin.TokenRequestOptions
}

// The authentication.k8s.io/v1 TokenRequest, the fields sent and read.
type tokenRequest struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Spec       tokenRequestSpec  `json:"spec"`
	Status     tokenRequestState `json:"status,omitzero"`
}

type tokenRequestSpec struct {
	Audiences         []string       `json:"audiences"`
	ExpirationSeconds int64          `json:"expirationSeconds"`
	BoundObjectRef    boundObjectRef `json:"boundObjectRef"`
}

type boundObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
}

type tokenRequestState struct {
	Token string `json:"token"`
}

// apiStatus is the metav1.Status an API server answers a failure with.
type apiStatus struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Details struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	} `json:"details"`
}

// url is the TokenRequest subresource of the pod's service account.
func (x exchange) url() string {
	return x.server.String() + "/api/v1/namespaces/" + url.PathEscape(x.pod.namespace) +
		"/serviceaccounts/" + url.PathEscape(x.pod.serviceAccount) + "/token"
}

// UserAgent names the plugin and its version, as client-go's names
// kubectl: every request of the network half (token-request, oidc-token)
// sends it.
func UserAgent() string {
	return plugin.Name + "/" + version.Version + " (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

// requestToken sends the TokenRequest and returns the token, or an error
// that says why there is none and what to fix.
func requestToken(ctx context.Context, x exchange) (string, error) {
	body, err := json.Marshal(tokenRequest{
		APIVersion: "authentication.k8s.io/v1",
		Kind:       "TokenRequest",
		Spec: tokenRequestSpec{
			Audiences:         []string{x.opts.Audience},
			ExpirationSeconds: x.opts.ExpirationSeconds,
			BoundObjectRef:    boundObjectRef{APIVersion: "v1", Kind: "Pod", Name: x.pod.pod.Name, UID: x.pod.pod.UID},
		},
	})
	if err != nil {
		return "", fmt.Errorf("encode TokenRequest: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.url(), bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("TokenRequest to %s: %w", x.server, err)
	}
	req.Header.Set("Authorization", "Bearer "+x.pod.raw)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent())

	client := &http.Client{
		Transport: &http.Transport{
			// As client-go: HTTPS_PROXY and NO_PROXY apply.
			Proxy:             http.ProxyFromEnvironment,
			TLSClientConfig:   &tls.Config{RootCAs: x.roots, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
		// The API server never redirects a TokenRequest; a redirect is
		// something else answering, and the token must not follow it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", x.explainTransport(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if errors.Is(err, context.DeadlineExceeded) {
		return "", x.explainTransport(err)
	}
	if err != nil {
		return "", fmt.Errorf("the API server %s answered %s, then the connection broke: %v", x.server, resp.Status, err)
	}
	if len(data) > maxResponse {
		return "", fmt.Errorf("the API server %s answered %s with more than %s: --api-server must name the upstream API server", x.server, resp.Status, fileio.Size(maxResponse))
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", x.explainStatus(resp, data)
	}
	var tr tokenRequest
	if err := json.Unmarshal(data, &tr); err != nil {
		return "", fmt.Errorf("the API server %s answered %s with no TokenRequest: %v", x.server, resp.Status, err)
	}
	if tr.Status.Token == "" {
		return "", fmt.Errorf("the API server %s answered %s with a TokenRequest but no token in its status", x.server, resp.Status)
	}
	return tr.Status.Token, nil
}

// Why a request got no answer, as TransportProblem tells it.
const (
	ProblemOther   = iota
	ProblemTimeout // no answer within the timeout
	ProblemVerify  // the server's certificate did not verify
	ProblemNotTLS  // the server does not speak TLS
)

// TransportProblem tells why an HTTP request got no answer, and returns
// the error without the method and URL that net/url's error repeats.
func TransportProblem(err error) (int, error) {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var (
		verr    *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ProblemTimeout, err
	case errors.As(err, &verr), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid):
		return ProblemVerify, err
	case errors.As(err, &record):
		return ProblemNotTLS, err
	}
	return ProblemOther, err
}

// explainTransport says why no answer came back.
func (x exchange) explainTransport(err error) error {
	problem, err := TransportProblem(err)
	reach := "check that " + plugin.ServiceHostEnv + " (or --api-server) names the upstream API server and that this pod may reach it: a NetworkPolicy must allow egress to the kubernetes Service and the API server's endpoints"
	switch problem {
	case ProblemTimeout:
		return fmt.Errorf("the API server %s did not answer within --timeout %v (%v): %s", x.server, x.opts.Timeout, err, reach)
	case ProblemVerify:
		return fmt.Errorf("cannot verify the API server %s with --ca-file %q: %v: give the CA bundle that signed its serving certificate (in a pod: %s)",
			x.server, x.opts.CAFile, err, plugin.InClusterCAFile)
	case ProblemNotTLS:
		return fmt.Errorf("the server at %s does not speak TLS (%v): --api-server must name the API server's https port", x.server, err)
	}
	return fmt.Errorf("cannot reach the API server %s: %v: %s", x.server, err, reach)
}

// explainStatus turns a refusal into what to do about it.
func (x exchange) explainStatus(resp *http.Response, body []byte) error {
	code := strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	st, msg := statusMessage(body, x.pod.raw)
	if msg != "" {
		code += ": " + msg
	}
	audiences := "upstream/<hub>/" + plugin.AudiencesFile
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("the API server %s answered %d with a redirect to %q, which is not followed: --api-server must name the API server itself, not what is in front of it",
			x.server, resp.StatusCode, resp.Header.Get("Location"))
	case strings.Contains(msg, "ValidatingAdmissionPolicy"):
		return fmt.Errorf("admission refused %s a token for audience %q (%s): the audience is not among the hub's downstreams' audiences that the ConfigMap %s lists (generate writes it in %s): add the downstream to the federation config, run generate and apply",
			x.pod.user(), x.opts.Audience, code, plugin.AudiencesConfigMap, audiences)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("the API server %s refused the pod's own service-account token from %q (%s): the token has expired, its pod was deleted, or it is another cluster's token (check --service-account-token-file and --api-server)",
			x.server, x.pod.file, code)
	case resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the API server %s forbids %s to create a token for itself (%s): apply the Role %s and its RoleBinding in namespace %s, which generate writes in upstream/<hub>/%s",
			x.server, x.pod.user(), code, plugin.TokenRequestRoleName(x.pod.serviceAccount), x.pod.namespace, plugin.TokenRequestFile)
	case resp.StatusCode == http.StatusNotFound && st.Details.Kind == "pods":
		// The token is still accepted for a few seconds after its pod is
		// deleted (the API server caches authentication), but no new
		// token can be bound to the pod.
		return fmt.Errorf("the API server %s has no pod %s in namespace %s, which the pod's own token from %q is bound to (%s): the pod was deleted, or the token was copied from another pod",
			x.server, x.pod.pod.Name, x.pod.namespace, x.pod.file, code)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("the API server %s has no service account %s in namespace %s (%s): the service account or its namespace does not exist (or --api-server names something else than the API server)",
			x.server, x.pod.serviceAccount, x.pod.namespace, code)
	}
	return fmt.Errorf("the API server %s answered %s", x.server, code)
}

// statusMessage returns the metav1.Status in body, if it is one, and its
// message, else the start of the body, cut to maxStatusMessage bytes; never
// the token.
func statusMessage(body []byte, token string) (apiStatus, string) {
	var st apiStatus
	msg := ""
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" {
		msg = st.Message
		if msg == "" {
			msg = st.Reason
		}
	} else {
		msg = strings.TrimSpace(string(body))
	}
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "[the pod's token]")
	}
	if len(msg) > maxStatusMessage {
		msg = msg[:maxStatusMessage] + "..."
	}
	return st, msg
}
