package generate_test

// The API-server oracle: every generated AuthenticationConfiguration is
// loaded the way kube-apiserver v1.34 loads --authentication-config (its
// own scheme, strict decoding, conversion to the internal type) and
// validated with its own ValidateAuthenticationConfiguration; every other
// generated Kubernetes object decodes strictly into the real API types, so
// the generator's small output structs cannot drift from them.

import (
	"bytes"
	"context"
	"errors"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apiserver/pkg/apis/apiserver"
	apiserverinstall "k8s.io/apiserver/pkg/apis/apiserver/install"
	apiservervalidation "k8s.io/apiserver/pkg/apis/apiserver/validation"
	authenticationcel "k8s.io/apiserver/pkg/authentication/cel"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/generate"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/oracletest"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/plugin"
)

// downstreamOwnIssuer is the downstream API server's own
// --service-account-issuer: kube-apiserver passes its issuers to the
// validation as disallowed JWT issuers. The default is the same in every
// cluster, which is why the config refuses it as an upstream issuer.
const downstreamOwnIssuer = "https://kubernetes.default.svc.cluster.local"

// oracleCases are the configs the API server judges (several files are
// hubs generated together into shared downstreams).
var oracleCases = []struct {
	name  string
	files []string
}{
	{"example", []string{"../../examples/federation.yaml"}},
	{"discovery-v1beta1", []string{"testdata/oracle/discovery.yaml"}},
	{"system-roots-shared-audience", []string{"testdata/oracle/system-roots.yaml"}},
	{"multi-hub", []string{"testdata/oracle/multi-hub-m1.yaml", "testdata/oracle/multi-hub-m2.yaml"}},
	{"workloads", []string{"testdata/token-request/federation.yaml"}},
	{"identity-provider-jwt", []string{"testdata/identity-provider-jwt/federation.yaml"}},
	{"identity-provider-client", []string{"testdata/identity-provider-client/federation.yaml"}},
}

// authnScheme and authnCodecs are kube-apiserver's loader of
// --authentication-config (k8s.io/kubernetes pkg/kubeapiserver/options,
// loadAuthenticationConfigFromData): the apiserver.config.k8s.io scheme
// (v1alpha1, v1beta1, v1) with strict decoding.
func authnCodecs() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	apiserverinstall.Install(scheme)
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict)
}

// loadAuthenticationConfiguration decodes data exactly as kube-apiserver
// does and returns the internal object and the version it was written in.
func loadAuthenticationConfiguration(codecs serializer.CodecFactory, data []byte) (*apiserver.AuthenticationConfiguration, *schema.GroupVersionKind, error) {
	obj, gvk, err := codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		return nil, gvk, err
	}
	cfg, ok := obj.(*apiserver.AuthenticationConfiguration)
	if !ok {
		return nil, gvk, errors.New("expected AuthenticationConfiguration, got " + gvk.String())
	}
	return cfg, gvk, nil
}

func loadFederations(t *testing.T, files ...string) []*config.Federation {
	t.Helper()
	var feds []*config.Federation
	for _, f := range files {
		fed, err := config.Load(f)
		if err != nil {
			t.Fatalf("load %s: %v", f, err)
		}
		feds = append(feds, fed)
	}
	return feds
}

func generateTree(t *testing.T, feds []*config.Federation) *generate.Tree {
	t.Helper()
	set, err := config.NewSet(feds)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := generate.Generate(context.Background(), set)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return tree
}

// wantAuthn is what a downstream's AuthenticationConfiguration must say,
// from the configs: one JWT authenticator per hub deploying into it.
type wantAuthn struct {
	version string
	jwt     []apiserver.JWTAuthenticator
	users   []string // the ArgoCD users the rules must let through
	// subjects are, per issuer, the sub claims the claimValidationRules
	// must accept; every other service account of that hub is refused.
	subjects map[string][]string
	// others are, per issuer, the upstream workloads' sub claims this
	// downstream does not grant: refused too.
	others map[string][]string
	// claims are, per issuer, the claim the username comes from (sub, or
	// the identity provider's usernameClaim).
	claims map[string]string
}

