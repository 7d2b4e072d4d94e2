#!/usr/bin/env bats
# tcp2unix looks a target host name up per connection (1 s cache): it
# follows a change in /etc/hosts while it runs, starts before the name
# exists, and treats a name that does not resolve as one client's
# failure.  The tests edit /etc/hosts (root only) under a name of their
# own, and take their line out again even when they fail; other suites
# may edit the file meanwhile, so only that line is touched.

load helpers

setup() {
	common_setup
	[ -w /etc/hosts ] || skip "/etc/hosts is not writable (not root)"
	NAME="us-dns-$$-$BATS_TEST_NUMBER.test"
}

teardown() {
	hosts_del
	common_teardown
}

# hosts_set IP: NAME resolves to IP (our line only; the file is rewritten
# in place, as a bind-mounted /etc/hosts cannot be replaced).
hosts_set() {
	local rest
	rest=$(grep -v -F " $NAME" /etc/hosts)
	printf '%s\n%s %s\n' "$rest" "$1" "$NAME" >/etc/hosts
}

hosts_del() {
	[ -n "${NAME:-}" ] || return 0
	grep -q -F " $NAME" /etc/hosts || return 0
	local rest
	rest=$(grep -v -F " $NAME" /etc/hosts)
	printf '%s\n' "$rest" >/etc/hosts
}

# two servers on one port: 127.0.0.1 answers "one", 127.0.0.2 "two"
two_servers() {
	PORT=$(free_port)
	start_bg usock-listen -k "127.0.0.1:$PORT" -- echo one
	start_bg usock-listen -k "127.0.0.2:$PORT" -- echo two
	wait_for_port "$PORT"
}

# until_answer ADDR WORD: connect until the answer is WORD (10 s at most).
until_answer() {
	local deadline out
	deadline=$(_deadline_ns 10)
	while :; do
		out=$(usock-connect "$1" </dev/null 2>/dev/null) || true
		[ "$out" = "$2" ] && return 0
		[ "$(date +%s%N)" -lt "$deadline" ] || fail "no '$2' from $1 in 10 s (last: '$out')"
		sleep 0.1
	done
}

@test "a changed /etc/hosts entry is followed while the bridge runs" {
	two_servers
	hosts_set 127.0.0.1
	start_bg tcp2unix -v 0 "$NAME:$PORT" --print-address 2>"$T/err"
	local addr
	addr=$(wait_file_line "$T/err" '^tcp:')
	run -0 usock-connect "$addr" </dev/null
	assert_output one
	hosts_set 127.0.0.2
	until_answer "$addr" two
	hosts_set 127.0.0.1
	until_answer "$addr" one
}

@test "a name that stops resolving fails that client (reset, logged), not the bridge" {
	two_servers
	hosts_set 127.0.0.2
	start_bg tcp2unix -v 0 "$NAME:$PORT" --print-address 2>"$T/err"
	local pid=$BG_PID addr
	addr=$(wait_file_line "$T/err" '^tcp:')
	until_answer "$addr" two
	hosts_del
	local deadline
	deadline=$(_deadline_ns 10)
	until ! usock-connect "$addr" </dev/null >/dev/null 2>"$T/cerr"; do
		[ "$(date +%s%N)" -lt "$deadline" ] || fail "still served 10 s after the name went"
		sleep 0.1
	done
	run -0 cat "$T/cerr"
	assert_output --partial 'reset by peer'
	wait_file_line "$T/err" "-> tcp:$NAME:$PORT: target name does not resolve: unknown host"
	pid_alive "$pid"
	hosts_set 127.0.0.1
	until_answer "$addr" one
}

@test "the bridge starts before the name exists; clients then are reset; once it resolves they are served" {
	two_servers
	start_bg tcp2unix 0 "$NAME:$PORT" --print-address 2>"$T/err"
	local pid=$BG_PID addr
	addr=$(wait_file_line "$T/err" '^tcp:')
	run -1 usock-connect "$addr" </dev/null
	pid_alive "$pid"
	hosts_set 127.0.0.2
	until_answer "$addr" two
}

@test "-j 3: each worker takes the lookups' answers; concurrent clients are all served" {
	PORT=$(free_port)
	start_bg usock-bench --serve echo "127.0.0.1:$PORT"
	wait_for_port "$PORT"
	hosts_set 127.0.0.1
	# a worker still waiting for its first answer would fail clients
	# once the connect timeout passed
	start_bg tcp2unix -j 3 --connect-timeout 1 0 "$NAME:$PORT" --print-address 2>"$T/err"
	local addr
	addr=$(wait_file_line "$T/err" '^tcp:')
	run -0 usock-bench "$addr" connect-rate -P 6 -n 600 -q
	run -1 grep 'target' "$T/err"
}

@test "a malformed target address is still a usage error (exit 2)" {
	run -2 --separate-stderr tcp2unix 0 "$NAME:99999"
	assert_regex "$stderr" "^tcp2unix: address '$NAME:99999': "
	run -2 --separate-stderr tcp2unix 0 "bad host:80"
	assert_regex "$stderr" "^tcp2unix: address 'bad host:80': "
}
