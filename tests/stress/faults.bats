#!/usr/bin/env bats
# Faults: tcp2unix when its target dies, stops or stalls, when clients
# reset, when descriptors run out, and when it is itself stopped or
# killed.  Every transfer is checksummed end to end (tests/stress/stress.py).

load ../helpers

setup() {
	common_setup
	[ -x "$BIN/tcp2unix" ] || fail "$BIN/tcp2unix not built (run make)"
	BRIDGE_WRAP=()
}

# check_transfer ADDR BYTES: an echo round trip of BYTES through ADDR,
# what comes back equal to what was sent.
check_transfer() {
	run -0 timeout 60 $STRESS transfer "$1" "$2"
	assert_line --regexp "^echo [0-9a-f]{64} $2$"
	assert_equal "${lines[0]#sent }" "${lines[1]#echo }"
}

# unix_conns PATH: connections a listener on PATH has accepted and not
# yet closed.
unix_conns() {
	awk -v n="$1" '$8 == n && $6 == "03" { c++ } END { print c + 0 }' /proc/net/unix
}

unix_conns_are() {
	[ "$(unix_conns "$1")" -eq "$2" ]
}

lines_are() {
	[ "$(wc -l <"$1" 2>/dev/null || echo 0)" -eq "$2" ]
}

lines_at_least() {
	[ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ]
}

@test "target killed mid-transfer: the client got an exact prefix of the stream, the bridge lives on with no descriptor left behind" {
	stress_serve "$T/src.sock" source
	local src=$SPID client socks
	start_bridge -v 0 "$T/src.sock"
	socks=$(fd_count "$BPID" socket)
	start_bg $STRESS read-prefix "$HOSTPORT" --min 8388608 --progress-file "$T/8m" >"$T/prefix"
	client=$BG_PID
	wait_for_file "$T/8m" 20
	kill -KILL "$src"
	expect_exit 0 "$client" 20
	run cat "$T/prefix"
	assert_output --regexp '^prefix [0-9]+$'
	[ "${output#prefix }" -ge 8388608 ] || fail "$output"
	wait_file_line "$BERR" " -> unix:$T/src\.sock: (closed|target failed)"
	wait_until 10 bridge_fds_back "$BPID" "$socks"
	rm -f "$T/src.sock"
	stress_serve "$T/src.sock" echo
	check_transfer "$HOSTPORT" 4194304
	pid_alive "$BPID"
}

@test "target SIGSTOPped under a 256 MiB flood: bridge RSS stays bounded; after SIGCONT every byte arrives, checksum equal" {
	stress_serve "$T/sink.sock" sink --log "$T/sink.log"
	local sink=$SPID client rss i r max=0
	start_bridge 0 "$T/sink.sock"
	rss=$(rss_kb "$BPID")
	start_bg $STRESS transfer "$HOSTPORT" 268435456 --sink >"$T/sent"
	client=$BG_PID
	wait_until 10 unix_conns_are "$T/sink.sock" 1
	kill -STOP "$sink"
	# 2 s of a stopped target with the client pushing as fast as it can
	for i in $(seq 20); do
		r=$(rss_kb "$BPID")
		[ "$r" -gt "$max" ] && max=$r
		sleep 0.1
	done
	echo "# bridge RSS $rss KiB at rest, at most $max KiB while the target was stopped" >&3
	[ "$max" -le $((rss + 4096)) ] || fail "RSS grew from $rss to $max KiB"
	pid_alive "$client" || fail "the client ended while the target was stopped"
	kill -CONT "$sink"
	expect_exit 0 "$client" 60
	wait_until 20 lines_are "$T/sink.log" 1
	run cat "$T/sent"
	assert_equal "$(cat "$T/sink.log")" "sink ${output#sent }"
}

@test "50 clients reset (RST) mid-transfer: the bridge lives on, the target sees every connection end, no descriptor left" {
	stress_serve "$T/e.sock" echo --log "$T/echo.log"
	local socks
	start_bridge 0 "$T/e.sock"
	socks=$(fd_count "$BPID" socket)
	run -0 timeout 30 $STRESS rst "$HOSTPORT" 1048576 --count 50
	assert_output "50 reset"
	# The ends are not lost, they are slow: the bridge closes each UNIX
	# connection with the echo still queued, so the target reads what it
	# was sent, gets ECONNRESET and logs one line; that is a few MiB of
	# Python work, 1-2 s on a busy machine, more under ASan and load.
	wait_until 30 bridge_fds_back "$BPID" "$socks"
	wait_until 30 lines_at_least "$T/echo.log" 50
	lines_are "$T/echo.log" 50 || fail "more than one end per connection: $(cat "$T/echo.log")"
	wait_until 10 unix_conns_are "$T/e.sock" 0
	check_transfer "$HOSTPORT" 16777216
	bridge_counters_are "51, active 0, refused 0, "
}

