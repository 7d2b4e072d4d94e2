#!/usr/bin/env bats
# usock-connect's TCP options: -4/-6 and --keepalive.

load helpers

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
	run -2 --separate-stderr usock-connect -6 "$T/x.sock"
	assert_equal "$stderr" "usock-connect: -6: only for TCP addresses, not '$T/x.sock'"
	run -2 --separate-stderr usock-connect -4 "$T/x"$'\e[2J'.sock
	assert_equal "$stderr" "usock-connect: -4: only for TCP addresses, not '$T/x\\x1b[2J.sock'"
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
