// Package adopt takes over an existing ArgoCD hub: it reads the hub's
// cluster Secrets (from files or from the hub), audits the credential each
// one keeps, and imports them into a federation config. Secrets are parsed
// by internal/argocd, the owner of the cluster Secret; no credential value
// is ever printed or written.
package adopt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/argocd"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// maxInputBytes caps an input file: 10,000 cluster Secrets are a few tens
// of MiB.
const maxInputBytes = 256 << 20

// Input is what was read: the cluster Secrets, sorted by namespace and
// name, and how many other objects were passed over.
type Input struct {
	Secrets []*argocd.ClusterSecret
	// Skipped counts Secrets without the label ArgoCD finds cluster
	// Secrets by, and objects of other kinds.
	Skipped int
}

// Read reads cluster Secrets from files: YAML documents (separated by
// "---") or JSON, each a Secret, a List or a SecretList (kubectl get
// secrets -o yaml). "-" reads in.
func Read(paths []string, in io.Reader) (*Input, error) {
	out := &Input{}
	for _, p := range paths {
		var data []byte
		var err error
		if p == "-" {
			data, err = io.ReadAll(io.LimitReader(in, maxInputBytes+1))
			if err == nil && len(data) > maxInputBytes {
				err = fmt.Errorf("more than %s", fileio.Size(maxInputBytes))
			}
		} else {
			data, err = fileio.ReadFile(p, maxInputBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if err := out.add(data, p); err != nil {
			return nil, err
		}
	}
	out.sort()
	return out, nil
}

// document is one object of the input: a Secret, or a List of them.
type document struct {
	Kind  string            `json:"kind"`
	Items []json.RawMessage `json:"items"`
}

// add reads the documents of one file.
func (in *Input) add(data []byte, source string) error {
	docs := [][]byte{data}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		docs = splitDocuments(data) // YAML
	}
	for i, doc := range docs {
		js := bytes.TrimSpace(doc)
		if len(js) == 0 || js[0] != '{' {
			var err error
			if js, err = yaml.YAMLToJSON(doc); err != nil {
				return fmt.Errorf("%s: document %d is not YAML or JSON: %w", source, i+1, err)
			}
		}
		if len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null" {
			continue
		}
		var d document
		if err := json.Unmarshal(js, &d); err != nil {
			return fmt.Errorf("%s: document %d is not a Kubernetes object: %w", source, i+1, redact(err))
		}
		switch d.Kind {
		case "List", "SecretList":
			for j, item := range d.Items {
				if err := in.addObject(item, fmt.Sprintf("%s: document %d, item %d", source, i+1, j+1)); err != nil {
					return err
				}
			}
		default:
			if err := in.addObject(js, fmt.Sprintf("%s: document %d", source, i+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// addObject adds one object when it is a cluster Secret.
func (in *Input) addObject(js []byte, where string) error {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return fmt.Errorf("%s is not a Kubernetes object: %w", where, redact(err))
	}
	if head.Kind != "Secret" || head.Metadata.Labels[argocd.SecretTypeLabel] != argocd.SecretTypeCluster {
		in.Skipped++
		return nil
	}
	var obj argocd.SecretObject
	if err := json.Unmarshal(js, &obj); err != nil {
		return fmt.Errorf("%s is not a Secret: %w", where, redact(err))
	}
	return in.addSecret(&obj, where)
}

func (in *Input) addSecret(obj *argocd.SecretObject, where string) error {
	s, err := argocd.FromObject(obj, secretName(obj))
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	in.Secrets = append(in.Secrets, s)
	return nil
}

// secretName is namespace/name, how the report names a Secret.
func secretName(obj *argocd.SecretObject) string {
	if obj.Metadata.Namespace == "" {
		return obj.Metadata.Name
	}
	return obj.Metadata.Namespace + "/" + obj.Metadata.Name
}

func (in *Input) sort() {
	sort.SliceStable(in.Secrets, func(i, j int) bool {
		a, b := in.Secrets[i], in.Secrets[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}

// splitDocuments splits YAML at its "---" lines.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	start := 0
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		var line []byte
		next := len(data)
		if end >= 0 {
			line, next = data[i:i+end], i+end+1
		} else {
			line = data[i:]
		}
		if t := bytes.TrimRight(line, " \t\r"); bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) {
			docs = append(docs, data[start:i])
			start = next
		}
		i = next
	}
	return append(docs, data[start:])
}

// redact keeps what a JSON error says about where, not what it quotes of
// the input (a character of a value, possibly a secret's).
func redact(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Errorf("field %s is a JSON %s, not a %s", typ.Field, typ.Value, typ.Type)
	}
	return errors.New("invalid JSON")
}

// LivePageSize is how many Secrets one list request asks for.
const LivePageSize = 500

// Live is a hub read through its API server.
type Live struct {
	// Client carries the kubeconfig's credentials (rest.HTTPClientFor). Its
	// redirects are refused: the credentials must not follow one.
	Client *http.Client
	// Server is the API server's base URL.
	Server string
	// Namespace is ArgoCD's; "" lists every namespace.
	Namespace string
	// PageSize defaults to LivePageSize.
	PageSize int
}

// StatusError is an answer of the hub other than 200 OK.
type StatusError struct {
	URL        string
	StatusCode int
	Message    string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("GET %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	switch e.StatusCode {
	case http.StatusUnauthorized:
		msg += ": the hub does not accept the kubeconfig's credentials (expired? another cluster's?): log in again, or give --kubeconfig and --context of the hub"
	case http.StatusForbidden:
		msg += ": the kubeconfig's user may not list Secrets there; it needs get and list on secrets in ArgoCD's namespace (kubectl auth can-i list secrets -n NAMESPACE)"
	}
	if e.Message != "" {
		msg += " (" + e.Message + ")"
	}
	return msg
}

// ReadLive lists the hub's cluster Secrets (label
// argocd.argoproj.io/secret-type=cluster), PageSize at a time.
func ReadLive(ctx context.Context, l Live) (*Input, error) {
	size := l.PageSize
	if size <= 0 {
		size = LivePageSize
	}
	client := *l.Client
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		return fmt.Errorf("the hub redirected to %s: refused (the kubeconfig's credentials would follow it)", req.URL.Redacted())
	}
	base := strings.TrimRight(l.Server, "/") + "/api/v1/secrets"
	if l.Namespace != "" {
		base = strings.TrimRight(l.Server, "/") + "/api/v1/namespaces/" + url.PathEscape(l.Namespace) + "/secrets"
	}
	in := &Input{}
	cont := ""
	for {
		q := url.Values{}
		q.Set("labelSelector", argocd.SecretTypeLabel+"="+argocd.SecretTypeCluster)
		q.Set("limit", fmt.Sprint(size))
		if cont != "" {
			q.Set("continue", cont)
		}
		page, err := getList(ctx, &client, base+"?"+q.Encode())
		if err != nil {
			return nil, err
		}
		for i := range page.Items {
			obj := &page.Items[i]
			if err := in.addSecret(obj, "Secret "+secretName(obj)); err != nil {
				return nil, err
			}
		}
		if cont = page.Metadata.Continue; cont == "" {
			break
		}
	}
	in.sort()
	return in, nil
}

type secretList struct {
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []argocd.SecretObject `json:"items"`
}

func getList(ctx context.Context, client *http.Client, u string) (*secretList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list the hub's cluster Secrets: %w", err)
	}
	defer resp.Body.Close()
	shown := (&url.URL{Scheme: resp.Request.URL.Scheme, Host: resp.Request.URL.Host, Path: resp.Request.URL.Path}).String()
	if resp.StatusCode != http.StatusOK {
		var status struct {
			Message string `json:"message"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = json.Unmarshal(body, &status)
		return nil, &StatusError{URL: shown, StatusCode: resp.StatusCode, Message: status.Message}
	}
	var page secretList
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxInputBytes)).Decode(&page); err != nil {
		return nil, fmt.Errorf("GET %s: not a SecretList: %w", shown, redact(err))
	}
	return &page, nil
}
