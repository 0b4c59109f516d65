package adopt_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/adopt/adopttest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func readFixtures(t testing.TB, fx []adopttest.Fixture) *adopt.Input {
	t.Helper()
	in, err := adopt.Read([]string{"-"}, strings.NewReader(adopttest.YAML(fx)))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func byName(fx []adopttest.Fixture) map[string]adopttest.Fixture {
	m := map[string]adopttest.Fixture{}
	for _, f := range fx {
		m[f.Secret.Metadata.Namespace+"/"+f.Secret.Metadata.Name] = f
	}
	return m
}

func TestAuditKinds(t *testing.T) {
	fx := adopttest.Hub(adopttest.NewMaterial(t))
	in := readFixtures(t, fx)
	if len(in.Secrets) != len(fx) {
		t.Fatalf("read %d Secrets, want %d", len(in.Secrets), len(fx))
	}
	r := adopt.Audit(in, time.Now())
	want := byName(fx)
	static := 0
	for _, f := range r.Clusters {
		w, ok := want[f.Secret]
		if !ok {
			t.Errorf("unexpected finding %+v", f)
			continue
		}
		if string(f.Kind) != w.Kind || f.Static != w.Static {
			t.Errorf("%s: kind %s static %v, want %s static %v (%s)", f.Secret, f.Kind, f.Static, w.Kind, w.Static, f.Detail)
		}
		if f.Static {
			static++
		}
	}
	if r.Summary.Static != static || r.Err() == nil {
		t.Errorf("summary %+v, Err %v", r.Summary, r.Err())
	}
	details := map[string]adopt.Finding{}
	for _, f := range r.Clusters {
		details[f.Secret] = f
	}
	for secret, want := range map[string][]string{
		"argocd/cluster-legacy":     {"system:serviceaccount:kube-system:argocd-manager", "never expires", "argocd-manager-token-x7k2p"},
		"argocd/cluster-bound":      {"system:serviceaccount:kube-system:deployer", "expires", "in 36"},
		"argocd/cluster-opaque":     {"not a JWT"},
		"argocd/cluster-cert":       {"CN=kubernetes-admin", "kubeadm:cluster-admins", "admin certificate"},
		"argocd/cluster-basic":      {`"admin"`},
		"argocd/cluster-aws":        {"argocd-k8s-auth aws", `"prod"`, "role arn:aws:iam::123456789012:role/argocd"},
		"argocd/cluster-gke":        {"argocd-k8s-auth gcp"},
		"argocd/cluster-exec-env":   {"vault-login", "execProviderConfig.env.AWS_SECRET_ACCESS_KEY"},
		"argocd/cluster-exec-token": {"azure", "also keeps bearerToken"},
		"argocd/cluster-federated":  {"token-file", "audience federated"},
		"argocd/cluster-requested":  {"token-request", "audience requested"},
		"argocd/cluster-in-cluster": {"own service account"},
	} {
		for _, w := range want {
			if !strings.Contains(details[secret].Detail, w) {
				t.Errorf("%s: detail %q lacks %q", secret, details[secret].Detail, w)
			}
		}
	}
	if f := details["argocd/cluster-legacy"]; !f.NeverExpires || f.Expires != nil {
		t.Errorf("legacy token: NeverExpires %v Expires %v", f.NeverExpires, f.Expires)
	}
	if f := details["argocd/cluster-requested"]; f.TokenSource != config.SourceTokenRequest {
		t.Errorf("token-request Secret: token source %q", f.TokenSource)
	}
	// Only federated, exec without secrets, in-cluster and none left: exit 0.
	var clean adopt.Input
	for _, s := range in.Secrets {
		if !s.Stored.Static() {
			clean.Secrets = append(clean.Secrets, s)
		}
	}
	if err := adopt.Audit(&clean, now).Err(); err != nil {
		t.Errorf("audit of Secrets without a static credential: %v", err)
	}
}

// No secret value in the report (text, JSON), the import, the errors, or
// the parsed Secrets printed with any verb.
func TestNoSecretValuePrinted(t *testing.T) {
	fx := adopttest.Hub(adopttest.NewMaterial(t))
	in := readFixtures(t, fx)
	var out bytes.Buffer
	r := adopt.Audit(in, now)
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(r)
	out.Write(js)
	out.WriteString(r.Err().Error())
	for _, s := range in.Secrets {
		fmt.Fprintf(&out, "%v %+v %#v %s %q %x %d", s, s, s, s.Stored, s.Stored, s.Stored, s.Stored)
		fmt.Fprintf(&out, "%v %#v", *s, *s)
		js, _ := json.Marshal(s)
		out.Write(js)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hub-ca.crt"), adopttest.NewMaterial(t).CAPEM)
	res, err := adopt.Import(in, hub(), filepath.Join(dir, "federation.yaml"), now)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(res.Config)
	for _, r := range res.Refused {
		out.WriteString(r.Reason)
	}
	// A config that does not parse: the error quotes nothing of it.
	bad := adopttest.Secret("cluster-bad", "bad", "https://bad.example.com", nil, nil)
	token := adopttest.LegacyToken("kube-system", "x", "x-token")
	bad.StringData["config"] = `{"bearerToken": "` + token + `"` // truncated JSON
	_, err = adopt.Read([]string{"-"}, strings.NewReader(adopttest.YAML([]adopttest.Fixture{{Secret: bad}})))
	if err == nil {
		t.Fatal("a truncated config was read")
	}
	out.WriteString(err.Error())
	bad.StringData["config"] = `{"bearerToken": ` + token[:20] + `}`
	_, err = adopt.Read([]string{"-"}, strings.NewReader(adopttest.YAML([]adopttest.Fixture{{Secret: bad}})))
	if err == nil {
		t.Fatal("a config that is no JSON was read")
	}
	out.WriteString(err.Error())
	fx = append(fx, adopttest.Fixture{Secrets: []string{token, token[:20]}})
	for _, f := range fx {
		for _, secret := range f.Secrets {
			if len(secret) > 1 && bytes.Contains(out.Bytes(), []byte(secret)) {
				t.Errorf("a secret value of %s is printed: %q", f.Secret.Metadata.Name, secret)
			}
		}
	}
	if !strings.Contains(out.String(), "bearerToken (values redacted)") {
		t.Errorf("the printed Secrets do not name what is stored:\n%.2000s", out.String())
	}
}

func hub() adopt.Hub {
	return adopt.Hub{Name: "hub", Issuer: "https://hub.example.com", CAFile: "hub-ca.crt"}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImport(t *testing.T) {
	m := adopttest.NewMaterial(t)
	fx := adopttest.Hub(m)
	in := readFixtures(t, fx)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hub-ca.crt"), m.CAPEM)
	source := filepath.Join(dir, "federation.yaml")
	res, err := adopt.Import(in, hub(), source, now)
	if err != nil {
		t.Fatal(err)
	}
	// Every refusal, with its reason.
	refused := map[string]string{}
	for _, r := range res.Refused {
		refused[r.Secret] = r.Reason
	}
	for name, f := range byName(fx) {
		reason, ok := refused[name]
		switch {
		case f.Refused == "" && ok:
			t.Errorf("%s refused: %s", name, reason)
		case f.Refused != "" && !strings.Contains(reason, f.Refused):
			t.Errorf("%s: refusal %q, want one about %q", name, reason, f.Refused)
		}
	}
	// The written config is what generate reads.
	writeFile(t, source, res.Config)
	fed, err := config.Load(source)
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Config)
	}
	if len(fed.Downstreams) != res.Downstreams || res.Downstreams != len(fx)-len(res.Refused) {
		t.Errorf("%d downstreams, %d refused, of %d", len(fed.Downstreams), len(res.Refused), len(fx))
	}
	ds := map[string]config.Downstream{}
	for _, d := range fed.Downstreams {
		ds[d.ArgoCD.SecretName] = d
	}
	legacy := ds["cluster-legacy"]
	if legacy.Name != "legacy" || legacy.ArgoCD.Project != "team-a" || strings.Join(legacy.Access.Namespaces, ",") != "apps,web" ||
		legacy.ArgoCD.Labels["env"] != "prod" || legacy.ArgoCD.Annotations["team"] != "platform" || len(legacy.ArgoCD.Annotations) != 1 || legacy.PEM() != string(m.CAPEM) {
		t.Errorf("legacy imported as %+v", legacy)
	}
	if b := ds["cluster-bound"]; b.Name != "prod-eu-bound" || b.ArgoCD.ClusterName != "Prod EU (bound)" || !b.Access.ClusterWide {
		t.Errorf("a name that is no DNS label: %+v", b.ArgoCD)
	}
	if a := ds["cluster-aws"]; a.Name != "arn-aws-eks-eu-west-1-123456789012-cluster-prod" || a.ArgoCD.ClusterName == "" {
		t.Errorf("aws: name %q clusterName %q", a.Name, a.ArgoCD.ClusterName)
	}
	if f := ds["cluster-requested"]; f.Audience != "requested" || f.TokenSource != config.SourceTokenRequest {
		t.Errorf("an already federated Secret keeps its audience and token source: %+v", f)
	}
	if p := ds["cluster-public"]; !p.UseSystemRoots {
		t.Errorf("no caData: useSystemRoots, got %+v", p.CertificateAuthority)
	}
	for _, w := range []string{"REVIEW: roles", "REVIEW: clusterResources: true", "REVIEW: the Secret lists no namespaces", "REVIEW: reached by argocd-k8s-auth aws", "# Not imported:", "in-cluster"} {
		if !bytes.Contains(res.Config, []byte(w)) {
			t.Errorf("the config lacks %q:\n%s", w, res.Config)
		}
	}
	// Deterministic: the same Secrets in another order, another day.
	rev := append([]adopttest.Fixture(nil), fx...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	again, err := adopt.Import(readFixtures(t, rev), hub(), source, now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Config, res.Config) {
		t.Errorf("import is not deterministic")
	}
}

// Nothing to import, and a hub setting generate refuses: an error, no config.
func TestImportRefusesAll(t *testing.T) {
	fx := adopttest.Hub(adopttest.NewMaterial(t))
	var only []adopttest.Fixture
	for _, f := range fx {
		if f.Refused != "" && f.Refused != "second Secret" {
			only = append(only, f)
		}
	}
	if _, err := adopt.Import(readFixtures(t, only), hub(), "federation.yaml", now); err == nil || !strings.Contains(err.Error(), "nothing to import") {
		t.Errorf("err = %v", err)
	}
	h := hub()
	h.Issuer = "http://hub.example.com"
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hub-ca.crt"), adopttest.NewMaterial(t).CAPEM)
	if _, err := adopt.Import(readFixtures(t, fx), h, filepath.Join(dir, "f.yaml"), now); err == nil || !strings.Contains(err.Error(), "upstream.issuer") {
		t.Errorf("err = %v", err)
	}
}

// Files: YAML documents, Lists, SecretLists, JSON; other objects skipped.
func TestRead(t *testing.T) {
	fx := adopttest.Hub(adopttest.NewMaterial(t))[:3]
	list := adopttest.YAML(fx)
	secretList := strings.Replace(list, "kind: List", "kind: SecretList", 1)
	// The same as single documents.
	var docs []string
	for _, f := range fx {
		docs = append(docs, strings.Replace(strings.TrimPrefix(adopttest.YAML([]adopttest.Fixture{f}), "apiVersion: v1\nkind: List\nitems:\n- "), "\n  ", "\n", -1))
	}
	other := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: not-base64!}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: plain}\ndata: {a: YQ==}\n"
	var js bytes.Buffer
	var obj any
	for _, d := range docs[:1] {
		if err := yamlToAny(d, &obj); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(obj)
	js.Write(b)
	dir := t.TempDir()
	files := map[string]string{"list.yaml": list, "secretlist.yaml": secretList, "docs.yaml": strings.Join(docs, "---\n") + "---\n" + other, "one.json": js.String()}
	var paths []string
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), []byte(data))
		paths = append(paths, filepath.Join(dir, name))
	}
	in, err := adopt.Read(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Secrets) != 3+3+3+1 || in.Skipped != 2 {
		t.Errorf("read %d Secrets, skipped %d", len(in.Secrets), in.Skipped)
	}
	for i := 1; i < len(in.Secrets); i++ {
		if in.Secrets[i-1].Name > in.Secrets[i].Name {
			t.Errorf("not sorted: %s before %s", in.Secrets[i-1].Name, in.Secrets[i].Name)
		}
	}
}