func expectedAuthn(feds []*config.Federation) map[string]*wantAuthn {
	want := map[string]*wantAuthn{}
	for _, f := range feds {
		u := f.Upstream
		for i := range f.Downstreams {
			d := &f.Downstreams[i]
			w := want[d.Name]
			if w == nil {
				w = &wantAuthn{version: d.APIServer.AuthenticationConfigVersion, subjects: map[string][]string{}, others: map[string][]string{}, claims: map[string]string{}}
				want[d.Name] = w
			}
			prefix := d.UsernamePrefix
			// The hub's own issuer, or the identity provider's, by the
			// config's words.
			iss, discoveryURL, pem, claim := u.Issuer, u.DiscoveryURL, u.PEM(), "sub"
			clientID := ""
			if p := u.IdentityProvider; p != nil {
				iss, discoveryURL, pem, claim = p.Issuer, "", p.PEM(), p.UsernameClaim
				if p.Grant == config.GrantClientCredentials {
					clientID = p.ClientID
				}
			}
			w.claims[iss] = claim
			w.jwt = append(w.jwt, apiserver.JWTAuthenticator{
				Issuer: apiserver.Issuer{
					URL:                  iss,
					DiscoveryURL:         discoveryURL,
					CertificateAuthority: pem,
					Audiences:            []string{d.Audience},
				},
				ClaimMappings: apiserver.ClaimMappings{
					Username: apiserver.PrefixedClaimOrExpression{Claim: claim, Prefix: &prefix},
				},
			})
			if clientID != "" {
				// ClientCredentials: the one client is all of the hub.
				w.users = append(w.users, prefix+clientID)
				w.subjects[iss] = append(w.subjects[iss], clientID)
				continue
			}
			for _, sa := range []string{u.ArgoCD.Controller.ServiceAccount, u.ArgoCD.Server.ServiceAccount} {
				sub := "system:serviceaccount:" + u.ArgoCD.Namespace + ":" + sa
				w.users = append(w.users, prefix+sub)
				w.subjects[iss] = append(w.subjects[iss], sub)
			}
			// The upstream workloads this downstream grants something, by
			// the config's own words (not through Grants).
			for _, uw := range u.Workloads {
				sub := "system:serviceaccount:" + uw.Namespace + ":" + uw.ServiceAccount
				granted := slices.ContainsFunc(d.Access.Workloads, func(a config.WorkloadAccess) bool { return a.Name == uw.Name })
				if granted {
					w.users = append(w.users, prefix+sub)
					w.subjects[iss] = append(w.subjects[iss], sub)
				} else {
					w.others[iss] = append(w.others[iss], sub)
				}
			}
		}
	}
	return want
}

// authnConfigDownstream returns <name> for downstream/<name>/apiserver/authentication-config.yaml.
func authnConfigDownstream(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "downstream/")
	if !ok {
		return "", false
	}
	name, file, ok := strings.Cut(rest, "/")
	return name, ok && file == "apiserver/"+generate.AuthenticationConfigFile
}

// TestAPIServerAcceptsAuthenticationConfiguration is the API server's
// verdict on every generated AuthenticationConfiguration.
func TestAPIServerAcceptsAuthenticationConfiguration(t *testing.T) {
	codecs := authnCodecs()
	compiler := authenticationcel.NewDefaultCompiler()
	for _, tc := range oracleCases {
		t.Run(tc.name, func(t *testing.T) {
			feds := loadFederations(t, tc.files...)
			tree := generateTree(t, feds)
			want := expectedAuthn(feds)

			var seen []string
			for _, f := range tree.Files {
				name, ok := authnConfigDownstream(f.Path)
				if !ok {
					continue
				}
				seen = append(seen, name)
				t.Run(f.Path, func(t *testing.T) {
					w, ok := want[name]
					if !ok {
						t.Fatalf("no downstream %q in the configs", name)
					}
					cfg, gvk, err := loadAuthenticationConfiguration(codecs, f.Content)
					if err != nil {
						t.Fatalf("kube-apiserver cannot load it (strict decoding): %v\n%s", err, f.Content)
					}
					wantGVK := schema.GroupVersionKind{Group: "apiserver.config.k8s.io", Version: w.version, Kind: "AuthenticationConfiguration"}
					if *gvk != wantGVK {
						t.Errorf("written as %v, want %v (apiServer.authenticationConfigVersion)", gvk, wantGVK)
					}

					errs := apiservervalidation.ValidateAuthenticationConfiguration(compiler, cfg, []string{downstreamOwnIssuer})
					if len(errs) > 0 {
						t.Errorf("kube-apiserver refuses it: %v", errs.ToAggregate())
					}

					byIssuer := cmpopts.SortSlices(func(a, b apiserver.JWTAuthenticator) bool { return a.Issuer.URL < b.Issuer.URL })
					ignoreRules := cmpopts.IgnoreFields(apiserver.JWTAuthenticator{}, "UserValidationRules", "ClaimValidationRules")
					if diff := cmp.Diff(w.jwt, cfg.JWT, byIssuer, ignoreRules, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("JWT authenticators (-want +got):\n%s", diff)
					}
					for i, a := range cfg.JWT {
						checkUserValidationRules(t, compiler, i, a, w.users)
						checkClaimValidationRules(t, compiler, i, a, w.claims[a.Issuer.URL], w.subjects[a.Issuer.URL], w.others[a.Issuer.URL])
					}
				})
			}
			sort.Strings(seen)
			var names []string
			for n := range want {
				names = append(names, n)
			}
			sort.Strings(names)
			if diff := cmp.Diff(names, seen); diff != "" {
				t.Errorf("downstreams with an %s (-want +got):\n%s", generate.AuthenticationConfigFile, diff)
			}
		})
	}
}

