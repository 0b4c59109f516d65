#!/usr/bin/env bash
# OCI runtime wrapper for dockerd (installed by scripts/install-docker.sh as
# dockerd's default runtime). On a host whose capability bounding set lacks
# CAP_SYS_RESOURCE, runc cannot grant it, so "docker run --privileged" and
# "docker exec --privileged" (which kind uses for its nodes) fail with "unable
# to apply caps: operation not permitted". This wrapper removes
# CAP_SYS_RESOURCE from every capability list of the bundle's config.json
# (--bundle DIR, -b DIR: create, run) and of the process JSON (--process FILE,
# -p FILE: exec), then runs the real runc with the same arguments. On a host
# that has the capability it changes nothing.
#
# usage: oci-runtime-wrapper.sh [-h] [RUNC ARGUMENTS...]
set -euo pipefail
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	echo "usage: $(basename "$0") [-h] [RUNC ARGUMENTS...]"
	echo "Runs runc, first removing CAP_SYS_RESOURCE from the OCI bundle's config.json"
	echo "and the exec process JSON when the host's bounding set lacks it."
	exit 0
fi

real_runc=""
for c in /usr/sbin/runc /usr/bin/runc /usr/local/sbin/runc; do
	if [[ -x $c ]]; then
		real_runc=$c
		break
	fi
done
if [[ -z $real_runc ]]; then
	echo "oci-runtime-wrapper: no runc found" >&2
	exit 127
fi

# CAP_SYS_RESOURCE is capability 24.
cap_bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
if (((16#$cap_bnd >> 24) & 1)); then
	exec "$real_runc" "$@"
fi

strip_caps() {
	local file=$1 filter
	[[ -f $file ]] || return 0
	grep -q CAP_SYS_RESOURCE "$file" || return 0
	# config.json has the capabilities under .process, a process JSON at the top.
	filter='def strip: if type == "object" then with_entries(
	            if (.value | type) == "array" then .value |= map(select(. != "CAP_SYS_RESOURCE")) else . end)
	          else . end;
	        if (.process.capabilities? // null) != null then .process.capabilities |= strip
	        elif (.capabilities? // null) != null then .capabilities |= strip
	        else . end'
	jq -c "$filter" "$file" >"$file.nosysresource"
	chmod --reference="$file" "$file.nosysresource"
	mv -f "$file.nosysresource" "$file"
}

bundle="" process="" command=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	a=${args[i]}
	case $a in
	--bundle | -b) bundle=${args[i + 1]:-} ;;
	--bundle=*) bundle=${a#--bundle=} ;;
	--process | -p) process=${args[i + 1]:-} ;;
	--process=*) process=${a#--process=} ;;
	create | run | exec)
		if [[ -z $command ]]; then command=$a; fi
		;;
	esac
done

case $command in
create | run) strip_caps "${bundle:-.}/config.json" ;;
exec) if [[ -n $process ]]; then strip_caps "$process"; fi ;;
esac

exec "$real_runc" "$@"
