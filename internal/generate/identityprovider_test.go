package generate

import (
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/config"
)

// TestNoClientSecretInTree: the client secret of grant ClientCredentials is
// in a Secret the user creates; the tree never holds a Secret but the
// ArgoCD cluster Secrets, and no file a client secret field or value.
func TestNoClientSecretInTree(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := Generate(context.Background(), set(t, load(t, tc.files...)...))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tree.Files {
				for _, bad := range []string{"client_secret", "clientSecret:", "client-secret:"} {
					if strings.Contains(string(f.Content), bad) {
						t.Errorf("%s holds %q", f.Path, bad)
					}
				}
				if !strings.HasSuffix(f.Path, ".yaml") {
					continue
				}
				for _, doc := range strings.Split(string(f.Content), "\n---\n") {
					var obj struct {
						Kind     string `json:"kind"`
						Metadata struct {
							Name   string            `json:"name"`
							Labels map[string]string `json:"labels"`
						} `json:"metadata"`
					}
					if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
						t.Fatalf("%s: %v", f.Path, err)
					}
					if obj.Kind == "Secret" && obj.Metadata.Labels["argocd.argoproj.io/secret-type"] != "cluster" {
						t.Errorf("%s: Secret %s is not an ArgoCD cluster Secret", f.Path, obj.Metadata.Name)
					}
				}
			}
		})
	}
}

// TestIdentityProviderPods: what the pods that reach the provider's
// downstreams get, by grant: the client secret's volume (only its key, not
// optional) with ClientCredentials only, the CA unless useSystemRoots, and
// no projected token.
func TestIdentityProviderPods(t *testing.T) {
	for _, tc := range []struct {
		file                   string
		systemRoots            bool
		wantSecret, wantTokens bool
	}{
		{"testdata/identity-provider-client/federation.yaml", false, true, false},
		{"testdata/identity-provider-jwt/federation.yaml", false, false, true},
		{"testdata/identity-provider-jwt/federation.yaml", true, false, true},
	} {
		f := load(t, tc.file)[0]
		if tc.systemRoots {
			p := f.Upstream.IdentityProvider
			p.CAFile, p.UseSystemRoots = "", true
			if err := f.Complete(); err != nil {
				t.Fatal(err)
			}
		}
		a := argoCDPodAdditions(f)
		vols := map[string]volume{}
		for _, v := range a.Volumes {
			vols[v.Name] = v
			if v.Projected != nil {
				t.Errorf("%s: projected volume %s with an identity provider", tc.file, v.Name)
			}
		}
		mounts := map[string]volumeMount{}
		for _, m := range a.Mounts {
			mounts[m.Name] = m
			if !m.ReadOnly {
				t.Errorf("%s: %s mounted read-write", tc.file, m.Name)
			}
		}
		s, ok := vols[config.ClientSecretVolume]
		if ok != tc.wantSecret {
			t.Errorf("%s: client secret volume %v, want %v", tc.file, ok, tc.wantSecret)
		}
		if ok {
			if s.Secret == nil || len(s.Secret.Items) != 1 || s.Secret.Items[0].Key != "secret" || s.Secret.SecretName != config.DefaultClientSecretName {
				t.Errorf("%s: client secret volume %+v", tc.file, s.Secret)
			}
			if mounts[config.ClientSecretVolume].MountPath != config.ClientSecretDir {
				t.Errorf("%s: client secret mounted at %q", tc.file, mounts[config.ClientSecretVolume].MountPath)
			}
		}
		ca, ok := vols[config.OIDCCAVolume]
		if ok == tc.systemRoots {
			t.Errorf("%s: CA volume %v with useSystemRoots %v", tc.file, ok, tc.systemRoots)
		}
		if ok && (ca.ConfigMap == nil || ca.ConfigMap.Name != config.OIDCCAConfigMap || mounts[config.OIDCCAVolume].MountPath != config.OIDCCADir) {
			t.Errorf("%s: CA volume %+v mounted %+v", tc.file, ca, mounts[config.OIDCCAVolume])
		}
		if _, ok := oidcCAConfigMap(f, config.OIDCCAConfigMap, "argocd"); ok == tc.systemRoots {
			t.Errorf("%s: CA ConfigMap %v with useSystemRoots %v", tc.file, ok, tc.systemRoots)
		}
		if got := requestsAnyTokens(f); got != tc.wantTokens {
			t.Errorf("%s: the service accounts request tokens: %v, want %v (JWTBearer's assertions)", tc.file, got, tc.wantTokens)
		}
	}
}
