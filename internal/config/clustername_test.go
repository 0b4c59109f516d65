package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestClusterNameRefused(t *testing.T) {
	runRefusals(t, []refusal{
		{name: "clusterName is the name", edit: func(t *testing.T, f *Federation) { f.Downstreams[0].ArgoCD.ClusterName = "prod" },
			path: "downstreams[0].argocd.clusterName", want: []string{`"prod" is the downstream's name: leave clusterName out`}},
		{name: "clusterName with a newline", edit: func(t *testing.T, f *Federation) { f.Downstreams[0].ArgoCD.ClusterName = "Prod\nEU" },
			path: "downstreams[0].argocd.clusterName", want: []string{"must be printable text"}},
		{name: "clusterName with trailing space", edit: func(t *testing.T, f *Federation) { f.Downstreams[0].ArgoCD.ClusterName = "Prod EU " },
			path: "downstreams[0].argocd.clusterName", want: []string{"no leading or trailing space"}},
	})
}

// ArgoCD's name that is no DNS label is kept; the Helm values cannot key it,
// and a warning says so.
func TestClusterNameAccepted(t *testing.T) {
	f, err := Decode([]byte(base(t)), "base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Downstreams[0].ArgoCD.ClusterName = "Prod EU (old)"
	f.Downstreams[1].ArgoCD.ClusterName = "dev.example.com"
	if err := f.Complete(); err != nil {
		t.Fatal(err)
	}
	if got := f.Downstreams[0].ArgoCDName(); got != "Prod EU (old)" {
		t.Errorf("ArgoCDName = %q", got)
	}
	w := strings.Join(f.Warnings(), "\n")
	if !strings.Contains(w, `downstreams[0].argocd.clusterName: "Prod EU (old)" cannot key the argo-helm chart's configs.clusterCredentials`) || strings.Contains(w, "dev.example.com") {
		t.Errorf("warnings:\n%s", w)
	}
}

func TestCheckCABundle(t *testing.T) {
	good := testCA(t, "good", longAgo, farAhead)
	bundle, err := CheckCABundle("# Subject: good\n" + good)
	if err != nil || bundle != good {
		t.Errorf("CheckCABundle = %q, %v; want the certificate alone", bundle, err)
	}
	_, err = CheckCABundle(testCA(t, "old", longAgo, longAgo.Add(time.Hour)))
	if !errors.Is(err, ErrNoValidCertificate) || !strings.Contains(err.Error(), "CN=old expired") {
		t.Errorf("an expired CA: %v", err)
	}
	if _, err := CheckCABundle("not PEM"); err == nil || errors.Is(err, ErrNoValidCertificate) {
		t.Errorf("not PEM: %v", err)
	}
}
