#!/usr/bin/env bats
# usock-connect: relaying, half-close, address forms, errors, -w/-z/-t/-x.

load helpers

setup_file() {
	# 100 MB of random bytes, with a run of NULs at the front to be sure.
	BIG=$BATS_FILE_TMPDIR/big
	{ head -c 4096 /dev/zero; head -c 99995904 /dev/urandom; } >"$BIG"
	export BIG
}

# echo_roundtrip FILE: send FILE through usock-connect to an echo server on
# a UNIX socket, check the echo and what the server received.
echo_roundtrip() {
	start_server "$T/s.sock" --mode echo --sha-file "$T/srv.sha"
	run -0 run_to "$T/out" timeout 60 usock-connect "$T/s.sock" <"$1"
	assert_equal "$(stat -c %s "$T/out")" "$(stat -c %s "$1")"
	assert_equal "$(sha "$T/out")" "$(sha "$1")"
	wait_for_file "$T/srv.sha"
	assert_equal "$(cat "$T/srv.sha")" "$(sha "$1") $(stat -c %s "$1")"
}

@test "empty input: exit 0, nothing sent, nothing received" {
	start_server "$T/s.sock" --mode echo --sha-file "$T/srv.sha"
	run -0 timeout 20 usock-connect "$T/s.sock" </dev/null
	assert_output ""
	wait_for_file "$T/srv.sha"
	assert_equal "$(cut -d' ' -f2 "$T/srv.sha")" 0
}

@test "one byte" {
	printf 'A' >"$T/in"
	echo_roundtrip "$T/in"
	assert_equal "$(cat "$T/out")" A
}

@test "exactly one buffer (65536 bytes)" {
	head -c 65536 /dev/urandom >"$T/in"
	echo_roundtrip "$T/in"
}

@test "one byte more than a buffer (65537 bytes)" {
	head -c 65537 /dev/urandom >"$T/in"
	echo_roundtrip "$T/in"
}

@test "100 MB of binary data with NUL bytes, both directions (echo)" {
	echo_roundtrip "$BIG"
}

@test "binary data over TCP (8 MB echo)" {
	head -c 8000000 "$BIG" >"$T/in"
	start_server 0 --mode echo --port-file "$T/port"
	wait_for_file "$T/port"
	run -0 run_to "$T/out" timeout 20 usock-connect "tcp:127.0.0.1:$(cat "$T/port")" <"$T/in"
	assert_equal "$(sha "$T/out")" "$(sha "$T/in")"
}

@test "half-close: server reads to EOF, waits 2 s, answers 1 MB; all of it arrives" {
	head -c 1000000 /dev/urandom >"$T/answer"
	head -c 300000 /dev/urandom >"$T/in"
	start_server "$T/s.sock" --mode answer --delay-after-eof 2 --answer-file "$T/answer" --sha-file "$T/srv.sha"
	local t0 t1
	t0=$(now_ms)
	run -0 run_to "$T/out" timeout 20 usock-connect "$T/s.sock" <"$T/in"
	t1=$(now_ms)
	assert_equal "$(sha "$T/out")" "$(sha "$T/answer")"
	assert_equal "$(cat "$T/srv.sha")" "$(sha "$T/in") 300000"
	[ $((t1 - t0)) -ge 1900 ] || fail "answer came back after $((t1 - t0)) ms, before the server's 2 s delay"
}

@test "half-close over TCP: 1 MB answer after a 2 s delay" {
	local port
	port=$(free_port)
	start_server "$port" --mode answer --delay-after-eof 2 --answer-bytes 1000000
	run -0 run_to "$T/out" timeout 20 usock-connect "$port" <<<"request"
	assert_equal "$(stat -c %s "$T/out")" 1000000
	"$PY" -c 'import sys; p = bytes(range(256)) * 4096; sys.stdout.buffer.write(p[:1000000])' >"$T/expect"
	assert_equal "$(sha "$T/out")" "$(sha "$T/expect")"
}

@test "peer EOF first: stdin keeps flowing to the socket until stdin EOF" {
	head -c 3000000 /dev/urandom >"$T/in"
	start_server "$T/s.sock" --mode sink --sha-file "$T/srv.sha"
	run -0 timeout 20 usock-connect "$T/s.sock" <"$T/in"
	assert_output ""
	wait_for_file "$T/srv.sha"
	assert_equal "$(cat "$T/srv.sha")" "$(sha "$T/in") 3000000"
}