// checkUserValidationRules evaluates an authenticator's userValidationRules
// with the API server's CEL mapper: the prefixed ArgoCD users pass, and
// usernames in the system: namespace are refused, whatever the prefix.
func checkUserValidationRules(t *testing.T, compiler authenticationcel.Compiler, i int, a apiserver.JWTAuthenticator, allowed []string) {
	t.Helper()
	if len(a.UserValidationRules) == 0 {
		t.Errorf("jwt[%d] (%s) has no userValidationRules: nothing refuses usernames starting with system:", i, a.Issuer.URL)
		return
	}
	var compiled []authenticationcel.CompilationResult
	for _, r := range a.UserValidationRules {
		c, err := compiler.CompileUserExpression(&authenticationcel.UserValidationCondition{Expression: r.Expression, Message: r.Message})
		if err != nil {
			t.Fatalf("jwt[%d] userValidationRule %q: %v", i, r.Expression, err)
		}
		compiled = append(compiled, c)
	}
	mapper := authenticationcel.NewUserMapper(compiled)
	accepts := func(username string) bool {
		user, ok := types.DefaultTypeAdapter.NativeToValue(map[string]any{
			"username": username, "uid": "", "groups": []string{}, "extra": map[string][]string{},
		}).(traits.Mapper)
		if !ok {
			t.Fatal("user info is not a CEL map")
		}
		results, err := mapper.EvalUser(context.Background(), user)
		if err != nil {
			t.Fatalf("jwt[%d]: evaluate userValidationRules for %q: %v", i, username, err)
		}
		for _, r := range results {
			if b, ok := r.EvalResult.Value().(bool); !ok || !b {
				return false
			}
		}
		return true
	}
	for _, u := range allowed {
		if !accepts(u) {
			t.Errorf("jwt[%d] (%s): userValidationRules refuse ArgoCD's user %q", i, a.Issuer.URL, u)
		}
	}
	for _, u := range []string{"system:admin", "system:serviceaccount:kube-system:default", "system:kube-controller-manager", "system:anonymous"} {
		if accepts(u) {
			t.Errorf("jwt[%d] (%s): userValidationRules let %q through", i, a.Issuer.URL, u)
		}
	}
}

// TestAPIServerLoaderIsStrict proves the oracle above would notice a field
// the API server does not know.
func TestAPIServerLoaderIsStrict(t *testing.T) {
	tree := generateTree(t, loadFederations(t, "../../examples/federation.yaml"))
	var data []byte
	for _, f := range tree.Files {
		if _, ok := authnConfigDownstream(f.Path); ok {
			data = f.Content
			break
		}
	}
	if data == nil {
		t.Fatal("no AuthenticationConfiguration generated for the example")
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"unknown top-level field", append(append([]byte(nil), data...), "unknownField: true\n"...)},
		{"unknown nested field", bytes.Replace(data, []byte("\n  issuer:\n"), []byte("\n  issuer:\n    urls: [https://x.example.com]\n"), 1)},
		{"field name in the wrong case", bytes.Replace(data, []byte("\n    audiences:\n"), []byte("\n    Audiences:\n"), 1)},
		{"duplicate field", append(append([]byte(nil), data...), "kind: AuthenticationConfiguration\n"...)},
	}
	codecs := authnCodecs()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bytes.Equal(tt.data, data) {
				t.Fatal("the test did not change the document")
			}
			_, _, err := loadAuthenticationConfiguration(codecs, tt.data)
			if err == nil || !runtime.IsStrictDecodingError(err) {
				t.Errorf("want a strict decoding error, got %v", err)
			}
		})
	}
}

