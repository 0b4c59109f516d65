#!/usr/bin/env bash
# The end-to-end test (make e2e): ArgoCD in a kind cluster "up" deploys into a
# kind cluster "down" through the federated identity, offline. Installs and
# starts Docker, builds (or takes from the cache) every image the test needs,
# then runs e2e/argocdv3/kind (go test -tags e2e). Safe to run again: nothing cached is
# rebuilt, and the test replaces clusters left by an earlier run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-debian.sh
. "$(dirname "$0")/lib-debian.sh"

USAGE="usage: $(basename "$0") [-h]
Runs the end-to-end test on kind clusters (up and down; onboard and legacy
join while it runs): Docker (installed and started when needed, as root), the kind node image, the ArgoCD images,
the plugin image argocd-k8s-federate-plugin:e2e, the CLI image
argocd-k8s-federate:e2e, the workload image with the pinned kubectl, then
  cd e2e/argocdv3 && go test -tags e2e -run TestE2E -count=1 -timeout 60m -v ./kind/
Environment: E2E_KEEP=1 keeps the clusters and the work directory;
GO_TEST_FLAGS adds go test flags."
usage_check "$USAGE" "$@"
(($# == 0)) || die "no arguments expected
$USAGE"

PLUGIN_IMAGE=argocd-k8s-federate-plugin:e2e
CLI_IMAGE=argocd-k8s-federate:e2e

docker_ready() {
	docker info >/dev/null 2>&1 && [[ "$(docker info -f '{{.DefaultRuntime}}' 2>/dev/null)" == "$PROJECT" ]]
}

ensure_docker() {
	if ((EUID == 0)); then
		"$SCRIPTS_DIR/install-docker.sh"
	elif docker_ready; then
		log "Docker runs with the $PROJECT runtime (not root: install-docker.sh skipped)"
	else
		die "Docker is not running with the $PROJECT runtime: run scripts/install-docker.sh as root"
	fi
}

kubectl_bin() {
	local bin
	bin=$("$SCRIPTS_DIR/build-kubernetes.sh" kubectl | tail -n 1)
	KUBECTL="$bin/kubectl"
}

# project_image TARGET IMAGE: make TARGET rebuilds the binary (stamped with
# VERSION=e2e and the commit) and the image; the image it replaces is removed
# rather than left dangling.
project_image() {
	local target=$1 image=$2 old
	old=$(image_id "$image")
	make -C "$REPO_ROOT" --no-print-directory "$target" VERSION="${image#*:}" >&2
	docker_image_exists "$image" || die "make $target did not produce $image"
	drop_replaced "$old" "$image"
}

workload_image() {
	WORKLOAD_IMAGE=$(debian_base_image | tail -n 1)
}

# kubectl_image: the workload image with the pinned kubectl added, for the
# Job that reaches down with a generated kubeconfig. Built offline from the
# local image and binary; rebuilt only when either changes.
kubectl_image() {
	local hash old ctx rc=0
	KUBECTL_IMAGE=$PROJECT/kubectl:$KUBERNETES_VERSION
	hash=$({
		sha256sum "$KUBECTL" | cut -d' ' -f1
		image_id "$WORKLOAD_IMAGE"
	} | sha256sum | cut -c1-16)
	if image_is_current "$KUBECTL_IMAGE" "$hash"; then
		log "cached: $KUBECTL_IMAGE"
		return 0
	fi
	old=$(image_id "$KUBECTL_IMAGE")
	ctx=$(mktemp -d)
	cp "$KUBECTL" "$ctx/kubectl"
	printf 'FROM %s\nCOPY kubectl /usr/local/bin/kubectl\nLABEL %s=%s\n' "$WORKLOAD_IMAGE" "$INPUT_HASH_LABEL" "$hash" >"$ctx/Dockerfile"
	docker_build -t "$KUBECTL_IMAGE" "$ctx" || rc=$?
	rm -rf "$ctx"
	((rc == 0)) || die "cannot build $KUBECTL_IMAGE"
	drop_replaced "$old" "$KUBECTL_IMAGE"
}

run_test() {
	cd "$REPO_ROOT/e2e/argocdv3"
	# -count=1: a passing run must never be a cached result.
	# shellcheck disable=SC2086 # GO_TEST_FLAGS is a list of flags
	KUBECTL=$KUBECTL E2E_PLUGIN_IMAGE=$PLUGIN_IMAGE E2E_CLI_IMAGE=$CLI_IMAGE E2E_WORKLOAD_IMAGE=$WORKLOAD_IMAGE E2E_KUBECTL_IMAGE=$KUBECTL_IMAGE \
		go test -tags e2e -run TestE2E -count=1 -timeout 60m -v ${GO_TEST_FLAGS:-} ./kind/
}

step "Docker" ensure_docker
require_docker
step "kubectl" kubectl_bin
step "kind node image" "$SCRIPTS_DIR/build-node-image.sh" >/dev/null
step "ArgoCD images" "$SCRIPTS_DIR/build-argocd-images.sh" >/dev/null
step "plugin image $PLUGIN_IMAGE" project_image image "$PLUGIN_IMAGE"
step "CLI image $CLI_IMAGE" project_image image-cli "$CLI_IMAGE"
step "workload image" workload_image
step "kubectl image" kubectl_image
step "e2e test (go test -tags e2e ./kind/)" run_test