// A Secret that runs oidc-token is federated through an identity provider:
// audit says so, and import keeps its audience and asks for
// upstream.identityProvider in a review.
func TestAuditIdentityProviderSecret(t *testing.T) {
	o := plugin.DefaultOIDCTokenOptions()
	o.Issuer, o.Grant, o.ClientID, o.Audience, o.AssertionAudience = "https://login.example.com", plugin.GrantJWTBearer, "argocd-hub", "prod-idp", "https://login.example.com/oauth2/token"
	s := adopttest.Secret("cluster-idp", "idp", "https://idp.example.com", map[string]any{
		"execProviderConfig": map[string]any{"command": "/var/run/argocd-k8s-federate/" + plugin.Name, "args": o.Args(), "apiVersion": "client.authentication.k8s.io/v1"},
		"tlsClientConfig":    map[string]any{"insecure": false},
	}, map[string]string{"namespaces": "apps"})
	in := readFixtures(t, []adopttest.Fixture{{Secret: s}})
	r := adopt.Audit(in, now)
	f := r.Clusters[0]
	if f.Kind != adopt.KindFederated || f.TokenSource != config.SourceIdentityProvider || f.Audience != "prod-idp" || f.Static ||
		!strings.Contains(f.Detail, "identity provider https://login.example.com, grant jwt-bearer, client argocd-hub") {
		t.Errorf("finding %+v", f)
	}
	if err := r.Err(); err != nil {
		t.Errorf("audit: %v", err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hub-ca.crt"), adopttest.NewMaterial(t).CAPEM)
	res, err := adopt.Import(in, hub(), filepath.Join(dir, "federation.yaml"), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"audience: prod-idp", "upstream.identityProvider to the same issuer"} {
		if !strings.Contains(string(res.Config), w) {
			t.Errorf("imported config lacks %q:\n%s", w, res.Config)
		}
	}
	if strings.Contains(string(res.Config), "tokenSource") {
		t.Errorf("imported config sets a token source:\n%s", res.Config)
	}
}
