#!/usr/bin/env bats
# A stderr nobody reads (a stuck `| logger`, a terminal in scroll lock)
# never holds up a relay or a signal: log lines wait in the bounded
# queue of usock(7) "Traffic dumps", lines that do not fit are dropped
# and told as "PROG: [N log lines not shown]" (usock(7), MESSAGES).

load helpers

# churn PATH N: N connections to the UNIX socket PATH, each ended by the
# other side (a reset or EOF) within 10 s (a stall is for ever; the
# margin is for a loaded machine); prints how many were.
churn() {
	timeout 300 "$PY" -c '
import socket, sys
path, n, done = sys.argv[1], int(sys.argv[2]), 0
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    try:
        s.connect(path)
        s.recv(1)
    except ConnectionResetError:
        pass
    except OSError as e:
        sys.exit("connection %d: %s" % (i + 1, e))
    s.close()
    done += 1
print(done)' "$1" "$2"
}

# stuck_fifo: $T/err, a FIFO held open on fd 4 and never read
stuck_fifo() {
	mkfifo "$T/err"
	exec 4<>"$T/err"
}

# read_fifo: what is left in $T/err into $T/got, once its last writer
# (fd 4) is closed
read_fifo() {
	exec 5<"$T/err"
	exec 4>&-
	run -0 timeout 5 cat <&5
	exec 5<&-
	printf '%s\n' "$output" >"$T/got"
}

# told PROG FILE TOTAL REGEX [OTHER]: FILE has whole lines only; the
# lines that match REGEX and the N of every "PROG: [N log lines not
# shown]" add up to TOTAL, at least one line was not shown, and any
# other line matches OTHER.
told() {
	local shown lost
	shown=$(grep -Ec -- "$4" "$2") || true
	lost=$(sed -nE "s/^$1: \[([0-9]+) log lines? not shown\]\$/\1/p" "$2" |
		awk '{ s += $1 } END { print s + 0 }')
	[ "$lost" -gt 0 ] || fail "no note of lines not shown: $(tail -3 "$2")"
	[ $((shown + lost)) -eq "$3" ] ||
		fail "shown $shown + not shown $lost != $3: $(grep -Ev -- "$4" "$2" | head -5)"
	# nothing but those lines, the notes and the last words
	local other="$4|^$1: \[[0-9]+ log lines? not shown\]\$${5:+|$5}"
	run grep -Evc -- "$other" "$2"
	[ "$output" -eq 0 ] || fail "other lines: $(grep -Ev -- "$other" "$2" | head -3)"
}

# A failed connection is logged even without -v.
T2U_LINE='^tcp2unix: #[0-9]+ unix: \(pid [0-9]+, uid [0-9]+\) -> unix:\./missing\.sock: target refused \(No such file or directory\); 0 bytes up, 0 down, [0-9.]+ s$'

@test "tcp2unix: a stderr nobody reads stops no connection, and SIGTERM still ends it at once" {
	stuck_fifo
	cd "$T"
	start_bg tcp2unix "$T/f.sock" ./missing.sock 2>"$T/err" 4>&-
	local pid=$BG_PID
	wait_for_socket "$T/f.sock"
	# ~480 lines fill the pipe; the rest wait in the queue or are dropped
	run churn "$T/f.sock" 2000
	assert_success
	assert_output 2000
	local t0
	t0=$(now_ms)
	kill -TERM "$pid"
	# its usual status; at most the 1 s flush late
	expect_exit 0 "$pid" 5
	[ $(($(now_ms) - t0)) -lt 3000 ] || fail "SIGTERM took $(($(now_ms) - t0)) ms"
	# what reached the pipe is whole lines
	read_fifo
	[ "$(grep -Ec -- "$T2U_LINE" "$T/got")" -gt 100 ] || fail "$(head -3 "$T/got")"
	run grep -Evc -- "$T2U_LINE" "$T/got"
	assert_output 0
}

