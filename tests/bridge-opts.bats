#!/usr/bin/env bats
# tcp2unix's log and the options of its connecting side, with real
# clients and servers: the -v lines (numbers, SO_PEERCRED), --source,
# --keepalive, -4 and -6.

load helpers

BIN=${USOCK_BIN:-$BIN}

# unix_client PATH: a python client on PATH that prints its pid, sends
# "hi\n", half-closes and waits for the echo and the end.
unix_client() {
	"$PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print(os.getpid(), flush=True)
s.sendall(b"hi\n")
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(100)
    if not b:
        break
    got += b
assert got == b"hi\n", got
' "$1"
}

@test "-v: the listening address at start, each connection numbered, a UNIX client's pid and uid" {
	start_server "$T/t.sock" --mode echo --count 0
	start_bridge -v "$T/l.sock" "$T/t.sock"
	wait_file_line "$BERR" "^tcp2unix: listening on unix:$T/l\.sock, forwarding to unix:$T/t\.sock, at most [0-9]+ connections$"
	local pid1 pid2 uid
	uid=$(id -u)
	pid1=$(unix_client "$T/l.sock")
	pid2=$(unix_client "$T/l.sock")
	[ "$pid1" != "$pid2" ] || fail "one pid for both clients"
	wait_file_line "$BERR" "^tcp2unix: #2 unix: \(pid $pid2, uid $uid\) -> unix:$T/t\.sock: closed; 3 bytes up, 3 down, "
	grep -qx "tcp2unix: #1 connection from unix: (pid $pid1, uid $uid)" "$BERR" || fail "$(cat "$BERR")"
	grep -qx "tcp2unix: #2 connection from unix: (pid $pid2, uid $uid)" "$BERR" || fail "$(cat "$BERR")"
	grep -q "^tcp2unix: #1 unix: (pid $pid1, uid $uid) -> unix:$T/t\.sock: closed; 3 bytes up, 3 down, " "$BERR" ||
		fail "$(cat "$BERR")"
}

@test "-v: a TCP client's lines carry its number and address, and no credentials" {
	start_server "$T/t.sock" --mode echo --count 0
	start_bridge -v 0 "$T/t.sock"
	wait_file_line "$BERR" "^tcp2unix: listening on $BADDR, forwarding to unix:$T/t\.sock, "
	run -0 timeout 10 usock-connect "$HOSTPORT" <<<"one"
	run -0 timeout 10 usock-connect "$HOSTPORT" <<<"two"
	wait_file_line "$BERR" "^tcp2unix: #2 tcp:127\.0\.0\.1:[0-9]+ -> unix:$T/t\.sock: closed; 4 bytes up, 4 down, "
	run -0 grep -E "^tcp2unix: #1 connection from tcp:127\.0\.0\.1:[0-9]+$" "$BERR"
	run -0 grep -E "^tcp2unix: #2 connection from tcp:127\.0\.0\.1:[0-9]+$" "$BERR"
	refute grep -q "pid" "$BERR"
}