// TestConfigRefusesDownstreamOwnIssuer: an upstream issuer equal to the
// downstream's own service-account issuer is what the API server refuses
// (it is disallowed in ValidateAuthenticationConfiguration); our config
// validation must refuse it first, naming the field.
func TestConfigRefusesDownstreamOwnIssuer(t *testing.T) {
	for _, issuer := range []string{downstreamOwnIssuer, downstreamOwnIssuer + "/"} {
		t.Run(issuer, func(t *testing.T) {
			data := []byte(`apiVersion: argocd-k8s-federate.io/v1alpha1
kind: Federation
upstream:
  name: hub
  issuer: ` + issuer + `
  useSystemRoots: true
downstreams:
- name: prod
  server: https://prod.example.com:6443
  useSystemRoots: true
  access:
    namespaces: [apps]
`)
			fed, err := config.Decode(data, "federation.yaml")
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			err = fed.Complete()
			var errs *config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Complete() = %v, want *config.Errors naming upstream.issuer", err)
			}
			var paths []string
			for _, fe := range errs.List {
				paths = append(paths, fe.Path)
			}
			if diff := cmp.Diff([]string{"upstream.issuer"}, paths); diff != "" {
				t.Errorf("fields in the error (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}

	// The API server agrees: the same issuer in a generated configuration
	// is refused by its validation.
	t.Run("kube-apiserver refuses it too", func(t *testing.T) {
		tree := generateTree(t, loadFederations(t, "../../examples/federation.yaml"))
		codecs := authnCodecs()
		for _, f := range tree.Files {
			if _, ok := authnConfigDownstream(f.Path); !ok {
				continue
			}
			cfg, _, err := loadAuthenticationConfiguration(codecs, f.Content)
			if err != nil {
				t.Fatal(err)
			}
			cfg.JWT[0].Issuer.URL = downstreamOwnIssuer
			errs := apiservervalidation.ValidateAuthenticationConfiguration(authenticationcel.NewDefaultCompiler(), cfg, []string{downstreamOwnIssuer})
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
			}
			if diff := cmp.Diff([]string{"jwt[0].issuer.url"}, fields); diff != "" {
				t.Errorf("%s with the downstream's own issuer: fields kube-apiserver refuses (-want +got):\n%s\n%v", f.Path, diff, errs.ToAggregate())
			}
			return
		}
		t.Fatal("no AuthenticationConfiguration generated for the example")
	})
}

// objectScheme holds the real API types of every object the generator
// writes for Kubernetes to apply.
func objectCodecs() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, rbacv1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, admissionregistrationv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict)
}

// notKubernetesObjects are generated kinds with no Go API type here:
// kustomize's own files and Gardener's OpenIDConnect (an external CRD).
var notKubernetesObjects = map[string]bool{
	"kustomize.config.k8s.io/v1beta1, Kind=Kustomization":               true,
	"kustomize.config.k8s.io/v1alpha1, Kind=Component":                  true,
	"authentication.gardener.cloud/v1alpha1, Kind=OpenIDConnect":        true,
	"apiserver.config.k8s.io/v1, Kind=AuthenticationConfiguration":      true, // judged above
	"apiserver.config.k8s.io/v1beta1, Kind=AuthenticationConfiguration": true,
	"argoproj.io/v1beta1, Kind=ArgoCD":                                  true, // argocd-operator's CRD: operator_integration_test.go
}

// TestGeneratedObjectsDecodeStrictly decodes every generated Kubernetes
// object strictly into its real type: the RBAC into rbac.authorization.k8s.io/v1,
// the cluster Secrets into core/v1, the workload patches into apps/v1.
func TestGeneratedObjectsDecodeStrictly(t *testing.T) {
	deserializer := objectCodecs().UniversalDeserializer()
	t.Run("the decoder is strict", func(t *testing.T) {
		doc := []byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: x, namespace: ns}\n" +
			"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}\n" +
			"subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: u, namespaces: z}]\n")
		if _, _, err := deserializer.Decode(doc, nil, nil); err == nil || !runtime.IsStrictDecodingError(err) {
			t.Errorf("a RoleBinding with an unknown subject field: want a strict decoding error, got %v", err)
		}
	})
	for _, tc := range oracleCases {
		t.Run(tc.name, func(t *testing.T) {
			tree := generateTree(t, loadFederations(t, tc.files...))
			kinds := map[string]int{}
			for _, f := range tree.Files {
				// Helm's values are not an object: the Helm oracle (e2e)
				// renders them with the real chart.
				if !strings.HasSuffix(f.Path, ".yaml") || path.Base(f.Path) == generate.HelmValuesFile {
					continue
				}
				t.Run(f.Path, func(t *testing.T) {
					for i, d := range oracletest.SplitDocuments(t, f.Path, f.Content) {
						doc := d.YAML
						var tm struct {
							APIVersion string `json:"apiVersion"`
							Kind       string `json:"kind"`
						}
						if err := utilyaml.Unmarshal(doc, &tm); err != nil {
							t.Fatalf("document %d: %v", i, err)
						}
						gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
						if notKubernetesObjects[gvk.String()] {
							continue
						}
						obj, got, err := deserializer.Decode(doc, nil, nil)
						if err != nil {
							t.Errorf("document %d (%s) does not decode strictly into its API type: %v", i, gvk, err)
							continue
						}
						kinds[got.Kind]++
						checkObject(t, f.Path, obj)
					}
				})
			}
			for _, k := range []string{"Secret", "RoleBinding", "StatefulSet", "Deployment"} {
				if kinds[k] == 0 && !(k == "RoleBinding" && allClusterWide(tc.files)) {
					t.Errorf("no %s decoded: the oracle checked nothing of that kind (kinds seen: %v)", k, kinds)
				}
			}
		})
	}
}