@test "tcp2unix: lines a stuck stderr had no room for are counted and told once it is read" {
	stuck_fifo
	cd "$T"
	USOCK_STDERR_QUEUE=16384 start_bg tcp2unix "$T/f.sock" ./missing.sock 2>"$T/err" 4>&-
	local pid=$BG_PID
	wait_for_socket "$T/f.sock"
	run churn "$T/f.sock" 2000
	assert_success
	assert_output 2000
	start_bg cat "$T/err" >"$T/got" 4>&-
	local cat_pid=$BG_PID
	wait_file_line "$T/got" '^tcp2unix: \[[0-9]+ log lines? not shown\]$' 20 >/dev/null
	# once drained, lines are shown again, after the note
	run -0 churn "$T/f.sock" 1
	wait_file_line "$T/got" '^tcp2unix: #2001 ' 20 >/dev/null
	kill -TERM "$pid"
	expect_exit 0 "$pid" 5
	exec 4>&-
	expect_exit 0 "$cat_pid"
	told tcp2unix "$T/got" 2001 "$T2U_LINE"
	# the order is kept: #2001 is the last connection line
	run -0 bash -c "grep -E '^tcp2unix: #' '$T/got' | tail -1"
	assert_output --regexp '^tcp2unix: #2001 '
}

# One line for the listening socket, two per connection under -v.
LISTEN_LINE='^usock-listen: (listening on unix:.*|connection from unix: \(pid [0-9]+, uid [0-9]+\)|command [0-9]+ ended with status 0)$'

@test "usock-listen -k -v COMMAND: a stderr nobody reads stops no connection, nor SIGTERM" {
	stuck_fifo
	start_bg usock-listen -k -v "$T/l.sock" -- true 2>"$T/err" 4>&-
	local pid=$BG_PID
	wait_for_socket "$T/l.sock"
	run churn "$T/l.sock" 2000
	assert_success
	assert_output 2000
	local t0
	t0=$(now_ms)
	kill -TERM "$pid"
	expect_exit 0 "$pid" 5
	[ $(($(now_ms) - t0)) -lt 3000 ] || fail "SIGTERM took $(($(now_ms) - t0)) ms"
	read_fifo
	[ "$(grep -Ec -- "$LISTEN_LINE" "$T/got")" -gt 100 ] || fail "$(head -3 "$T/got")"
	run grep -Evc -- "$LISTEN_LINE" "$T/got"
	assert_output 0
}

@test "usock-listen -k -v COMMAND: the lines not shown are counted and told once stderr is read" {
	stuck_fifo
	USOCK_STDERR_QUEUE=16384 start_bg usock-listen -k -v "$T/l.sock" -- true 2>"$T/err" 4>&-
	local pid=$BG_PID
	wait_for_socket "$T/l.sock"
	run churn "$T/l.sock" 2000
	assert_success
	assert_output 2000
	start_bg cat "$T/err" >"$T/got" 4>&-
	local cat_pid=$BG_PID
	wait_file_line "$T/got" '^usock-listen: \[[0-9]+ log lines? not shown\]$' 20 >/dev/null
	kill -TERM "$pid"
	expect_exit 0 "$pid" 5
	exec 4>&-
	expect_exit 0 "$cat_pid"
	# the last words come last
	run -0 tail -1 "$T/got"
	assert_output 'usock-listen: stopping on signal 15'
	told usock-listen "$T/got" 4001 "$LISTEN_LINE" '^usock-listen: stopping on signal 15$'
}

@test "USOCK_STDERR_QUEUE out of range is a usage error" {
	run -2 --separate-stderr env USOCK_STDERR_QUEUE=100 usock-listen "$T/l.sock"
	assert_equal "$stderr" "usock-listen: USOCK_STDERR_QUEUE: 100 is out of range 4096..1073741824"
	[ ! -e "$T/l.sock" ]
	run -2 --separate-stderr env USOCK_STDERR_QUEUE=4k tcp2unix "$T/f.sock" "$T/t.sock"
	assert_equal "$stderr" "tcp2unix: USOCK_STDERR_QUEUE: '4k' is not a number"
}

@test "usock-connect: its last words into a stderr nobody reads still end at once on SIGTERM" {
	[ "$(uname -m)" = x86_64 ] || skip "reads x86_64 system call numbers"
	stuck_fifo
	head -c 65536 /dev/zero >"$T/err" # the pipe is full: any line blocks
	local port pid opt
	port=$(free_port)
	for opt in -v -x; do
		# nothing listens: the message waits for room in the pipe
		start_bg usock-connect $opt "127.0.0.1:$port" </dev/null 2>"$T/err"
		pid=$BG_PID
		# its main thread waits on the message: write(2, ...) into the
		# full pipe, or poll(..., -1) for room and a signal (x86_64
		# numbers; the connect's own wait has a deadline, not -1)
		wait_until 5 grep -qE '^(1 0x2 |7 0x[0-9a-f]+ 0x2 0xffffffff(ffffffff)? )' "/proc/$pid/syscall"
		kill -TERM "$pid"
		expect_exit 143 "$pid" 3
	done
}
