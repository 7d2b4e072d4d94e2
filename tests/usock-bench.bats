#!/usr/bin/env bats
# usock-bench: every mode against its own --serve peer over UNIX, abstract,
# TCP/IPv4 and TCP/IPv6; --json; --compare; serve-only mode; echo
# backpressure; bad addresses, refused connections and peers that do not
# echo.  Quick runs for correctness only: no timing is asserted.

load helpers

# Quick, uncounted start: every run here is about correctness.
Q=(--warmup 0 -d 100ms)

# bench ARGS...: usock-bench with a 30 s safety net, under `run`.
bench() {
	run --separate-stderr timeout 30 usock-bench "$@"
}

# json_check MODE: $output is one JSON result object of MODE with the
# pinned keys, whose units name exactly its figures.
json_check() {
	jq -e --arg m "$1" '
		.mode == $m and (.address | type == "string") and
		(.size | type == "number") and (.connections >= 1) and
		((.figures | keys) == (.units | keys))' <<<"$output" >/dev/null ||
		fail "not a $1 result: $output"
}

# accepted_at_least PATH N: /proc/net/unix shows at least N connected
# sockets bound to PATH (connections a listener on PATH accepted).
accepted_at_least() {
	[ "$(awk -v n="$1" '$8 == n && $6 == "03" { c++ } END { print c + 0 }' \
		/proc/net/unix)" -ge "$2" ]
}

# each_address CMD: run CMD ADDRESS for a UNIX path, an abstract name,
# 127.0.0.1:0 and [::1]:0.
each_address() {
	local a
	for a in "unix:$T/b.sock" "@$(abstract_name)" "tcp:127.0.0.1:0" "tcp:[::1]:0"; do
		"$1" "$a"
	done
}

mode_throughput() {
	bench --json --serve sink "$1" throughput "${Q[@]}" -P 2
	assert_success
	json_check throughput
	jq -e '.figures.bytes > 0 and .figures.bytes_per_second > 0 and
		.connections == 2 and .size == 131072' <<<"$output"
}

mode_latency() {
	bench --json --serve echo "$1" latency "${Q[@]}" -s 100
	assert_success
	json_check latency
	jq -e '.figures as $f | $f.round_trips > 0 and $f.min > 0 and
		$f.min <= $f.p50 and $f.p50 <= $f.p90 and $f.p90 <= $f.p99 and
		$f.p99 <= $f.max and .size == 100 and .units.p50 == "us"' <<<"$output"
}

mode_connect_rate() {
	bench --json --serve echo "$1" connect-rate "${Q[@]}" -P 3
	assert_success
	json_check connect-rate
	jq -e '.figures.connections > 0 and .figures.connections_per_second > 0 and
		.connections == 3' <<<"$output"
}

mode_hold() {
	bench --json --serve echo "$1" hold 20 -d 100ms
	assert_success
	json_check hold
	jq -e '.figures.connections == 20 and .figures.checks == 40' <<<"$output"
}

@test "throughput against its own sink: UNIX, abstract, TCP/IPv4, TCP/IPv6" {
	each_address mode_throughput
}

@test "latency against its own echo: UNIX, abstract, TCP/IPv4, TCP/IPv6" {
	each_address mode_latency
}

@test "connect-rate against its own echo: UNIX, abstract, TCP/IPv4, TCP/IPv6" {
	each_address mode_connect_rate
}

@test "hold against its own echo: UNIX, abstract, TCP/IPv4, TCP/IPv6" {
	each_address mode_hold
}

@test "human output: a table with the address, and nothing on stderr" {
	bench --serve echo "unix:$T/b.sock" latency "${Q[@]}"
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 --regexp '^ADDRESS +CONNS +SIZE +ROUND TRIPS +RATE +MIN +P50 +P90 +P99 +MAX$'
	assert_line --index 1 --regexp "^unix:$T/b.sock +1 +64 B +[0-9]+ "
	assert_not_exists "$T/b.sock"
}

