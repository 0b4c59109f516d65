#!/usr/bin/env bash
# Builds, with no container registry, the images an ArgoCD ARGOCD_V3_VERSION
# (versions.env) install needs in a kind cluster: the argocd image (the
# multi-call binary built from the argo-cd Go module) and the redis image,
# tagged exactly as the module's manifests/install.yaml names them, and a
# Debian image with git for a git daemon pod. An image whose label carries
# the hash of its inputs is not rebuilt. Prints the image names on stdout.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-debian.sh
. "$(dirname "$0")/lib-debian.sh"
ensure_commands jq

ARGOCD_MODULE=github.com/argoproj/argo-cd/v3
GIT_DAEMON_IMAGE="$PROJECT/git-daemon:$DEBIAN_SUITE"
USAGE="usage: $(basename "$0") [-h]
Builds the ArgoCD $ARGOCD_V3_VERSION images offline (argocd and redis, tagged as
install.yaml names them) and $GIT_DAEMON_IMAGE, and prints their names.
The argocd binary is cached in $CACHE/argocd/$ARGOCD_V3_VERSION/bin/."
usage_check "$USAGE" "$@"
(($# == 0)) || die "no arguments expected
$USAGE"

VERSION=$ARGOCD_V3_VERSION
ROOT="$CACHE/argocd/$VERSION"
BIN="$ROOT/bin"
SRC="$ROOT/src"
WORK="$CACHE/argocd-images"

# ---------------------------------------------------------------------------
# The argocd binary: a scratch module requiring argo-cd with the replace
# block of argo-cd's own go.mod (its k8s.io pins), minus any local path.
prepare_module() {
	local upstream replaces
	upstream=$(go_mod_file "$ARGOCD_MODULE@$VERSION")
	replaces=$(awk '/^replace \($/ {b=1; next} b && /^\)$/ {b=0; next}
	     b && / => / && $0 !~ /=> \.\.?\// {print}
	     /^replace [^(]/ && $0 !~ /=> \.\.?\// {sub(/^replace /, ""); print}' "$upstream")
	go_scratch_module "$SRC" "$PROJECT.local/argocd-build" "$ARGOCD_MODULE@$VERSION" "$replaces" \
		"$ARGOCD_MODULE/cmd"
}

build_argocd() {
	[[ -x $BIN/argocd ]] && return 0
	rm -rf "$ROOT"/tmp.*
	step "prepare the scratch module (go mod tidy)" prepare_module
	local pkg="$ARGOCD_MODULE/common" build_date tmp ldflags
	build_date=$(go_module_time "$SRC" "$ARGOCD_MODULE")
	ldflags="-s -w -X $pkg.version=${VERSION#v} -X $pkg.gitTag=$VERSION"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
	mkdir -p "$BIN"
	# An interrupted build leaves only a tmp.* directory, removed by the next run.
	tmp=$(mktemp -d "$ROOT/tmp.XXXXXX")
	step "go build argocd $VERSION" go_build_static "$SRC" "$tmp" "$ldflags" "$ARGOCD_MODULE/cmd"
	mv "$tmp/cmd" "$tmp/argocd"
	local reported
	reported=$("$tmp/argocd" version --client --short 2>/dev/null) || true
	[[ $reported == *"$VERSION"* ]] || die "the argocd built does not report $VERSION: $reported"
	mv -f "$tmp/argocd" "$BIN/argocd"
	rmdir "$tmp"
}

# ---------------------------------------------------------------------------
# image TAG DIR [FILE...]: docker build of images/DIR FROM the project's
# Debian image, with the files in the context, unless the image carries the
# hash of all that in its labels.
image() {
	local tag=$1 dir="$SCRIPTS_DIR/images/$2" base hash ctx
	shift 2
	base=$(debian_base_image)
	hash=$({
		image_label "$base" "$INPUT_HASH_LABEL"
		hash_inputs "$SCRIPTS_DIR/build-argocd-images.sh" "$dir" "$@"
	} | sha256_stdin)
	if image_is_current "$tag" "$hash"; then
		log "current: $tag"
		return 0
	fi
	mkdir -p "$WORK"
	ctx=$(mktemp -d "$WORK/ctx.XXXXXX")
	cp -r "$dir/." "$ctx/"
	if (($#)); then cp "$@" "$ctx/"; fi
	echo "LABEL $INPUT_HASH_LABEL=$hash" >>"$ctx/Dockerfile"
	local old
	old=$(image_id "$tag")
	step "docker build $tag" docker_build --build-arg "BASE=$base" -t "$tag" "$ctx"
	drop_replaced "$old" "$tag"
	rm -rf "$ctx"
}

build() {
	rm -rf "$WORK"/ctx.*
	local module install argocd_image redis_image
	module=$(go_mod_dir "$ARGOCD_MODULE@$VERSION")
	install="$module/manifests/install.yaml"
	argocd_image=$(awk '$1 == "image:" && $2 ~ /argoproj\/argocd:/ {print $2; exit}' "$install")
	redis_image=$(awk '$1 == "image:" && $2 ~ /(^|\/)redis:/ {print $2; exit}' "$install")
	[[ -n $argocd_image && -n $redis_image ]] || die "cannot find the argocd and redis images in $install"

	# debootstrap (first run only) while Go compiles.
	local base_log="$WORK/debian-base.log" base_pid
	mkdir -p "$WORK"
	debian_base_image >/dev/null 2>"$base_log" &
	base_pid=$!
	with_lock "$ROOT.lock" build_argocd
	if ! wait "$base_pid"; then
		cat "$base_log" >&2
		die "building the Debian base image failed"
	fi

	image "$argocd_image" argocd "$BIN/argocd" \
		"$module/hack/gpg-wrapper.sh" "$module/hack/git-verify-wrapper.sh" "$module/entrypoint.sh"
	image "$redis_image" redis
	image "$GIT_DAEMON_IMAGE" git-daemon
	printf '%s\n' "$argocd_image" "$redis_image" "$GIT_DAEMON_IMAGE"
}

require_docker
with_lock "$CACHE/argocd-images.lock" build
