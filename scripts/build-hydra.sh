#!/usr/bin/env bash
# Builds Ory Hydra at HYDRA_VERSION (versions.env), the OpenID provider the
# integration tests run, from the Go module proxy into
# $CACHE/hydra/VERSION/bin/hydra; nothing when it is already there. Hydra keeps
# its in-memory store in SQLite, so this one build uses cgo: it needs a C
# compiler (gcc) and nothing else. The last line on stdout is the bin directory.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib-debian.sh
. "$(dirname "$0")/lib-debian.sh"
ensure_commands jq

USAGE="usage: $(basename "$0") [-h]
Builds Ory Hydra $HYDRA_VERSION (github.com/ory/hydra/v2, with SQLite for its
in-memory store) into $CACHE/hydra/$HYDRA_VERSION/bin/hydra and prints that
directory last. Needs gcc (cgo)."
usage_check "$USAGE" "$@"
(($# == 0)) || die "no arguments expected
$USAGE"

VERSION=$HYDRA_VERSION
ROOT="$CACHE/hydra/$VERSION"
BIN="$ROOT/bin"
SRC="$ROOT/src"

# Hydra's go.mod replaces gobuffalo/pop with Ory's fork; a replace applies only
# in the main module, so the scratch module repeats it.
REPLACES="github.com/gobuffalo/pop/v6 => github.com/ory/pop/v6 $HYDRA_POP_VERSION"

prepare_module() {
	go_scratch_module "$SRC" "$PROJECT.local/hydra-build" "github.com/ory/hydra/v2@$VERSION" "$REPLACES" \
		github.com/ory/hydra/v2
}

go_build_hydra() {
	(cd "$SRC" && CGO_ENABLED=1 heavy go build -trimpath -tags sqlite,sqlite_omit_load_extension \
		-ldflags "-s -w -X github.com/ory/hydra/v2/driver/config.Version=$VERSION" -o "$1/hydra" github.com/ory/hydra/v2)
}

build() {
	[[ -x $BIN/hydra ]] && return 0
	command -v "${CC:-gcc}" >/dev/null 2>&1 || die "Hydra's SQLite store needs a C compiler: no ${CC:-gcc} on PATH (Debian: gcc)"
	rm -rf "$ROOT"/tmp.*
	step "prepare the scratch module (go mod tidy)" prepare_module
	mkdir -p "$BIN"
	local tmp
	tmp=$(mktemp -d "$ROOT/tmp.XXXXXX")
	step "go build hydra $VERSION (cgo, sqlite)" go_build_hydra "$tmp"
	"$tmp/hydra" version >/dev/null || die "the hydra built does not run"
	mv -f "$tmp/hydra" "$BIN/hydra"
	rmdir "$tmp"
}

if [[ -x $BIN/hydra ]]; then
	log "cached: hydra $VERSION"
else
	with_lock "$ROOT.lock" build
fi
printf '%s\n' "$BIN"
