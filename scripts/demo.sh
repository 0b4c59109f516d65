#!/usr/bin/env bash
# Usage: scripts/demo.sh   (run by `make demo`; needs bin/argocd-k8s-federate and $KUSTOMIZE)
#
# Generates the tree of examples/federation.yaml into out/demo/federation and
# shows what each side gets: the tree, `kustomize build` of every downstream,
# and `kustomize build` of ArgoCD's own install manifests with the generated
# upstream Component added (the patched workloads and the cluster Secrets).
set -euo pipefail
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n 2,7p "$0"; exit 0; }
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
: "${KUSTOMIZE:?set KUSTOMIZE to a kustomize binary (make demo does)}"
CLI=bin/argocd-k8s-federate
OUT=out/demo

section() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

section "1. The federation config: examples/federation.yaml"
grep -v '^ *#' examples/federation.yaml | sed '/^$/d'

section "2. argocd-k8s-federate generate -f examples/federation.yaml -o $OUT/federation"
"$CLI" generate -f examples/federation.yaml -o "$OUT/federation"
(cd "$OUT/federation" && find . -type f ! -name '.argocd-k8s-federate' | sort | sed 's|^\./|  |')

for d in "$OUT"/federation/downstream/*/; do
	name=$(basename "$d")
	section "3. Downstream $name: kustomize build $d"
	"$KUSTOMIZE" build "$d"
	echo "# and the API server's trust: $d""apiserver/ (see its README.md)"
done

first=$(find "$OUT/federation/downstream" -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)
section "3b. The API server's trust of $(basename "$first"): $first/apiserver/authentication-config.yaml (CA elided)"
awk '/-----BEGIN CERTIFICATE-----/ {skip=1; sub(/-----BEGIN CERTIFICATE-----.*/, "<the hub CA PEM>"); print; next}
     skip && /-----END CERTIFICATE-----/ {skip=0; next}
     !skip {print}' "$first/apiserver/authentication-config.yaml"

section "4. Upstream: ArgoCD $ARGOCD_V3_MANIFESTS_VERSION install manifests + the generated Component"
argocd_dir=$(go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_V3_MANIFESTS_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -f "$argocd_dir/manifests/install.yaml" ]] || die "ArgoCD's install manifests not found in the module cache ($argocd_dir)"
mkdir -p "$OUT/argocd"
cp "$argocd_dir/manifests/install.yaml" "$OUT/argocd/install.yaml"
chmod u+w "$OUT/argocd/install.yaml"
cat >"$OUT/argocd/kustomization.yaml" <<YAML
# What a GitOps repository's ArgoCD kustomization looks like with the federation added.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: argocd
resources:
- install.yaml
components:
- ../federation/upstream/hub
YAML
cat "$OUT/argocd/kustomization.yaml"
"$KUSTOMIZE" build "$OUT/argocd" >"$OUT/argocd-build.yaml"
echo "# kustomize build $OUT/argocd: $(grep -c '^kind:' "$OUT/argocd-build.yaml") objects in $OUT/argocd-build.yaml; the ones the Component changed or added:"
awk -v RS='\n---\n' '
	/\nkind: StatefulSet\n/ || (/\nkind: Deployment\n/ && /\n  name: argocd-server\n/) || (/\nkind: ConfigMap\n/ && /\n  name: argocd-cm\n/) || /argocd.argoproj.io\/secret-type: cluster/ { print "---"; print }
' "$OUT/argocd-build.yaml"

section "5. Another workload of the hub: the CI runner (examples/ci-runner) with its Component"
# examples/ci-runner points at manifests/; here, at the tree just generated.
mkdir -p "$OUT/ci-runner"
cp examples/ci-runner/deployment.yaml "$OUT/ci-runner/"
sed 's|\.\./\.\./manifests/|../federation/|' examples/ci-runner/kustomization.yaml >"$OUT/ci-runner/kustomization.yaml"
cat "$OUT/ci-runner/kustomization.yaml"
"$KUSTOMIZE" build "$OUT/ci-runner" | cut -c1-120

section "Done"
echo "The tree is in $OUT/federation: commit it beside your ArgoCD kustomization."
echo "Upstream: add '../federation/upstream/hub' to its components. Each downstream: kubectl apply -k, and configure its API server as apiserver/README.md says."
echo "Other workloads: add '../federation/upstream/hub/workloads/<name>' to the components of the kustomization that deploys each."
