#!/usr/bin/env bats
# usock-connect's socket options: -4/-6, --keepalive and --source.

load helpers

# peername ADDRESS: tests/lib/peername.py on ADDRESS, which answers each
# client with the name it sees for it; sets PORT for a TCP port 0.
peername() {
	start_bg "$PY" "$LIB/peername.py" "$1" --ready "$T/pn.ready"
	wait_for_file "$T/pn.ready"
	PORT=$(cat "$T/pn.ready")
	rm -f "$T/pn.ready"
}

@test "-4 and -6 choose the family of a name; a conflicting form or a UNIX address is exit 2" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6"
	local port
	port=$(free_port)
	start_bg usock-listen -k "*:$port" -- sh -c 'echo "$USOCK_PEER"'
	wait_for_port "$port"
	run -0 usock-connect -4 "localhost:$port" </dev/null
	assert_output --regexp '^tcp:127\.0\.0\.1:[0-9]+$'
	run -0 usock-connect "localhost:$port" -6 </dev/null
	assert_output --regexp '^tcp:\[::1\]:[0-9]+$'
	run -2 --separate-stderr usock-connect -4 "[::1]:$port"
	assert_equal "$stderr" "usock-connect: cannot use -4 with '[::1]:$port'"
	run -2 --separate-stderr usock-connect -6 "127.0.0.1:$port"
	assert_equal "$stderr" "usock-connect: cannot use -6 with '127.0.0.1:$port'"
	run -2 --separate-stderr usock-connect -4 -6 "localhost:$port"
	assert_equal "$stderr" "usock-connect: cannot use -4 with -6"
	run -2 --separate-stderr tcp2unix -6 -4 0 "$T/x.sock"
	assert_equal "$stderr" "tcp2unix: cannot use -4 with -6"
	run -2 --separate-stderr tcp2unix -6 "127.0.0.1:0" "$T/x.sock"
	assert_equal "$stderr" "tcp2unix: cannot use -6 with '127.0.0.1:0'"
	run -2 --separate-stderr usock-connect -6 --source 127.0.0.1 "localhost:$port"
	assert_equal "$stderr" "usock-connect: cannot use -6 with --source '127.0.0.1'"
	run -2 --separate-stderr usock-connect -6 "$T/x.sock"
	assert_equal "$stderr" "usock-connect: -6: only for TCP addresses, not '$T/x.sock'"
	run -2 --separate-stderr usock-connect -4 "$T/x"$'\e[2J'.sock
	assert_equal "$stderr" "usock-connect: -4: only for TCP addresses, not '$T/x\\x1b[2J.sock'"
	run -2 --separate-stderr usock-connect -6 "h"$'\e[2J'"x:80"
	[[ $stderr == "usock-connect: address 'h\\x1b[2Jx:80': "* ]] || fail "not escaped: $stderr"
}

@test "--keepalive: the kernel keeps the connection's keepalive timer (ss shows it), with the idle time given" {
	command -v ss >/dev/null || skip "ss not installed"
	local port
	port=$(free_port)
	start_bg usock-listen "127.0.0.1:$port" -- sleep 30
	wait_for_port "$port"
	start_bg usock-connect --keepalive=40 "127.0.0.1:$port" < <(sleep 30)
	local deadline
	deadline=$(_deadline_ns 10)
	until ss -tnoH state established "dport = :$port" | grep -q 'timer:(keepalive'; do
		[ "$(date +%s%N)" -lt "$deadline" ] || fail "no keepalive timer: $(ss -tnoH "dport = :$port")"
		sleep 0.1
	done
	run -0 ss -tnoH state established "dport = :$port"
	assert_output --regexp 'timer:\(keepalive,(3[0-9]|40)sec'
	run -2 --separate-stderr usock-connect --keepalive "$T/x.sock"
	assert_regex "$stderr" '^usock-connect: --keepalive: only for TCP'
}

@test "--source: the TCP server sees the address and port given; a port alone keeps the usual address" {
	peername 127.0.0.1:0
	run -0 usock-connect --source 127.0.0.2 "127.0.0.1:$PORT" </dev/null
	assert_output --regexp '^127\.0\.0\.2 [0-9]+$'
	local sp
	sp=$(free_port)
	run -0 usock-connect --source "tcp:127.0.0.3:$sp" "127.0.0.1:$PORT" </dev/null
	assert_output "127.0.0.3 $sp"
	sp=$(free_port)
	run -0 usock-connect "127.0.0.1:$PORT" --source ":$sp" </dev/null
	assert_output "127.0.0.1 $sp"
	# a name that has both families connects with the one of the source
	run -0 usock-connect --source 127.0.0.4 "localhost:$PORT" </dev/null
	assert_output --regexp '^127\.0\.0\.4 [0-9]+$'
}

