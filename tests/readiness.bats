#!/usr/bin/env bats
# Readiness for scripts and supervisors: --ready-fd, systemd's
# NOTIFY_SOCKET (a python datagram socket stands in for systemd's), and
# tcp2unix --exit-idle-time.

load helpers

# ready_pipe: a FIFO at $T/ready that a background tool can be given
# (CMD 5>"$T/ready" {RW}>&-) without blocking: we hold it open both ways until
# ready_open has taken the reading end.
ready_pipe() {
	mkfifo "$T/ready"
	exec {RW}<>"$T/ready"
}

# ready_open: keep only a reading end (RD), so the tool's close is EOF.
ready_open() {
	exec {RD}<"$T/ready"
	exec {RW}>&-
}

# read_ready: the one line on RD (10 s at most); fails unless the writer
# then closed its end (EOF).
read_ready() {
	local line rest
	IFS= read -r -t 10 -u "$RD" line || fail "no line on the ready fd"
	local rc=0
	IFS= read -r -t 10 -u "$RD" rest || rc=$?
	((rc != 0)) || fail "more than one line: $rest"
	((rc <= 128)) || fail "the ready fd stayed open after the line (no EOF in 10 s)"
	echo "$line"
}

# notify_receiver NAME FILE: a datagram socket at NAME (a path or @name)
# that appends each datagram it gets to FILE as one line (newlines in it
# shown as '|'), the way systemd's notification socket would get them.
notify_receiver() {
	start_bg "$PY" -c '
import socket, sys
name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
open(sys.argv[2] + ".ready", "w").close()
while True:
    d = s.recv(65536)
    with open(sys.argv[2], "ab") as f:
        f.write(d.replace(b"\n", b"|") + b"\n")
' "$1" "$2"
	wait_for_file "$2.ready"
}

@test "--ready-fd: a one-shot usock-listen says when it listens; its one connection is the client's" {
	ready_pipe
	start_bg usock-listen "$T/s.sock" --ready-fd 5 5>"$T/ready" {RW}>&- -- sh -c 'echo served'
	ready_open
	run -0 read_ready
	assert_output "unix:$T/s.sock"
	run -0 usock-connect "$T/s.sock" </dev/null
	assert_output served
	expect_exit 0 "$BG_PID"
}

@test "--ready-fd: tcp2unix on port 0 writes the port it got; the address works" {
	start_server "$T/t.sock" --mode pong
	ready_pipe
	start_bg tcp2unix --ready-fd 7 0 "$T/t.sock" 7>"$T/ready" {RW}>&-
	ready_open
	local addr
	addr=$(read_ready)
	assert_regex "$addr" '^tcp:127\.0\.0\.1:[0-9]+$'
	run -0 usock-connect "$addr" <<<PING
	assert_output PONG
}

@test "--ready-fd: usock-bench --serve writes its address; the address echoes" {
	ready_pipe
	start_bg usock-bench --serve echo "@us-ready-$$-$BATS_TEST_NUMBER" --ready-fd 4 4>"$T/ready" {RW}>&-
	ready_open
	run -0 read_ready
	assert_output "@us-ready-$$-$BATS_TEST_NUMBER"
	run -0 usock-connect "$output" <<<hello
	assert_output hello
}

@test "--ready-fd: 0, 2, a closed fd, stdout of a stdio listener, or without --serve: exit 2" {
	run -2 --separate-stderr usock-listen --ready-fd 0 "$T/s.sock"
	assert_regex "$stderr" '^usock-listen: --ready-fd: 0 is out of range'
	run -2 --separate-stderr tcp2unix --ready-fd 2 0 "$T/s.sock"
	assert_regex "$stderr" '^tcp2unix: --ready-fd: 2 is standard error'
	run -2 --separate-stderr tcp2unix --ready-fd 97 0 "$T/s.sock"
	assert_equal "$stderr" "tcp2unix: --ready-fd: descriptor 97 is not open"
	run -2 --separate-stderr usock-listen --ready-fd 1 "$T/s.sock"
	assert_regex "$stderr" '^usock-listen: --ready-fd: 1 is standard output'
	run -2 --separate-stderr usock-bench --ready-fd 1 "$T/s.sock" latency
	assert_equal "$stderr" "usock-bench: --ready-fd needs --serve"
	run -2 --separate-stderr tcp2unix --ready-fd x 0 "$T/s.sock"
	assert_regex "$stderr" "^tcp2unix: --ready-fd: 'x' is"
	assert_not_exists "$T/s.sock"
}

