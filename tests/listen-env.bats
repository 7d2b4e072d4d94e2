#!/usr/bin/env bats
# usock-listen -- COMMAND: the split TCP variables USOCK_PEER_ADDR,
# USOCK_PEER_PORT, USOCK_LOCAL_ADDR and USOCK_LOCAL_PORT.

load helpers

SHOW='echo "${USOCK_PEER_ADDR-unset} ${USOCK_PEER_PORT-unset} ${USOCK_LOCAL_ADDR-unset} ${USOCK_LOCAL_PORT-unset} $USOCK_PEER"'

# env_via LISTEN CONNECT: start usock-listen on LISTEN (port 0), connect
# to CONNECT (with the port it got put for PORT), and print what the
# command saw.
env_via() {
	start_bg usock-listen --print-address "$1" -- sh -c "$SHOW" 2>"$T/addr"
	local line port
	line=$(wait_file_line "$T/addr" '^tcp:')
	port=${line##*:}
	usock-connect "${2/PORT/$port}" </dev/null
	echo "port=$port"
}

@test "TCP over IPv4: the peer's and the local address and port, split" {
	run -0 env_via 127.0.0.1:0 127.0.0.1:PORT
	local port=${lines[1]#port=}
	assert_regex "${lines[0]}" "^127\.0\.0\.1 ([0-9]+) 127\.0\.0\.1 $port tcp:127\.0\.0\.1:([0-9]+)$"
	# the port in USOCK_PEER_PORT is the one in USOCK_PEER
	local pp=${lines[0]#127.0.0.1 }
	pp=${pp%% *}
	assert_regex "${lines[0]}" ":$pp\$"
	[ "$pp" != "$port" ]
}

@test "TCP over IPv6: the address without brackets" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6"
	run -0 env_via '[::1]:0' '[::1]:PORT'
	local port=${lines[1]#port=}
	assert_regex "${lines[0]}" "^::1 [0-9]+ ::1 $port tcp:\[::1\]:[0-9]+$"
}

@test "dual stack *:PORT with an IPv4 client: IPv4 addresses, the connection's own local address" {
	[ -e /proc/net/if_inet6 ] || skip "no IPv6"
	run -0 env_via '*:0' 127.0.0.1:PORT
	local port=${lines[1]#port=}
	assert_regex "${lines[0]}" "^127\.0\.0\.1 [0-9]+ 127\.0\.0\.1 $port tcp:127\.0\.0\.1:[0-9]+$"
}

@test "UNIX: the TCP variables are not set, even when inherited" {
	USOCK_PEER_ADDR=stale USOCK_LOCAL_PORT=1 start_bg usock-listen "$T/s.sock" -- sh -c "$SHOW"
	wait_for_socket "$T/s.sock"
	run -0 usock-connect "$T/s.sock" </dev/null
	assert_output "unset unset unset unset unix:"
}
