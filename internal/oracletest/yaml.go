package oracletest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Document is one YAML document of a file.
type Document struct {
	File string // for messages
	YAML []byte
	Kind string
	API  string
}

// ReadDocuments splits a YAML file into its documents, skipping empty ones
// (comments only).
func ReadDocuments(t *testing.T, file string) []Document {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return SplitDocuments(t, file, data)
}

// SplitDocuments splits a YAML stream into its documents, skipping empty
// ones (comments only); name is for messages.
func SplitDocuments(t *testing.T, name string, data []byte) []Document {
	t.Helper()
	var docs []Document
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: not YAML: %v", name, err)
		}
		if string(bytes.TrimSpace(js)) == "null" {
			continue
		}
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, Document{File: name, YAML: doc, Kind: tm.Kind, API: tm.APIVersion})
	}
}

// strictDeserializer decodes YAML into the real API types the way the API
// server does with fieldValidation=Strict: unknown fields, fields in the
// wrong case and duplicate fields are errors.
var strictDeserializer = sync.OnceValue(func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
})

// DecodeStrict decodes a document into a typed object (core, apps or RBAC)
// strictly, so our output cannot drift from the real type.
func DecodeStrict(doc Document, into runtime.Object) error {
	if _, _, err := strictDeserializer().Decode(doc.YAML, nil, into); err != nil {
		return fmt.Errorf("%s: %s %s does not decode strictly into %T: %w", doc.File, doc.API, doc.Kind, into, err)
	}
	return nil
}

// ClusterSecrets reads every Secret of the upstream Component in the
// generated tree out, keyed by name, in the form the API server stores:
// stringData merged into data.
func ClusterSecrets(t *testing.T, out, upstream string) map[string]*corev1.Secret {
	t.Helper()
	dir := filepath.Join(out, "upstream", upstream)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML files in %s (%v)", dir, err)
	}
	secrets := map[string]*corev1.Secret{}
	for _, f := range files {
		for _, doc := range ReadDocuments(t, f) {
			if doc.Kind != "Secret" {
				continue
			}
			s := &corev1.Secret{}
			if err := DecodeStrict(doc, s); err != nil {
				t.Error(err)
				continue
			}
			if doc.API != "v1" {
				t.Errorf("%s: Secret %s has apiVersion %q, want v1", f, s.Name, doc.API)
			}
			if _, dup := secrets[s.Name]; dup {
				t.Errorf("%s: Secret %s is generated twice", f, s.Name)
			}
			secrets[s.Name] = AsStored(s)
		}
	}
	return secrets
}

// AsStored is what the API server makes of a Secret: stringData is written
// into data (and wins over it) and is never returned.
func AsStored(s *corev1.Secret) *corev1.Secret {
	s = s.DeepCopy()
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	return s
}

// SortedKeys lists a map's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
