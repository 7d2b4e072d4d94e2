#!/usr/bin/env bats
# Command lines: options before, between or after operands (GNU argument
# permutation) in every tool; "--" ends the options; usock-listen's
# "ADDRESS -- COMMAND ARG..." hands COMMAND its words untouched.

load helpers

@test "tcp2unix: an option after both operands is an option, not the target" {
	start_bg tcp2unix 0 --print-address "$T/t.sock" -q 2>"$T/err"
	wait_file_line "$T/err" '^tcp:127\.0\.0\.1:[0-9]+$'
	refute [ -e "$T/t.sock" ]
	start_bg $SERVER "$T/t.sock" --mode pong
	wait_for_socket "$T/t.sock"
	local port
	port=$(sed -n 's/^tcp:127\.0\.0\.1://p' "$T/err")
	run -0 usock-connect "127.0.0.1:$port" <<<PING
	assert_output PONG
}

@test "usock-connect: ADDRESS -w 5 waits for a server that comes up later" {
	start_bg sh -c 'sleep 0.5; exec "$@"' sh $SERVER "$T/s.sock" --mode pong
	run -0 usock-connect "$T/s.sock" -w 5 <<<PING
	assert_output PONG
}

@test "usock-connect: options mixed with ADDRESS; a missing value after ADDRESS is named" {
	start_bg $SERVER "$T/s.sock" --mode pong
	wait_for_socket "$T/s.sock"
	run -0 --separate-stderr usock-connect -v "$T/s.sock" --timeout 5 <<<PING
	assert_output PONG
	assert_regex "$stderr" 'connected to'
	run -2 --separate-stderr usock-connect "$T/s.sock" -w
	assert_equal "$stderr" "usock-connect: option -w needs a value (try --help)"
	run -2 --separate-stderr usock-connect "$T/s.sock" --bogus
	assert_regex "$stderr" '^usock-connect: unknown option --bogus'
}

@test "--: the word after it is an operand even when it looks like an option" {
	# -z would be --probe; after -- it is an address, and a bad one
	run -2 --separate-stderr usock-connect -- -z
	assert_regex "$stderr" "^usock-connect: address '-z': "
	run -2 --separate-stderr tcp2unix -- 0 -v
	assert_regex "$stderr" "^tcp2unix: address '-v': "
	run -2 --separate-stderr sockinfo -- -a
	assert_regex "$stderr" "^sockinfo: address '-a': "
}

@test "usock-listen: ADDRESS -v -- COMMAND -n: -v is ours, -n is COMMAND's" {
	start_bg usock-listen "$T/s.sock" -v -- cat -n 2>"$T/err"
	wait_for_socket "$T/s.sock"
	run -0 usock-connect "$T/s.sock" <<<hello
	assert_output --regexp '^ +1	hello$'
	expect_exit 0 "$BG_PID"
	grep -q 'listening on' "$T/err"
}

@test "usock-listen: -- ADDRESS -- COMMAND; the first -- ends options, the second starts COMMAND" {
	start_bg usock-listen -- "$T/s.sock" -- sh -c 'echo "$# $*"' sh -k -- x
	wait_for_socket "$T/s.sock"
	run -0 usock-connect "$T/s.sock" </dev/null
	assert_output '3 -k -- x'
	expect_exit 0 "$BG_PID"
}

@test "usock-listen: a word after ADDRESS without -- is refused, nothing is created" {
	run -2 --separate-stderr usock-listen "$T/s.sock" cat
	assert_equal "$stderr" "usock-listen: unexpected argument 'cat' (COMMAND goes after --)"
	run -2 --separate-stderr usock-listen -- "$T/s.sock" cat
	assert_regex "$stderr" "unexpected argument 'cat'"
	run -2 --separate-stderr usock-listen "$T/s.sock" --
	assert_equal "$stderr" "usock-listen: missing COMMAND after --"
	assert_not_exists "$T/s.sock"
}

@test "usock-listen: options after -- COMMAND are COMMAND's (-k there does not keep us open)" {
	start_bg usock-listen "$T/s.sock" -- sh -c 'echo "$1"' sh -k
	wait_for_socket "$T/s.sock"
	run -0 usock-connect "$T/s.sock" </dev/null
	assert_output '-k'
	expect_exit 0 "$BG_PID"
}

@test "usock-bench and sockinfo: options after operands" {
	start_bg usock-bench "$T/e.sock" --serve echo
	wait_for_socket "$T/e.sock"
	run -0 sockinfo "$T/e.sock" --json
	assert_output --partial '"state":"listening"'
	run -0 usock-bench "$T/e.sock" latency -n 20 --json
	assert_output --partial '"round_trips":20,'
}