@test "--ready-fd: a read-only fd, or a listener passed by socket activation: exit 2, nothing served" {
	run -2 --separate-stderr tcp2unix --ready-fd 5 0 "$T/s.sock" 5</dev/null
	assert_equal "$stderr" "tcp2unix: --ready-fd: descriptor 5 is open for reading only"
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
	start_bg systemd-socket-activate -l "$T/act.sock" tcp2unix --ready-fd 3 "$T/t.sock" 2>"$T/err"
	local pid=$BG_PID
	wait_for_socket "$T/act.sock"
	# the first client starts it; it refuses the listener as its ready fd
	run usock-connect "$T/act.sock" </dev/null
	expect_exit 2 "$pid"
	run -0 grep -x "tcp2unix: --ready-fd: descriptor 3 is a listening socket" "$T/err"
}

@test "NOTIFY_SOCKET (abstract): usock-listen sends READY=1 once listening, STATUS per connection, STOPPING=1 on SIGTERM" {
	local name="@us-notify-$$-$BATS_TEST_NUMBER"
	notify_receiver "$name" "$T/notes"
	NOTIFY_SOCKET=$name start_bg usock-listen -k "$T/s.sock" -- \
		sh -c 'echo "${NOTIFY_SOCKET-unset}"'
	local pid=$BG_PID
	wait_file_line "$T/notes" '^READY=1'
	# READY=1 came after listen(): the socket takes a connection now
	run -0 usock-connect "$T/s.sock" </dev/null
	assert_output unset   # COMMAND does not inherit NOTIFY_SOCKET
	wait_file_line "$T/notes" '^STATUS=1 active, 1 served$'
	wait_file_line "$T/notes" '^STATUS=0 active, 1 served$'
	kill -TERM "$pid"
	expect_exit 0 "$pid"
	wait_file_line "$T/notes" '^STOPPING=1$'
	run -0 head -1 "$T/notes"
	assert_output "READY=1|STATUS=listening on unix:$T/s.sock"
}

@test "NOTIFY_SOCKET (path): tcp2unix READY=1, STATUS counters, STOPPING=1 when the drain starts" {
	start_server "$T/t.sock" --mode pong --count 0
	notify_receiver "$T/notify" "$T/notes"
	ready_pipe
	NOTIFY_SOCKET=$T/notify start_bg tcp2unix 0 "$T/t.sock" --ready-fd 5 5>"$T/ready" {RW}>&-
	ready_open
	local pid=$BG_PID addr
	addr=$(read_ready)
	wait_file_line "$T/notes" "^READY=1\|STATUS=forwarding to unix:$T/t\.sock$"
	run -0 usock-connect "$addr" <<<PING
	assert_output PONG
	wait_file_line "$T/notes" '^STATUS=0 active, 1 accepted, 0 failed, 0 refused$'
	kill -TERM "$pid"
	expect_exit 0 "$pid"
	wait_file_line "$T/notes" '^STOPPING=1\|STATUS=draining 0 connections$'
}

