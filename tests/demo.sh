#!/bin/bash
# make demo: the toolkit's main job end to end, with nothing from outside.
# A line-protocol server on a temporary UNIX socket (usock-listen running
# a small shell command per connection), tcp2unix bridging a free
# loopback port to it, usock-connect talking through the bridge, and
# sockinfo describing the socket.  Everything is removed at the end.
set -euo pipefail
bin=${1:-build/bin}
bin=$(cd "$bin" && pwd)
dir=$(mktemp -d /tmp/usock-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

# wait_line FILE: the first line of FILE, waiting up to 5 s for it.
wait_line() {
	local i
	for ((i = 0; i < 100; i++)); do
		if [[ -s $1 ]]; then head -n 1 "$1"; return 0; fi
		sleep 0.05
	done
	echo "demo: nothing appeared in $1" >&2
	return 1
}

say() {
	if [[ -t 1 ]]; then printf '\n\033[1m$ %s\033[0m\n' "$*"; else printf '\n$ %s\n' "$*"; fi
}

say "usock-listen -k -m 0660 unix:$dir/app.sock -- sh -c '...' &"
# the inner script is expanded by the shell usock-listen runs, not here
# shellcheck disable=SC2016
"$bin/usock-listen" -k -m 0660 --print-address "unix:$dir/app.sock" -- \
	sh -c 'while read -r line; do echo "app: got \"$line\" from $USOCK_PEER"; done' \
	2>"$dir/listen.err" 3>&- &
pids+=($!)
wait_line "$dir/listen.err"

say "tcp2unix -v --print-address 0 unix:$dir/app.sock &"
"$bin/tcp2unix" -v --print-address 0 "unix:$dir/app.sock" 2>"$dir/bridge.err" 3>&- &
pids+=($!)
addr=$(wait_line "$dir/bridge.err")
echo "bridge listening on $addr"

say "printf 'hello\\nworld\\n' | usock-connect $addr"
printf 'hello\nworld\n' | "$bin/usock-connect" -w 5 "$addr"

if [[ -x $bin/sockinfo ]]; then
	say "sockinfo $dir/app.sock"
	"$bin/sockinfo" "$dir/app.sock" || true
fi

say "kill -TERM <bridge>; the bridge's log:"
kill -TERM "${pids[1]}"
wait "${pids[1]}" || true
sed 1d "$dir/bridge.err"
echo
echo "demo: done; everything under $dir is removed."