@test "--count: exactly N bytes, round trips, connections" {
	bench --json --serve sink "unix:$T/b.sock" throughput -n 3M --warmup 0
	assert_success
	jq -e '.figures.bytes == 3145728' <<<"$output"
	bench --json --serve echo "unix:$T/b.sock" latency -n 250 -P 4 --warmup 0
	assert_success
	jq -e '.figures.round_trips == 250' <<<"$output"
	bench --json --serve echo "tcp:127.0.0.1:0" connect-rate -n 40 -P 3 --warmup 0
	assert_success
	jq -e '.figures.connections == 40' <<<"$output"
}

@test "messages larger than the socket buffers echo intact (latency -s 1M)" {
	bench --json --serve echo "unix:$T/b.sock" latency -s 1M -n 5 --warmup 0
	assert_success
	jq -e '.figures.round_trips == 5 and .size == 1048576' <<<"$output"
	bench --json --serve echo "tcp:127.0.0.1:0" latency -s 1M -n 5 --warmup 0
	assert_success
}

@test "--compare: UNIX and loopback TCP, then the ratio (JSON and table)" {
	bench --json --compare latency "${Q[@]}"
	assert_success
	assert_equal "$(wc -l <<<"$output")" 3
	run -0 jq -s -e 'length == 3 and .[0].mode == "latency" and
		(.[0].address | startswith("unix:")) and
		(.[1].address | startswith("tcp:127.0.0.1:")) and
		.[2].mode == "compare" and .[2].workload == "latency" and
		.[2].basis == "p50" and .[2].figures.ratio > 0 and
		.[2].versus == .[1].address' <<<"$output"
	bench --compare throughput "${Q[@]}"
	assert_success
	assert_line --regexp '^(unix:|tcp:).* is [0-9.]+x faster than .* \(bytes per second\)$'
}

@test "--compare with two existing endpoints" {
	start_bg usock-bench --serve echo "unix:$T/a.sock"
	start_bg usock-bench --serve echo "@$(abstract_name)x" --print-address 2>"$T/addr"
	wait_for_socket "$T/a.sock"
	local ab
	ab=$(wait_file_line "$T/addr" '^@')
	bench --json --compare "unix:$T/a.sock" "$ab" connect-rate "${Q[@]}"
	assert_success
	run -0 jq -s -e --arg b "$ab" '.[2].versus == $b and .[2].basis == "rate"' <<<"$output"
}

@test "serve-only: --serve echo|sink with no MODE serves until SIGTERM, removes its socket" {
	start_bg usock-bench --serve echo --print-address "127.0.0.1:0" 2>"$T/addr"
	local pid=$BG_PID addr
	addr=$(wait_file_line "$T/addr" '^tcp:127\.0\.0\.1:[0-9]+$')
	run -0 timeout 10 usock-connect "$addr" <<<"hello"
	assert_output hello
	bench --json "$addr" latency -n 10 --warmup 0
	assert_success
	kill -TERM "$pid"
	expect_exit 0 "$pid"

	start_bg usock-bench --serve sink "unix:$T/s.sock"
	pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 10 bash -c "head -c 5000000 /dev/urandom | usock-connect '$T/s.sock'"
	assert_output ""
	kill -TERM "$pid"
	expect_exit 0 "$pid"
	assert_not_exists "$T/s.sock"
}