@test "-j 3: NOTIFY_SOCKET counts the whole process; --exit-idle-time waits for every worker's connections" {
	start_server "$T/t.sock" --mode echo --count 0
	notify_receiver "$T/notify" "$T/notes"
	ready_pipe
	# (not given the FIFO's other end: read_ready sees EOF when it closes fd 5)
	NOTIFY_SOCKET=$T/notify start_bg tcp2unix -j 3 --exit-idle-time 2 0 "$T/t.sock" \
		--ready-fd 5 5>"$T/ready" {RW}>&-
	ready_open
	local pid=$BG_PID addr held
	addr=$(read_ready)
	# one connection stays past the idle time, in whichever worker took it,
	# while 200 short ones come and go through all three
	start_bg usock-connect "$addr" < <(echo one; sleep 3; echo two) >"$T/held"
	held=$BG_PID
	run -0 usock-bench "$addr" connect-rate -P 6 -n 200 --warmup 0 -q
	wait_file_line "$T/notes" '^STATUS=1 active, 201 accepted, 0 failed, 0 refused$'
	wait_pid "$held"
	local t0
	t0=$(now_ms)
	assert_equal "$(cat "$T/held")" $'one\ntwo'
	wait_file_line "$T/notes" '^STATUS=0 active, 201 accepted, 0 failed, 0 refused$'
	# idle from the end of the last connection, whichever worker had it
	expect_exit 0 "$pid" 15
	local ms=$(($(now_ms) - t0))
	# (t0 is taken when this shell sees the client end, a little after the
	# bridge did; an idle time counted from the last accept, 3 s earlier,
	# would exit at once)
	[ "$ms" -ge 1000 ] || fail "exited $ms ms after the last connection ended"
	wait_file_line "$T/notes" '^STOPPING=1\|STATUS=draining 0 connections$'
}

@test "NOTIFY_SOCKET: nobody listening or a form we do not speak is a warning, the tool serves anyway" {
	NOTIFY_SOCKET="@us-nobody-$$-$BATS_TEST_NUMBER" start_bg usock-listen "$T/s.sock" \
		-- sh -c 'echo ok' 2>"$T/err"
	wait_for_socket "$T/s.sock"
	run -0 usock-connect "$T/s.sock" </dev/null
	assert_output ok
	expect_exit 0 "$BG_PID"
	run -0 cat "$T/err"
	assert_output --regexp '^usock-listen: NOTIFY_SOCKET: Connection refused'
	NOTIFY_SOCKET=vsock:2:1234 start_bg usock-listen "$T/s.sock" -- sh -c 'echo ok' 2>"$T/err"
	wait_for_socket "$T/s.sock"
	run -0 usock-connect "$T/s.sock" </dev/null
	assert_output ok
	expect_exit 0 "$BG_PID"
	run -0 cat "$T/err"
	assert_output 'usock-listen: NOTIFY_SOCKET: not a path or @name; not notifying'
}

@test "--exit-idle-time: under socket activation, exit 0 after the idle time; the socket stays systemd's" {
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
	start_server "$T/t.sock" --mode pong --count 0
	start_bg systemd-socket-activate -l "$T/act.sock" tcp2unix --exit-idle-time 1 "$T/t.sock"
	local pid=$BG_PID
	wait_for_socket "$T/act.sock"
	run -0 usock-connect "$T/act.sock" <<<PING
	assert_output PONG
	expect_exit 0 "$pid" 15
	assert_exists "$T/act.sock"
}

@test "--exit-idle-time: an open connection keeps the bridge up; it exits once idle that long" {
	start_server "$T/t.sock" --mode echo --count 0
	start_bg tcp2unix --exit-idle-time 2 "$T/b.sock" "$T/t.sock"
	local pid=$BG_PID
	wait_for_socket "$T/b.sock"
	# a client that stays 3 s, past the idle time
	run -0 usock-connect "$T/b.sock" < <(echo one; sleep 3; echo two)
	assert_output $'one\ntwo'
	expect_exit 0 "$pid" 15
	assert_not_exists "$T/b.sock"
	run -2 --separate-stderr tcp2unix --exit-idle-time 0 "$T/b.sock" "$T/t.sock"
	assert_regex "$stderr" '^tcp2unix: --exit-idle-time: '
}
