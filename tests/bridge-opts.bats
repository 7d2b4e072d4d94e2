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

# peername ADDRESS: tests/lib/peername.py on ADDRESS, which answers each
# client with the name it sees for it; sets PORT for a TCP port 0.
peername() {
	start_bg "$PY" "$LIB/peername.py" "$1" --ready "$T/pn.ready"
	wait_for_file "$T/pn.ready"
	PORT=$(cat "$T/pn.ready")
	rm -f "$T/pn.ready"
}

@test "--source: TCP target connections leave from the address given" {
	peername 127.0.0.1:0
	start_bridge --source 127.0.0.6 "$T/l.sock" "127.0.0.1:$PORT"
	run -0 timeout 10 usock-connect "$T/l.sock" </dev/null
	assert_output --regexp '^127\.0\.0\.6 [0-9]+$'
	run -0 timeout 10 usock-connect "$T/l.sock" </dev/null
	assert_output --regexp '^127\.0\.0\.6 [0-9]+$'
}

@test "--source: a UNIX target sees each connection from the path given, none left behind; a file in the way resets the client" {
	peername "$T/srv.sock"
	start_bridge -v --connect-timeout 0.3 --source "$T/me.sock" 0 "$T/srv.sock"
	run -0 timeout 10 usock-connect "$HOSTPORT" </dev/null
	assert_output "$T/me.sock"
	run -0 timeout 10 usock-connect "$HOSTPORT" </dev/null
	assert_output "$T/me.sock"
	assert_not_exists "$T/me.sock"
	echo precious >"$T/me.sock"
	# (a client that stays: one that sends EOF at once has left)
	run -1 --separate-stderr timeout 10 usock-connect "$HOSTPORT" < <(sleep 5)
	assert_regex "$stderr" "reset"
	wait_file_line "$BERR" "^tcp2unix: #3 tcp:127\.0\.0\.1:[0-9]+ -> unix:$T/srv\.sock: source address failed \(Address already in use\); 0 bytes up, 0 down"
	assert_equal "$(cat "$T/me.sock")" precious
	run -0 grep -c "source address failed" "$BERR"
	assert_output 1
}

@test "--source @NAME and an address not of this host: the first is seen, the second logged per connection" {
	peername "$T/srv.sock"
	local n
	n=$(abstract_name)
	start_bridge --source "@$n" 0 "$T/srv.sock"
	run -0 timeout 10 usock-connect "$HOSTPORT" </dev/null
	assert_output "@$n"
	peername 127.0.0.1:0
	start_bridge --source 192.0.2.1 "$T/l2.sock" "127.0.0.1:$PORT"
	run timeout 10 usock-connect "$T/l2.sock" </dev/null
	assert_output ""
	wait_file_line "$BERR" "^tcp2unix: #1 unix: \(pid [0-9]+, uid [0-9]+\) -> tcp:127\.0\.0\.1:$PORT: source address failed \(Cannot assign requested address\); 0 bytes up, 0 down"
	pid_alive "$BPID" || fail "the bridge stopped"
}

@test "--source IP:PORT: a second connection while the first holds the port fails at once, logged as source address failed" {
	start_server 127.0.0.1:0 --mode echo --count 2 --port-file "$T/port"
	local tp sp
	tp=$(cat "$T/port")
	sp=$(free_port)
	start_bridge --source "127.0.0.1:$sp" "$T/l.sock" "127.0.0.1:$tp"
	# the first stays open (its stdin does), holding the port
	start_bg bash -c '{ echo hi; sleep 20; } | exec usock-connect "$1" >"$2"' _ "$T/l.sock" "$T/first"
	wait_file_line "$T/first" '^hi$'
	run -1 --separate-stderr timeout 10 usock-connect "$T/l.sock" < <(echo again; sleep 5)
	assert_output ""
	wait_file_line "$BERR" "^tcp2unix: #2 unix: \(pid [0-9]+, uid [0-9]+\) -> tcp:127\.0\.0\.1:$tp: source address failed \(Cannot assign requested address\); 0 bytes up, 0 down"
	run -1 grep -E 'target refused|target busy' "$BERR"
	pid_alive "$BPID" || fail "the bridge stopped"
}

