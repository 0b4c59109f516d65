#!/usr/bin/env bash
# Installs and starts the Docker engine the kind clusters and image builds of
# this project run on: Debian's docker.io, debootstrap, jq and ca-certificates
# (the CLI image carries its bundle); the OCI runtime
# wrapper (scripts/oci-runtime-wrapper.sh) as dockerd's default runtime, so
# that privileged containers run on hosts without CAP_SYS_RESOURCE; dockerd
# itself when it is not running. Then checks that "docker run --privileged"
# and "docker exec --privileged" work. Needs root. Safe to run again.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

USAGE="usage: $(basename "$0") [-h]
Installs docker.io, debootstrap, jq, ca-certificates (apt), the OCI runtime wrapper
as dockerd's default runtime, starts dockerd (log: $CACHE/docker/dockerd.log)
and checks that privileged containers run."
usage_check "$USAGE" "$@"
(($# == 0)) || die "no arguments expected
$USAGE"
((EUID == 0)) || die "must run as root"

PACKAGES=(docker.io debootstrap jq ca-certificates)
RUNTIME_NAME=$PROJECT
WRAPPER_DIR=/usr/local/libexec/$PROJECT
WRAPPER=$WRAPPER_DIR/oci-runtime-wrapper
DAEMON_JSON=/etc/docker/daemon.json
DOCKERD_LOG=$CACHE/docker/dockerd.log
START_TIMEOUT=${DOCKERD_START_TIMEOUT:-60}

install_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
			missing+=("$p")
		fi
	done
	if ((${#missing[@]} == 0)); then
		log "installed already: ${PACKAGES[*]}"
		return 0
	fi
	step "apt-get update" apt-get update -qq
	# No init script may start dockerd during the install: this script starts
	# it, with the runtime configured and its log in the cache.
	local policy=/usr/sbin/policy-rc.d created_policy=""
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		created_policy=1
	fi
	local rc=0
	step "apt-get install ${missing[*]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
	if [[ -n $created_policy ]]; then rm -f "$policy"; fi
	return "$rc"
}

install_wrapper() {
	if cmp -s "$SCRIPTS_DIR/oci-runtime-wrapper.sh" "$WRAPPER"; then
		log "runtime wrapper up to date: $WRAPPER"
		return 0
	fi
	install -D -m 0755 "$SCRIPTS_DIR/oci-runtime-wrapper.sh" "$WRAPPER"
	log "installed the runtime wrapper: $WRAPPER"
}

# Merges the runtime into daemon.json, keeping every other key. Prints
# "changed" when it wrote the file.
configure_daemon() {
	local current='{}' wanted
	if [[ -s $DAEMON_JSON ]]; then
		current=$(cat "$DAEMON_JSON")
	fi
	wanted=$(jq --arg name "$RUNTIME_NAME" --arg path "$WRAPPER" \
		'.runtimes[$name] = {path: $path} | .["default-runtime"] = $name' <<<"$current") ||
		die "$DAEMON_JSON is not valid JSON"
	if [[ "$(jq -S . <<<"$current")" == "$(jq -S . <<<"$wanted")" ]]; then
		log "$DAEMON_JSON already names $RUNTIME_NAME as the default runtime"
		return 0
	fi
	mkdir -p "$(dirname "$DAEMON_JSON")"
	printf '%s\n' "$wanted" | jq . >"$DAEMON_JSON.tmp"
	mv -f "$DAEMON_JSON.tmp" "$DAEMON_JSON"
	log "wrote $DAEMON_JSON (default runtime $RUNTIME_NAME)"
	echo changed
}

dockerd_pid() {
	local pid
	pid=$(cat /var/run/docker.pid 2>/dev/null || true)
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		printf '%s\n' "$pid"
	fi
}

wait_for_docker() {
	local deadline=$((SECONDS + START_TIMEOUT))
	until docker info >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "dockerd did not answer within ${START_TIMEOUT}s; the end of $DOCKERD_LOG:"
			tail -n 40 "$DOCKERD_LOG" >&2 || true
			die "dockerd did not start"
		fi
		sleep 0.5
	done
}

start_dockerd() {
	local config_changed=$1 pid
	pid=$(dockerd_pid)
	if [[ -n $pid ]]; then
		wait_for_docker
		if [[ -n $config_changed ]]; then
			# dockerd reloads "runtimes" and "default-runtime" on SIGHUP.
			log "dockerd (pid $pid) is running: reloading its configuration"
			kill -HUP "$pid"
			local deadline=$((SECONDS + 20))
			until [[ "$(docker info -f '{{.DefaultRuntime}}' 2>/dev/null)" == "$RUNTIME_NAME" ]]; do
				((SECONDS < deadline)) || die "dockerd did not take $RUNTIME_NAME as its default runtime after SIGHUP: restart it"
				sleep 0.5
			done
		fi
		log "dockerd is running (pid $pid)"
		return 0
	fi
	mkdir -p "$(dirname "$DOCKERD_LOG")"
	log "starting dockerd in the background (log: $DOCKERD_LOG)"
	printf '\n==== %s dockerd started by %s\n' "$(date -u +%FT%TZ)" "$(basename "$0")" >>"$DOCKERD_LOG"
	setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
	wait_for_docker
	log "dockerd is running (pid $(dockerd_pid))"
}

# A tiny image holding only the static pause program: enough to start a
# container with no registry.
check_image() {
	local bin hash image
	bin=$(build_pause)
	hash=$(sha256sum "$bin" | cut -c1-12)
	image="$PROJECT/runtime-check:$hash"
	if ! docker_image_exists "$image"; then
		tar -C "$(dirname "$bin")" -c pause |
			docker import --change 'ENTRYPOINT ["/pause"]' - "$image" >/dev/null
	fi
	printf '%s\n' "$image"
}

verify_privileged() {
	local image name out
	image=$(check_image)
	[[ "$(docker info -f '{{.DefaultRuntime}}')" == "$RUNTIME_NAME" ]] ||
		die "dockerd's default runtime is not $RUNTIME_NAME: is another daemon.json in use?"
	out=$(docker run --rm --privileged "$image" -v 2>&1) || die "docker run --privileged failed: $out"
	name="$PROJECT-runtime-check-$$"
	docker run -d --privileged --name "$name" "$image" >/dev/null ||
		die "docker run -d --privileged failed"
	if ! out=$(docker exec --privileged "$name" /pause -v 2>&1); then
		docker rm -f "$name" >/dev/null 2>&1 || true
		die "docker exec --privileged failed: $out"
	fi
	docker rm -f "$name" >/dev/null
	log "docker run --privileged and docker exec --privileged work"
}

step "packages" install_packages
install_wrapper
changed=$(configure_daemon)
step "dockerd" start_dockerd "$changed"
step "privileged container check" verify_privileged
