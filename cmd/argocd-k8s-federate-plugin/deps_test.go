package main_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/argocd-k8s-federate/argocd-k8s-federate"

// TestLinksOnlyTheStandardLibrary enforces the decision that keeps the binary
// ArgoCD executes small: it links the standard library and this module's
// small packages, nothing else. Go runs every linked package's init on every
// exec; apimachinery alone adds about 6 ms, client-go's clientcmd 26 ms. The
// plugin's token-file path does not even link net/http or crypto/tls (about
// 0.4 ms of inits on every exec): token-request execs its network half,
// argocd-k8s-federate-token-request, which links them but nothing else.
func TestLinksOnlyTheStandardLibrary(t *testing.T) {
	checkLinks(t, ".", "net/http", "crypto/tls", "crypto/x509", "net/url")
	checkLinks(t, "../argocd-k8s-federate-token-request")
}

// checkLinks fails for every package outside the standard library and this
// module that pkg links, and for the standard packages named in banned.
func checkLinks(t *testing.T, pkg string, banned ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}|{{.Standard}}|{{join .Imports \" \"}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	importers := map[string][]string{}
	var foreign []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			t.Fatalf("unexpected go list line %q", line)
		}
		p, standard, imports := parts[0], parts[1] == "true", strings.Fields(parts[2])
		for _, imp := range imports {
			importers[imp] = append(importers[imp], p)
		}
		if !standard && p != module && !strings.HasPrefix(p, module+"/") || slices.Contains(banned, p) {
			foreign = append(foreign, p)
		}
	}
	for _, p := range foreign {
		why := "not the standard library"
		if slices.Contains(banned, p) {
			why = "its init runs on every token-file exec: keep it in argocd-k8s-federate-token-request"
		}
		for _, b := range []string{"k8s.io/", "sigs.k8s.io/", "github.com/spf13/"} {
			if strings.HasPrefix(p, b) {
				why = "a " + strings.TrimSuffix(b, "/") + " package"
			}
		}
		t.Errorf("%s links %s (%s), imported by %s", pkg, p, why, strings.Join(importers[p], ", "))
	}
	if len(importers) == 0 {
		t.Fatalf("go list printed no packages:\n%s", out)
	}
}
