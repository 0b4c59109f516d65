#!/usr/bin/env bash
# Builds the etcd server at ETCD_VERSION (versions.env) from the Go module
# proxy, statically, into $CACHE/etcd/VERSION/bin/etcd; nothing when it is
# already there. The last line on stdout is the bin directory.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-debian.sh
. "$(dirname "$0")/lib-debian.sh"
ensure_commands jq

USAGE="usage: $(basename "$0") [-h]
Builds etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3) into
$CACHE/etcd/$ETCD_VERSION/bin/etcd and prints that directory last."
usage_check "$USAGE" "$@"
(($# == 0)) || die "no arguments expected
$USAGE"

VERSION=$ETCD_VERSION
ROOT="$CACHE/etcd/$VERSION"
BIN="$ROOT/bin"
SRC="$ROOT/src"

# The scratch module: requires the etcd server module and nothing else.
prepare_module() {
	go_scratch_module "$SRC" "$PROJECT.local/etcd-build" "go.etcd.io/etcd/server/v3@$VERSION" "" \
		go.etcd.io/etcd/server/v3
}

build() {
	[[ -x $BIN/etcd ]] && return 0
	rm -rf "$ROOT"/tmp.*
	step "prepare the scratch module (go mod tidy)" prepare_module
	mkdir -p "$BIN"
	# An interrupted build leaves only a tmp.* directory, removed by the next run.
	local tmp
	tmp=$(mktemp -d "$ROOT/tmp.XXXXXX")
	step "go build etcd $VERSION" go_build_static "$SRC" "$tmp" "-s -w" go.etcd.io/etcd/server/v3
	# go build names the binary of go.etcd.io/etcd/server/v3 "server".
	local out
	for out in server v3; do
		if [[ -f $tmp/$out ]]; then mv "$tmp/$out" "$tmp/etcd"; fi
	done
	local reported
	reported=$("$tmp/etcd" --version)
	[[ $reported == *"etcd Version: ${VERSION#v}"* ]] || die "the etcd built does not report ${VERSION#v}"
	mv -f "$tmp/etcd" "$BIN/etcd"
	rmdir "$tmp"
}

if [[ -x $BIN/etcd ]]; then
	log "cached: etcd $VERSION"
else
	with_lock "$ROOT.lock" build
fi
printf '%s\n' "$BIN"
