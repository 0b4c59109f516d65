package credential_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/pkg/apis/clientauthentication"
	clientauthinstall "k8s.io/client-go/pkg/apis/clientauthentication/install"
	clientauthv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
)

// TestExecCredentialMatchesClientGo keeps our small ExecCredential equal to
// client-go's: its JSON decodes strictly (no unknown field) into client-go's
// v1 and v1beta1 types to the values we meant, and client-go's own decoder
// (the one its exec authenticator runs on a plugin's stdout) accepts it.
func TestExecCredentialMatchesClientGo(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3NjczMjMwNDV9.c2ln"
	exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	tests := []struct {
		apiVersion string
		into       any
		want       any
	}{
		{
			apiVersion: credential.APIVersionV1,
			into:       &clientauthv1.ExecCredential{},
			want: &clientauthv1.ExecCredential{
				TypeMeta: metav1.TypeMeta{APIVersion: "client.authentication.k8s.io/v1", Kind: "ExecCredential"},
				Status:   &clientauthv1.ExecCredentialStatus{Token: token, ExpirationTimestamp: &metav1.Time{Time: exp}},
			},
		},
		{
			apiVersion: credential.APIVersionV1beta1,
			into:       &clientauthv1beta1.ExecCredential{},
			want: &clientauthv1beta1.ExecCredential{
				TypeMeta: metav1.TypeMeta{APIVersion: "client.authentication.k8s.io/v1beta1", Kind: "ExecCredential"},
				Status:   &clientauthv1beta1.ExecCredentialStatus{Token: token, ExpirationTimestamp: &metav1.Time{Time: exp}},
			},
		},
	}
	scheme := runtime.NewScheme()
	clientauthinstall.Install(scheme)
	codecs := serializer.NewCodecFactory(scheme, serializer.EnableStrict)

	for _, tt := range tests {
		t.Run(tt.apiVersion, func(t *testing.T) {
			ours, err := credential.NewExecCredential(tt.apiVersion, token, exp).Marshal()
			if err != nil {
				t.Fatalf("Marshal() error = %v", err)
			}

			dec := json.NewDecoder(bytes.NewReader(ours))
			dec.DisallowUnknownFields()
			if err := dec.Decode(tt.into); err != nil {
				t.Fatalf("strict decode into client-go's type: %v\n%s", err, ours)
			}
			if diff := cmp.Diff(tt.want, tt.into); diff != "" {
				t.Errorf("client-go's view of our ExecCredential mismatch (-want +got):\n%s", diff)
			}

			// As the exec authenticator decodes a plugin's stdout, strictly.
			gv, err := schema.ParseGroupVersion(tt.apiVersion)
			if err != nil {
				t.Fatal(err)
			}
			cred := &clientauthentication.ExecCredential{}
			_, gvk, err := codecs.UniversalDecoder(gv).Decode(ours, nil, cred)
			if err != nil {
				t.Fatalf("client-go's decoder: %v", err)
			}
			if gvk.GroupVersion() != gv || gvk.Kind != credential.Kind {
				t.Errorf("client-go decoded %v, want %v ExecCredential", gvk, gv)
			}
			wantInternal := &clientauthentication.ExecCredential{
				Status: &clientauthentication.ExecCredentialStatus{Token: token, ExpirationTimestamp: &metav1.Time{Time: exp}},
			}
			if diff := cmp.Diff(wantInternal, cred); diff != "" {
				t.Errorf("client-go's internal ExecCredential mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