@test "unix:PATH and ./relative path forms" {
	start_server "$T/s.sock" --mode echo --count 2
	run -0 timeout 20 usock-connect "unix:$T/s.sock" <<<"one"
	assert_output one
	cd "$T"
	run -0 timeout 20 usock-connect ./s.sock <<<"two"
	assert_output two
}

@test "abstract names: @NAME and abstract:NAME" {
	local name
	name=$(abstract_name)
	start_server "@$name" --mode echo --count 2
	run -0 timeout 20 usock-connect "@$name" <<<"hello abstract"
	assert_output "hello abstract"
	run -0 timeout 20 usock-connect "abstract:$name" <<<"again"
	assert_output "again"
}

@test "abstract name that nobody listens on: exit 1, Connection refused" {
	run -1 --separate-stderr timeout 20 usock-connect "@$(abstract_name)-none" </dev/null
	assert_regex "$stderr" '^usock-connect: .*Connection refused'
}

@test "IPv6 loopback: tcp:[::1]:PORT and tcp6:" {
	start_server "[::1]:0" --mode echo --count 2 --port-file "$T/port"
	wait_for_file "$T/port"
	local port
	port=$(cat "$T/port")
	run -0 timeout 20 usock-connect "tcp:[::1]:$port" <<<"six"
	assert_output six
	run -0 timeout 20 usock-connect "tcp6:[::1]:$port" <<<"six again"
	assert_output "six again"
}

@test "TCP forms: tcp:HOST:PORT, HOST:PORT, tcp4:, :PORT and bare PORT" {
	start_server "127.0.0.1:0" --mode echo --count 5 --port-file "$T/port"
	wait_for_file "$T/port"
	local port a
	port=$(cat "$T/port")
	for a in "tcp:127.0.0.1:$port" "localhost:$port" "tcp4:127.0.0.1:$port" ":$port" "$port"; do
		run -0 timeout 20 usock-connect "$a" <<<"via $a"
		assert_output "via $a"
	done
}

@test "long UNIX path (~200 bytes in nested dirs) works" {
	local d="$T" i
	for i in 1 2 3 4; do d="$d/$(printf 'd%.0s' {1..40})$i"; done
	mkdir -p "$d"
	local p="$d/app.sock"
	[ "${#p}" -gt 180 ] || fail "path only ${#p} bytes"
	start_bg $SERVER "$p" --mode echo --ready-file "$T/ready"
	wait_for_file "$T/ready"
	run -0 timeout 20 usock-connect "$p" <<<"deep"
	assert_output deep
}

