package testenv

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// TestFederationConfigYAML decodes what the builder writes with the
// project's own strict decoder.
func TestFederationConfigYAML(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   FederationConfig
		want config.Federation
	}{
		{
			name: "published discovery",
			in: FederationConfig{
				Hub: "hub", Issuer: "https://127.0.0.1:6443", DiscoveryURL: "https://127.0.0.1:8443/oidc/hub/.well-known/openid-configuration",
				CAFile: "/tmp/bucket-ca.crt", TokenMountPath: "/tmp/pod/tokens", PluginImage: "argocd-k8s-federate-plugin:test",
				Downstream: "down", Server: "https://127.0.0.1:7443", DownstreamCAFile: "/tmp/down/ca.crt", Namespaces: []string{"apps"},
			},
			want: config.Federation{
				APIVersion: config.APIVersion, Kind: config.Kind,
				Upstream: config.Upstream{
					Name: "hub", Issuer: "https://127.0.0.1:6443", DiscoveryURL: "https://127.0.0.1:8443/oidc/hub/.well-known/openid-configuration",
					CertificateAuthority: config.CertificateAuthority{CAFile: "/tmp/bucket-ca.crt"},
					Token:                config.Token{MountPath: "/tmp/pod/tokens"},
					Plugin:               config.Plugin{Image: "argocd-k8s-federate-plugin:test"},
				},
				Downstreams: []config.Downstream{{
					Name: "down", Server: "https://127.0.0.1:7443",
					CertificateAuthority: config.CertificateAuthority{CAFile: "/tmp/down/ca.crt"},
					Access:               config.Access{Namespaces: []string{"apps"}},
				}},
			},
		},
		{
			name: "plugin dir, two namespaces, a path YAML would misread unquoted",
			in: FederationConfig{
				Hub: "hub-a", Issuer: "https://127.0.0.1:6443", CAFile: "/tmp/a: b #c/ca.crt", TokenMountPath: "/tmp/pod/tokens",
				PluginDir: "/tmp/pod/plugin", PluginImage: "argocd-k8s-federate-plugin:test",
				Downstream: "down", Server: "https://127.0.0.1:7443", DownstreamCAFile: "/tmp/down/ca.crt", Namespaces: []string{"apps", "more"},
			},
			want: config.Federation{
				APIVersion: config.APIVersion, Kind: config.Kind,
				Upstream: config.Upstream{
					Name: "hub-a", Issuer: "https://127.0.0.1:6443",
					CertificateAuthority: config.CertificateAuthority{CAFile: "/tmp/a: b #c/ca.crt"},
					Token:                config.Token{MountPath: "/tmp/pod/tokens"},
					Plugin:               config.Plugin{Image: "argocd-k8s-federate-plugin:test", Dir: "/tmp/pod/plugin"},
				},
				Downstreams: []config.Downstream{{
					Name: "down", Server: "https://127.0.0.1:7443",
					CertificateAuthority: config.CertificateAuthority{CAFile: "/tmp/down/ca.crt"},
					Access:               config.Access{Namespaces: []string{"apps", "more"}},
				}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.Decode(tc.in.YAML(), "federation.yaml")
			if err != nil {
				t.Fatalf("decode:\n%s\n%v", tc.in.YAML(), err)
			}
			tc.want.Source = "federation.yaml"
			if diff := cmp.Diff(&tc.want, got, cmp.AllowUnexported(config.CertificateAuthority{})); diff != "" {
				t.Errorf("decoded config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadKustomization reads a downstream tree the generator wrote
// (manifests/, kept in sync with the generator).
func TestReadKustomization(t *testing.T) {
	objects, err := readKustomization("../../manifests/downstream/prod-eu", yaml.YAMLToJSONStrict)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objects {
		got = append(got, o.file+" "+o.Kind+" "+o.Namespace+"/"+o.Name+" "+o.path)
		if !strings.Contains(string(o.JSON), `"name":"`+o.Name+`"`) {
			t.Errorf("%s %s: JSON %s", o.Kind, o.Name, o.JSON)
		}
	}
	want := []string{
		"rbac-hub.yaml RoleBinding payments/argocd-k8s-federate:hub:controller /apis/rbac.authorization.k8s.io/v1/namespaces/payments/rolebindings",
		"rbac-hub.yaml RoleBinding shop/argocd-k8s-federate:hub:controller /apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings",
		"rbac-hub.yaml RoleBinding payments/argocd-k8s-federate:hub:server /apis/rbac.authorization.k8s.io/v1/namespaces/payments/rolebindings",
		"rbac-hub.yaml RoleBinding shop/argocd-k8s-federate:hub:server /apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings",
		"rbac-presets.yaml ClusterRole /argocd-k8s-federate:viewer /apis/rbac.authorization.k8s.io/v1/clusterroles",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

func TestReadKustomizationRefusesOtherKinds(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/kustomization.yaml", []byte("resources:\n- objects.yaml\n"), 0o644)
	writeFile(t, dir+"/objects.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: apps\n"), 0o644)
	_, err := readKustomization(dir, yaml.YAMLToJSONStrict)
	if err == nil || !strings.Contains(err.Error(), `objects.yaml: unexpected v1 "Secret" in the downstream RBAC`) {
		t.Errorf("err = %v", err)
	}
}

// TestLinksOnlyTheStandardLibrary keeps this package usable from every
// module of the repository, whichever Kubernetes libraries each pins.
func TestLinksOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const self = "github.com/argocd-k8s-federate/argocd-k8s-federate/internal/testenv"
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != self {
			t.Errorf("testenv links %s: keep it to the standard library (callers pass what needs more as callbacks)", pkg)
		}
	}
}
