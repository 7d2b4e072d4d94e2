# Shared setup, teardown and polling helpers for the usock bats suite.
# Load with `load helpers` at the top of each .bats file.
# Variables set here are read by the .bats files that load it, $stderr
# and $output come from bats' run, and the helpers are called from tests:
# shellcheck disable=SC2034,SC2154,SC2317

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$TESTS_DIR")
BIN=${USOCK_BIN:-$ROOT/build/bin}
LIB=$TESTS_DIR/lib
# A system python, reachable by an unprivileged user too.
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
SERVER="$PY $LIB/server.py"
CLIENT="$PY $LIB/client.py"

# setup: build/bin first on PATH, a short private temp dir in $T (sockets
# under $BATS_TEST_TMPDIR can pass the 107-byte sun_path limit).
common_setup() {
	PATH="$BIN:$PATH"
	export PATH
	# a sanitizer build still runs under the LD_PRELOAD shims of the tests
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	[ -x "$BIN/usock-connect" ] || fail "$BIN/usock-connect not built (run make)"
	[ -x "$BIN/usock-listen" ] || fail "$BIN/usock-listen not built (run make)"
	T=$(mktemp -d /tmp/us.XXXXXX)
	BG_PIDS=()
}

setup() {
	common_setup
}

# All descendants of PID, deepest last.
_descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		_descendants "$c"
	done
}

# teardown: TERM every recorded pid (and what it started), reap them, KILL
# whatever is still there after 3 s, remove $T.
common_teardown() {
	local pid all=() p jobs_now
	# only pids still in the job table: a reaped pid may have been reused
	jobs_now=" $(jobs -p | tr '\n' ' ') "
	for pid in "${BG_PIDS[@]}"; do
		[[ $jobs_now == *" $pid "* ]] || continue
		local kids=()
		mapfile -t kids < <(_descendants "$pid")
		all+=("$pid" "${kids[@]}")
	done
	for p in "${all[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	local deadline=$((SECONDS + 3))
	for p in "${all[@]}"; do
		while pid_alive "$p" && [ "$SECONDS" -lt "$deadline" ]; do
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	for pid in "${BG_PIDS[@]}"; do
		[[ $jobs_now == *" $pid "* ]] || continue
		wait "$pid" 2>/dev/null || true
	done
	BG_PIDS=()
	if [ -n "${T:-}" ] && [[ $T == /tmp/us.* ]]; then
		chmod -R u+rwx "$T" 2>/dev/null || true
		rm -rf "$T" "$T-pub"
	fi
}

teardown() {
	common_teardown
}

# for_others: copies of the tools ($BIN) and of the test scripts ($LIB)
# that every user may read and run, in $UBIN and $ULIB.  Whatever a test
# runs as another user (setpriv --reuid=nobody ...) comes from there: the
# checkout may live under a 0700 directory (/root/src, mktemp -d) that
# nobody cannot enter.  The copies go in $T-pub, removed by teardown.
for_others() {
	local pub=$T-pub
	if [ ! -d "$pub" ]; then
		mkdir -m 0755 "$pub"
		cp -R "$BIN" "$pub/bin"
		cp -R "$LIB" "$pub/lib"
		chmod -R a+rX "$pub"
	fi
	UBIN=$pub/bin
	ULIB=$pub/lib
}

