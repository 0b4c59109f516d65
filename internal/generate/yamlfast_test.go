package generate

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// checkFast compares fastYAML with yaml.v2 on v: where fastYAML answers,
// the bytes must be yaml.v2's.
func checkFast(t *testing.T, what string, v any) bool {
	t.Helper()
	got, ok := fastYAML(v)
	if !ok {
		return false
	}
	want, err := yamlv2.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s: fastYAML differs from yaml.v2:\n--- yaml.v2\n%s--- fastYAML\n%s", what, want, got)
	}
	return true
}

// TestFastYAMLMatchesYAMLv2: every object of the generated trees (every
// golden config and a fleet) renders byte for byte as yaml.v2 renders it,
// and most of them take the fast path.
func TestFastYAMLMatchesYAMLv2(t *testing.T) {
	trees := []*Tree{}
	for _, tc := range goldenCases {
		tree, err := Generate(context.Background(), set(t, load(t, tc.files...)...))
		if err != nil {
			t.Fatal(err)
		}
		trees = append(trees, tree)
	}
	tree, err := Generate(context.Background(), set(t, fleet(t, 30)))
	if err != nil {
		t.Fatal(err)
	}
	trees = append(trees, tree)
	fast, all := 0, 0
	for _, tree := range trees {
		for _, f := range tree.Files {
			if !strings.HasSuffix(f.Path, ".yaml") {
				continue
			}
			for i, doc := range strings.Split(string(f.Content), "\n---\n") {
				js, err := yaml.YAMLToJSON([]byte(doc))
				if err != nil {
					t.Fatalf("%s: %v", f.Path, err)
				}
				var v any
				if err := json.Unmarshal(js, &v); err != nil {
					t.Fatal(err)
				}
				all++
				if checkFast(t, f.Path+"#"+string(rune('0'+i)), v) {
					fast++
				}
			}
		}
	}
	t.Logf("%d of %d generated objects rendered by the fast path", fast, all)
	if fast*2 < all {
		t.Errorf("only %d of %d objects take the fast path", fast, all)
	}
}

// FuzzFastYAML: for any keys and strings, in mappings, sequences and
// nested, the fast path either declines or writes what yaml.v2 writes.
func FuzzFastYAML(f *testing.F) {
	for _, s := range []string{
		"plain", "https://hub.example.com:6443/x", "a b c", "10m", "true", "", "-x", "a: b", "a #b", "x:",
		"line one\nline two\n", "no final break\nhere", " leading", "trailing ", "cluster-0001", "cluster-0010",
		strings.Repeat("word ", 30) + "end", "'quoted'", "a_b", "A", "a-b", "a.b", "a/b", "é",
		"false", "False", "on", "~", "hub:", "!user.username.startsWith('system:')", "--to", "-", "-x", "?x", ":x", ": x",
		"'", "a'b", "x #y", "x# y", "#x", "@x", " x", "x ", strings.Repeat("key: value ", 12), "y", "Yes", "nO",
		"request.userInfo.username in ['system:serviceaccount:argocd:argocd-application-controller', 'system:serviceaccount:argocd:argocd-server']",
	} {
		f.Add("key", s, "k2")
	}
	f.Fuzz(func(t *testing.T, k1, s, k2 string) {
		for _, v := range []any{
			map[string]any{k1: s},
			map[string]any{k1: s, k2: s + "x"},
			map[string]any{"spec": map[string]any{k1: []any{s, map[string]any{k2: s, "z": 1.0}}}},
			map[string]any{"list": []any{map[string]any{"expression": s, k1: true}}},
		} {
			checkFast(t, "fuzz", v)
		}
	})
}