@test "--keepalive: both TCP legs keep a keepalive timer with the idle time given (ss)" {
	command -v ss >/dev/null || skip "ss not installed"
	local tp
	tp=$(free_port)
	start_bg usock-listen -k "127.0.0.1:$tp" -- sleep 30
	wait_for_port "$tp"
	start_bridge --keepalive=50 0 "127.0.0.1:$tp"
	local bp=${HOSTPORT##*:}
	start_bg usock-connect "$HOSTPORT" < <(sleep 30)
	# the accepted client socket (source port = the bridge's) and the
	# socket to the target (destination port = the target's)
	wait_until 10 _keepalive_on "sport = :$bp"
	wait_until 10 _keepalive_on "dport = :$tp"
	run -0 ss -tnoH state established "( sport = :$bp or dport = :$tp )"
	assert_line --regexp 'timer:\(keepalive,(4[0-9]|50)sec'
	[ "$(grep -c 'timer:(keepalive' <<<"$output")" -eq 2 ] || fail "$output"
}

_keepalive_on() {
	ss -tnoH state established "$1" | grep -q 'timer:(keepalive'
}

@test "-4 and -6: the TCP addresses of the bridge take that family; conflicts and no TCP address are exit 2" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6"
	peername "$T/srv.sock"
	start_bridge -6 0 "$T/srv.sock"
	assert_regex "$BADDR" '^tcp:\[::1\]:[0-9]+$'
	local tp
	tp=$(free_port)
	start_bg usock-listen -k "*:$tp" -- sh -c 'echo "$USOCK_PEER"'
	wait_for_port "$tp"
	start_bridge -4 "$T/l4.sock" "localhost:$tp"
	run -0 timeout 10 usock-connect "$T/l4.sock" </dev/null
	assert_output --regexp '^tcp:127\.0\.0\.1:[0-9]+$'
	start_bridge "$T/l6.sock" "localhost:$tp" -6
	run -0 timeout 10 usock-connect "$T/l6.sock" </dev/null
	assert_output --regexp '^tcp:\[::1\]:[0-9]+$'
	run -2 --separate-stderr tcp2unix -4 0 "tcp6:[::1]:$tp"
	assert_equal "$stderr" "tcp2unix: cannot use -4 with 'tcp6:[::1]:$tp'"
	run -2 --separate-stderr tcp2unix -6 "$T/a.sock" "$T/b.sock"
	assert_equal "$stderr" "tcp2unix: -6: only for TCP addresses, and neither '$T/a.sock' nor '$T/b.sock' is one"
	run -2 --separate-stderr tcp2unix --keepalive "$T/a.sock" "$T/b.sock"
	assert_equal "$stderr" "tcp2unix: --keepalive: only for TCP addresses, and neither '$T/a.sock' nor '$T/b.sock' is one"
	run -2 --separate-stderr tcp2unix --source "$T/me.sock" 0 "127.0.0.1:$tp"
	assert_equal "$stderr" "tcp2unix: --source '$T/me.sock': a UNIX source for the TCP address '127.0.0.1:$tp'"
	run -2 --separate-stderr tcp2unix -4 --source '[::1]' 0 "$T/srv.sock"
	assert_equal "$stderr" "tcp2unix: --source '[::1]': a TCP source for the UNIX address '$T/srv.sock'"
}

@test "-v with -j 2: the numbers are the process's, each given once, 1 to N" {
	start_server "$T/t.sock" --mode echo --count 0
	start_bridge -v -j 2 0 "$T/t.sock"
	local i
	for i in 1 2 3 4 5 6; do
		start_bg usock-connect "$HOSTPORT" < <(echo "c$i") >"$T/out$i"
	done
	for i in 1 2 3 4 5 6; do
		expect_exit 0 "${BG_PIDS[-6 + i - 1]}"
		assert_equal "$(cat "$T/out$i")" "c$i"
	done
	wait_until 10 _ends_are 6
	run -0 sh -c "sed -n 's/^tcp2unix: #\([0-9]*\) connection from .*/\1/p' '$BERR' | sort -n | tr '\n' ' '"
	assert_output "1 2 3 4 5 6 "
	run -0 sh -c "sed -n 's/^tcp2unix: #\([0-9]*\) tcp:.* closed; 3 bytes up, 3 down, .*/\1/p' '$BERR' | sort -n | tr '\n' ' '"
	assert_output "1 2 3 4 5 6 "
}

_ends_are() {
	[ "$(grep -c ' bytes up, ' "$BERR")" -eq "$1" ]
}