# start_bg CMD...: run CMD in the background with bats' fd 3 closed, keep
# the caller's stdin (a bare `&` would give it /dev/null), record its pid
# in BG_PID and BG_PIDS. Redirect the call to capture its output:
#   start_bg usock-listen "$T/s.sock" <in >out 2>err
start_bg() {
	"$@" 3>&- <&0 &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_pid PID [SECONDS]: wait (with a deadline, default 20 s) for a
# background child of this shell to end and return its exit status; 254 and
# a message on stderr if it is still running at the deadline. Call it in the
# test's own shell, not under `run` (a subshell cannot wait for it).
wait_pid() {
	local pid=$1 deadline
	deadline=$(_deadline_ns "${2:-20}")
	while pid_alive "$pid"; do
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			echo "pid $pid still running after ${2:-20} s" >&2
			return 254
		fi
		sleep 0.02
	done
	local rc=0
	wait "$pid" || rc=$?
	return "$rc"
}

# expect_exit N PID [SECONDS]: background child PID ends within SECONDS
# (default 20) with exit status N.
expect_exit() {
	local rc=0
	wait_pid "$2" "${3:-20}" || rc=$?
	[ "$rc" -eq "$1" ] || fail "pid $2 ended with status $rc, expected $1"
}

# _deadline_ns SECONDS (may be fractional): an absolute deadline in ns
# ("%.0f": mawk's "%d" stops at 2^31 - 1, which is 2.1 s).
_deadline_ns() {
	echo $(( $(date +%s%N) + $(awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000000000 }') ))
}

# _listening_unix NAME: /proc/net/unix shows NAME ("/path" or "@name") as a
# listening stream socket.
_listening_unix() {
	awk -v n="$1" '$8 == n && $4 == "00010000" { found = 1 } END { exit !found }' /proc/net/unix
}

# wait_for_socket PATH|@NAME [SECONDS]: poll (default 10 s) until the
# socket file exists and /proc/net/unix shows a listening socket bound to
# that name (so a stale file left there does not count). For a path bound
# relative to a directory (too long for sun_path) use wait_for_file.
wait_for_socket() {
	local p=$1 deadline
	deadline=$(_deadline_ns "${2:-10}")
	p=${p#unix:}
	[[ $p == abstract:* ]] && p="@${p#abstract:}"
	while :; do
		if [[ $p == @* ]]; then
			_listening_unix "$p" && return 0
		elif [ -S "$p" ]; then
			_listening_unix "$p" && return 0
		fi
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			fail "socket $1 not listening after ${2:-10} s"
			return 1
		fi
		sleep 0.02
	done
}

# wait_for_port PORT [SECONDS]: poll until something listens on TCP PORT.
wait_for_port() {
	local hex deadline
	hex=$(printf ':%04X' "$1")
	deadline=$(_deadline_ns "${2:-10}")
	until awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null; do
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			fail "nothing listening on port $1 after ${2:-10} s"
			return 1
		fi
		sleep 0.02
	done
}

# wait_file_line FILE REGEX [SECONDS]: poll until FILE has a line matching
# the extended REGEX; prints the first such line.
wait_file_line() {
	local deadline
	deadline=$(_deadline_ns "${3:-10}")
	until [ -f "$1" ] && grep -Eq -- "$2" "$1"; do
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			fail "no line matching /$2/ in $1 after ${3:-10} s: $(cat "$1" 2>/dev/null)"
			return 1
		fi
		sleep 0.02
	done
	grep -E -m1 -- "$2" "$1"
}

# wait_for_file PATH [SECONDS]: poll until PATH exists.
wait_for_file() {
	local deadline
	deadline=$(_deadline_ns "${2:-10}")
	until [ -e "$1" ] || [ -L "$1" ]; do
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			fail "$1 did not appear after ${2:-10} s"
			return 1
		fi
		sleep 0.02
	done
}

# wait_gone PATH [SECONDS]: poll until PATH no longer exists.
wait_gone() {
	local deadline
	deadline=$(_deadline_ns "${2:-10}")
	while [ -e "$1" ] || [ -L "$1" ]; do
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			fail "$1 still exists after ${2:-10} s"
			return 1
		fi
		sleep 0.02
	done
}

# free_port: a TCP port nothing listens on right now.
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_stale_socket PATH: a socket file nothing listens on (bound, never
# listened, process gone).
make_stale_socket() {
	"$PY" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$1"
	[ -S "$1" ] || fail "could not make a stale socket at $1"
}

# start_server ADDRESS [server.py options]: start tests/lib/server.py in the
# background and wait (10 s at most) until it listens. For a TCP port 0 pass
# --port-file FILE and read the port from FILE.
start_server() {
	local ready
	ready=$(mktemp -u "$T/ready.XXXXXX")
	# shellcheck disable=SC2086 # interpreter and script, split on purpose
	start_bg $SERVER "$@" --ready-file "$ready"
	wait_for_file "$ready"
}

# run_to FILE CMD...: run CMD with its stdout in FILE. `run` captures the
# stdout of what it runs, so `run cmd >file` leaves FILE empty: use
# `run -0 run_to FILE cmd...` instead.
run_to() {
	local out=$1
	shift
	"$@" >"$out"
}

# connected_on PATH: /proc/net/unix shows a connected socket bound to PATH
# (a connection that a listener on PATH accepted).
connected_on() {
	awk -v n="$1" '$8 == n && $6 == "03" { f = 1 } END { exit !f }' /proc/net/unix
}

# sha FILE: the sha256 of FILE.
sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

# now_ms: wall clock in milliseconds.
now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# abstract_name: a name unique to this test in the abstract namespace.
abstract_name() {
	echo "usock-test-$$-${BATS_TEST_NUMBER}-$RANDOM"
}

# wait_until SECONDS CMD...: poll until CMD succeeds, or fail the test.
wait_until() {
	local secs=$1 deadline
	shift
	deadline=$(_deadline_ns "$secs")
	until "$@"; do
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			fail "timed out after $secs s waiting for: $*"
			return 1
		fi
		sleep 0.02
	done
}

# assert_stderr_line REGEX: some line of $stderr (from run --separate-stderr)
# matches the extended REGEX.
assert_stderr_line() {
	grep -Eq -- "$1" <<<"$stderr" || fail "no stderr line matches /$1/; stderr was:
$stderr"
}

# refute_stderr_line REGEX: no line of $stderr matches.
refute_stderr_line() {
	! grep -Eq -- "$1" <<<"$stderr" || fail "a stderr line matches /$1/; stderr was:
$stderr"
}

# with_sigint CMD...: run CMD with SIGINT at its default disposition (bash
# makes background jobs ignore it when job control is off).
with_sigint() {
	exec env --default-signal=INT "$@"
}

# file_is FILE TEXT: FILE holds exactly TEXT (trailing newlines aside).
file_is() {
	[ "$(cat "$1" 2>/dev/null)" = "$2" ]
}

# file_size_is FILE N: FILE is N bytes long.
file_size_is() {
	[ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ]
}

# ---- load, fault and security helpers (tests/stress/) ----------------------

STRESS="$PY $TESTS_DIR/stress/stress.py"

# fd_count PID [KIND]: descriptors PID holds open (only those of KIND:
# socket, pipe, anon_inode).
fd_count() {
	if [ -n "${2:-}" ]; then
		find "/proc/$1/fd" -mindepth 1 -lname "$2:*" 2>/dev/null | wc -l
		return
	fi
	local fds=("/proc/$1/fd"/*)
	echo "${#fds[@]}"
}

fds_are() {
	[ "$(fd_count "$1")" -eq "$2" ]
}

fds_at_least() {
	[ "$(fd_count "$1")" -ge "$2" ]
}

# bridge_fds_back PID SOCKETS: the bridge PID holds SOCKETS sockets again,
# and no more than the 64 idle staging pipes its pool may keep.
bridge_fds_back() {
	[ "$(fd_count "$1" socket)" -eq "$2" ] && [ "$(fd_count "$1" pipe)" -le 128 ]
}

# rss_kb PID: resident memory of PID (VmRSS) in KiB.
rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

rss_at_most() {
	[ "$(rss_kb "$1")" -le "$2" ]
}

# under_asan PID: PID runs with AddressSanitizer (whose quarantine keeps
# freed memory resident, so RSS says nothing about leaks).
under_asan() {
	grep -q libasan "/proc/$1/maps" 2>/dev/null ||
		nm "$(readlink "/proc/$1/exe")" 2>/dev/null | grep -q ' __asan_init'
}

# cpu_ticks PID: user + system CPU time of PID, in clock ticks.
cpu_ticks() {
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# raise_nofile N: raise the soft descriptor limit to the hard one, or skip
# the test when the hard limit is under N.
raise_nofile() {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] || [ "$hard" -ge "$1" ] || skip "descriptor hard limit $hard < $1"
	ulimit -n "$hard"
}

# stress_serve ADDR MODE [stress.py serve options]: a checking server
# (echo, sink, source, greet) of tests/stress/stress.py, listening; its
# pid in SPID.
stress_serve() {
	local ready
	ready=$(mktemp -u "$T/ready.XXXXXX")
	# shellcheck disable=SC2086 # interpreter and script, split on purpose
	start_bg $STRESS serve "$@" --ready-file "$ready"
	SPID=$BG_PID
	wait_for_file "$ready"
}

# start_bridge ARG...: tcp2unix --print-address ARG... in the background
# (under the command in BRIDGE_WRAP, if set), stderr in $BERR; waits for
# the address it prints.  Sets BPID, BERR, BADDR and HOSTPORT (BADDR
# without tcp:).
start_bridge() {
	BERR=$(mktemp "$T/bridge.XXXXXX")
	start_bg "${BRIDGE_WRAP[@]}" tcp2unix --print-address "$@" 2>"$BERR"
	BPID=$BG_PID
	BADDR=$(wait_file_line "$BERR" '^(tcp:|unix:|@)') || return 1
	HOSTPORT=${BADDR#tcp:}
}

# bridge_counters_are TEXT: after SIGUSR1, the bridge's counters line (in
# $BERR) starts with "tcp2unix: accepted TEXT".
bridge_counters_are() {
	local n line
	n=$(grep -c '^tcp2unix: accepted ' "$BERR" || true)
	kill -USR1 "$BPID"
	wait_until 5 _counters_after "$n"
	line=$(grep '^tcp2unix: accepted ' "$BERR" | tail -1)
	[[ $line == "tcp2unix: accepted $1"* ]] || fail "counters: $line; expected accepted $1"
}

_counters_after() {
	[ "$(grep -c '^tcp2unix: accepted ' "$BERR" || true)" -gt "$1" ]
}
