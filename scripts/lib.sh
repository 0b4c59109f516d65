# shellcheck shell=bash
# Shared helpers of the build scripts. Source it; do not run it. What is about
# the host's Debian (apt-get, debootstrap) is in lib-debian.sh.
#
#   SCRIPTS_DIR  this directory          REPO_ROOT  the repository root
#   CACHE        where slow things are kept, outside the source tree:
#                ${ARGOCD_K8S_FEDERATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/argocd-k8s-federate}
#   every KEY=VALUE of versions.env, exported
#
# Logging goes to stderr with a timestamp, so that stdout stays free for what a
# script answers (a bin directory, an image name).

# A failure inside $(...) fails the script too.
shopt -s inherit_errexit

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPTS_DIR/.." && pwd)"
CACHE="${ARGOCD_K8S_FEDERATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/argocd-k8s-federate}"
export SCRIPTS_DIR REPO_ROOT CACHE

# versions.env is plain KEY=VALUE lines (the Go test harnesses parse it too).
set -a
# shellcheck source-path=SCRIPTDIR source=versions.env
. "$SCRIPTS_DIR/versions.env"
set +a

# Name and label prefix of everything this project builds into Docker.
PROJECT=argocd-k8s-federate
INPUT_HASH_LABEL="io.github.argocd-k8s-federate.inputs"
export PROJECT INPUT_HASH_LABEL

_script_name="$(basename "$0")"
_script_start=$SECONDS

log() {
	printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "$_script_name" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

# fmt_duration SECONDS -> "1m23s" / "45s"
fmt_duration() {
	local s=$1
	if ((s >= 60)); then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ds' "$s"
	fi
}

# step "what" cmd args... : runs the command and logs how long it took.
# (No "|| rc=$?" around the command: that would switch off set -e inside it.)
step() {
	local what=$1 start=$SECONDS rc
	shift
	log "$what ..."
	"$@"
	rc=$?
	if ((rc != 0)); then
		log "$what FAILED (exit $rc) after $(fmt_duration $((SECONDS - start)))"
		return "$rc"
	fi
	log "$what done in $(fmt_duration $((SECONDS - start)))"
}

# Logs the wall time of the whole script when it exits.
_report_total() {
	local rc=$?
	if ((rc == 0)); then
		log "finished in $(fmt_duration $((SECONDS - _script_start)))"
	else
		log "failed (exit $rc) after $(fmt_duration $((SECONDS - _script_start)))"
	fi
}
trap _report_total EXIT

# usage_check USAGE "$@": prints USAGE and exits 0 on -h/--help.
usage_check() {
	local usage=$1 a
	shift
	for a in "$@"; do
		case $a in
		-h | --help)
			printf '%s\n' "$usage"
			trap - EXIT
			exit 0
			;;
		esac
	done
}

# Heavy work runs niced so that other builds on the machine keep going.
heavy() {
	nice -n 10 "$@"
}

# with_lock FILE cmd args...: runs the command holding an exclusive lock, so that
# two callers (parallel test packages, two terminals) never build the same thing
# at once; the second one waits and then finds it cached.
with_lock() {
	local file=$1
	shift
	mkdir -p "$(dirname "$file")"
	(
		exec 9>"$file"
		if ! flock -n 9; then
			log "waiting for $file (another build holds it)"
			flock 9
		fi
		"$@"
	)
}