@test "final path component over 82 bytes in a path over 107: exit 2, message names 107" {
	local d name
	d="$T/$(printf 'd%.0s' {1..30})"
	mkdir "$d"
	name=$(printf 'n%.0s' {1..90})
	[ "${#d}" -gt 17 ] && [ $((${#d} + 91)) -gt 107 ] || fail "path too short"
	run -2 --separate-stderr timeout 20 usock-connect "$d/$name" </dev/null
	assert_regex "$stderr" '^usock-connect: .*107'
	assert_equal "$(echo "$stderr" | wc -l)" 1
	# a component that could never fit in sun_path at all
	name=$(printf 'n%.0s' {1..120})
	run -2 --separate-stderr timeout 20 usock-connect "$T/$name" </dev/null
	assert_regex "$stderr" '^usock-connect: .*107'
}

@test "missing path: exit 1, No such file or directory" {
	run -1 --separate-stderr timeout 20 usock-connect "$T/missing.sock" </dev/null
	assert_output ""
	assert_regex "$stderr" "^usock-connect: .*$T/missing.sock.*: No such file or directory\$"
}

@test "connection refused on TCP: exit 1" {
	local port
	port=$(free_port)
	run -1 --separate-stderr timeout 20 usock-connect "tcp:127.0.0.1:$port" </dev/null
	assert_regex "$stderr" '^usock-connect: .*Connection refused'
}

@test "stale socket: exit 1, Connection refused" {
	make_stale_socket "$T/stale.sock"
	run -1 --separate-stderr timeout 20 usock-connect "$T/stale.sock" </dev/null
	assert_regex "$stderr" '^usock-connect: .*Connection refused'
}

@test "not a socket (regular file): exit 1" {
	echo data >"$T/file"
	run -1 --separate-stderr timeout 20 usock-connect "$T/file" </dev/null
	assert_regex "$stderr" '^usock-connect: '
	assert_equal "$(cat "$T/file")" data
}

@test "permission denied as an unprivileged user: exit 1" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	for_others
	chmod 0711 "$T"
	start_server "$T/s.sock" --mode echo --mode-after-bind 0600
	run -1 --separate-stderr timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$UBIN/usock-connect" "$T/s.sock" </dev/null
	assert_regex "$stderr" '^usock-connect: .*Permission denied'
}

@test "--wait: succeeds for a UNIX server that starts 1 s later" {
	start_bg sh -c 'sleep 1; exec "$@"' sh $SERVER "$T/s.sock" --mode pong
	run -0 timeout 20 usock-connect --wait 5 "$T/s.sock" <<<"PING"
	assert_output PONG
}

@test "-w: succeeds for a TCP server that starts 1 s later (refused meanwhile)" {
	local port
	port=$(free_port)
	start_bg sh -c 'sleep 1; exec "$@"' sh $SERVER "$port" --mode pong
	run -0 timeout 20 usock-connect -w 5 "tcp:127.0.0.1:$port" <<<"PING"
	assert_output PONG
}

@test "-w 1 with no server: exit 124 after about 1 s" {
	local t0 t1
	t0=$(now_ms)
	run -124 timeout 20 usock-connect -w 1 "$T/none.sock" </dev/null
	t1=$(now_ms)
	[ $((t1 - t0)) -ge 900 ] || fail "gave up after $((t1 - t0)) ms"
	[ $((t1 - t0)) -lt 5000 ] || fail "took $((t1 - t0)) ms"
}

@test "-w 1 on a refusing TCP port: exit 124" {
	run -124 timeout 20 usock-connect -w 1 "tcp:127.0.0.1:$(free_port)" </dev/null
}

@test "-w accepts durations: 300ms" {
	local t0 t1
	t0=$(now_ms)
	run -124 timeout 20 usock-connect -w 300ms "$T/none.sock" </dev/null
	t1=$(now_ms)
	[ $((t1 - t0)) -ge 250 ] && [ $((t1 - t0)) -lt 3000 ] || fail "took $((t1 - t0)) ms"
}

@test "-w does not retry on errors other than missing/refused (permission denied)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	for_others
	chmod 0711 "$T"
	start_server "$T/s.sock" --mode echo --mode-after-bind 0600
	local t0 t1
	t0=$(now_ms)
	run -1 timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$UBIN/usock-connect" -w 5 "$T/s.sock" </dev/null
	t1=$(now_ms)
	[ $((t1 - t0)) -lt 3000 ] || fail "kept retrying for $((t1 - t0)) ms"
}

@test "-z: exit 0 on a live listener, without sending anything" {
	start_server "$T/s.sock" --mode sink --sha-file "$T/srv.sha"
	run -0 timeout 20 usock-connect -z "$T/s.sock"
	assert_output ""
	wait_for_file "$T/srv.sha"
	assert_equal "$(cut -d' ' -f2 "$T/srv.sha")" 0
}

@test "-z: exit 1 on a missing path and on a stale socket" {
	run -1 timeout 20 usock-connect -z "$T/none.sock"
	make_stale_socket "$T/stale.sock"
	run -1 timeout 20 usock-connect --probe "$T/stale.sock"
}

@test "-z on TCP: 0 when listening, 1 when refused" {
	local port
	port=$(free_port)
	run -1 timeout 20 usock-connect -z "$port"
	start_server "$port" --mode sink
	run -0 timeout 20 usock-connect -z "$port"
}

@test "-z -w: waits for a listener that starts later" {
	start_bg sh -c 'sleep 1; exec "$@"' sh $SERVER "$T/s.sock" --mode sink
	run -0 timeout 20 usock-connect -z -w 5 "$T/s.sock"
}

@test "-t: exits 124 after the given idle time with an idle peer" {
	start_server "$T/s.sock" --mode idle
	mkfifo "$T/fifo"
	local t0 t1
	t0=$(now_ms)
	# stdin: a FIFO opened read-write never reaches EOF and never has data
	run -124 timeout 20 usock-connect -t 1 "$T/s.sock" <>"$T/fifo"
	t1=$(now_ms)
	[ $((t1 - t0)) -ge 900 ] || fail "timed out after $((t1 - t0)) ms"
	[ $((t1 - t0)) -lt 5000 ] || fail "took $((t1 - t0)) ms"
}

@test "-t: idle after stdin EOF (peer silent) still times out with 124" {
	start_server "$T/s.sock" --mode idle
	run -124 timeout 20 usock-connect --timeout 500ms "$T/s.sock" </dev/null
}

@test "-t: traffic keeps the connection alive past the timeout" {
	# 6 bytes 0.3 s apart: 1.8 s in all, never 1 s without traffic
	start_server "$T/s.sock" --mode drip --drip 6 --drip-interval 0.3
	run -0 timeout 20 usock-connect -t 1 "$T/s.sock" </dev/null
	assert_output "012345"
}

@test "-x: hexdump of both directions on stderr, stdout unchanged" {
	start_server "$T/s.sock" --mode echo
	run -0 --separate-stderr timeout 20 usock-connect -x "$T/s.sock" <<<"hello"
	assert_output hello
	assert_stderr_line "^> #1 [0-9/]+ [0-9:.]+ length=6 from=0 to=5 peer=unix:$T/s.sock\$"
	assert_stderr_line '^> 00000000  68 65 6c 6c 6f 0a +\|hello\.\|$'
	assert_stderr_line '^< 00000000  68 65 6c 6c 6f 0a +\|hello\.\|$'
}

@test "--hexdump: offsets continue past 16 bytes" {
	start_server "$T/s.sock" --mode sink
	run -0 --separate-stderr timeout 20 usock-connect --hexdump "$T/s.sock" <<<"0123456789abcdefXYZ"
	assert_stderr_line '^> 00000000  30 31 32 33 34 35 36 37 +38 39 61 62 63 64 65 66 +\|0123456789abcdef\|$'
	assert_stderr_line '^> 00000010  58 59 5a 0a +\|XYZ\.\|$'
	refute_stderr_line '^< [0-9a-f]{8}'
}

@test "SIGPIPE: usock-connect | head -c 1 does not die by signal" {
	start_server "$T/s.sock" --mode flood
	run -0 --separate-stderr timeout 20 bash -c 'usock-connect "$1" </dev/null | head -c 1 >/dev/null; echo "status=${PIPESTATUS[0]}"' _ "$T/s.sock"
	refute_output "status=141"
	refute_output "status=124"
	assert_output --regexp '^status=(0|1)$'
}

@test "SIGTERM ends usock-connect with status 143" {
	start_server "$T/s.sock" --mode idle
	mkfifo "$T/fifo"
	start_bg usock-connect "$T/s.sock" <>"$T/fifo"
	local pid=$BG_PID
	wait_until 10 connected_on "$T/s.sock"
	kill -TERM "$pid"
	expect_exit 143 "$pid"
}

@test "SIGINT ends usock-connect with status 130" {
	start_server "$T/s.sock" --mode idle
	mkfifo "$T/fifo"
	start_bg with_sigint usock-connect "$T/s.sock" <>"$T/fifo"
	local pid=$BG_PID
	wait_until 10 connected_on "$T/s.sock"
	kill -INT "$pid"
	expect_exit 130 "$pid"
}

@test "peer reset: exit 1" {
	# the server closes with SO_LINGER 0: the kernel sends a reset
	"$PY" - "$T/port" >"$T/srv.log" 2>&1 3>&- <<-'EOF' &
	import os, socket, sys, time
	s = socket.socket(socket.AF_INET)
	s.bind(("127.0.0.1", 0)); s.listen(1)
	open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
	os.rename(sys.argv[1] + ".tmp", sys.argv[1])
	c, _ = s.accept()
	time.sleep(0.5)
	c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
	c.close()
	EOF
	BG_PIDS+=($!)
	wait_for_file "$T/port"
	mkfifo "$T/fifo"
	run -1 --separate-stderr timeout 20 usock-connect "tcp:127.0.0.1:$(cat "$T/port")" <>"$T/fifo"
	assert_regex "$stderr" '^usock-connect: .*reset'
}