// checkObject checks what decoding alone cannot: the type each file must hold.
func checkObject(t *testing.T, path string, obj runtime.Object) {
	t.Helper()
	switch o := obj.(type) {
	case *corev1.Secret:
		if !strings.HasPrefix(path, "upstream/") {
			t.Errorf("Secret %s outside upstream/", o.Name)
		}
		if len(o.Data) > 0 {
			t.Errorf("Secret %s sets data; the cluster Secret is written as stringData", o.Name)
		}
	case *rbacv1.Role, *rbacv1.RoleBinding:
		// The service accounts' own token Roles (token-request), and the
		// downstream's namespaced bindings.
		if !strings.HasPrefix(path, "downstream/") && !strings.HasSuffix(path, "/"+plugin.TokenRequestFile) {
			t.Errorf("RBAC object in %s, outside downstream/ and the token-request files", path)
		}
	case *rbacv1.ClusterRoleBinding, *rbacv1.ClusterRole:
		if !strings.HasPrefix(path, "downstream/") {
			t.Errorf("RBAC object in %s, outside downstream/", path)
		}
	case *admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		if !strings.HasPrefix(path, "upstream/") || !strings.HasSuffix(path, "/"+plugin.TokenRequestFile) {
			t.Errorf("admission policy in %s", path)
		}
	case *appsv1.StatefulSet, *appsv1.Deployment, *appsv1.DaemonSet, *batchv1.Job, *batchv1.CronJob:
		if !strings.HasPrefix(path, "upstream/") {
			t.Errorf("workload patch in %s, outside upstream/", path)
		}
	case *corev1.ConfigMap:
		switch {
		case !strings.HasPrefix(path, "upstream/"):
			t.Errorf("ConfigMap %s in %s, outside upstream/", o.Name, path)
		case o.Name == "argocd-cm":
			if o.Data["resource.respectRBAC"] != "normal" {
				t.Errorf("%s: argocd-cm %v", path, o.Data)
			}
		case o.Name == plugin.AudiencesConfigMap, strings.HasPrefix(o.Name, "argocd-k8s-federate-kubeconfig-"):
		case o.Name == config.OIDCCAConfigMap || strings.HasPrefix(o.Name, config.OIDCCAConfigMap+"-"):
			// The identity provider's CA: the one key, a CA bundle.
			if _, err := config.CheckCABundle(o.Data[config.OIDCCAKey]); err != nil || len(o.Data) != 1 || len(o.BinaryData) != 0 {
				t.Errorf("%s: ConfigMap %s holds %d keys, %s: %v", path, o.Name, len(o.Data), config.OIDCCAKey, err)
			}
		default:
			t.Errorf("%s: unexpected ConfigMap %s %v", path, o.Name, o.Data)
		}
	default:
		t.Errorf("%s: unexpected %T", path, obj)
	}
}

