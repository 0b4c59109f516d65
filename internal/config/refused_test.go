package config

import (
	"strings"
	"testing"
)

// A refusal is bad input and what the error must say about it: the field
// path, what is wrong and what to write instead.
type refusal struct {
	name string
	// yaml edits the text of the base config; edit the decoded federation.
	yaml func(t *testing.T, base string) string
	edit func(t *testing.T, f *Federation)
	// other, when set, makes a second hub (b.yaml) from the base config and
	// checks both together (ValidateSet).
	other func(f *Federation)
	path  string
	want  []string
}

func (r refusal) run(t *testing.T) {
	t.Helper()
	data := base(t)
	if r.yaml != nil {
		data = r.yaml(t, data)
	}
	f, err := Decode([]byte(data), "testdata/base.yaml")
	if err == nil {
		if r.edit != nil {
			r.edit(t, f)
		}
		err = f.Complete()
	}
	if r.other != nil {
		if err != nil {
			t.Fatal(err)
		}
		g, err2 := Decode([]byte(base(t)), "b.yaml")
		if err2 != nil {
			t.Fatal(err2)
		}
		r.other(g)
		if err := g.Complete(); err != nil {
			t.Fatal(err)
		}
		err = ValidateSet([]*Federation{f, g})
	}
	for _, w := range r.want {
		assertFieldError(t, err, r.path, w)
	}
}

func runRefusals(t *testing.T, tests []refusal) {
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// replace returns a yaml edit that replaces old, which must be there.
func replace(old, new string) func(t *testing.T, base string) string {
	return func(t *testing.T, base string) string {
		t.Helper()
		if !strings.Contains(base, old) {
			t.Fatalf("base config has no %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
}

// appendYAML returns a yaml edit that appends text to the base config.
func appendYAML(text string) func(t *testing.T, base string) string {
	return func(t *testing.T, base string) string { return base + text }
}

// TestSilentAcceptanceRefused: what used to be read as something else, or
// not read at all, without a word.
func TestSilentAcceptanceRefused(t *testing.T) {
	remedy := "put each hub in a file of its own and pass them together (generate -f hub-a.yaml -f hub-b.yaml)"
	runRefusals(t, []refusal{
		{name: "second document", yaml: appendYAML("---\napiVersion: argocd-k8s-federate.io/v1alpha1\nkind: Federation\n"),
			want: []string{"holds more than one YAML document", remedy}},
		{name: "second document not YAML", yaml: appendYAML("---\n: : [\n"),
			want: []string{"holds more than one YAML document", remedy}},
		{name: "third document after an empty one", yaml: appendYAML("---\n---\nkind: Federation\n"),
			want: []string{"holds more than one YAML document", remedy}},
		{name: "second document an empty string", yaml: appendYAML("--- ''\n"),
			want: []string{"holds more than one YAML document"}},
		{name: "usernamePrefix empty", yaml: replace("- name: prod\n", "- name: prod\n  usernamePrefix: \"\"\n"),
			path: "downstreams[0].usernamePrefix", want: []string{"is set but empty", `leave the field out for the default "<upstream.name>:", or write a prefix such as "hub:"`}},
		{name: "usernamePrefix null", yaml: replace("- name: dev\n", "- name: dev\n  usernamePrefix:\n"),
			path: "downstreams[1].usernamePrefix", want: []string{"is set but empty", "leave the field out"}},
	})
}

func TestSilentAcceptanceLeftAccepted(t *testing.T) {
	for _, tail := range []string{"---\n", "---\n# nothing more\n", "--- # the end\n", "...\n"} {
		if _, err := Decode([]byte(base(t)+tail), "f.yaml"); err != nil {
			t.Errorf("%q after the document refused: %v", tail, err)
		}
	}
}