@test "--source: a UNIX server sees the path or abstract name; the file made is gone afterwards, one in the way stays" {
	peername "$T/srv.sock"
	run -0 usock-connect --source "$T/me.sock" "$T/srv.sock" </dev/null
	assert_output "$T/me.sock"
	assert_not_exists "$T/me.sock"
	local n
	n=$(abstract_name)
	run -0 usock-connect --source "@$n" "$T/srv.sock" </dev/null
	assert_output "@$n"
	# a file already there is never replaced: one line, exit 1
	echo precious >"$T/me.sock"
	run -1 --separate-stderr usock-connect --source "$T/me.sock" "$T/srv.sock" </dev/null
	assert_equal "$stderr" "usock-connect: bind --source $T/me.sock: Address already in use"
	assert_equal "$(cat "$T/me.sock")" precious
}

@test "--source on a datagram socket: answers come back to that path until exit, then the file goes" {
	start_bg usock-listen -k "unix-dgram:$T/d.sock" -- sh -c 'echo "from $USOCK_PEER"'
	wait_for_file "$T/d.sock"
	run -0 usock-connect -t 2 --source "$T/c.sock" "unix-dgram:$T/d.sock" <<<"hello"
	assert_output "from unix-dgram:$T/c.sock"
	assert_not_exists "$T/c.sock"
}

@test "--source errors: malformed or of the wrong kind is exit 2, an address not of this host exit 1" {
	peername 127.0.0.1:0
	run -2 --separate-stderr usock-connect --source 5000 "127.0.0.1:$PORT"
	assert_equal "$stderr" "usock-connect: --source '5000': a source is an address, with :PORT if a port is wanted (a port alone is written :PORT)"
	run -2 --separate-stderr usock-connect --source 127.0.0.2:99999 "127.0.0.1:$PORT"
	assert_equal "$stderr" "usock-connect: --source '127.0.0.2:99999': port out of range 0..65535"
	run -2 --separate-stderr usock-connect --source "$T/x.sock" "127.0.0.1:$PORT"
	assert_equal "$stderr" "usock-connect: --source '$T/x.sock': a UNIX source for the TCP address '127.0.0.1:$PORT'"
	run -2 --separate-stderr usock-connect --source 127.0.0.1 "$T/x.sock"
	assert_equal "$stderr" "usock-connect: --source '127.0.0.1': a TCP source for the UNIX address '$T/x.sock'"
	run -2 --separate-stderr usock-connect --source '[::1]' "127.0.0.1:$PORT"
	assert_equal "$stderr" "usock-connect: --source '[::1]': no address of the family of '127.0.0.1:$PORT' (IPv4)"
	run -2 --separate-stderr usock-connect --source "unix-dgram:$T/x" "$T/y.sock"
	assert_regex "$stderr" "^usock-connect: --source 'unix-dgram:.*': a source takes its socket type from the target"
	run -1 --separate-stderr usock-connect --source 192.0.2.1 "127.0.0.1:$PORT" </dev/null
	assert_equal "$stderr" "usock-connect: bind --source 192.0.2.1: Cannot assign requested address"
	# a source port that a listener holds
	run -1 --separate-stderr usock-connect --source "127.0.0.1:$PORT" "127.0.0.1:$PORT" </dev/null
	assert_equal "$stderr" "usock-connect: bind --source 127.0.0.1:$PORT: Address already in use"
}

@test "usock-bench --source: every measured connection comes from the address or path given" {
	printf 'x' >"$T/req"
	local port
	port=$(free_port)
	start_bg usock-listen -k "127.0.0.1:$port" -- sh -c 'echo "$USOCK_PEER" >>"$0"; echo ok' "$T/tcp.log"
	wait_for_port "$port"
	run -0 usock-bench --source 127.0.0.9 "127.0.0.1:$port" connect-rate -r "$T/req" -n 5 --warmup 0
	run -1 grep -v '^tcp:127\.0\.0\.9:[0-9]*$' "$T/tcp.log"
	[ "$(wc -l <"$T/tcp.log")" -ge 5 ] || fail "$(cat "$T/tcp.log")"
	start_bg usock-listen -k "$T/s.sock" -- sh -c 'echo "$USOCK_PEER" >>"$0"; echo ok' "$T/unix.log"
	wait_for_socket "$T/s.sock"
	run -0 usock-bench --source "$T/me.sock" "$T/s.sock" connect-rate -r "$T/req" -n 5 -P 2 --warmup 0
	run -0 sort -u "$T/unix.log"
	assert_output "unix:$T/me.sock"
	assert_not_exists "$T/me.sock"
	run -1 --separate-stderr usock-bench --source 192.0.2.1 "127.0.0.1:$port" latency -d 0.2
	assert_equal "$stderr" "usock-bench: latency tcp:127.0.0.1:$port: bind --source: Cannot assign requested address"
	run -2 --separate-stderr usock-bench --compare --source 127.0.0.1 latency
	assert_equal "$stderr" "usock-bench: --source binds the connections measured: not with --compare (two kinds of address)"
}