func allClusterWide(files []string) bool {
	for _, f := range files {
		fed, err := config.Load(f)
		if err != nil {
			return false
		}
		for _, d := range fed.Downstreams {
			if !d.Access.ClusterWide {
				return false
			}
		}
	}
	return true
}

// checkClaimValidationRules evaluates an authenticator's claimValidationRules
// with the API server's CEL mapper: tokens of ArgoCD's service accounts and
// of the workloads granted here pass; any other service account of the hub
// (others: the workloads not granted here), the same names in another
// namespace, and a token without sub are refused.
func checkClaimValidationRules(t *testing.T, compiler authenticationcel.Compiler, i int, a apiserver.JWTAuthenticator, claim string, allowed, others []string) {
	t.Helper()
	if len(allowed) == 0 {
		t.Fatalf("jwt[%d] (%s): no ArgoCD service accounts expected for this issuer", i, a.Issuer.URL)
	}
	if len(a.ClaimValidationRules) == 0 {
		t.Errorf("jwt[%d] (%s) has no claimValidationRules: every service account of the hub authenticates", i, a.Issuer.URL)
		return
	}
	var compiled []authenticationcel.CompilationResult
	for _, r := range a.ClaimValidationRules {
		if r.Claim != "" || r.Expression == "" || r.Message == "" {
			t.Errorf("jwt[%d] claimValidationRule %+v: want a CEL expression with a message", i, r)
		}
		c, err := compiler.CompileClaimsExpression(&authenticationcel.ClaimValidationCondition{Expression: r.Expression, Message: r.Message})
		if err != nil {
			t.Fatalf("jwt[%d] claimValidationRule %q: %v", i, r.Expression, err)
		}
		compiled = append(compiled, c)
	}
	mapper := authenticationcel.NewClaimsMapper(compiled)
	accepts := func(claims map[string]any) bool {
		m, ok := types.DefaultTypeAdapter.NativeToValue(claims).(traits.Mapper)
		if !ok {
			t.Fatal("claims are not a CEL map")
		}
		results, err := mapper.EvalClaimMappings(context.Background(), m)
		if err != nil {
			return false // the API server refuses the token when a rule cannot be evaluated
		}
		for _, r := range results {
			if b, ok := r.EvalResult.Value().(bool); !ok || !b {
				return false
			}
		}
		return true
	}
	// The username claim holds the subject (or the client id), and sub
	// something else where the claim is another: the rule must read the
	// claim.
	claims := func(sub string) map[string]any {
		c := map[string]any{"iss": a.Issuer.URL, "aud": a.Issuer.Audiences[0], "sub": "someone-else"}
		c[claim] = sub
		return c
	}
	for _, sub := range allowed {
		if !accepts(claims(sub)) {
			t.Errorf("jwt[%d] (%s): claimValidationRules refuse %s %q, which the config lets in", i, a.Issuer.URL, claim, sub)
		}
	}
	refused := []string{allowed[0] + "x", "", "other-client", "system:serviceaccount:argocd:argocd-application-controller"}
	if parts := strings.Split(allowed[0], ":"); len(parts) == 4 {
		ns := parts[2]
		refused = append(refused,
			"system:serviceaccount:"+ns+":default",
			"system:serviceaccount:"+ns+":argocd-repo-server",
			"system:serviceaccount:kube-system:"+parts[3],
			"system:serviceaccount:"+ns,
		)
	}
	refused = append(refused, others...)
	for _, sub := range refused {
		if slices.Contains(allowed, sub) {
			continue
		}
		if accepts(claims(sub)) {
			t.Errorf("jwt[%d] (%s): claimValidationRules let sub %q through", i, a.Issuer.URL, sub)
		}
	}
	if accepts(map[string]any{"iss": a.Issuer.URL, "aud": a.Issuer.Audiences[0], "sub": allowed[0]}) && claim != "sub" {
		t.Errorf("jwt[%d] (%s): claimValidationRules let a token without %s through", i, a.Issuer.URL, claim)
	}
	if accepts(map[string]any{"iss": a.Issuer.URL, "aud": a.Issuer.Audiences[0]}) {
		t.Errorf("jwt[%d] (%s): claimValidationRules let a token without %s through", i, a.Issuer.URL, claim)
	}
}
