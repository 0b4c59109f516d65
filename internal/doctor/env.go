package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/discovery"
)

// requestTimeout bounds each request of a check.
const requestTimeout = 20 * time.Second

// NewEnv is the real world: the system clock, the file system, and network
// clients (client-go's transport for the downstream).
func NewEnv() Env {
	return Env{
		Now:        time.Now,
		ReadFile:   credential.ReadTokenFile,
		HTTPClient: discovery.HTTPClient,
		Downstream: NewDownstream,
	}
}

// NewDownstream is a client of a downstream API server that authenticates
// with token as bearer and nothing else. It posts the typed reviews as JSON
// through client-go's transport, without the clientset: that would link
// every API group of Kubernetes into the CLI.
func NewDownstream(server string, caPEM []byte, token string) (Downstream, error) {
	cfg := &rest.Config{
		Host:            server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		UserAgent:       "argocd-k8s-federate-doctor",
		Timeout:         requestTimeout,
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("client of %s: %w", server, err)
	}
	// The transport sets the token on redirects too: https only.
	client.CheckRedirect = discovery.RefuseInsecureRedirect
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("server %q: %w", server, err)
	}
	return kubeDownstream{client: client, base: strings.TrimRight(base.String(), "/")}, nil
}

type kubeDownstream struct {
	client *http.Client
	base   string
}

func (k kubeDownstream) WhoAmI(ctx context.Context) (string, error) {
	in := &authnv1.SelfSubjectReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "SelfSubjectReview"}}
	var out authnv1.SelfSubjectReview
	if err := k.create(ctx, "/apis/authentication.k8s.io/v1/selfsubjectreviews", in, &out); err != nil {
		return "", err
	}
	return out.Status.UserInfo.Username, nil
}

func (k kubeDownstream) Allowed(ctx context.Context, p Probe) (bool, error) {
	in := &authzv1.SelfSubjectAccessReview{TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectAccessReview"}}
	if p.NonResourceURL != "" {
		in.Spec.NonResourceAttributes = &authzv1.NonResourceAttributes{Path: p.NonResourceURL, Verb: p.Verb}
	} else {
		in.Spec.ResourceAttributes = &authzv1.ResourceAttributes{
			Namespace: p.Namespace, Verb: p.Verb, Group: p.Group,
			Resource: p.Resource, Subresource: p.Subresource, Name: p.Name,
		}
	}
	var out authzv1.SelfSubjectAccessReview
	if err := k.create(ctx, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", in, &out); err != nil {
		return false, err
	}
	return out.Status.Allowed, nil
}

func (k kubeDownstream) Rules(ctx context.Context, namespace string) ([]Rule, error) {
	in := &authzv1.SelfSubjectRulesReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectRulesReview"},
		Spec:     authzv1.SelfSubjectRulesReviewSpec{Namespace: namespace},
	}
	var out authzv1.SelfSubjectRulesReview
	if err := k.create(ctx, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", in, &out); err != nil {
		return nil, err
	}
	var rules []Rule
	for _, rr := range out.Status.ResourceRules {
		rules = append(rules, Rule{Verbs: rr.Verbs, APIGroups: rr.APIGroups, Resources: rr.Resources})
	}
	return rules, nil
}

// create posts in to path and decodes the created object into out; the
// statuses the checks tell apart become ErrUnauthorized, ErrForbidden and
// ErrNotFound.
func (k kubeDownstream) create(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("POST %s: decode the answer: %w", path, err)
		}
		return nil
	}
	msg := resp.Status
	var st metav1.Status
	if json.Unmarshal(data, &st) == nil && st.Message != "" {
		msg = st.Message
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w: the downstream does not accept the token", ErrUnauthorized)
	case http.StatusForbidden:
		return fmt.Errorf("%w: %s", ErrForbidden, msg)
	case http.StatusNotFound:
		return fmt.Errorf("%w: POST %s: %s", ErrNotFound, path, msg)
	}
	return fmt.Errorf("POST %s: %s: %s", path, resp.Status, msg)
}
