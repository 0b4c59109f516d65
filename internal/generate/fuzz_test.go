package generate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// fuzzSeeds are the configs the fuzzer starts from: the example and every
// config of testdata.
var fuzzSeeds = []string{
	"../../examples/federation.yaml",
	"../config/testdata/valid-minimal.yaml",
	"../config/testdata/invalid-unknown-fields.yaml",
	"testdata/minimal/federation.yaml",
	"testdata/multi-hub/hub-a.yaml",
	"testdata/multi-hub/hub-b.yaml",
	"testdata/preinstalled-shared/federation.yaml",
	"testdata/oracle/discovery.yaml",
	"testdata/oracle/multi-hub-m1.yaml",
	"testdata/oracle/multi-hub-m2.yaml",
	"testdata/oracle/system-roots.yaml",
}

// fuzzCAFiles are the caFile values of the seeds (and one file that is not
// a CA), relative to the config, and the CA each gets in the fuzzer's
// directory.
var fuzzCAFiles = map[string]string{
	"ca.crt":               "testdata/ca.crt",
	"../ca.crt":            "testdata/ca.crt",
	"../ca-2.crt":          "testdata/ca-2.crt",
	"certs/hub-ca.crt":     "../../examples/certs/hub-ca.crt",
	"certs/prod-eu-ca.crt": "../../examples/certs/prod-eu-ca.crt",
	"certs/staging-ca.crt": "../../examples/certs/staging-ca.crt",
	"issuer-ca.crt":        "testdata/oracle/issuer-ca.crt",
	"downstream-ca.crt":    "testdata/oracle/downstream-ca.crt",
	"not-a-ca.crt":         "",
}

// FuzzLoadAndGenerate feeds config files through what generate does with
// them: Decode, Complete, NewSet, Generate. Nothing may panic; every
// refusal is a *config.Errors of the file whose every problem says what is
// wrong, and names its field unless it is about the file as a whole; a
// config that passes generates.
func FuzzLoadAndGenerate(f *testing.F) {
	dir := f.TempDir()
	source := filepath.Join(dir, "hub", "federation.yaml")
	for name, from := range fuzzCAFiles {
		file := filepath.Join(filepath.Dir(source), name)
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			f.Fatal(err)
		}
		data := []byte("not a certificate\n")
		if from != "" {
			var err error
			if data, err = os.ReadFile(from); err != nil {
				f.Fatal(err)
			}
		}
		if err := os.WriteFile(file, data, 0o600); err != nil {
			f.Fatal(err)
		}
	}
	for _, seed := range fuzzSeeds {
		data, err := os.ReadFile(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fed, err := config.Decode(data, source)
		if err != nil {
			checkConfigError(t, "Decode", err, source, true)
			return
		}
		if err := fed.Complete(); err != nil {
			checkConfigError(t, "Complete", err, source, false)
			return
		}
		set, err := config.NewSet([]*config.Federation{fed})
		if err != nil {
			t.Fatalf("NewSet refused a federation Complete accepted: %v", err)
		}
		if _, err := Generate(context.Background(), set); err != nil {
			t.Fatalf("Generate failed on a validated federation: %v", err)
		}
	})
}

// checkConfigError checks that err is the *config.Errors of source, each
// problem with a message, and with a field path unless fileLevel problems
// are allowed.
func checkConfigError(t *testing.T, what string, err error, source string, fileLevel bool) {
	t.Helper()
	var errs *config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("%s: want *config.Errors, got %T: %v", what, err, err)
	}
	if errs.Source != source || !strings.HasPrefix(err.Error(), source+": ") {
		t.Fatalf("%s: error does not name the file %s: %v", what, source, err)
	}
	if len(errs.List) == 0 {
		t.Fatalf("%s: *config.Errors without a problem", what)
	}
	for _, fe := range errs.List {
		if strings.TrimSpace(fe.Message) == "" {
			t.Errorf("%s: problem at %q without a message", what, fe.Path)
		}
		if fe.Path == "" && !fileLevel {
			t.Errorf("%s: problem without a field path: %s", what, fe.Message)
		}
	}
}

// flagLine is what a line of an oidc-flags file may be besides a comment: a
// flag whose value holds nothing a shell would read as syntax.
var flagLine = regexp.MustCompile(`^--oidc-[a-z-]+=[A-Za-z0-9_.:/@%~+=,\[\]-]+$`)

// FuzzFieldsGenerate varies the fields that reach the downstream's trust
// configuration (issuer, server, usernamePrefix, audience, the issuer's CA)
// in an otherwise valid federation. Nothing may panic, a refusal names its
// field, and what passes generates oidc-flags files whose every line is a
// comment or a flag with a shell-safe value.
func FuzzFieldsGenerate(f *testing.F) {
	ca, err := os.ReadFile("testdata/ca.crt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("https://hub.example.com", "https://prod.example.com:6443", "hub:", "prod", string(ca))
	f.Add("https://hub.example.com/oidc/", "https://[2001:db8::1]:6443/", "fleet-a:", "https://prod.example.com/argocd", "")
	f.Add("HTTPS://hub.example.com//x?", "https://prod.example.com.:443#", "", "prod;id", "# comment\n"+string(ca)+"trailing")
	f.Fuzz(func(t *testing.T, issuer, server, prefix, audience, ca string) {
		upstream := map[string]any{"name": "hub", "issuer": issuer}
		if ca == "" {
			upstream["useSystemRoots"] = true
		} else {
			upstream["ca"] = ca
		}
		downstream := map[string]any{"name": "prod", "server": server, "useSystemRoots": true,
			"audience": audience, "usernamePrefix": prefix, "access": map[string]any{"namespaces": []string{"apps"}}}
		data, err := json.Marshal(map[string]any{"apiVersion": config.APIVersion, "kind": config.Kind,
			"upstream": upstream, "downstreams": []any{downstream}})
		if err != nil {
			t.Fatal(err)
		}
		fed, err := config.Decode(data, "f.yaml")
		if err != nil {
			checkConfigError(t, "Decode", err, "f.yaml", true)
			return
		}
		if err := fed.Complete(); err != nil {
			checkConfigError(t, "Complete", err, "f.yaml", false)
			return
		}
		set, err := config.NewSet([]*config.Federation{fed})
		if err != nil {
			t.Fatalf("NewSet refused a federation Complete accepted: %v", err)
		}
		tree, err := Generate(context.Background(), set)
		if err != nil {
			t.Fatalf("Generate failed on a validated federation: %v", err)
		}
		for _, file := range tree.Files {
			if !strings.Contains(file.Path, "/oidc-flags-") {
				continue
			}
			for _, line := range strings.Split(strings.TrimSuffix(string(file.Content), "\n"), "\n") {
				if !strings.HasPrefix(line, "#") && !flagLine.MatchString(line) {
					t.Errorf("%s: line %q is neither a comment nor a shell-safe flag", file.Path, line)
				}
			}
		}
	})
}
