#!/usr/bin/env bats
# tcp2unix: the bridge end to end, with real clients (curl, python) and
# real servers on UNIX and TCP sockets.  Tests tagged "bug" show defects
# found while writing this file.

load helpers

# `make check` names the build directory to test.
BIN=${USOCK_BIN:-$BIN}
T2U=("$PY" "$LIB/t2u.py")

setup() {
	common_setup
	[ -x "$BIN/tcp2unix" ] || fail "$BIN/tcp2unix not built (run make)"
	BRIDGE_WRAP=()
}

# t2u_server MODE ADDR: a server of t2u.py (echo-server, two-writes,
# early-answer, full-backlog), listening.
t2u_server() {
	local ready
	ready=$(mktemp -u "$T/ready.XXXXXX")
	start_bg "${T2U[@]}" "$1" "$2" --ready-file "$ready"
	wait_for_file "$ready"
}

# _child_or_gone PID OTHER: sets CHILD to a child of PID; true once there
# is one, or once OTHER has ended.
_child_or_gone() {
	CHILD=$(ps -o pid= --ppid "$1" | head -1 | tr -d ' ')
	[ -n "$CHILD" ] || ! pid_alive "$2"
}

# accept_queue PORT: connections waiting to be accepted on TCP PORT.
accept_queue() {
	local q
	q=$(awk -v p="$(printf ':%04X' "$1")" \
		'$4 == "0A" && substr($2, length($2) - 4) == p { print $5 }' /proc/net/tcp)
	echo $((16#${q#*:}))
}

accept_queue_is() {
	[ "$(accept_queue "$1")" -eq "$2" ]
}

# unix_accepted PATH: connections accepted by the listener on PATH.
unix_accepted() {
	awk -v n="$1" '$8 == n && $6 == "03" { c++ } END { print c + 0 }' /proc/net/unix
}

unix_accepted_is() {
	[ "$(unix_accepted "$1")" -eq "$2" ]
}

have_ipv6() {
	grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
}

file_bigger() {
	[ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt "$2" ]
}

# elapsed_between MS LOW HIGH: LOW <= MS <= HIGH, or fail saying so.
elapsed_between() {
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ] ||
		fail "took $1 ms, expected $2..$3 ms"
}

# ---- HTTP with curl --------------------------------------------------------

# http_setup: a threaded python HTTP server on $T/h.sock serving $T/www,
# and a bridge to it on a loopback port.
http_setup() {
	mkdir -p "$T/www"
	start_bg "$PY" "$LIB/unix_httpd.py" "$T/h.sock" "$T/www" --ready-file "$T/h.ready"
	wait_for_file "$T/h.ready"
	start_bridge -v 0 "$T/h.sock"
}

@test "curl: a 50 MB download through the bridge arrives intact, logged with its byte counts" {
	mkdir -p "$T/www"
	head -c 50M /dev/urandom >"$T/www/big"
	http_setup
	run -0 curl -sS --max-time 30 -o "$T/got" "http://$HOSTPORT/big"
	assert_equal "$(sha "$T/got")" "$(sha "$T/www/big")"
	local line
	line=$(wait_file_line "$BERR" " -> unix:$T/h\.sock: closed; ")
	assert_regex "$line" "^tcp2unix: #1 tcp:127\.0\.0\.1:[0-9]+ -> unix:$T/h\.sock: closed; [0-9]+ bytes up, [0-9]+ down, [0-9.]+ s$"
	local down
	down=$(sed -E 's/.* ([0-9]+) down.*/\1/' <<<"$line")
	[ "$down" -gt 52428800 ] && [ "$down" -lt 52430000 ] || fail "bytes down: $down"
}

@test "curl: 200 keep-alive requests on one connection" {
	mkdir -p "$T/www"
	echo hello >"$T/www/hello.txt"
	http_setup
	local args=() i
	for ((i = 0; i < 200; i++)); do
		args+=(-o /dev/null "http://$HOSTPORT/hello.txt")
	done
	run -0 curl -sS --max-time 60 -w '%{http_code} %{num_connects}\n' "${args[@]}"
	assert_equal "$(grep -c '^200 ' <<<"$output")" 200
	assert_equal "$(awk '{ n += $2 } END { print n }' <<<"$output")" 1
	kill -USR1 "$BPID"
	wait_file_line "$BERR" '^tcp2unix: accepted 1, active 0, refused 0, failed 0, completed 1,'
}

# bats test_tags=bug
@test "request/response latency: an answer written in two parts is not held back by Nagle" {
	# Without TCP_NODELAY on the bridge's TCP sockets the second write
	# waits for the client's delayed ACK: about 40 ms a round.
	t2u_server two-writes "$T/tw.sock"
	run -0 "${T2U[@]}" ping "$T/tw.sock" 50
	local direct=$output
	start_bridge 0 "$T/tw.sock"
	run -0 "${T2U[@]}" ping "$HOSTPORT" 50
	awk -v t="$output" 'BEGIN { exit !(t < 1.0) }' ||
		fail "50 rounds took $output s through tcp2unix, $direct s directly"
}

# ---- half-close, backpressure, failures -----------------------------------

@test "half-close: the client half-closes, the answer (1 MB) comes 2 s later in full" {
	start_bridge -v 0 "$T/hc.sock"
	run -0 "${T2U[@]}" half-close "$T/hc.sock" "$HOSTPORT" --first client --delay 2
	assert_output "ok 1048576 up, 1048576 down"
	wait_file_line "$BERR" 'closed; 1048576 bytes up, 1048576 down, [2-9]\.[0-9]+ s$'
}

@test "half-close: the server half-closes first, the client sends 1 MB 2 s later in full" {
	start_bridge -v 0 "$T/hc.sock"
	run -0 "${T2U[@]}" half-close "$T/hc.sock" "$HOSTPORT" --first server --delay 2
	assert_output "ok 1048576 up, 1048576 down"
	wait_file_line "$BERR" 'closed; 1048576 bytes up, 1048576 down, [2-9]\.[0-9]+ s$'
}

@test "backpressure: a client that never reads holds the target back, not the bridge's memory" {
	start_server "$T/t.sock" --mode flood --count 0
	start_bridge 0 "$T/t.sock"
	local rss0
	rss0=$(rss_kb "$BPID")
	start_bg "${T2U[@]}" stall "$HOSTPORT" --ready-file "$T/stalled"
	wait_for_file "$T/stalled"
	# the flood fills the kernel's buffers, then everything stops
	wait_until 10 connected_on "$T/t.sock"
	local i rss
	for i in 1 2 3 4 5 6 7 8 9 10; do
		rss=$(rss_kb "$BPID")
		[ "$rss" -le $((rss0 + 1024)) ] || fail "RSS grew from $rss0 to $rss KiB"
		sleep 0.1 # sampling while the flood pushes
	done
	[ "$(cpu_ticks "$BPID")" -lt 50 ] || fail "the bridge keeps working: $(cpu_ticks "$BPID") ticks"
}

# bats test_tags=bug
@test "a target that answers early and stops reading: the client still gets the answer" {
	# an HTTP server refusing a large upload (413) does exactly this
	t2u_server early-answer "$T/ea.sock"
	run -0 --separate-stderr "${T2U[@]}" upload "$T/ea.sock" 10000000
	assert_output "413 too large" # directly: the premise holds
	start_bridge -v 0 "$T/ea.sock"
	run -0 --separate-stderr "${T2U[@]}" upload "$HOSTPORT" 10000000
	assert_output "413 too large"
}

@test "1,000 concurrent connections all echo; the bridge's descriptors return to their baseline" {
	raise_nofile 2500
	t2u_server echo-server "$T/e.sock"
	start_bridge 0 "$T/e.sock"
	local base many
	base=$(fd_count "$BPID")
	start_bg "${T2U[@]}" many "$HOSTPORT" 1000 --opened-file "$T/opened" --go-file "$T/go" >"$T/many.out"
	many=$BG_PID
	wait_for_file "$T/opened" 30
	# every connection accepted and connected: two descriptors each, no more
	wait_until 20 fds_at_least "$BPID" $((base + 2000))
	local n
	n=$(fd_count "$BPID")
	[ "$n" -le $((base + 2000 + 8)) ] || fail "$n descriptors for 1000 idle connections (baseline $base)"
	touch "$T/go"
	wait_pid "$many" 60
	assert_equal "$(cat "$T/many.out")" "1000 ok"
	wait_until 10 fds_are "$BPID" "$base"
	kill -USR1 "$BPID"
	wait_file_line "$BERR" '^tcp2unix: accepted 1000, active 0, refused 0, failed 0, completed 1000,'
}

@test "target killed mid-transfer: the client sees the end, the bridge serves the next client" {
	start_server "$T/t.sock" --mode flood --count 0
	local server=$BG_PID client
	start_bridge -v 0 "$T/t.sock"
	start_bg $CLIENT "$HOSTPORT" --no-half-close --out "$T/out"
	client=$BG_PID
	wait_until 10 file_bigger "$T/out" 1000000
	kill -KILL "$server"
	wait_pid "$client" 10 || true # EOF or reset: either way it ended
	pid_alive "$BPID"
	wait_file_line "$BERR" " -> unix:$T/t\.sock: (closed|target failed)"
	rm -f "$T/t.sock"
	t2u_server echo-server "$T/t.sock"
	run -0 timeout 10 usock-connect "$HOSTPORT" <<<"next client"
	assert_output "next client"
}

@test "target missing: the client is closed at once and it is logged without -v; the bridge keeps serving" {
	start_bridge 0 "$T/later.sock"
	local t0
	t0=$(now_ms)
	run --separate-stderr timeout 10 usock-connect "$HOSTPORT" </dev/null
	assert_output ""
	elapsed_between $(($(now_ms) - t0)) 0 1000
	wait_file_line "$BERR" "^tcp2unix: #[0-9]+ tcp:127\.0\.0\.1:[0-9]+ -> unix:$T/later\.sock: target refused \(No such file or directory\); 0 bytes up, 0 down"
	t2u_server echo-server "$T/later.sock"
	run -0 timeout 10 usock-connect "$HOSTPORT" <<<"now it is there"
	assert_output "now it is there"
	pid_alive "$BPID"
}

@test "a target past 107 bytes is looked up at each connect: served after its directory is recreated, and when missing at start" {
	local short=$T/short long d srv
	long=$T/$(printf 'r%.0s' {1..70})/$(printf 's%.0s' {1..40})
	for d in "$short" "$long"; do
		mkdir -p "$d"
		start_bg usock-listen -k "$d/app.sock" -- cat </dev/null
		srv=$BG_PID
		wait_for_file "$d/app.sock"
		start_bridge 0 "$d/app.sock"
		run -0 timeout 10 usock-connect "$HOSTPORT" <<<"v1 ${#d}"
		assert_output "v1 ${#d}"
		# a service restart recreates its runtime directory
		kill "$srv"
		expect_exit 0 "$srv"
		rm -rf "$d"
		mkdir -p "$d"
		start_bg usock-listen -k "$d/app.sock" -- cat </dev/null
		wait_for_file "$d/app.sock"
		run -0 timeout 10 usock-connect "$HOSTPORT" <<<"v2 ${#d}"
		assert_output "v2 ${#d}"
		kill "$BPID"
		expect_exit 0 "$BPID"
	done
	# a long target whose directory does not exist yet: the bridge starts
	rm -rf "${long%/*}"
	start_bridge 0 "$long/app.sock"
	run -1 --separate-stderr timeout 10 usock-connect "$HOSTPORT" </dev/null
	assert_output ""
	wait_file_line "$BERR" "target refused \(No such file or directory\)"
	mkdir -p "$long"
	start_bg usock-listen -k "$long/app.sock" -- cat </dev/null
	wait_for_file "$long/app.sock"
	run -0 timeout 10 usock-connect "$HOSTPORT" <<<"late"
	assert_output "late"
}

# ---- options -----------------------------------------------------------------

@test "--allow: a client outside the ranges is closed without a byte and logged; the target sees nothing" {
	start_server "$T/t.sock" --mode echo --count 0 --record "$T/rec"
	start_bridge --allow 10.0.0.0/8 --allow fd00::/8 0 "$T/t.sock"
	run --separate-stderr timeout 10 usock-connect "$HOSTPORT" <<<"let me in"
	assert_output ""
	wait_file_line "$BERR" "^tcp2unix: #1 tcp:127\.0\.0\.1:[0-9]+: refused: not in --allow$"
	refute connected_on "$T/t.sock"
	assert_not_exists "$T/rec"
	# a client inside a range goes through
	start_bridge --allow 10.0.0.0/8 --allow 127.0.0.0/8 0 "$T/t.sock"
	run -0 timeout 10 usock-connect "$HOSTPORT" <<<"inside"
	assert_output "inside"
}

@test "--allow with IPv6: ::1/128 admits [::1] on a dual-stack listener and refuses 127.0.0.1" {
	have_ipv6 || skip "no IPv6 loopback"
	t2u_server echo-server "$T/e.sock"
	start_bridge --allow ::1/128 '*:0' "$T/e.sock"
	local port=${BADDR##*:}
	run -0 timeout 10 usock-connect "tcp:[::1]:$port" <<<"six"
	assert_output "six"
	run --separate-stderr timeout 10 usock-connect "tcp:127.0.0.1:$port" <<<"four"
	assert_output ""
	wait_file_line "$BERR" "^tcp2unix: #[0-9]+ tcp:127\.0\.0\.1:[0-9]+: refused: not in --allow$"
}

# proxy_check VERSION TCP4 UNIX TCP6: a bridge with --proxy-protocol
# VERSION in front of an echo server, for TCP4, UNIX (unnamed and bound)
# and TCP6 clients; t2u.py compares what comes back byte for byte, and
# says how long the header was (matched against the regexes given).
proxy_check() {
	t2u_server echo-server "$T/e.sock"
	start_bridge --proxy-protocol "$1" 0 "$T/e.sock"
	run -0 "${T2U[@]}" proxy-check "$HOSTPORT" "$1"
	assert_output --regexp "^ok $2 header bytes$"
	start_bridge --proxy-protocol "$1" "$T/front.sock" "$T/e.sock"
	run -0 "${T2U[@]}" proxy-check "$T/front.sock" "$1"
	assert_output --regexp "^ok $3 header bytes$"
	run -0 "${T2U[@]}" proxy-check "$T/front.sock" "$1" --bind "$T/client.sock"
	assert_output --regexp "^ok $3 header bytes$"
	have_ipv6 || skip "no IPv6 loopback: TCP6 not checked"
	start_bridge --proxy-protocol "$1" 'tcp:[::1]:0' "$T/e.sock"
	run -0 "${T2U[@]}" proxy-check "$HOSTPORT" "$1"
	assert_output --regexp "^ok $4 header bytes$"
}

@test "--proxy-protocol v1: TCP4, TCP6 and UNIX (UNKNOWN) headers, byte for byte" {
	proxy_check v1 '(3[6-9]|4[0-4])' 15 '(3[0-9]|4[0-4])'
}

@test "--proxy-protocol v2: TCP4 (0x11), TCP6 (0x21) and UNIX (0x31) headers, byte for byte" {
	proxy_check v2 28 232 52
}

@test "--idle-timeout: an idle connection is closed after it, a trickling one is not" {
	start_server "$T/idle.sock" --mode idle --count 0
	start_server "$T/drip.sock" --mode drip --count 0 --drip 5 --drip-interval 0.3
	start_bridge -v --idle-timeout 1 0 "$T/idle.sock"
	local idle=$HOSTPORT idle_err=$BERR t0
	start_bridge -v --idle-timeout 1 0 "$T/drip.sock"
	start_bg $CLIENT "$HOSTPORT" --no-half-close --out "$T/drip.out"
	local drip=$BG_PID
	t0=$(now_ms)
	# a cut connection looks cut: a reset, never a clean EOF
	run -1 --separate-stderr timeout 10 $CLIENT "$idle" --no-half-close
	assert_regex "$stderr" 'Connection reset by peer'
	elapsed_between $(($(now_ms) - t0)) 800 3000
	wait_file_line "$idle_err" ': idle timeout, reset \(cut: up and down open\); 0 bytes up, 0 down, 1\.[0-9]+ s$'
	wait_pid "$drip" 10
	assert_equal "$(cat "$T/drip.out")" "01234"
	wait_file_line "$BERR" ': closed; 0 bytes up, 5 down, '
}

# connect_timeout TARGET HOW: a target that never accepts (its backlog is
# full), behind a bridge with --connect-timeout 1: the client is closed
# after about a second with a reset, without a byte, and the end is
# logged as HOW.
connect_timeout() {
	t2u_server full-backlog "$1"
	start_bridge -v --connect-timeout 1 0 "$1"
	local t0
	t0=$(now_ms)
	# a request and a half-close: the client waits for its answer
	run -1 --separate-stderr timeout 10 usock-connect "$HOSTPORT" <<<"request"
	assert_output ""
	assert_regex "$stderr" 'Connection reset by peer'
	elapsed_between $(($(now_ms) - t0)) 900 3000
	wait_file_line "$BERR" ": $2; 0 bytes up, 0 down, 1\.[0-9]+ s$"
	kill -USR1 "$BPID"
	wait_file_line "$BERR" '^tcp2unix: accepted 1, active 0, refused 0, failed 1, completed 0,'
}

@test "--connect-timeout: a TCP target that never completes the handshake" {
	connect_timeout "127.0.0.1:$(free_port)" "connect timeout"
}

@test "--connect-timeout: a UNIX target whose backlog stays full" {
	connect_timeout "$T/full.sock" "(target busy|connect timeout)( \([^)]*\))?"
}

@test "-c 2: a third client waits in the backlog until one of the first two ends" {
	t2u_server echo-server "$T/e.sock"
	start_bridge -c 2 0 "$T/e.sock"
	local port=${HOSTPORT##*:} c1 c2 c3
	start_bg $CLIENT "$HOSTPORT" --send one --hold-file "$T/go1" --out "$T/o1"
	c1=$BG_PID
	start_bg $CLIENT "$HOSTPORT" --send two --hold-file "$T/go2" --out "$T/o2"
	c2=$BG_PID
	wait_until 10 unix_accepted_is "$T/e.sock" 2
	start_bg $CLIENT "$HOSTPORT" --send three --out "$T/o3"
	c3=$BG_PID
	wait_until 10 accept_queue_is "$port" 1
	unix_accepted_is "$T/e.sock" 2
	assert_equal "$(cat "$T/o3" 2>/dev/null)" ""
	touch "$T/go1"
	wait_pid "$c1"
	wait_pid "$c3"
	assert_equal "$(cat "$T/o1")" one
	assert_equal "$(cat "$T/o3")" three
	touch "$T/go2"
	wait_pid "$c2"
	assert_equal "$(cat "$T/o2")" two
}

@test "-j 2 -c 2: the limit is the whole process's, not each worker's" {
	t2u_server echo-server "$T/e.sock"
	start_bridge -j 2 -c 2 0 "$T/e.sock"
	local port=${HOSTPORT##*:} c1 c2 c3
	start_bg $CLIENT "$HOSTPORT" --send one --hold-file "$T/go1" --out "$T/o1"
	c1=$BG_PID
	start_bg $CLIENT "$HOSTPORT" --send two --hold-file "$T/go2" --out "$T/o2"
	c2=$BG_PID
	wait_until 10 unix_accepted_is "$T/e.sock" 2
	start_bg $CLIENT "$HOSTPORT" --send three --out "$T/o3"
	c3=$BG_PID
	wait_until 10 accept_queue_is "$port" 1
	unix_accepted_is "$T/e.sock" 2
	# the worker that holds neither of the two is woken when one ends
	touch "$T/go1" "$T/go2"
	wait_pid "$c1"
	wait_pid "$c2"
	wait_pid "$c3"
	assert_equal "$(cat "$T/o1") $(cat "$T/o2") $(cat "$T/o3")" "one two three"
}

# ---- -j: several event loops -------------------------------------------------

@test "-j 2: two event loops serve 600 concurrent connections, descriptors return, SIGUSR1 sums the counters" {
	raise_nofile 2500
	t2u_server echo-server "$T/e.sock"
	start_bridge -j 2 0 "$T/e.sock"
	# two event loops, and the thread that writes the log lines
	assert_equal "$(ls "/proc/$BPID/task" | wc -l)" 3
	local base many
	base=$(fd_count "$BPID")
	start_bg "${T2U[@]}" many "$HOSTPORT" 600 --opened-file "$T/opened" --go-file "$T/go" >"$T/many.out"
	many=$BG_PID
	wait_for_file "$T/opened" 30
	wait_until 20 fds_at_least "$BPID" $((base + 1200))
	local n
	n=$(fd_count "$BPID")
	[ "$n" -le $((base + 1200 + 8)) ] || fail "$n descriptors for 600 idle connections (baseline $base)"
	bridge_counters_are "600, active 600, refused 0, failed 0, completed 0,"
	touch "$T/go"
	wait_pid "$many" 60
	assert_equal "$(cat "$T/many.out")" "600 ok"
	wait_until 10 fds_are "$BPID" "$base"
	bridge_counters_are "600, active 0, refused 0, failed 0, completed 600,"
}

@test "-j 2: SIGTERM closes the listener at once and drains every worker's connections; the deadline cuts them, counted once" {
	t2u_server echo-server "$T/e.sock"
	start_bridge -v -j 2 --drain 0.5 "$T/front.sock" "$T/e.sock"
	start_bg "${T2U[@]}" many "unix:$T/front.sock" 40 --opened-file "$T/opened" --go-file "$T/never"
	wait_for_file "$T/opened" 30
	wait_until 10 unix_accepted_is "$T/e.sock" 40
	local t0
	t0=$(now_ms)
	kill -TERM "$BPID"
	wait_gone "$T/front.sock" 2
	expect_exit 0 "$BPID" 10
	elapsed_between $(($(now_ms) - t0)) 400 3000
	wait_file_line "$BERR" '^tcp2unix: stopping: 40 connections to drain'
	wait_file_line "$BERR" '^tcp2unix: drain deadline: closed 40 connections'
	assert_equal "$(grep -c ': drain deadline, reset ' "$BERR")" 40

	# a transfer in flight in either worker completes
	head -c 4M /dev/urandom >"$T/answer"
	start_server "$T/t.sock" --mode answer --count 0 --delay-after-eof 1 \
		--answer-file "$T/answer" --sha-file "$T/request.sha"
	start_bridge -j 2 "$T/front2.sock" "$T/t.sock"
	start_bg $CLIENT "$T/front2.sock" --send hello --out "$T/out"
	local client=$BG_PID
	wait_for_file "$T/request.sha"
	kill -TERM "$BPID"
	wait_gone "$T/front2.sock" 2
	wait_pid "$client" 20
	expect_exit 0 "$BPID" 20
	assert_equal "$(sha "$T/out")" "$(sha "$T/answer")"
}

@test "-m 0600 on a UNIX LISTEN-ADDRESS; SIGTERM removes the socket file, exit 0" {
	t2u_server echo-server "$T/e.sock"
	start_bridge -m 0600 "$T/front.sock" "$T/e.sock"
	assert_equal "$BADDR" "unix:$T/front.sock"
	assert_equal "$(stat -c %a "$T/front.sock")" 600
	run -0 timeout 10 usock-connect "$T/front.sock" <<<"private"
	assert_output "private"
	kill -TERM "$BPID"
	expect_exit 0 "$BPID"
	assert_not_exists "$T/front.sock"
}

@test "SIGINT also removes the socket file and exits 0" {
	BRIDGE_WRAP=(with_sigint)
	start_bridge "$T/front.sock" "$T/e.sock"
	kill -INT "$BPID"
	expect_exit 0 "$BPID"
	assert_not_exists "$T/front.sock"
}

@test "-o USER:GROUP gives the socket file its owner" {
	[ "$(id -u)" = 0 ] || skip "needs root to give a file away"
	local group
	group=$(id -gn nobody)
	start_bridge -m 0660 -o "nobody:$group" "$T/front.sock" "$T/e.sock"
	assert_equal "$(stat -c '%U:%G %a' "$T/front.sock")" "nobody:$group 660"
}

@test "a live listener at LISTEN-ADDRESS is refused; a stale socket file is replaced" {
	t2u_server echo-server "$T/e.sock"
	run -1 --separate-stderr tcp2unix "$T/e.sock" "$T/x.sock"
	assert_regex "$stderr" "^tcp2unix: listen unix:$T/e\.sock: .*live"
	make_stale_socket "$T/stale.sock"
	start_bridge "$T/stale.sock" "$T/e.sock"
	run -0 timeout 10 usock-connect "$T/stale.sock" <<<"replaced"
	assert_output "replaced"
	echo data >"$T/file"
	run -1 tcp2unix "$T/file" "$T/e.sock"
	assert_equal "$(cat "$T/file")" data
}

# ---- signals -----------------------------------------------------------------

@test "SIGTERM drains: a transfer in flight completes without losing a byte, then exit 0" {
	head -c 1M /dev/urandom >"$T/request"
	head -c 20M /dev/urandom >"$T/answer"
	start_server "$T/t.sock" --mode answer --count 0 --delay-after-eof 1 \
		--answer-file "$T/answer" --sha-file "$T/request.sha"
	start_bridge -v "$T/front.sock" "$T/t.sock"
	start_bg $CLIENT "$T/front.sock" --send-file "$T/request" --out "$T/out"
	local client=$BG_PID
	# the server holds the whole request; its answer is a second away
	wait_for_file "$T/request.sha"
	kill -TERM "$BPID"
	wait_gone "$T/front.sock" 2
	run -1 timeout 10 usock-connect "$T/front.sock" </dev/null
	wait_pid "$client" 20
	expect_exit 0 "$BPID" 20
	assert_equal "$(sha "$T/out")" "$(sha "$T/answer")"
	assert_equal "$(cat "$T/request.sha")" "$(sha "$T/request") 1048576"
	wait_file_line "$BERR" '^tcp2unix: stopping: 1 connection to drain'
	wait_file_line "$BERR" ': closed; 1048576 bytes up, 20971520 down, '
}

@test "--drain: connections still open at the deadline are closed and logged, exit 0; a second signal ends the drain at once" {
	start_server "$T/idle.sock" --mode idle --count 0
	start_bridge -v --drain 0.5 "$T/front.sock" "$T/idle.sock"
	start_bg $CLIENT "$T/front.sock" --no-half-close
	wait_until 10 connected_on "$T/idle.sock"
	local t0
	t0=$(now_ms)
	kill -TERM "$BPID"
	expect_exit 0 "$BPID" 10
	elapsed_between $(($(now_ms) - t0)) 400 3000
	wait_file_line "$BERR" ': drain deadline, reset \(cut: up and down open\); 0 bytes up, 0 down, '

	start_bridge -v "$T/front2.sock" "$T/idle.sock" # the default drain: 30 s
	start_bg $CLIENT "$T/front2.sock" --no-half-close
	wait_until 10 unix_accepted_is "$T/idle.sock" 2
	kill -TERM "$BPID"
	wait_gone "$T/front2.sock" 2
	t0=$(now_ms)
	kill -TERM "$BPID"
	expect_exit 0 "$BPID" 10
	elapsed_between $(($(now_ms) - t0)) 0 2000
	wait_file_line "$BERR" ': drain deadline, reset '
}

@test "SIGUSR1: counters on stderr" {
	t2u_server echo-server "$T/e.sock"
	start_bridge 0 "$T/e.sock"
	local i
	for i in 1 2 3; do
		run -0 timeout 10 usock-connect "$HOSTPORT" <<<"hello"
	done
	kill -USR1 "$BPID"
	wait_file_line "$BERR" '^tcp2unix: accepted 3, active 0, refused 0, failed 0, completed 3, bytes up 18, down 18$'
	start_bg $CLIENT "$HOSTPORT" --no-half-close
	wait_until 10 unix_accepted_is "$T/e.sock" 1
	kill -USR1 "$BPID"
	wait_file_line "$BERR" '^tcp2unix: accepted 4, active 1, refused 0, failed 0, completed 3, bytes up 18, down 18$'
	start_bridge 0 "$T/missing.sock"
	run timeout 10 usock-connect "$HOSTPORT" </dev/null
	kill -USR1 "$BPID"
	wait_file_line "$BERR" '^tcp2unix: accepted 1, active 0, refused 0, failed 1, completed 0, bytes up 0, down 0$'
}

# ---- socket activation -------------------------------------------------------
# systemd-socket-activate runs its command at the first connection.

need_activate() {
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
}

@test "socket activation: serves the sockets systemd-socket-activate passes, prints each, exit 0 on SIGTERM" {
	need_activate
	t2u_server echo-server "$T/e.sock"
	local p1 p2
	p1=$(free_port)
	p2=$(free_port)
	[ "$p1" != "$p2" ] || p2=$(free_port)
	start_bg systemd-socket-activate -l "127.0.0.1:$p1" -l "127.0.0.1:$p2" \
		tcp2unix -v --print-address "$T/e.sock" 2>"$T/act.err"
	local pid=$BG_PID
	wait_for_port "$p2"
	run -0 timeout 10 usock-connect "127.0.0.1:$p1" <<<"first"
	assert_output "first"
	run -0 timeout 10 usock-connect "127.0.0.1:$p2" <<<"second"
	assert_output "second"
	wait_file_line "$T/act.err" "^tcp:127\.0\.0\.1:$p1$"
	wait_file_line "$T/act.err" "^tcp:127\.0\.0\.1:$p2$"
	wait_file_line "$T/act.err" "^tcp2unix: #2 tcp:127\.0\.0\.1:[0-9]+ -> unix:$T/e\.sock: closed; 7 bytes up, 7 down"
	kill -TERM "$pid"
	expect_exit 0 "$pid"
}

@test "socket activation of a UNIX socket: served, and the file is left to its owner at exit" {
	need_activate
	t2u_server echo-server "$T/e.sock"
	start_bg systemd-socket-activate -l "$T/act.sock" tcp2unix --print-address "$T/e.sock" 2>"$T/act.err"
	local pid=$BG_PID
	wait_for_socket "$T/act.sock"
	run -0 timeout 10 usock-connect "$T/act.sock" <<<"activated"
	assert_output "activated"
	wait_file_line "$T/act.err" "^unix:$T/act\.sock$"
	kill -TERM "$pid"
	expect_exit 0 "$pid"
	assert_exists "$T/act.sock"
}

# activation_refused STATUS REGEX ARG...: under systemd-socket-activate
# ARG..., tcp2unix exits with STATUS once a client comes, saying REGEX.
activation_refused() {
	local want=$1 regex=$2 port pid
	shift 2
	port=$(free_port)
	start_bg systemd-socket-activate "$@" -l "127.0.0.1:$port" tcp2unix "${ARGS[@]}" 2>"$T/act.err"
	pid=$BG_PID
	wait_for_port "$port"
	timeout 10 usock-connect -z "127.0.0.1:$port" || true
	expect_exit "$want" "$pid" 10
	grep -Eq -- "^tcp2unix: $regex" "$T/act.err" || fail "no /$regex/ in: $(cat "$T/act.err")"
}

@test "socket activation: LISTEN-ADDRESS, --mode or a datagram socket are refused" {
	need_activate
	ARGS=(8080 "$T/e.sock")
	activation_refused 2 "socket activation: give only TARGET-ADDRESS, not '8080'$"
	ARGS=(-m 0600 "$T/e.sock")
	activation_refused 2 'socket activation: --mode'
	ARGS=("$T/e.sock")
	local port
	port=$(free_port)
	start_bg systemd-socket-activate -d -l "127.0.0.1:$port" tcp2unix "$T/e.sock" 2>"$T/act.err"
	local pid=$BG_PID
	wait_until 10 grep -q Listening "$T/act.err"
	timeout 5 "$PY" -c 'import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", int(sys.argv[1])))' "$port"
	expect_exit 1 "$pid" 10
	grep -q '^tcp2unix: socket activation: fd 3 is not a stream socket' "$T/act.err"
}

# bats test_tags=bug
@test "socket activation with Accept=yes (a connected socket): no busy loop" {
	need_activate
	t2u_server echo-server "$T/e.sock"
	local port sa client
	port=$(free_port)
	start_bg systemd-socket-activate -a -l "127.0.0.1:$port" tcp2unix "$T/e.sock" 2>"$T/act.err"
	sa=$BG_PID
	wait_for_port "$port"
	start_bg $CLIENT "127.0.0.1:$port" --send hi --no-half-close --timeout 3 --out "$T/out"
	client=$BG_PID
	wait_until 10 _child_or_gone "$sa" "$client"
	[ -n "$CHILD" ] || return 0 # it came and went
	local t0
	t0=$(cpu_ticks "$CHILD" 2>/dev/null) || return 0
	sleep 1 # measuring: how much CPU does one second cost it?
	if pid_alive "$CHILD"; then
		local used=$(($(cpu_ticks "$CHILD") - t0))
		[ "$used" -lt 20 ] || fail "tcp2unix used $used ticks of CPU in 1 s: $(cat "$T/act.err")"
	fi
}

# ---- address kinds -----------------------------------------------------------

@test "UNIX to TCP: a UNIX LISTEN-ADDRESS forwarding to a TCP target, half-close intact" {
	local port
	port=$(free_port)
	start_bridge -v "$T/front.sock" "tcp:127.0.0.1:$port"
	run -0 "${T2U[@]}" half-close "tcp:127.0.0.1:$port" "$T/front.sock" --first client --delay 0.3 --size 300000
	assert_output "ok 300000 up, 300000 down"
	wait_file_line "$BERR" "^tcp2unix: #1 unix: \(pid [0-9]+, uid [0-9]+\) -> tcp:127\.0\.0\.1:$port: closed; 300000 bytes up, 300000 down"
}

@test "abstract addresses: an abstract target, and abstract to abstract" {
	local target front
	target=$(abstract_name)
	front=$(abstract_name)-front
	t2u_server echo-server "@$target"
	start_bridge 0 "abstract:$target"
	run -0 timeout 10 usock-connect "$HOSTPORT" <<<"to abstract"
	assert_output "to abstract"
	start_bridge "@$front" "@$target"
	assert_equal "$BADDR" "@$front"
	run -0 timeout 10 usock-connect "@$front" <<<"between abstracts"
	assert_output "between abstracts"
}

# ---- command line ------------------------------------------------------------

# usage_error ARG...: tcp2unix ARG... exits 2 with one line on stderr
# starting "tcp2unix: ", and nothing on stdout.
usage_error() {
	run -2 --separate-stderr timeout 10 tcp2unix "$@"
	assert_output ""
	assert_regex "$stderr" '^tcp2unix: '
	assert_equal "$(wc -l <<<"$stderr")" 1
}

@test "bad addresses: exit 2 with one line naming the address, for either position" {
	local a
	for a in tcp:127.0.0.1:70000 tcp:127.0.0.1:x 70000 tcp:localhost 'tcp:[::1' x unix: @ \
		abstract: sctp:x:1 '' "unix-dgram:$T/d.sock" "@$(printf 'a%.0s' {1..120})"; do
		usage_error "$a" "$T/t.sock"
		assert_regex "$stderr" "^tcp2unix: address '"
		usage_error 0 "$a"
		assert_regex "$stderr" "^tcp2unix: address '"
	done
	assert_not_exists "$T/d.sock"
	# a datagram or seqpacket address, in either position: why not
	usage_error "unix-dgram:$T/d.sock" "$T/t.sock"
	assert_equal "$stderr" "tcp2unix: address 'unix-dgram:$T/d.sock': tcp2unix bridges byte streams only; a datagram socket keeps message boundaries that a stream does not have (use usock-connect or usock-listen for it)"
	usage_error 0 "unix-seqpacket:$T/q"$'\e'".sock"
	assert_equal "$stderr" "tcp2unix: address 'unix-seqpacket:$T/q\\x1b.sock': tcp2unix bridges byte streams only; a seqpacket socket keeps message boundaries that a stream does not have (use usock-connect or usock-listen for it)"
}

@test "bad options and arguments: exit 2, nothing created" {
	usage_error
	usage_error 8080
	usage_error "$T/a.sock" "$T/b.sock" "$T/c"$'\e'".sock"
	assert_equal "$stderr" "tcp2unix: unexpected argument '$T/c\\x1b.sock'"
	usage_error -c 0 "$T/a.sock" "$T/b.sock"
	assert_equal "$stderr" "tcp2unix: --max-conns: 0 is out of range 1..1000000"
	usage_error -c 1000001 "$T/a.sock" "$T/b.sock"
	usage_error -b 65536 "$T/a.sock" "$T/b.sock"
	usage_error --allow 10.0.0.0/33 "$T/a.sock" "$T/b.sock"
	usage_error --allow ::1/129 "$T/a.sock" "$T/b.sock"
	usage_error --allow example.com "$T/a.sock" "$T/b.sock"
	usage_error --proxy-protocol v3 "$T/a.sock" "$T/b.sock"
	usage_error --idle-timeout abc "$T/a.sock" "$T/b.sock"
	usage_error --connect-timeout -1 "$T/a.sock" "$T/b.sock"
	usage_error --drain 5x "$T/a.sock" "$T/b.sock"
	usage_error -j 0 "$T/a.sock" "$T/b.sock"
	assert_equal "$stderr" "tcp2unix: --workers: 0 is out of range 1..256"
	usage_error --workers 257 "$T/a.sock" "$T/b.sock"
	usage_error -j two "$T/a.sock" "$T/b.sock"
	usage_error -m 0999 "$T/a.sock" "$T/b.sock"
	usage_error -m 0600 0 "$T/b.sock"
	usage_error -o nobody "@name" "$T/b.sock"
	usage_error -o no-such-user-usock "$T/a.sock" "$T/b.sock"
	# getopt's own messages: exit 2, the first line names the option
	run -2 --separate-stderr tcp2unix --bogus-option "$T/a.sock" "$T/b.sock"
	assert_output ""
	assert_regex "$stderr" '^tcp2unix: .*bogus-option'
	run -2 --separate-stderr tcp2unix "$T/a.sock" "$T/b.sock" --connect-timeout
	assert_regex "$stderr" '^tcp2unix: .*connect-timeout'
	assert_not_exists "$T/a.sock"
}

@test "--help on stdout (exit 0) lists every option; -V prints the version" {
	run -0 --separate-stderr tcp2unix --help
	assert_equal "$stderr" ""
	local o
	for o in --max-conns --allow --idle-timeout --connect-timeout --proxy-protocol --mode \
		--owner --backlog --print-address --drain --verbose --quiet --help --version; do
		assert_output --partial -- "$o"
	done
	run -0 tcp2unix -V
	assert_output --regexp 'usock\)? 0\.1\.0'
}

# bats test_tags=bug
@test "a low descriptor limit: clients over it wait in the backlog instead of being dropped, no busy loop" {
	t2u_server echo-server "$T/e.sock"
	# 64 descriptors, one of them inherited (a service manager's, say)
	BRIDGE_WRAP=(bash -c 'ulimit -n 64 && exec "$@" 7</dev/null' ulimit64)
	start_bridge 0 "$T/e.sock"
	run --separate-stderr "${T2U[@]}" many "$HOSTPORT" 60
	[ "$status" -eq 0 ] || fail "$(tail -n 1 <<<"$stderr")
$(grep -c 'Too many open files' "$BERR") clients dropped, as $(grep -m1 'Too many' "$BERR")"
	assert_output "60 ok"
	local ticks
	ticks=$(cpu_ticks "$BPID")
	[ "$ticks" -lt 100 ] || fail "tcp2unix used $ticks ticks of CPU"
	run -0 timeout 10 usock-connect "$HOSTPORT" <<<"still serving"
	assert_output "still serving"
}
