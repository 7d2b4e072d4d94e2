#!/usr/bin/env bats
# Contract section 5: the tools composed in the shell.

load helpers

# start_bridge [usock-connect options]: usock-listen -k on a free port
# running `usock-connect OPTIONS $T/app.sock` per connection; sets PORT and
# leaves the bridge's stderr in $T/bridge.err.
start_bridge() {
	start_bg usock-listen -k --print-address 0 -- usock-connect "$@" "$T/app.sock" \
		</dev/null 2>"$T/bridge.err"
	BRIDGE_PID=$BG_PID
	local line
	line=$(wait_file_line "$T/bridge.err" '^tcp:127\.0\.0\.1:[0-9]+$')
	PORT=${line##*:}
}

@test "bridge: usock-listen -k PORT -- usock-connect app.sock, half-close + 1 MB answer after 2 s" {
	head -c 200000 /dev/urandom >"$T/request"
	head -c 1000000 /dev/urandom >"$T/answer"
	start_server "$T/app.sock" --mode answer --count 0 --delay-after-eof 2 \
		--answer-file "$T/answer" --sha-file "$T/srv.sha"
	start_bridge
	local t0 t1
	t0=$(now_ms)
	run -0 timeout 20 $CLIENT "tcp:127.0.0.1:$PORT" --send-file "$T/request" --out "$T/got"
	t1=$(now_ms)
	assert_equal "$(sha "$T/got")" "$(sha "$T/answer")"
	assert_equal "$(cat "$T/srv.sha")" "$(sha "$T/request") 200000"
	[ $((t1 - t0)) -ge 1900 ] || fail "answer after $((t1 - t0)) ms, before the backend's 2 s delay"
	pid_alive "$BRIDGE_PID" || fail "bridge exited after one connection despite -k"
}

@test "bridge: usock-connect as the client through it, twice (echo backend, 10 MB)" {
	head -c 10000000 /dev/urandom >"$T/in"
	start_server "$T/app.sock" --mode echo --count 0
	start_bridge
	run -0 run_to "$T/out1" timeout 20 usock-connect "$PORT" <"$T/in"
	assert_equal "$(sha "$T/out1")" "$(sha "$T/in")"
	run -0 timeout 20 usock-connect "tcp:127.0.0.1:$PORT" <<<"second"
	assert_output second
}

@test "bridge with a usock-listen backend (nothing but the two tools)" {
	start_bg usock-listen "$T/app.sock" -- sh -c 'cat >"$1"; sleep 1; echo done' sh "$T/backend.got"
	local backend=$BG_PID
	wait_for_socket "$T/app.sock"
	start_bridge
	run -0 timeout 20 usock-connect "$PORT" <<<"through two tools"
	assert_output done
	assert_equal "$(cat "$T/backend.got")" "through two tools"
	expect_exit 0 "$backend"
}

@test "bridge with -x: every byte shown on stderr" {
	start_server "$T/app.sock" --mode echo --count 0
	start_bridge -x
	run -0 timeout 20 $CLIENT "tcp:127.0.0.1:$PORT" --send $'hello\n'
	assert_output hello
	wait_file_line "$T/bridge.err" '^< 00000000  68 65 6c 6c 6f 0a +\|hello\.\|$' >/dev/null
	stderr=$(cat "$T/bridge.err")
	assert_stderr_line '^> 00000000  68 65 6c 6c 6f 0a +\|hello\.\|$'
}

@test "bridge: backend down, the client gets EOF and the bridge keeps serving" {
	start_bridge
	# (sends nothing: unread data at close would make the kernel reset)
	run -0 timeout 20 $CLIENT "tcp:127.0.0.1:$PORT"
	assert_output ""
	pid_alive "$BRIDGE_PID" || fail "bridge died when the backend was missing"
	grep -q 'No such file or directory' "$T/bridge.err" || fail "no error logged: $(cat "$T/bridge.err")"
	start_server "$T/app.sock" --mode echo
	run -0 timeout 20 $CLIENT "tcp:127.0.0.1:$PORT" --send up
	assert_output up
}

@test "reverse bridge: usock-listen -k front.sock -- usock-connect tcp:..., half-close" {
	local port
	port=$(free_port)
	start_server "$port" --mode answer --count 0 --delay-after-eof 1 --answer-bytes 1000000
	start_bg usock-listen -k "$T/front.sock" -- usock-connect "tcp:127.0.0.1:$port" </dev/null
	wait_for_socket "$T/front.sock"
	run -0 run_to "$T/got" timeout 20 usock-connect "$T/front.sock" <<<"go"
	assert_equal "$(stat -c %s "$T/got")" 1000000
}

@test "usock-connect -w 5 sock <<<'PING' | grep -q PONG, server starts 1 s later" {
	start_bg sh -c 'sleep 1; exec "$@"' sh $SERVER "$T/app.sock" --mode pong
	run -0 timeout 20 bash -c 'usock-connect -w 5 "$1" <<<"PING" | grep -q PONG' _ "$T/app.sock"
}

@test "the PING/PONG check fails when the answer is wrong" {
	start_server "$T/app.sock" --mode pong
	run -1 timeout 20 bash -c 'usock-connect -w 5 "$1" <<<"PANG" | grep -q PONG' _ "$T/app.sock"
}

@test "sockinfo --audit --json DIR | jq: stale sockets" {
	[ -x "$BIN/sockinfo" ] || skip "sockinfo not built yet"
	make_stale_socket "$T/stale.sock"
	run -0 timeout 20 bash -c 'sockinfo --audit --json "$1" | jq -r ".[] | select(.state == \"stale\") | .path"' _ "$T"
	assert_output "$T/stale.sock"
}
