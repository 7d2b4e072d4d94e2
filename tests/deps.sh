#!/bin/bash
# tests/deps.sh missing|install: the packages of tests/deps that this
# Debian machine lacks.
#   missing  print them on one line (nothing when all are there, or when
#            this is not a dpkg system: then nothing can be checked)
#   install  as root: apt-get install them (make deps, make check, .ci/run);
#            not root: one line naming the command to run, exit 2
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# the list: first word of each line, comments and blank lines left out
mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/^[[:space:]]*//' "$here/deps" |
	awk 'NF { print $1 }')

missing() {
	command -v dpkg-query >/dev/null || return 0
	# one query for the whole list; unknown packages are missing too
	local have
	have=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null |
		awk '$2 ~ /^ii/ { print $1 }') || true
	local p out=()
	for p in "${pkgs[@]}"; do
		grep -qxF -- "$p" <<<"$have" || out+=("$p")
	done
	((${#out[@]} == 0)) || echo "${out[*]}"
}

case ${1:-} in
missing)
	missing
	;;
install)
	need=$(missing)
	[ -n "$need" ] || exit 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "make check: packages missing; run: sudo apt-get install --no-install-recommends $need" >&2
		exit 2
	fi
	echo "make check: installing $need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086 # one word per package
	apt-get install -y -q --no-install-recommends $need
	;;
*)
	echo "usage: tests/deps.sh missing|install" >&2
	exit 2
	;;
esac