# The minor version of a vX.Y.Z version: v1.34.4 -> 34.
minor_of() {
	local v=${1#v}
	v=${v#*.}
	printf '%s\n' "${v%%.*}"
}

# sha256 of stdin, hex only.
sha256_stdin() {
	sha256sum | cut -c1-64
}

# hash_inputs PATH...: one hash over the content and names of files (directories
# are walked, sorted), for cache keys and image labels.
hash_inputs() {
	local p
	for p in "$@"; do
		if [[ -d $p ]]; then
			find "$p" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
		else
			sha256sum "$p"
		fi
	done | sed "s|$SCRIPTS_DIR/||" | sha256_stdin
}

# ---------------------------------------------------------------------------
# Go

# go_mod_dir MODULE@VERSION: downloads a module (if needed) and prints the
# directory of its source in the module cache.
go_mod_dir() {
	local dir
	dir=$(cd "${TMPDIR:-/tmp}" && go mod download -json "$1" | jq -r '.Dir // empty')
	[[ -n $dir && -d $dir ]] || die "go mod download $1 gave no directory"
	printf '%s\n' "$dir"
}

# go_mod_file MODULE@VERSION: prints the path of the module's go.mod as served
# by the proxy (downloads the module if needed).
go_mod_file() {
	local f
	f=$(cd "${TMPDIR:-/tmp}" && go mod download -json "$1" | jq -r '.GoMod // empty')
	[[ -n $f && -f $f ]] || die "go mod download $1 gave no go.mod"
	printf '%s\n' "$f"
}

# go_build_static MODULE_DIR OUT_DIR LDFLAGS PACKAGE...: a static, trimmed,
# niced go build of the packages into OUT_DIR/, from the module in MODULE_DIR.
go_build_static() {
	local dir=$1 out=$2 ldflags=$3
	shift 3
	(cd "$dir" && CGO_ENABLED=0 heavy go build -trimpath -ldflags "$ldflags" -o "$out/" "$@")
}

# go_mod_tidy DIR: a niced go mod tidy in DIR.
go_mod_tidy() {
	(cd "$1" && heavy go mod tidy)
}

# The "go" and "godebug" lines of a go.mod, so that a scratch module builds
# with the language version and GODEBUG defaults its main dependency chose.
go_mod_header_lines() {
	awk '/^go [0-9]/ || /^godebug [a-z]/ {print}
	     /^godebug \($/ {b=1} b {print} b && /^\)$/ {b=0}' "$1"
}

# go_scratch_module DIR NAME MODULE@VERSION REPLACES PACKAGE...: makes DIR a
# module NAME that builds PACKAGEs of MODULE at VERSION from the module proxy.
# Its go.mod has the go and godebug lines of MODULE's own go.mod, requires
# MODULE VERSION and replaces as the lines of REPLACES say ("OLD => NEW
# VERSION", one a line; empty: no replace); its tools.go imports every
# PACKAGE, so that go mod tidy pins everything they import. The tidy runs
# again only when go.mod or tools.go would change: DIR/.stamp, written last,
# holds their hash, so an interrupted run is redone by the next. The caller
# holds the lock of its build (with_lock).
go_scratch_module() {
	local dir=$1 name=$2 mod=$3 replaces=$4
	shift 4
	local upstream gomod tools stamp p
	upstream=$(go_mod_file "$mod")
	gomod=$(
		echo "module $name"
		echo
		go_mod_header_lines "$upstream"
		echo
		echo "require ${mod%@*} ${mod#*@}"
		if [[ -n $replaces ]]; then
			echo
			echo "replace ("
			sed -e '/^[[:space:]]*$/d' -e 's/^[[:space:]]*/\t/' <<<"$replaces"
			echo ")"
		fi
	)
	tools=$(
		echo "//go:build tools"
		echo
		echo "// Package tools names the packages this module builds."
		echo "package tools"
		echo
		echo "import ("
		for p in "$@"; do
			printf '\t_ "%s"\n' "$p"
		done
		echo ")"
	)
	stamp=$(printf '%s\n' "$gomod" "$tools" | sha256_stdin)
	if [[ -f $dir/.stamp && "$(cat "$dir/.stamp")" == "$stamp" ]]; then
		return 0
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	printf '%s\n' "$gomod" >"$dir/go.mod"
	printf '%s\n' "$tools" >"$dir/tools.go"
	go_mod_tidy "$dir" || die "go mod tidy failed in $dir"
	printf '%s\n' "$stamp" >"$dir/.stamp"
}

# go_module_time DIR MODULE: the commit time of MODULE in the module of DIR,
# as the proxy gives it (1970-01-01T00:00:00Z when it gives none): a build
# date that is the same for every build of a version.
go_module_time() {
	local t
	t=$(cd "$1" && go list -m -json "$2" | jq -r '.Time // empty')
	printf '%s\n' "${t:-1970-01-01T00:00:00Z}"
}

# ---------------------------------------------------------------------------
# Docker

docker_image_exists() {
	docker image inspect "$1" >/dev/null 2>&1
}

# image_label IMAGE LABEL: prints the label's value, empty when unset or no image.
image_label() {
	docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null | sed 's/^<no value>$//' || true
}

# image_is_current IMAGE HASH: the image exists and carries this input hash.
image_is_current() {
	[[ "$(image_label "$1" "$INPUT_HASH_LABEL")" == "$2" ]]
}

# image_id IMAGE: the image's ID, empty when there is no such image.
image_id() {
	docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true
}

# drop_replaced OLD_ID IMAGE: after a rebuild moved the tag IMAGE away from the
# image OLD_ID, removes that old image (unless a container or another tag
# still uses it), so rebuilds leave no untagged gigabytes behind.
drop_replaced() {
	local old=$1
	if [[ -n $old && $old != "$(image_id "$2")" ]]; then
		docker rmi "$old" >/dev/null 2>&1 || true
	fi
}

require_docker() {
	command -v docker >/dev/null || die "no docker client: run scripts/install-docker.sh"
	docker info >/dev/null 2>&1 || die "the Docker engine does not answer: run scripts/install-docker.sh"
}

# The classic builder: it builds FROM scratch and FROM local images with no
# registry, and needs no buildx.
# Its output goes to a log, shown when the build fails.
docker_build() {
	local out rc=0
	out=$(mktemp)
	DOCKER_BUILDKIT=0 heavy docker build "$@" >"$out" 2>&1 || rc=$?
	if ((rc != 0)); then
		tail -n 40 "$out" >&2
	fi
	rm -f "$out"
	return "$rc"
}

# ---------------------------------------------------------------------------
# The pause program (images/pause): built statically once per source hash into
# $CACHE/pause/HASH/pause. Prints the binary's path.
build_pause() {
	local hash dir tmp
	hash=$(hash_inputs "$SCRIPTS_DIR/images/pause" | cut -c1-16)
	dir="$CACHE/pause/$hash"
	if [[ ! -x $dir/pause ]]; then
		mkdir -p "$dir"
		tmp=$(mktemp -d "$dir/tmp.XXXXXX")
		go_build_static "$SCRIPTS_DIR/images/pause" "$tmp" "-s -w" . || die "cannot build images/pause"
		mv -f "$tmp/pause" "$dir/pause"
		rm -rf "$tmp"
	fi
	printf '%s\n' "$dir/pause"
}
