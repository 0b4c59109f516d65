#!/usr/bin/env bash
# Builds Kubernetes binaries at KUBERNETES_VERSION (versions.env) from the Go
# module proxy, statically, into $CACHE/kubernetes/VERSION/bin/. Binaries
# already there are not rebuilt. The last line on stdout is the bin directory.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-debian.sh
. "$(dirname "$0")/lib-debian.sh"
ensure_commands jq

ALL_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl)
USAGE="usage: $(basename "$0") [-h] [BINARY...]
Builds Kubernetes $KUBERNETES_VERSION binaries from the Go module proxy into
$CACHE/kubernetes/$KUBERNETES_VERSION/bin/ and prints that directory last.
BINARY is any of: ${ALL_BINARIES[*]} (default: all, in one go build)."
usage_check "$USAGE" "$@"

VERSION=$KUBERNETES_VERSION
ROOT="$CACHE/kubernetes/$VERSION"
BIN="$ROOT/bin"
SRC="$ROOT/src"

wanted=("$@")
((${#wanted[@]})) || wanted=("${ALL_BINARIES[@]}")
for b in "${wanted[@]}"; do
	[[ " ${ALL_BINARIES[*]} " == *" $b "* ]] || die "unknown binary '$b'
$USAGE"
done

missing() {
	local b
	for b in "${wanted[@]}"; do
		[[ -x $BIN/$b ]] || printf '%s\n' "$b"
	done
}

# The scratch module: requires k8s.io/kubernetes and points every staging
# module (a ./staging/... replace in kubernetes' own go.mod) at its published
# v0.Y.Z version; it names every cmd package, so one tidy serves any BINARY.
prepare_module() {
	local upstream replaces b pkgs=()
	upstream=$(go_mod_file "k8s.io/kubernetes@$VERSION")
	replaces=$(awk -v v="v0.${VERSION#v1.}" '$2 == "=>" && $3 ~ /^\.\/staging\// {printf "%s => %s %s\n", $1, $1, v}' "$upstream")
	[[ -n $replaces ]] || die "found no staging replace in $upstream"
	for b in "${ALL_BINARIES[@]}"; do
		pkgs+=("k8s.io/kubernetes/cmd/$b")
	done
	go_scratch_module "$SRC" "$PROJECT.local/kubernetes-build" "k8s.io/kubernetes@$VERSION" "$replaces" "${pkgs[@]}"
}

build_missing() {
	local todo=() b tmp minor build_date pkg reported
	mapfile -t todo < <(missing)
	((${#todo[@]})) || return 0
	rm -rf "$ROOT"/tmp.*
	step "prepare the scratch module (go mod tidy)" prepare_module
	minor=$(minor_of "$VERSION")
	# The release's commit time, as buildDate: the same binaries every build.
	build_date=$(go_module_time "$SRC" k8s.io/kubernetes)
	local ldflags="-s -w"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
	done
	mkdir -p "$BIN"
	# An interrupted build leaves only a tmp.* directory, removed by the next run.
	tmp=$(mktemp -d "$ROOT/tmp.XXXXXX")
	local pkgs=()
	for b in "${todo[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
	step "go build ${todo[*]} ($VERSION)" \
		go_build_static "$SRC" "$tmp" "$ldflags" "${pkgs[@]}"
	for b in "${todo[@]}"; do
		[[ -x $tmp/$b ]] || die "go build wrote no $b"
		reported=$(report_version "$tmp/$b") || true
		[[ $reported == *"$VERSION"* ]] || die "$b does not report $VERSION: $reported"
	done
	for b in "${todo[@]}"; do
		mv -f "$tmp/$b" "$BIN/$b"
	done
	rmdir "$tmp"
}

report_version() {
	case $(basename "$1") in
	kubeadm) "$1" version -o short ;;
	kubectl) "$1" version --client ;;
	*) "$1" --version ;;
	esac 2>/dev/null
}

if [[ -n "$(missing)" ]]; then
	with_lock "$ROOT.lock" build_missing
else
	log "cached: ${wanted[*]} ($VERSION)"
fi
printf '%s\n' "$BIN"
