#!/usr/bin/env bats
# usock-connect's knobs for scripts: --linger (no half-close at input
# EOF), --crlf on pipes, and the TCP options --keepalive, --source, -4/-6.

load helpers

# A peer on $T/p.sock that sends "one", reports whether it saw our EOF
# within WAIT s (default 1.5) ("eof"/"no-eof"), then stays open STAY
# seconds and closes.  start_eof_peer STAY [WAIT]
start_eof_peer() {
	start_bg "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()
c, _ = s.accept()
c.sendall(b"one\n")
c.settimeout(float(sys.argv[3]))
got = b""
try:
    while True:
        d = c.recv(100)
        if not d:
            got += b"|eof"
            break
        got += d
except socket.timeout:
    got += b"|no-eof"
c.sendall(got + b"\n")
time.sleep(float(sys.argv[2]))
c.close()
' "$T/p.sock" "$1" "${2:-1.5}"
	wait_for_socket "$T/p.sock"
}

@test "--linger: no EOF is sent at input EOF; a peer that closes ends it at once (exit 0)" {
	start_eof_peer 0
	local t0=$SECONDS
	run -0 usock-connect --linger 20 "$T/p.sock" <<<hi
	assert_output $'one\nhi\n|no-eof'
	[ $((SECONDS - t0)) -lt 10 ]
}

@test "--linger: without it the peer sees our EOF (the default half-close)" {
	start_eof_peer 0
	run -0 usock-connect "$T/p.sock" <<<hi
	assert_output $'one\nhi\n|eof'
}

@test "--linger: a peer that stays open is left after SECONDS of silence, exit 0" {
	start_eof_peer 30 0.3
	local t0
	t0=$(date +%s%N)
	run -0 usock-connect "$T/p.sock" --linger 1.5 <<<hi
	assert_output $'one\nhi\n|no-eof'
	# 0.3 s for the peer's verdict, then 1.5 s of silence: well under 30
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 15000 ]
}

@test "--linger: redis-server's big answer arrives whole (a half-close would drop it)" {
	command -v redis-server >/dev/null || skip "redis-server not installed"
	start_bg redis-server --port 0 --unixsocket "$T/r.sock" --save '' \
		--appendonly no --dir "$T" --loglevel warning 2>/dev/null
	wait_for_socket "$T/r.sock"
	head -c 4000000 /dev/zero | tr '\0' x >"$T/val"
	redis-cli -s "$T/r.sock" -x SET big <"$T/val" >/dev/null
	run -0 run_to "$T/out" usock-connect "$T/r.sock" --linger 5 < <(printf 'GET big\r\nQUIT\r\n')
	# $4000000\r\n + value + \r\n + +OK\r\n
	assert_equal "$(stat -c %s "$T/out")" $((10 + 4000000 + 2 + 5))
	assert_equal "$(head -c 8 "$T/out")" '$4000000'
}

@test "--linger: bad values and conflicts are usage errors" {
	run -2 --separate-stderr usock-connect --linger 0 "$T/p.sock"
	assert_regex "$stderr" '^usock-connect: --linger: '
	run -2 --separate-stderr usock-connect --linger abc "$T/p.sock"
	assert_regex "$stderr" '^usock-connect: --linger: '
	run -2 --separate-stderr usock-connect -z --linger 1 "$T/p.sock"
	assert_equal "$stderr" "usock-connect: cannot use --probe with --linger"
	run -2 --separate-stderr usock-connect -i --linger 1 "$T/p.sock"
	assert_regex "$stderr" '^usock-connect: '
}