@test "target backlog full: 10 clients closed after --connect-timeout, no descriptor left, then the next client is served" {
	start_bg $PY "$LIB/t2u.py" full-backlog "$T/full.sock" --ready-file "$T/full"
	local full=$BG_PID socks i t0 took pids=()
	wait_for_file "$T/full"
	start_bridge -v --connect-timeout 0.5 0 "$T/full.sock"
	socks=$(fd_count "$BPID" socket)
	t0=$(now_ms)
	for i in $(seq 10); do
		# each sends a request and waits (one that sends nothing and
		# closes while the target connect is pending has left)
		start_bg timeout 5 usock-connect "$HOSTPORT" <<<"request" >"$T/out$i"
		pids+=("$BG_PID")
	done
	for i in "${pids[@]}"; do
		wait_pid "$i" 10 || true # the bridge resets them: exit 1
	done
	took=$(($(now_ms) - t0))
	[ "$took" -ge 400 ] && [ "$took" -le 3000 ] || fail "the clients took $took ms"
	[ -z "$(cat "$T"/out*)" ] || fail "a client got bytes: $(cat "$T"/out*)"
	wait_until 10 bridge_fds_back "$BPID" "$socks"
	bridge_counters_are "10, active 0, refused 0, failed 10, completed 0,"
	kill -KILL "$full"
	rm -f "$T/full.sock"
	stress_serve "$T/full.sock" echo
	check_transfer "$HOSTPORT" 1048576
}

@test "EMFILE: under ulimit -n 64, 200 clients at once: little CPU while saturated, all 200 served once load drops" {
	stress_serve "$T/e.sock" echo
	BRIDGE_WRAP=(bash -c 'ulimit -n 64 && exec "$@"' ulimit64)
	local opt socks hold t0 t1
	# the default --max-conns stops short of the limit; 1000 runs into it
	for opt in --max-conns=1000 --quiet; do
		start_bridge "$opt" 0 "$T/e.sock"
		socks=$(fd_count "$BPID" socket)
		rm -f "$T/opened" "$T/go"
		start_bg $STRESS hold "$HOSTPORT" 200 --ready-file "$T/opened" --go-file "$T/go" >"$T/hold"
		hold=$BG_PID
		wait_for_file "$T/opened" 20
		# saturated: as many connections as descriptors allow, the rest queued
		wait_until 10 fds_at_least "$BPID" 30
		t0=$(cpu_ticks "$BPID")
		sleep 2 # a measurement window, not a wait
		t1=$(cpu_ticks "$BPID")
		echo "# $opt: $((t1 - t0)) ticks of CPU in 2 s of saturation, $(fd_count "$BPID") descriptors" >&3
		[ $((t1 - t0)) -lt 20 ] || fail "tcp2unix $opt used $((t1 - t0)) ticks of CPU in 2 s while saturated"
		touch "$T/go"
		wait_pid "$hold" 30 || true
		assert_equal "$(cat "$T/hold")" "200 ok, 0 failed"
		wait_until 10 bridge_fds_back "$BPID" "$socks"
		check_transfer "$HOSTPORT" 1048576
		bridge_counters_are "201, active 0, refused 0, failed 0, completed 201,"
		kill -TERM "$BPID"
		expect_exit 0 "$BPID" 10
	done
}

@test "SIGTERM with 8 transfers in flight: every byte of each delivered both ways within --drain, socket file removed at once, exit 0" {
	stress_serve "$T/e.sock" echo --log "$T/echo.log"
	start_bridge -v --drain 20 "$T/front.sock" "$T/e.sock"
	local i pids=()
	for i in $(seq 8); do
		# 6 MiB at 3 MiB/s: about 2 s each
		start_bg $STRESS transfer "$T/front.sock" 6291456 --seed "$i" --rate 3145728 >"$T/c$i"
		pids+=("$BG_PID")
	done
	wait_until 10 unix_conns_are "$T/e.sock" 8
	kill -TERM "$BPID"
	wait_gone "$T/front.sock" 2
	run -1 timeout 10 usock-connect "$T/front.sock" </dev/null
	for i in $(seq 8); do
		expect_exit 0 "${pids[$((i - 1))]}" 30
	done
	expect_exit 0 "$BPID" 20
	wait_until 10 lines_are "$T/echo.log" 8
	for i in $(seq 8); do
		run cat "$T/c$i"
		assert_equal "${lines[0]#sent }" "${lines[1]#echo }"
		grep -qx "echo ${lines[0]#sent }" "$T/echo.log" || fail "the target did not get transfer $i whole"
	done
	wait_file_line "$BERR" '^tcp2unix: stopping: 8 connections to drain'
}

@test "SIGKILL leaves a stale socket file; the next start reclaims it and serves" {
	stress_serve "$T/e.sock" echo
	start_bridge "$T/k.sock" "$T/e.sock"
	check_transfer "$T/k.sock" 1048576
	kill -KILL "$BPID"
	wait_pid "$BPID" 10 || true
	[ -S "$T/k.sock" ] || fail "no socket file left after SIGKILL"
	start_bridge "$T/k.sock" "$T/e.sock"
	check_transfer "$T/k.sock" 1048576
	kill -TERM "$BPID"
	expect_exit 0 "$BPID" 10
	assert_not_exists "$T/k.sock"
}
