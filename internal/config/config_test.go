package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadDefaults(t *testing.T) {
	f, err := Load("testdata/valid-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u := f.Upstream
	want := Upstream{
		Name:                 "hub",
		Issuer:               "https://hub.example.com",
		CertificateAuthority: u.CertificateAuthority,
		ArgoCD: ArgoCD{
			Namespace:  "argocd",
			Controller: Workload{Kind: "StatefulSet", Name: "argocd-application-controller", Container: "argocd-application-controller", ServiceAccount: "argocd-application-controller"},
			Server:     Workload{Kind: "Deployment", Name: "argocd-server", Container: "argocd-server", ServiceAccount: "argocd-server"},
		},
		Token:  Token{Source: "Projected", MountPath: "/var/run/secrets/argocd-k8s-federate", ExpirationSeconds: 3600},
		Plugin: Plugin{Delivery: "InitContainer", Image: DefaultImage(), ImagePullPolicy: "IfNotPresent", Dir: "/var/run/argocd-k8s-federate"},
	}
	if diff := cmp.Diff(want, u, cmp.AllowUnexported(CertificateAuthority{})); diff != "" {
		t.Errorf("upstream (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(u.PEM(), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("upstream CA not resolved from caFile: %q", u.PEM())
	}
	d := f.Downstreams[0]
	if d.Audience != "prod" || d.UsernamePrefix != "hub:" || d.ArgoCD.SecretName != "cluster-prod" ||
		d.Access.Controller.ClusterRole != "admin" || d.Access.Server.Preset != "viewer" ||
		d.APIServer.AuthenticationConfigVersion != "v1" {
		t.Errorf("downstream defaults: %+v", d)
	}
	if got, want := f.TokenPath(&d), "/var/run/secrets/argocd-k8s-federate/prod"; got != want {
		t.Errorf("TokenPath = %q, want %q", got, want)
	}
	if got, want := f.Grants(&d)[0].User, "hub:system:serviceaccount:argocd:argocd-application-controller"; got != want {
		t.Errorf("User = %q, want %q", got, want)
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	f, err := Load("testdata/valid-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before := *f
	before.Downstreams = append([]Downstream(nil), f.Downstreams...)
	f.Default()
	if diff := cmp.Diff(before, *f, cmp.AllowUnexported(CertificateAuthority{})); diff != "" {
		t.Errorf("Default changed a defaulted config (-before +after):\n%s", diff)
	}
}

func TestDecodeReportsEveryUnknownField(t *testing.T) {
	_, err := Load("testdata/invalid-unknown-fields.yaml")
	want := []FieldError{
		{Path: "downstreams[0].acess", Message: `unknown field (did you mean "access"?)`},
		{Path: "upstream.isuer", Message: `unknown field (did you mean "issuer"?)`},
	}
	if diff := cmp.Diff(want, fieldErrors(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(err.Error(), "testdata/invalid-unknown-fields.yaml: 2 problems:") {
		t.Errorf("error does not name the file and count: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name, yaml, path, msg string
	}{
		{"empty file", "", "", "the file is empty"},
		{"not a mapping", "- a\n- b\n", "", "expected a mapping"},
		{"duplicate key", "kind: Federation\nkind: Federation\n", "", "not valid YAML"},
		{"wrong type", "kind: Federation\ndownstreams: {name: x}\n", "downstreams", "expected a list, got a mapping"},
		{"number for string", "upstream: {name: 42}\n", "upstream.name", "expected a string, got the number 42"},
		{"string for number", "upstream: {token: {expirationSeconds: soon}}\n", "upstream.token.expirationSeconds", "expected a whole number"},
		{"fraction", "upstream: {token: {expirationSeconds: 600.5}}\n", "upstream.token.expirationSeconds", "expected a whole number"},
		{"string for bool", "downstreams: [{access: {clusterWide: yes-please}}]\n", "downstreams[0].access.clusterWide", "expected true or false"},
		{"unknown far from any field", "upstream: {zzzzzzzz: 1}\n", "upstream.zzzzzzzz", "valid fields here: argocd, ca, caFile"},
		{"label value not string", "downstreams: [{argocd: {labels: {env: [a]}}}]\n", "downstreams[0].argocd.labels.env", "expected a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.yaml), "f.yaml")
			assertFieldError(t, err, tt.path, tt.msg)
		})
	}
}

// base is a valid federation with inline CAs, for tests to break.
func base(t *testing.T) string {
	t.Helper()
	ca, err := os.ReadFile("testdata/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(string(ca)), "\n", "\n    ")
	return `apiVersion: argocd-k8s-federate.io/v1alpha1
kind: Federation
upstream:
  name: hub
  issuer: https://hub.example.com
  ca: |
` + indented + `
downstreams:
- name: prod
  server: https://prod.example.com:6443
  useSystemRoots: true
  access:
    namespaces: [apps, web]
- name: dev
  server: https://dev.example.com
  useSystemRoots: true
  access:
    namespaces: [apps]
`
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		// edit changes the decoded base config.
		edit      func(f *Federation)
		path, msg string
	}{
		{"valid", func(f *Federation) {}, "", ""},
		{"wrong apiVersion", func(f *Federation) { f.APIVersion = "v1" }, "apiVersion", "must be argocd-k8s-federate.io/v1alpha1"},
		{"wrong kind", func(f *Federation) { f.Kind = "Cluster" }, "kind", "must be Federation"},
		{"empty prefix", func(f *Federation) { f.Upstream.Name = "" }, "downstreams[0].usernamePrefix", "must not be empty"},
		{"system prefix", func(f *Federation) { f.Downstreams[1].UsernamePrefix = "system:serviceaccount:" }, "downstreams[1].usernamePrefix", "starts with system:"},
		{"dash prefix", func(f *Federation) { f.Downstreams[0].UsernamePrefix = "-" }, "downstreams[0].usernamePrefix", "turns prefixing off"},
		{"http issuer", func(f *Federation) { f.Upstream.Issuer = "http://hub.example.com" }, "upstream.issuer", "only https is accepted"},
		{"issuer not a URL", func(f *Federation) { f.Upstream.Issuer = "hub.example.com" }, "upstream.issuer", "is not a URL"},
		{"issuer missing", func(f *Federation) { f.Upstream.Issuer = "" }, "upstream.issuer", "is required"},
		{"default issuer", func(f *Federation) { f.Upstream.Issuer = "https://kubernetes.default.svc.cluster.local" }, "upstream.issuer", "the default issuer every cluster shares"},
		{"default issuer with slash", func(f *Federation) { f.Upstream.Issuer = "https://kubernetes.default.svc.cluster.local/" }, "upstream.issuer", "the default issuer every cluster shares"},
		{"in-cluster issuer", func(f *Federation) { f.Upstream.Issuer = "https://kubernetes.default.svc" }, "upstream.issuer", "the default issuer every cluster shares"},
		{"discoveryURL equals issuer", func(f *Federation) { f.Upstream.DiscoveryURL = f.Upstream.Issuer }, "upstream.discoveryURL", "equals issuer"},
		{"http discoveryURL", func(f *Federation) { f.Upstream.DiscoveryURL = "http://bucket.example.com/hub" }, "upstream.discoveryURL", "only https"},
		{"http server", func(f *Federation) { f.Downstreams[0].Server = "http://prod.example.com" }, "downstreams[0].server", "only https is accepted"},
		{"in-cluster server", func(f *Federation) { f.Downstreams[0].Server = "https://kubernetes.default.svc" }, "downstreams[0].server", "uses its in-cluster credentials"},
		{"server with query", func(f *Federation) { f.Downstreams[0].Server = "https://prod.example.com?x=1" }, "downstreams[0].server", "must not carry"},
		{"duplicate name", func(f *Federation) { f.Downstreams[1].Name = "prod" }, "downstreams[1].name", "already the name of downstreams[0]"},
		{"duplicate server", func(f *Federation) { f.Downstreams[1].Server = "https://PROD.example.com:6443/" }, "downstreams[1].server", "already the server of downstreams[0]"},
		{"duplicate server default port", func(f *Federation) {
			f.Downstreams[0].Server = "https://prod.example.com"
			f.Downstreams[1].Server = "https://prod.example.com:443"
		}, "downstreams[1].server", "already the server"},
		{"shared audience without shared mode", func(f *Federation) {
			f.Downstreams[0].Audience = "fleet"
			f.Downstreams[1].Audience = "fleet"
		}, "downstreams[1].audience", "set upstream.token.sharedAudience to share one on purpose"},
		{"audience differs in shared mode", func(f *Federation) {
			f.Upstream.Token.SharedAudience = "fleet"
			f.Downstreams[1].Audience = "dev"
		}, "downstreams[1].audience", "in shared-audience mode every downstream uses the shared audience"},
		{"token file collision", func(f *Federation) {
			f.Downstreams[0].Audience = "https://a/b"
			f.Downstreams[1].Audience = "https://a:b"
		}, "downstreams[1].audience", "map to the same token file name"},
		{"audience with space", func(f *Federation) { f.Downstreams[0].Audience = "a b" }, "downstreams[0].audience", "no whitespace"},
		{"expiration too short", func(f *Federation) { f.Upstream.Token.ExpirationSeconds = 599 }, "upstream.token.expirationSeconds", "between 600"},
		{"expiration too long", func(f *Federation) { f.Upstream.Token.ExpirationSeconds = 86401 }, "upstream.token.expirationSeconds", "and 86400"},
		{"missing downstream CA", func(f *Federation) { f.Downstreams[0].UseSystemRoots = false }, "downstreams[0].caFile", "useSystemRoots: true if it is signed by a publicly trusted CA"},
		{"missing upstream CA", func(f *Federation) { f.Upstream.CA = "" }, "upstream.caFile", "no CA for the issuer's TLS certificate"},
		{"two CA sources", func(f *Federation) { f.Upstream.UseSystemRoots = true }, "upstream.caFile", "only one of caFile, ca and useSystemRoots"},
		{"CA file missing", func(f *Federation) { f.Downstreams[0].UseSystemRoots, f.Downstreams[0].CAFile = false, "nope.crt" }, "downstreams[0].caFile", "cannot read"},
		{"CA not PEM", func(f *Federation) { f.Upstream.CA = "hello" }, "upstream.ca", "holds no PEM certificate"},
		{"CA with a key", func(f *Federation) {
			f.Upstream.CA = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
		}, "upstream.ca", "never a key"},
		{"bad downstream name", func(f *Federation) { f.Downstreams[0].Name = "Prod_EU" }, "downstreams[0].name", "is not a valid name"},
		{"bad upstream name", func(f *Federation) { f.Upstream.Name = "hub.example" }, "upstream.name", "is not a valid name"},
		{"bad namespace", func(f *Federation) { f.Downstreams[0].Access.Namespaces[1] = "Web" }, "downstreams[0].access.namespaces[1]", "is not a valid name"},
		{"duplicate namespace", func(f *Federation) { f.Downstreams[0].Access.Namespaces[1] = "apps" }, "downstreams[0].access.namespaces[1]", "listed twice"},
		{"bad argocd namespace", func(f *Federation) { f.Upstream.ArgoCD.Namespace = "Argo CD" }, "upstream.argocd.namespace", "is not a valid name"},
		{"bad secret name", func(f *Federation) { f.Downstreams[0].ArgoCD.SecretName = "Cluster/prod" }, "downstreams[0].argocd.secretName", "is not a valid name"},
		{"bad label", func(f *Federation) { f.Downstreams[0].ArgoCD.Labels = map[string]string{"env": "prod eu"} }, "downstreams[0].argocd.labels.env", "not a valid label value"},
		{"reserved label", func(f *Federation) {
			f.Downstreams[0].ArgoCD.Labels = map[string]string{"argocd.argoproj.io/secret-type": "repository"}
		}, "downstreams[0].argocd.labels.argocd.argoproj.io/secret-type", "set by the generator"},
		{"no access", func(f *Federation) { f.Downstreams[1].Access.Namespaces = nil }, "downstreams[1].access.namespaces", "or set access.clusterWide: true"},
		{"cluster-wide and namespaces", func(f *Federation) { f.Downstreams[0].Access.ClusterWide = true }, "downstreams[0].access.clusterWide", "choose one"},
		{"two roles", func(f *Federation) { f.Downstreams[0].Access.Controller = Role{Preset: "viewer", ClusterRole: "edit"} }, "downstreams[0].access.controller", "exactly one of preset"},
		{"unknown preset", func(f *Federation) { f.Downstreams[0].Access.Server = Role{Preset: "god"} }, "downstreams[0].access.server.preset", "must be one of: viewer"},
		{"cluster-admin in namespaces", func(f *Federation) { f.Downstreams[0].Access.Controller = Role{ClusterRole: "cluster-admin"} }, "downstreams[0].access.controller.clusterRole", "grants every permission there"},
		{"rule without verbs", func(f *Federation) {
			f.Downstreams[0].Access.Controller = Role{Rules: []PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}}
		}, "downstreams[0].access.controller.rules[0].verbs", "at least one verb"},
		{"rule without groups", func(f *Federation) {
			f.Downstreams[0].Access.Controller = Role{Rules: []PolicyRule{{Resources: []string{"pods"}, Verbs: []string{"get"}}}}
		}, "downstreams[0].access.controller.rules[0].apiGroups", "core group"},
		{"non-resource URLs in namespaces", func(f *Federation) {
			f.Downstreams[0].Access.Controller = Role{Rules: []PolicyRule{{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}}}}
		}, "downstreams[0].access.controller.rules[0].nonResourceURLs", "only take effect cluster-wide"},
		{"no downstreams", func(f *Federation) { f.Downstreams = nil }, "downstreams", "at least one downstream"},
		{"bad controller kind", func(f *Federation) { f.Upstream.ArgoCD.Controller.Kind = "DaemonSet" }, "upstream.argocd.controller.kind", "must be StatefulSet or Deployment"},
		{"server as StatefulSet", func(f *Federation) { f.Upstream.ArgoCD.Server.Kind = "StatefulSet" }, "upstream.argocd.server.kind", "must be Deployment"},
		{"relative mount path", func(f *Federation) { f.Upstream.Token.MountPath = "tokens" }, "upstream.token.mountPath", "absolute, clean path"},
		{"unknown delivery", func(f *Federation) { f.Upstream.Plugin.Delivery = "Magic" }, "upstream.plugin.delivery", "must be InitContainer"},
		{"preinstalled without command", func(f *Federation) {
			f.Upstream.Plugin = Plugin{Delivery: DeliveryPreinstalled}
		}, "upstream.plugin.command", "is required with delivery: Preinstalled"},
		{"preinstalled with image", func(f *Federation) {
			f.Upstream.Plugin = Plugin{Delivery: DeliveryPreinstalled, Command: "/usr/local/bin/p", Image: "x:1"}
		}, "upstream.plugin.image", "only for delivery: InitContainer"},
		{"command with init container", func(f *Federation) { f.Upstream.Plugin.Command = "/bin/p" }, "upstream.plugin.command", "only for delivery: Preinstalled"},
		{"plugin dir inside token mount", func(f *Federation) { f.Upstream.Plugin.Dir = DefaultTokenMountPath + "/bin" }, "upstream.plugin.dir", "overlaps upstream.token.mountPath"},
		{"bad pull policy", func(f *Federation) { f.Upstream.Plugin.ImagePullPolicy = "Sometimes" }, "upstream.plugin.imagePullPolicy", "Always, IfNotPresent or Never"},
		{"controller disabled", func(f *Federation) { off := false; f.Upstream.ArgoCD.Controller.Enabled = &off }, "upstream.argocd.controller.enabled", "the application controller is what deploys"},
		{"bad authn version", func(f *Federation) { f.Downstreams[0].APIServer.AuthenticationConfigVersion = "v1alpha1" }, "downstreams[0].apiServer.authenticationConfigVersion", "v1 (Kubernetes 1.34 and later) or v1beta1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode([]byte(base(t)), "testdata/base.yaml")
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(f)
			assertValidation(t, f.Complete(), tt.path, tt.msg)
		})
	}
}

func TestValidateReportsAllProblemsAtOnce(t *testing.T) {
	f, err := Decode([]byte(base(t)), "testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Upstream.Issuer = "http://hub"
	f.Downstreams[0].UsernamePrefix = "system:"
	f.Downstreams[1].Access.Namespaces = nil
	got := fieldErrors(t, f.Complete())
	if len(got) != 3 {
		t.Fatalf("want 3 problems, got %d: %v", len(got), got)
	}
}

func TestValidateSet(t *testing.T) {
	load := func(edit func(f *Federation), source string) *Federation {
		t.Helper()
		f, err := Decode([]byte(base(t)), source)
		if err != nil {
			t.Fatal(err)
		}
		edit(f)
		if err := f.Complete(); err != nil {
			t.Fatal(err)
		}
		return f
	}
	hubA := load(func(f *Federation) {}, "a.yaml")
	tests := []struct {
		name      string
		other     func(f *Federation)
		path, msg string
	}{
		{"second hub, own prefix", func(f *Federation) {
			f.Upstream.Name, f.Upstream.Issuer = "hub-b", "https://hub-b.example.com"
		}, "", ""},
		{"same prefix on a shared downstream", func(f *Federation) {
			f.Upstream.Name, f.Upstream.Issuer = "hub-b", "https://hub-b.example.com"
			for i := range f.Downstreams {
				f.Downstreams[i].UsernamePrefix = "hub:"
			}
		}, "b.yaml: downstreams[0].usernamePrefix", "both hubs' service accounts would map to the same users"},
		{"same upstream name", func(f *Federation) { f.Upstream.Issuer = "https://hub-b.example.com" }, "b.yaml: upstream.name", "each hub needs its own name"},
		{"same issuer", func(f *Federation) { f.Upstream.Name = "hub-b" }, "b.yaml: upstream.issuer", "each hub has its own issuer"},
		{"same name, other server", func(f *Federation) {
			f.Upstream.Name, f.Upstream.Issuer = "hub-b", "https://hub-b.example.com"
			f.Downstreams[0].Server = "https://elsewhere.example.com"
		}, "b.yaml: downstreams[0].server", "one name, one cluster"},
		{"same server, other name", func(f *Federation) {
			f.Upstream.Name, f.Upstream.Issuer = "hub-b", "https://hub-b.example.com"
			f.Downstreams[0].Name = "production"
		}, "b.yaml: downstreams[0].server", `is downstream "prod" elsewhere`},
		{"different authn versions", func(f *Federation) {
			f.Upstream.Name, f.Upstream.Issuer = "hub-b", "https://hub-b.example.com"
			f.Downstreams[0].APIServer.AuthenticationConfigVersion = AuthnV1beta1
		}, "b.yaml: downstreams[0].apiServer.authenticationConfigVersion", "one API server reads one version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hubB := load(tt.other, "b.yaml")
			assertValidation(t, ValidateSet([]*Federation{hubA, hubB}), tt.path, tt.msg)
		})
	}
}

func TestWarnings(t *testing.T) {
	f, err := Decode([]byte(base(t)), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Downstreams = nil
	for i := range ManyAudiences + 1 {
		f.Downstreams = append(f.Downstreams, Downstream{
			Name: "d" + strings.Repeat("x", i), Server: "https://d" + strings.Repeat("x", i) + ".example.com",
			CertificateAuthority: CertificateAuthority{UseSystemRoots: true},
			Access:               Access{Namespaces: []string{"apps"}},
		})
	}
	if err := f.Complete(); err != nil {
		t.Fatal(err)
	}
	w := f.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "upstream.token.source: TokenRequest, or upstream.token.sharedAudience") {
		t.Errorf("want one many-audiences warning, got %q", w)
	}
	f.Upstream.Token.SharedAudience = "fleet"
	if w := f.Warnings(); len(w) != 0 {
		t.Errorf("shared-audience mode still warns: %q", w)
	}
	// The pod templates do not grow with token-request downstreams.
	f.Upstream.Token.SharedAudience = ""
	for i := range f.Downstreams {
		f.Downstreams[i].TokenSource = SourceTokenRequest
	}
	if w := f.Warnings(); len(w) != 0 {
		t.Errorf("token-request mode still warns: %q", w)
	}
}

func fieldErrors(t *testing.T, err error) []FieldError {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want *config.Errors, got %T: %v", err, err)
	}
	return errs.List
}

// assertValidation checks the outcome of a validation: no error when path
// is empty, else the error of path saying msg.
func assertValidation(t *testing.T, err error, path, msg string) {
	t.Helper()
	if path == "" {
		if err != nil {
			t.Fatalf("valid input refused: %v", err)
		}
		return
	}
	assertFieldError(t, err, path, msg)
}

func assertFieldError(t *testing.T, err error, path, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s: ...%s...", path, msg)
	}
	for _, fe := range fieldErrors(t, err) {
		if fe.Path == path && strings.Contains(fe.Message, msg) {
			return
		}
	}
	t.Errorf("want an error at %q containing %q, got:\n%v", path, msg, err)
}