@test "echo server: a client that sends and does not read is not read from (bounded buffer)" {
	start_bg usock-bench --serve echo "unix:$T/e.sock"
	wait_for_socket "$T/e.sock"
	run -0 timeout 20 "$PY" - "$T/e.sock" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.setblocking(False)
sent, blk = 0, b"z" * 65536
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:      # send until nothing more is taken
    try:
        sent += s.send(blk)
        deadline = time.monotonic() + 0.3
    except BlockingIOError:
        time.sleep(0.01)
s.setblocking(True)
s.shutdown(socket.SHUT_WR)
got = 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    got += len(b)
print(sent, got)
EOF
	local sent=${output% *} got=${output#* }
	# the socket buffers both ways plus one server buffer: a few MB, not all
	[ "$sent" -lt 16000000 ] || fail "the server kept reading: $sent bytes taken"
	assert_equal "$got" "$sent"
}

@test "hold 1000: every connection open at once, checked twice (fd limit raised)" {
	start_bg bash -c "ulimit -n 4096 && exec usock-bench --json --serve echo 'unix:$T/h.sock' hold 1000 -d 1.5" >"$T/out"
	local pid=$BG_PID
	wait_for_socket "$T/h.sock"
	wait_until 20 accepted_at_least "$T/h.sock" 1000
	expect_exit 0 "$pid" 30
	run -0 jq -e '.mode == "hold" and .figures.connections == 1000 and
		.figures.checks == 2000 and .figures.held_seconds >= 1' "$T/out"
}

@test "bad addresses and usage errors: exit 2, one PROG: line" {
	bench x latency
	assert_failure 2
	assert_equal "$stderr" "usock-bench: address 'x': not an address (use HOST:PORT, PORT, unix:PATH, ./PATH or @NAME)"
	bench "tcp:127.0.0.1:70000" latency
	assert_failure 2
	assert_regex "$stderr" "^usock-bench: address 'tcp:127.0.0.1:70000': "
	bench "unix:$T/x.sock"
	assert_failure 2
	assert_regex "$stderr" '^usock-bench: missing MODE'
	bench "unix:$T/x.sock" hold
	assert_failure 2
	bench "unix:$T/x.sock" hold 5 -P 2
	assert_failure 2
	assert_regex "$stderr" 'parallel'
	bench --serve sink "unix:$T/x.sock" latency
	assert_failure 2
	assert_regex "$stderr" 'echo'
	bench --serve tea "unix:$T/x.sock"
	assert_failure 2
	bench "unix:$T/x.sock" latency -s 0
	assert_failure 2
	assert_regex "$stderr" '^usock-bench: --size: 0 is out of range'
	bench "unix:$T/x.sock" throughput -n 12Q
	assert_failure 2
	assert_regex "$stderr" '^usock-bench: --count: '
	bench "unix:$T/x.sock" latency dance
	assert_failure 2
	bench --compare "unix:$T/x.sock" latency
	assert_failure 2
	assert_not_exists "$T/x.sock"
}

@test "datagram and seqpacket addresses are refused: a stream has no message boundaries" {
	bench "unix-dgram:$T/d.sock" latency
	assert_failure 2
	assert_equal "$stderr" "usock-bench: address 'unix-dgram:$T/d.sock': usock-bench measures byte streams only; a datagram socket keeps message boundaries that a stream does not have (use usock-connect or usock-listen for it)"
	bench --serve echo "unix-seqpacket:$T/q"$'\e'"x.sock" latency
	assert_failure 2
	assert_regex "$stderr" "^usock-bench: address 'unix-seqpacket:$T/q\\\\x1bx.sock': usock-bench measures byte streams only; a seqpacket socket "
	assert_not_exists "$T/d.sock"
}

@test "descriptor limit: a soft limit below the need is raised; a hard limit below it is reported" {
	# soft 128, hard as it is: 200 connections need the raise, on both
	# the measuring side and its --serve peer
	[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 1024 ] ||
		skip "hard descriptor limit below 1024"
	run --separate-stderr timeout 30 bash -c "ulimit -Sn 128 && exec usock-bench --json --warmup 0 --serve echo 'unix:$T/h.sock' hold 200 -d 100ms"
	assert_success
	run -0 jq -e '.figures.connections == 200' <<<"$output"
	refute_regex "$stderr" 'descriptors'
	# hard 64: said once, then the run fails on its own error
	run --separate-stderr timeout 30 bash -c "ulimit -n 64 && exec usock-bench 'unix:$T/none.sock' hold 100"
	assert_failure 1
	assert_equal "${stderr%%$'\n'*}" "usock-bench: 100 connections need about 132 descriptors; the hard limit is 64"
	assert_equal "$(grep -c descriptors <<<"$stderr")" 1
}

@test "refused or missing endpoints: exit 1 with the reason, --wait gives 124" {
	bench "unix:$T/none.sock" latency
	assert_failure 1
	assert_equal "$stderr" "usock-bench: latency unix:$T/none.sock: connect: No such file or directory"
	make_stale_socket "$T/stale.sock"
	bench "unix:$T/stale.sock" throughput
	assert_failure 1
	assert_regex "$stderr" 'connect: Connection refused$'
	bench "tcp:127.0.0.1:$(free_port)" connect-rate
	assert_failure 1
	assert_regex "$stderr" 'connect: Connection refused$'
	bench -w 300ms "unix:$T/none.sock" hold 3
	assert_failure 124
	assert_regex "$stderr" 'not reachable within 0.3 s \(--wait\)$'
}

@test "a peer that answers wrong bytes, or closes without echoing: exit 1" {
	# answers each message with as many wrong bytes
	start_bg "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(bytes(x ^ 1 for x in c.recv(65536)))
    c.close()
' "$T/liar.sock"
	wait_for_socket "$T/liar.sock"
	bench "unix:$T/liar.sock" latency "${Q[@]}"
	assert_failure 1
	assert_regex "$stderr" '^usock-bench: latency unix:.*: read the echo: the echo differs from what was sent$'
	start_server "$T/sink.sock" --mode sink --count 0
	bench "unix:$T/sink.sock" connect-rate "${Q[@]}"
	assert_failure 1
	assert_regex "$stderr" 'the peer closed the connection before echoing all it was sent$'
	bench "unix:$T/sink.sock" hold 5
	assert_failure 1
}

@test "an echo that sends more than it was sent fails every mode, even on the last message" {
	# echoes each read, then junk, then the echo again
	start_bg "$PY" -c '
import socket, sys, threading
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(64)
def serve(c):
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d + b"JUNK" + d)
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$T/dup.sock"
	wait_for_socket "$T/dup.sock"
	local m
	for m in "connect-rate -n 1 -s 16" "latency -n 1" "latency -n 2" "hold 1 -d 100ms"; do
		# shellcheck disable=SC2086 # the mode and its arguments
		bench --warmup 0 "unix:$T/dup.sock" $m
		assert_failure 1
		assert_regex "$stderr" 'the peer sent more than it was sent|the echo differs from what was sent|the peer sent bytes nobody asked for'
	done
}

