# shellcheck shell=bash
# The build scripts' part that is about this host's Debian: apt-get for
# missing commands, and Debian root file systems (debootstrap from the
# mirror the host's apt uses, with the host's apt settings) imported as
# Docker images. Source it after lib.sh; do not run it.

# ensure_commands CMD...: installs the Debian package of each missing command
# (root, apt-get), so that a fresh machine or CI needs nothing installed by hand.
ensure_commands() {
	local missing=() c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	((${#missing[@]} == 0)) && return 0
	((EUID == 0)) || die "missing ${missing[*]}: install the Debian package(s) of the same name"
	log "installing ${missing[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The Debian mirror the host's apt uses (deb822 or one-line sources).
debian_mirror() {
	local m=""
	if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
		m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	fi
	if [[ -z $m && -f /etc/apt/sources.list ]]; then
		m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
	fi
	[[ -n $m ]] || die "cannot find the Debian mirror in the host's apt sources"
	printf '%s\n' "$m"
}

# debian_rootfs_tarball NAME PACKAGES...: a debootstrap (minbase) root file
# system of $DEBIAN_SUITE with these packages, as a tarball cached under
# $CACHE/rootfs/, keyed by suite and package list. Prints the tarball's path.
debian_rootfs_tarball() {
	local name=$1
	shift
	local key tarball
	key=$(printf '%s\n' "$DEBIAN_SUITE" minbase "$@" | LC_ALL=C sort | sha256_stdin | cut -c1-16)
	tarball="$CACHE/rootfs/$name-$DEBIAN_SUITE-$key.tar"
	if [[ ! -f $tarball ]]; then
		with_lock "$tarball.lock" _debian_rootfs_build "$tarball" "$@"
	fi
	printf '%s\n' "$tarball"
}

_debian_rootfs_build() {
	local tarball=$1
	shift
	[[ -f $tarball ]] && return 0
	command -v debootstrap >/dev/null || die "no debootstrap: run scripts/install-docker.sh"
	local dir mirror include
	mirror=$(debian_mirror)
	dir=$(mktemp -d "$CACHE/rootfs/build.XXXXXX")
	include=$(
		IFS=,
		printf '%s' "$*"
	)
	log "debootstrap $DEBIAN_SUITE (minbase + $include) from the host's Debian mirror"
	if ! heavy debootstrap --variant=minbase ${include:+--include="$include"} \
		"$DEBIAN_SUITE" "$dir/root" "$mirror" >"$dir.log" 2>&1; then
		tail -n 30 "$dir.log" >&2
		rm -rf "$dir"
		die "debootstrap failed (log: $dir.log)"
	fi
	# What an image needs no copy of: package caches, lists, docs, locales.
	rm -rf "$dir/root"/var/cache/apt/archives/*.deb "$dir/root"/var/lib/apt/lists/* \
		"$dir/root"/usr/share/doc/* "$dir/root"/usr/share/man/* "$dir/root"/usr/share/info/* \
		"$dir/root"/usr/share/locale/* "$dir/root"/var/log/* "$dir/root"/tmp/* 2>/dev/null || true
	# The host's apt settings about release dates also hold inside.
	if [[ -f /etc/apt/apt.conf.d/99artifact-registry ]]; then
		cp /etc/apt/apt.conf.d/99artifact-registry "$dir/root/etc/apt/apt.conf.d/"
	fi
	tar --numeric-owner -C "$dir/root" -cf "$dir/rootfs.tar" .
	mv "$dir/rootfs.tar" "$tarball"
	rm -rf "$dir" "$dir.log"
}

# debian_image IMAGE NAME PACKAGES...: imports the rootfs tarball as IMAGE,
# unless an image of that name already carries the tarball's hash.
debian_image() {
	local image=$1 name=$2
	shift 2
	local tarball key
	tarball=$(debian_rootfs_tarball "$name" "$@")
	key=$(basename "$tarball" .tar)
	if [[ "$(image_label "$image" "$INPUT_HASH_LABEL")" == "$key" ]]; then
		return 0
	fi
	log "docker import $tarball as $image"
	local old
	old=$(image_id "$image")
	docker import --change "LABEL $INPUT_HASH_LABEL=$key" --change 'CMD ["/bin/bash"]' \
		"$tarball" "$image" >/dev/null
	drop_replaced "$old" "$image"
}

# The plain Debian image the other images of the project start FROM (they add
# their packages with apt-get inside docker build).
DEBIAN_BASE_PACKAGES=(ca-certificates)
DEBIAN_BASE_IMAGE="$PROJECT/debian:$DEBIAN_SUITE"

# debian_base_image: imports (if needed) and prints $DEBIAN_BASE_IMAGE.
debian_base_image() {
	debian_image "$DEBIAN_BASE_IMAGE" base "${DEBIAN_BASE_PACKAGES[@]}"
	printf '%s\n' "$DEBIAN_BASE_IMAGE"
}
