package main_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/argocd-k8s-federate/argocd-k8s-federate"

// TestLinksOnlyTheStandardLibrary enforces the decision that keeps the binary
// ArgoCD executes small: it links the standard library and this module's
// small packages, nothing else. Go runs every linked package's init on every
// exec; apimachinery alone adds about 6 ms, client-go's clientcmd 26 ms.
func TestLinksOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}|{{.Standard}}|{{join .Imports \" \"}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	importers := map[string][]string{}
	var foreign []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			t.Fatalf("unexpected go list line %q", line)
		}
		pkg, standard, imports := parts[0], parts[1] == "true", strings.Fields(parts[2])
		for _, imp := range imports {
			importers[imp] = append(importers[imp], pkg)
		}
		if !standard && pkg != module && !strings.HasPrefix(pkg, module+"/") {
			foreign = append(foreign, pkg)
		}
	}
	for _, pkg := range foreign {
		why := "not the standard library"
		for _, banned := range []string{"k8s.io/", "sigs.k8s.io/", "github.com/spf13/"} {
			if strings.HasPrefix(pkg, banned) {
				why = "a " + strings.TrimSuffix(banned, "/") + " package"
			}
		}
		t.Errorf("the plugin build links %s (%s), imported by %s: keep it out of the packages cmd/argocd-k8s-federate-plugin imports",
			pkg, why, strings.Join(importers[pkg], ", "))
	}
	if len(importers) == 0 {
		t.Fatalf("go list printed no packages:\n%s", out)
	}
}