@test "--request: connect-rate sends a request and reads the answer until close" {
	start_server "$T/pong.sock" --mode pong --count 0
	printf 'PING\n' >"$T/req"
	bench --json --request "$T/req" "unix:$T/pong.sock" connect-rate -n 30 -P 3 --warmup 0
	assert_success
	jq -e '.figures.connections == 30 and .size == 5' <<<"$output"
	bench --request "$T/req" "unix:$T/pong.sock" latency
	assert_failure 2
	bench --request "$T/nothing-here" "unix:$T/pong.sock" connect-rate
	assert_failure 2
	# a server that closes without answering
	start_server "$T/sink.sock" --mode sink --count 0
	bench --request "$T/req" "unix:$T/sink.sock" connect-rate -n 3
	assert_failure 1
	assert_regex "$stderr" 'closed the connection without answering$'
}

@test "a peer that reads and never answers: no hang; --timeout gives 124" {
	start_server "$T/idle.sock" --mode idle --count 0
	bench -t 1 "unix:$T/idle.sock" latency
	assert_failure 124
	assert_regex "$stderr" 'wait for the echo: nothing happened for 1 s \(--timeout\)$'
	# throughput: the peer takes the data but never closes after EOF
	bench -t 1 "unix:$T/idle.sock" throughput -n 1M
	assert_failure 124
	assert_regex "$stderr" 'wait for the peer to close: nothing happened'
}

@test "SIGTERM during a run: its server stops and its socket file goes" {
	start_bg usock-bench --serve echo "unix:$T/i.sock" latency -d 60
	local pid=$BG_PID
	wait_for_socket "$T/i.sock"
	wait_until 10 accepted_at_least "$T/i.sock" 1
	local server
	server=$(ps -o pid= --ppid "$pid" | tr -d ' ')
	[ -n "$server" ] || fail "no server process under $pid"
	kill -TERM "$pid"
	expect_exit 143 "$pid"
	assert_not_exists "$T/i.sock"
	wait_until 5 bash -c "! kill -0 $server 2>/dev/null"
}
