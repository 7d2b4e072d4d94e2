#!/bin/bash
# sockinfo -a against ss -xlp on a host with N listening UNIX sockets
# (default 10000), side by side in one run.  Prints a Markdown table and
# one JSON line.
#   usage: bench/sockinfo.sh [N [RUNS]]
# RUNS defaults to 7 (3 with BENCH_QUICK=1).  SOCKINFO names the binary
# (default: build/bin/sockinfo, or $USOCK_BIN/sockinfo).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}
runs=${2:-7}
[ "${BENCH_QUICK:-0}" = 1 ] && [ -z "${2:-}" ] && runs=3
sockinfo=${SOCKINFO:-${USOCK_BIN:-$root/build/bin}/sockinfo}
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3

die() {
	echo "bench/sockinfo.sh: $*" >&2
	exit 1
}
[ -x "$sockinfo" ] || die "$sockinfo not built (run make)"
command -v ss >/dev/null || die "ss (iproute2) not found"

dir=$(mktemp -d /tmp/usock-bench.XXXXXX)
helper=""
cleanup() {
	exec 7>&- 2>/dev/null || true
	if [ -n "$helper" ]; then
		kill "$helper" 2>/dev/null || true
		wait "$helper" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

# The helper holds the sockets until its standard input ends.
mkfifo "$dir/ctl"
"$py" "$root/bench/sockets-helper.py" "$dir/s" "$n" <"$dir/ctl" >"$dir/ready" &
helper=$!
exec 7>"$dir/ctl"
for _ in $(seq 600); do
	grep -q '^ready' "$dir/ready" 2>/dev/null && break
	kill -0 "$helper" 2>/dev/null || die "the socket helper failed"
	sleep 0.1
done
grep -q '^ready' "$dir/ready" || die "the socket helper did not get ready"

# time_ms CMD...: run CMD with stdout to $dir/out; print its wall time (ms).
time_ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >"$dir/out"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# median of the numbers on stdin
median() {
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# Warm the caches once, and check that both see every socket.
"$sockinfo" -a >"$dir/out"
si_rows=$(grep -c -- "$dir/s/" "$dir/out" || true)
ss -xlp >"$dir/out"
ss_rows=$(grep -c -- "$dir/s/" "$dir/out" || true)
[ "$si_rows" -eq "$n" ] || die "sockinfo -a listed $si_rows of $n sockets"
[ "$ss_rows" -eq "$n" ] || die "ss -xlp listed $ss_rows of $n sockets"

si_times=()
ss_times=()
for _ in $(seq "$runs"); do
	si_times+=("$(time_ms "$sockinfo" -a)")
	ss_times+=("$(time_ms ss -xlp)")
done
si_med=$(printf '%s\n' "${si_times[@]}" | median)
ss_med=$(printf '%s\n' "${ss_times[@]}" | median)
si_min=$(printf '%s\n' "${si_times[@]}" | sort -n | head -1)
ss_min=$(printf '%s\n' "${ss_times[@]}" | sort -n | head -1)
ratio=$(awk -v a="$si_med" -v b="$ss_med" 'BEGIN { printf "%.2f", b ? a / b : 0 }')

echo "### sockinfo -a vs ss -xlp, $n listening UNIX sockets, $runs runs each"
echo
echo "| command | median ms | best ms | sockets listed |"
echo "| --- | ---: | ---: | ---: |"
echo "| \`sockinfo -a\` | $si_med | $si_min | $si_rows |"
echo "| \`ss -xlp\` | $ss_med | $ss_min | $ss_rows |"
echo
echo "sockinfo/ss time ratio: $ratio (target: at most 1.00)"
printf '{"bench":"sockinfo-all","sockets":%d,"runs":%d,"sockinfo_ms":%d,"ss_ms":%d,"sockinfo_best_ms":%d,"ss_best_ms":%d,"ratio":%s}\n' \
	"$n" "$runs" "$si_med" "$ss_med" "$si_min" "$ss_min" "$ratio"
