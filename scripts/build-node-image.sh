#!/usr/bin/env bash
# Builds the kind node image for KUBERNETES_VERSION (versions.env) with no
# container registry: a Debian root file system (debootstrap), kind's node
# files from the sigs.k8s.io/kind module, the Kubernetes binaries, and the
# component images kubeadm names (kube-apiserver, kube-controller-manager,
# kube-scheduler, kube-proxy, etcd, CoreDNS, pause) built from the Go module
# proxy and preloaded into the node's containerd. Networking is a bridge CNI
# configuration in the image: create clusters with
# networking.disableDefaultCNI: true. Nothing is rebuilt when the image
# exists with the hash of its inputs (these scripts and versions.env) in its
# labels. The last line on stdout is the image name.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-debian.sh
. "$(dirname "$0")/lib-debian.sh"
ensure_commands jq

IMAGE="$PROJECT/kind-node:$KUBERNETES_VERSION"
USAGE="usage: $(basename "$0") [-h]
Builds the kind node image $IMAGE offline
(Kubernetes $KUBERNETES_VERSION, kind $KIND_VERSION, etcd $ETCD_VERSION,
CoreDNS $COREDNS_VERSION, Debian $DEBIAN_SUITE) and prints its name last.
Use it with networking.disableDefaultCNI: true (the image has a bridge CNI)."
usage_check "$USAGE" "$@"
(($# == 0)) || die "no arguments expected
$USAGE"

# The node's root file system, as kind's base image has it, from Debian.
NODE_ROOTFS_PACKAGES=(
	systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool
	util-linux mount kmod libseccomp2 pigz fuse-overlayfs e2fsprogs bash
	ca-certificates curl jq procps containerd runc containernetworking-plugins
	iputils-ping less
)
# The CoreDNS plugins the Corefile of kubeadm uses (prometheus is the metrics
# plugin), and log and hosts for debugging.
COREDNS_PLUGINS=(cache errors forward health hosts kubernetes loadbalance log loop metrics ready reload)

WORK="$CACHE/node-image"
INPUTS_HASH=$(
	{
		hash_inputs "$SCRIPTS_DIR/build-node-image.sh" "$SCRIPTS_DIR/lib.sh" "$SCRIPTS_DIR/lib-debian.sh" \
			"$SCRIPTS_DIR/build-kubernetes.sh" "$SCRIPTS_DIR/build-etcd.sh" \
			"$SCRIPTS_DIR/images/kind-node" "$SCRIPTS_DIR/images/pause"
		printf '%s\n' "$KUBERNETES_VERSION" "$ETCD_VERSION" "$COREDNS_VERSION" "$KIND_VERSION" "$DEBIAN_SUITE"
	} | sha256_stdin
)

# ---------------------------------------------------------------------------
# CoreDNS: a main that links only the plugins above, built from the module.
build_coredns() {
	local root="$CACHE/coredns/$COREDNS_VERSION" key
	key=$(printf '%s\n' "${COREDNS_PLUGINS[@]}" | sha256_stdin | cut -c1-12)
	local bin="$root/bin-$key/coredns" src="$root/src-$key"
	if [[ -x $bin ]]; then
		printf '%s\n' "$bin"
		return 0
	fi
	with_lock "$root.lock" _build_coredns "$src" "$bin"
	printf '%s\n' "$bin"
}

_build_coredns() {
	local src=$1 bin=$2 upstream p tmp
	[[ -x $bin ]] && return 0
	if [[ ! -f $src/.ready ]]; then
		upstream=$(go_mod_file "github.com/coredns/coredns@$COREDNS_VERSION")
		rm -rf "$src"
		mkdir -p "$src"
		{
			echo "module $PROJECT.local/coredns-build"
			echo
			go_mod_header_lines "$upstream"
			echo
			echo "require github.com/coredns/coredns $COREDNS_VERSION"
		} >"$src/go.mod"
		{
			echo "// Command coredns is CoreDNS with only the plugins kubeadm's Corefile uses."
			echo "package main"
			echo
			echo "import ("
			echo '	"github.com/coredns/coredns/coremain"'
			echo
			for p in "${COREDNS_PLUGINS[@]}"; do
				printf '\t_ "github.com/coredns/coredns/plugin/%s"\n' "$p"
			done
			echo ")"
			echo
			echo "func main() { coremain.Run() }"
		} >"$src/main.go"
		gofmt -w "$src/main.go"
		step "go mod tidy (CoreDNS $COREDNS_VERSION)" go_mod_tidy "$src" ||
			die "go mod tidy failed in $src"
		touch "$src/.ready"
	fi
	mkdir -p "$(dirname "$bin")"
	# An interrupted build leaves only a tmp.* directory, removed here.
	rm -rf "$(dirname "$bin")"/tmp.*
	tmp=$(mktemp -d "$(dirname "$bin")/tmp.XXXXXX")
	step "go build CoreDNS $COREDNS_VERSION" go_build_static "$src" "$tmp" \
		"-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" .
	mv "$tmp/coredns-build" "$tmp/coredns"
	local plugins
	plugins=$("$tmp/coredns" -plugins)
	grep -Eq '(^|[[:space:].])kubernetes$' <<<"$plugins" || die "the CoreDNS built has no kubernetes plugin"
	mv -f "$tmp/coredns" "$bin"
	rmdir "$tmp"
}

# ---------------------------------------------------------------------------
# Component images, each tagged as kubeadm names it. A label carries the hash
# of the binary and Dockerfile, so an unchanged image is not rebuilt.

# component_image TAG BINARY DOCKERFILE_BODY: builds FROM the Dockerfile body
# with BINARY in the context (as its base name) unless the image is current.
component_image() {
	local tag=$1 binary=$2 body=$3 ctx hash
	hash=$({
		sha256sum "$binary" | cut -c1-64
		printf '%s\n' "$body"
		# shellcheck disable=SC2016 # a literal Dockerfile line
		if [[ $body == *'FROM ${BASE}'* ]]; then image_label "$DEBIAN_BASE_IMAGE" "$INPUT_HASH_LABEL"; fi
	} | sha256_stdin)
	if image_is_current "$tag" "$hash"; then
		log "current: $tag"
		return 0
	fi
	ctx=$(mktemp -d "$WORK/ctx.XXXXXX")
	cp "$binary" "$ctx/"
	mkdir -m 1777 "$ctx/tmp"
	printf '%s\nLABEL %s=%s\n' "$body" "$INPUT_HASH_LABEL" "$hash" >"$ctx/Dockerfile"
	local old
	old=$(image_id "$tag")
	step "docker build $tag" docker_build --build-arg "BASE=$DEBIAN_BASE_IMAGE" -t "$tag" "$ctx"
	drop_replaced "$old" "$tag"
	rm -rf "$ctx"
}

# What is common to the images of a static binary: /tmp and a PATH.
SCRATCH_HEAD='FROM scratch
COPY tmp /tmp
ENV PATH=/usr/local/bin:/usr/bin:/bin'

build_component_images() {
	local k8s_bin=$1 etcd_bin=$2 coredns=$3 pause=$4 name ref
	declare -A refs=()
	# kubeadm prints the images of this version: registry/name:tag.
	while read -r ref; do
		name=${ref##*/}
		name=${name%%:*}
		refs[$name]=$ref
	done < <("$k8s_bin/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null)
	for name in kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns pause; do
		[[ -n ${refs[$name]:-} ]] || die "kubeadm config images list names no $name image"
	done
	COMPONENT_IMAGES=("${refs[@]}")
	SANDBOX_IMAGE=${refs[pause]}

	for name in kube-apiserver kube-controller-manager kube-scheduler; do
		component_image "${refs[$name]}" "$k8s_bin/$name" "$SCRATCH_HEAD
COPY $name /usr/local/bin/$name
ENTRYPOINT [\"/usr/local/bin/$name\"]"
	done
	component_image "${refs[etcd]}" "$etcd_bin/etcd" "$SCRATCH_HEAD
COPY etcd /usr/local/bin/etcd
ENTRYPOINT [\"/usr/local/bin/etcd\"]"
	component_image "${refs[coredns]}" "$coredns" "$SCRATCH_HEAD
COPY coredns /coredns
EXPOSE 53 53/udp
ENTRYPOINT [\"/coredns\"]"
	component_image "${refs[pause]}" "$pause" "$SCRATCH_HEAD
COPY pause /pause
ENTRYPOINT [\"/pause\"]"
	# kube-proxy programs the node's packet filter: it needs iptables, nft,
	# conntrack and modprobe.
	# shellcheck disable=SC2016 # a literal Dockerfile
	component_image "${refs[kube-proxy]}" "$k8s_bin/kube-proxy" 'ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iptables nftables conntrack kmod ipset >/dev/null \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
COPY kube-proxy /usr/local/bin/kube-proxy
ENTRYPOINT ["/usr/local/bin/kube-proxy"]'
}

# ---------------------------------------------------------------------------
# The node base image: rootfs + kind's files + this project's changes.
build_base_image() {
	local rootfs_image=$1 sandbox_image=$2 kind_dir ctx hash tag
	kind_dir=$(go_mod_dir "sigs.k8s.io/kind@$KIND_VERSION")/images/base/files
	[[ -d $kind_dir ]] || die "no $kind_dir in the kind module"
	hash=$({
		image_label "$rootfs_image" "$INPUT_HASH_LABEL"
		echo "$sandbox_image"
		hash_inputs "$SCRIPTS_DIR/images/kind-node" "$kind_dir"
	} | sha256_stdin)
	tag="$PROJECT/kind-node-base:$DEBIAN_SUITE"
	if ! image_is_current "$tag" "$hash"; then
		local old
		old=$(image_id "$tag")
		ctx=$(mktemp -d "$WORK/ctx.XXXXXX")
		cp -r "$SCRIPTS_DIR/images/kind-node/." "$ctx/"
		cp -r "$kind_dir" "$ctx/kind-files"
		chmod -R u+w "$ctx"
		echo "LABEL $INPUT_HASH_LABEL=$hash" >>"$ctx/Dockerfile"
		step "docker build the node base image" docker_build \
			--build-arg "ROOTFS_IMAGE=$rootfs_image" --build-arg "SANDBOX_IMAGE=$sandbox_image" \
			-t "$tag" "$ctx"
		rm -rf "$ctx"
		drop_replaced "$old" "$tag"
	fi
	printf '%s\n' "$tag"
}

# ---------------------------------------------------------------------------
# The node: base image + Kubernetes binaries + preloaded component images.
# A subshell, so that its EXIT trap removes the work container whatever happens.
assemble_node() (
	local base=$1 k8s_bin=$2 cid b old
	old=$(image_id "$IMAGE")
	cid=$(docker run -d --entrypoint sleep --security-opt seccomp=unconfined "$base" infinity)
	# shellcheck disable=SC2064 # expand now: cid is local
	trap "docker rm -f '$cid' >/dev/null 2>&1 || true" EXIT
	for b in kubeadm kubelet kubectl; do
		docker cp "$k8s_bin/$b" "$cid:/usr/bin/$b"
	done
	docker exec "$cid" sh -c "echo '$KUBERNETES_VERSION' > /kind/version"
	docker exec -d "$cid" sh -c 'containerd >/tmp/containerd.log 2>&1'
	local deadline=$((SECONDS + 60))
	until docker exec "$cid" ctr version >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			docker exec "$cid" tail -n 30 /tmp/containerd.log >&2 || true
			die "containerd did not start in the node"
		fi
		sleep 0.5
	done
	step "preload ${#COMPONENT_IMAGES[@]} images into the node's containerd" \
		preload_images "$cid" "${COMPONENT_IMAGES[@]}"
	local listed ref
	listed=$(docker exec "$cid" ctr --namespace=k8s.io images list -q)
	for ref in "${COMPONENT_IMAGES[@]}"; do
		grep -qxF "$ref" <<<"$listed" || die "the node's containerd lacks $ref after the import"
	done
	docker exec "$cid" sh -c 'kill $(pidof containerd); while pidof containerd >/dev/null; do sleep 0.2; done; rm -rf /run/containerd /tmp/containerd.log'
	step "docker commit $IMAGE" docker commit \
		--change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
		--change 'CMD []' \
		--change "LABEL $INPUT_HASH_LABEL=$INPUTS_HASH" \
		"$cid" "$IMAGE" >/dev/null
	# The stop signal (SIGRTMIN+3, for systemd) comes along from the base image.
	[[ "$(docker image inspect -f '{{.Config.StopSignal}}' "$IMAGE")" == "SIGRTMIN+3" ]] ||
		die "$IMAGE lost its stop signal"
	drop_replaced "$old" "$IMAGE"
)

# preload_images CONTAINER IMAGE...: docker save | ctr import in the node.
preload_images() {
	local cid=$1
	shift
	docker save "$@" | docker exec -i "$cid" ctr --namespace=k8s.io images import \
		--label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - >/dev/null
}

build() {
	if image_is_current "$IMAGE" "$INPUTS_HASH"; then
		return 0
	fi
	mkdir -p "$WORK"
	rm -rf "$WORK"/ctx.*

	# The two debootstraps (first run only) run while Go compiles.
	local rootfs_log="$WORK/rootfs.log" base_log="$WORK/debian-base.log" rootfs_pid base_pid
	debian_rootfs_tarball node "${NODE_ROOTFS_PACKAGES[@]}" >/dev/null 2>"$rootfs_log" &
	rootfs_pid=$!
	debian_base_image >/dev/null 2>"$base_log" &
	base_pid=$!

	local k8s_bin etcd_bin coredns pause
	k8s_bin=$("$SCRIPTS_DIR/build-kubernetes.sh" | tail -n 1)
	etcd_bin=$("$SCRIPTS_DIR/build-etcd.sh" | tail -n 1)
	coredns=$(build_coredns)
	pause=$(build_pause)

	local pid
	for pid in "$rootfs_pid" "$base_pid"; do
		if ! wait "$pid"; then
			cat "$rootfs_log" "$base_log" >&2
			die "building the Debian root file systems failed"
		fi
	done
	cat "$rootfs_log" "$base_log" >&2

	build_component_images "$k8s_bin" "$etcd_bin" "$coredns" "$pause"

	local rootfs_image="$PROJECT/kind-node-rootfs:$DEBIAN_SUITE"
	debian_image "$rootfs_image" node "${NODE_ROOTFS_PACKAGES[@]}"
	local base
	base=$(build_base_image "$rootfs_image" "$SANDBOX_IMAGE")
	assemble_node "$base" "$k8s_bin"
}

if image_is_current "$IMAGE" "$INPUTS_HASH"; then
	log "current: $IMAGE"
else
	require_docker
	with_lock "$CACHE/node-image.lock" build
fi
printf '%s\n' "$IMAGE"
