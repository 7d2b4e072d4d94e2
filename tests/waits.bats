#!/usr/bin/env bats
# Every wait ends: at its deadline, or at once on SIGINT/SIGTERM (130/143).
# Connect waits (a full UNIX backlog, a TCP handshake nobody answers, -w on
# a missing path, -z), paths that can never become sockets, closed stdio,
# and tcp2unix pointed at itself.

load helpers

FULL="$PY $LIB/full_backlog.py"

# full_backlog PATH|PORT: a listener whose backlog is full (UNIX: connect
# gets EAGAIN; TCP: SYNs are dropped, connects stay pending).
full_backlog() {
	local ready
	ready=$(mktemp -u "$T/ready.XXXXXX")
	# shellcheck disable=SC2086 # interpreter and script, split on purpose
	start_bg $FULL "$1" --ready-file "$ready"
	wait_for_file "$ready"
}

# waiting PID: PID has SIGINT and SIGTERM blocked (its signalfd is set up:
# from now on either signal is seen by the wait it is in).
waiting() {
	local blk
	blk=$(awk '$1 == "SigBlk:" { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$blk" ] && (( (16#$blk & 16#4002) == 16#4002 ))
}

# in_poll PID: PID sleeps in poll(2) (a connect's wait or its pause).
in_poll() {
	grep -q poll "/proc/$1/wchan" 2>/dev/null
}

# syn_sent PORT: a TCP connect to 127.0.0.1:PORT is pending (SYN_SENT).
syn_sent() {
	local hex
	hex=$(printf '0100007F:%04X' "$1")
	awk -v p="$hex" '$3 == p && $4 == "02" { f = 1 } END { exit !f }' /proc/net/tcp
}

# signal_ends SIG STATUS CMD...: start CMD (SIGINT at its default), wait
# until it is in its wait (see `waiting`, plus the condition in $READY if
# set), send SIG, and check that it ends with STATUS within 3 s.
signal_ends() {
	local sig=$1 status=$2 pid t0 t1
	shift 2
	start_bg with_sigint "$@" </dev/null 2>"$T/err"
	pid=$BG_PID
	wait_until 10 waiting "$pid"
	if [ -n "${READY:-}" ]; then
		# shellcheck disable=SC2086 # a command and its arguments
		wait_until 10 $READY
	fi
	pid_alive "$pid" || fail "ended before the signal: $(cat "$T/err")"
	t0=$(now_ms)
	kill -"$sig" "$pid"
	expect_exit "$status" "$pid" 3
	t1=$(now_ms)
	[ $((t1 - t0)) -lt 2000 ] || fail "took $((t1 - t0)) ms to end after SIG$sig"
}

# ends_within MS STATUS CMD...: CMD exits with STATUS, in under MS ms.
ends_within() {
	local ms=$1 status=$2 t0 t1
	shift 2
	t0=$(now_ms)
	run "-$status" --separate-stderr timeout 30 "$@" </dev/null
	t1=$(now_ms)
	ELAPSED=$((t1 - t0))
	[ "$ELAPSED" -lt "$ms" ] || fail "took $ELAPSED ms (bound $ms)"
}

# ---- a full UNIX backlog (connect gets EAGAIN) ------------------------------

@test "full UNIX backlog: SIGTERM ends the wait at once with 143" {
	full_backlog "$T/full.sock"
	signal_ends TERM 143 usock-connect "$T/full.sock"
}

@test "full UNIX backlog: SIGINT ends the wait at once with 130" {
	full_backlog "$T/full.sock"
	signal_ends INT 130 usock-connect "$T/full.sock"
}

@test "full UNIX backlog: -w 1 ends at the deadline with 124, naming the backlog" {
	full_backlog "$T/full.sock"
	ends_within 4000 124 usock-connect -w 1 "$T/full.sock"
	[ "$ELAPSED" -ge 900 ] || fail "gave up after $ELAPSED ms"
	assert_regex "$stderr" "^usock-connect: connect unix:.*/full\.sock: its listen backlog stayed full for 1 s"
}

@test "full UNIX backlog: -z answers 1 within its 5 s default" {
	full_backlog "$T/full.sock"
	ends_within 8000 1 usock-connect -z "$T/full.sock"
	[ "$ELAPSED" -ge 4500 ] || fail "gave up after $ELAPSED ms"
	assert_regex "$stderr" 'backlog stayed full for 5 s'
}

@test "full UNIX backlog: -z ends on SIGTERM with 143" {
	full_backlog "$T/full.sock"
	signal_ends TERM 143 usock-connect -z -w 30 "$T/full.sock"
}

@test "usock-bench: a full backlog on the first connect ends on SIGTERM" {
	full_backlog "$T/full.sock"
	start_bg usock-bench -w 30 "$T/full.sock" latency </dev/null 2>"$T/err"
	local pid=$BG_PID
	# no signalfd here: the signal's default action ends it, in the
	# middle of the connect's wait (poll) as anywhere else
	wait_until 10 in_poll "$pid"
	kill -TERM "$pid"
	local rc=0
	wait_pid "$pid" 3 || rc=$?
	[ "$rc" -eq 143 ] || fail "status $rc, expected 143 (killed by SIGTERM)"
}

# ---- a TCP handshake nobody answers (SYNs dropped) ----------------------------

@test "pending TCP connect: SIGINT ends it at once with 130" {
	local port
	port=$(free_port)
	full_backlog "$port"
	READY="syn_sent $port" signal_ends INT 130 usock-connect "tcp:127.0.0.1:$port"
}

@test "pending TCP connect: SIGTERM ends it at once with 143" {
	local port
	port=$(free_port)
	full_backlog "$port"
	READY="syn_sent $port" signal_ends TERM 143 usock-connect "tcp:127.0.0.1:$port"
}

@test "pending TCP connect: -t 1 ends it with 124, 'no answer within 1 s'" {
	local port
	port=$(free_port)
	full_backlog "$port"
	ends_within 4000 124 usock-connect -t 1 "tcp:127.0.0.1:$port"
	[ "$ELAPSED" -ge 900 ] || fail "gave up after $ELAPSED ms"
	assert_regex "$stderr" "^usock-connect: connect tcp:127\.0\.0\.1:$port: no answer within 1 s\$"
}

@test "pending TCP connect: -z -w 30 ends on SIGINT with 130" {
	local port
	port=$(free_port)
	full_backlog "$port"
	READY="syn_sent $port" signal_ends INT 130 usock-connect -z -w 30 "tcp:127.0.0.1:$port"
}

# ---- -w on a missing or refusing endpoint ------------------------------------

@test "-w 30 on a missing path: SIGTERM ends the wait at once with 143" {
	signal_ends TERM 143 usock-connect -w 30 "$T/none.sock"
}

@test "-w 30 on a missing path: SIGINT ends the wait at once with 130" {
	signal_ends INT 130 usock-connect -w 30 "$T/none.sock"
}

@test "-w 30 on a refusing TCP port: SIGTERM ends it with 143" {
	signal_ends TERM 143 usock-connect -w 30 "tcp:127.0.0.1:$(free_port)"
}

@test "-w 0.5 on a refusing port says it was refused, not 'no answer'" {
	ends_within 4000 124 usock-connect -w 0.5 "tcp:127.0.0.1:$(free_port)"
	assert_regex "$stderr" '^usock-connect: connect tcp:127\.0\.0\.1:[0-9]+: Connection refused \(tried for 0\.5 s, [0-9]+ times\)$'
}

@test "-w 1 on a missing path says so" {
	ends_within 4000 124 usock-connect -w 1 "$T/none.sock"
	assert_regex "$stderr" ': No such file or directory \(tried for 1 s, [0-9]+ times\)$'
}

# ---- a path that is not a socket fails at once ---------------------------------

@test "-w 5 on a regular file: exit 1 at once, 'not a socket: regular file'" {
	echo data >"$T/file"
	ends_within 2000 1 usock-connect -w 5 "$T/file"
	assert_equal "$stderr" "usock-connect: connect unix:$T/file: not a socket: regular file"
	assert_equal "$(cat "$T/file")" data
}

@test "-w 5 on /etc/passwd: exit 1 at once" {
	ends_within 2000 1 usock-connect -w 5 /etc/passwd
	assert_equal "$stderr" "usock-connect: connect unix:/etc/passwd: not a socket: regular file"
}

@test "-w 5 on a directory: exit 1 at once, 'not a socket: directory'" {
	mkdir "$T/dir"
	ends_within 2000 1 usock-connect -w 5 "$T/dir"
	assert_equal "$stderr" "usock-connect: connect unix:$T/dir: not a socket: directory"
}

@test "-w 5 on a FIFO: exit 1 at once, 'not a socket: named pipe (FIFO)'" {
	mkfifo "$T/fifo"
	ends_within 2000 1 usock-connect -w 5 "$T/fifo"
	assert_equal "$stderr" "usock-connect: connect unix:$T/fifo: not a socket: named pipe (FIFO)"
}

@test "-z on a character device: exit 1 at once" {
	ends_within 2000 1 usock-connect -z -w 5 /dev/null
	assert_equal "$stderr" "usock-connect: connect unix:/dev/null: not a socket: character device"
}

@test "a symbolic link to a socket is followed; to a regular file is not a socket" {
	start_server "$T/s.sock" --mode pong
	ln -s s.sock "$T/link"
	run -0 timeout 20 usock-connect -w 5 "$T/link" <<<"PING"
	assert_output PONG
	echo x >"$T/f"
	ln -s f "$T/flink"
	ends_within 2000 1 usock-connect -w 5 "$T/flink"
	assert_regex "$stderr" 'not a socket: regular file$'
}

@test "usock-bench -w 5 on a regular file: exit 1 at once" {
	echo data >"$T/file"
	ends_within 2000 1 usock-bench -w 5 "$T/file" latency
	assert_regex "$stderr" 'connect: not a socket$'
}

# ---- closed standard descriptors ----------------------------------------------

# a server that greets, then reports what it receives until EOF (2 s)
greeter() {
	"$PY" - "$1" >"$2" 2>&1 3>&- <<-'EOF' &
	import socket, sys
	s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
	c, _ = s.accept(); c.settimeout(2); c.sendall(b"hello-from-server\n"); d = b""
	try:
	    while True:
	        b = c.recv(65536)
	        if not b: print("EOF after %r" % d); break
	        d += b
	except socket.timeout: print("no EOF; got %r" % d)
	EOF
	BG_PIDS+=($!)
	GPID=$!
	wait_for_socket "$1"
}

@test "usock-connect with stdin and stdout closed: the peer gets EOF, not its own bytes" {
	local redir
	for redir in '<&-' '>&-' '<&- >&-'; do
		rm -f "$T/s.sock"
		greeter "$T/s.sock" "$T/srv.out"
		eval "timeout 10 usock-connect \"\$T/s.sock\" 2>\"\$T/err\" $redir" || fail "[$redir] status $?: $(cat "$T/err")"
		wait_pid "$GPID" 10
		assert_equal "$(cat "$T/srv.out")" "EOF after b''"
	done
}

@test "every tool puts /dev/null on closed descriptors 0, 1 and 2 before opening anything" {
	local pid fd
	start_bg sh -c 'exec "$@" <&- >&- 2>&-' sh usock-listen -k "$T/l.sock" -- cat
	pid=$BG_PID
	wait_for_socket "$T/l.sock"
	for fd in 0 1 2; do
		assert_equal "$(readlink "/proc/$pid/fd/$fd")" /dev/null
	done
	start_bg sh -c 'exec "$@" <&- >&- 2>&-' sh tcp2unix "$T/t.sock" "$T/l.sock"
	pid=$BG_PID
	wait_for_socket "$T/t.sock"
	for fd in 0 1 2; do
		assert_equal "$(readlink "/proc/$pid/fd/$fd")" /dev/null
	done
	start_bg sh -c 'exec "$@" <&- >&- 2>&-' sh usock-bench --serve echo "$T/b.sock"
	pid=$BG_PID
	wait_for_socket "$T/b.sock"
	for fd in 0 1 2; do
		assert_equal "$(readlink "/proc/$pid/fd/$fd")" /dev/null
	done
	# and they work: the chain answers through the bridge
	run -0 timeout 10 usock-connect "$T/t.sock" <<<"through"
	assert_output through
	# a one-shot tool with stdout closed still exits cleanly
	run -0 sh -c 'sockinfo "$1" >&-' sh "$T/l.sock"
}

# ---- tcp2unix pointed at itself ---------------------------------------------

# loop_refused ARG...: tcp2unix ARG... is a usage error at once, naming the
# loop, and leaves no socket file behind.
loop_refused() {
	ends_within 5000 2 tcp2unix "$@"
	assert_regex "$stderr" '^tcp2unix: target .* leads back to the listening address .*: a connection loop$'
}

@test "tcp2unix ./a.sock ./a.sock: usage error, socket file removed" {
	cd "$T"
	loop_refused ./a.sock ./a.sock
	assert_equal "$stderr" "tcp2unix: target unix:./a.sock leads back to the listening address unix:./a.sock: a connection loop"
	assert_not_exist "$T/a.sock"
}

@test "tcp2unix: the same socket file by another spelling or a symbolic link" {
	cd "$T"
	loop_refused ./a.sock "$T/a.sock"
	loop_refused "$T/a.sock" "unix:$T/./a.sock"
	ln -s a.sock "$T/link.sock"
	loop_refused ./a.sock ./link.sock
}

@test "tcp2unix PORT PORT and a loopback target on the listening port: usage error" {
	local port
	port=$(free_port)
	loop_refused "$port" "$port"
	loop_refused "127.0.0.1:$port" "tcp:127.0.0.1:$port"
	loop_refused "$port" "0.0.0.0:$port"
	# nothing is left listening on the port
	run -1 usock-connect -z "tcp:127.0.0.1:$port"
}

@test "tcp2unix: a wildcard listener is reached through every local address" {
	local port a
	port=$(free_port)
	loop_refused "*:$port" "127.0.0.1:$port"
	loop_refused "*:$port" "127.0.0.2:$port"
	if [ -e /proc/net/if_inet6 ]; then
		loop_refused "*:$port" "tcp:[::1]:$port"
	fi
	# an address of an interface other than lo, if there is one
	a=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
	if [ -n "$a" ]; then
		loop_refused "*:$port" "$a:$port"
	fi
}

@test "tcp2unix @name @name: usage error" {
	local n
	n=$(abstract_name)
	loop_refused "@$n" "@$n"
}

@test "tcp2unix: a different port, path or name is not a loop" {
	local p1 p2
	p1=$(free_port)
	p2=$(free_port)
	[ "$p1" != "$p2" ] || p2=$((p1 + 1))
	start_bridge "$p1" "$p2"
	kill -TERM "$BPID"
	expect_exit 0 "$BPID"
	cd "$T"
	start_bridge ./a.sock ./b.sock
	kill -TERM "$BPID"
	expect_exit 0 "$BPID"
}

@test "tcp2unix: a loop made after start (a link to its own socket) is refused per client, no storm" {
	cd "$T"
	start_bridge ./a.sock ./b.sock
	local base
	base=$(fd_count "$BPID")
	ln -s a.sock "$T/b.sock"
	local i
	for i in 1 2 3; do
		# the looped connection is closed at once: the client gets
		# nothing, and an end (EOF or a reset) rather than a hang
		run --separate-stderr timeout 10 usock-connect ./a.sock <<<"hello"
		[ "$status" -le 1 ] || fail "status $status"
		assert_output ""
	done
	wait_until 10 fds_are "$BPID" "$base"
	grep -q 'refused: a connection from this bridge itself' "$BERR" ||
		fail "no loop message: $(cat "$BERR")"
	# the link replaced by a real server: the bridge serves again
	rm "$T/b.sock"
	start_server "$T/b.sock" --mode pong
	run -0 timeout 10 usock-connect ./a.sock <<<"PING"
	assert_output PONG
}

# tcp_loop_later N WORKERS: a TCP loop that appears after start, N
# clients through a bridge with WORKERS event loops: each client's
# connection back to the bridge is refused once (whichever loop accepts
# it), and the bridge's descriptors return to what they were.
tcp_loop_later() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace"
	unshare -n true 2>/dev/null || skip "no network namespaces here"
	local port=18777
	# in a network namespace of its own: lo, and 10.9.9.9 added only
	# once the bridge runs, so start-up cannot know it is ours
	run -0 --separate-stderr timeout 30 unshare -n sh -c '
		ip link set lo up
		tcp2unix -v -j "$4" "*:$1" "10.9.9.9:$1" 2>"$2/err" 3>&- &
		b=$!
		i=0
		until grep -q "^tcp2unix: .*forwarding to" "$2/err"; do
			i=$((i + 1)); [ $i -lt 500 ] || exit 9; sleep 0.02
		done
		base=$(ls /proc/$b/fd | wc -l)
		ip addr add 10.9.9.9/32 dev lo
		i=0
		while [ $i -lt "$3" ]; do
			echo hi | usock-connect "127.0.0.1:$1" && exit 8
			i=$((i + 1))
		done
		sleep 0.2
		now=$(ls /proc/$b/fd | wc -l)
		kill $b; wait $b
		echo "fds $base $now"' sh "$port" "$T" "$1" "$2"
	assert_output --regexp '^fds ([0-9]+) \1$'
	grep -q 'refused: a connection from this bridge itself' "$T/err" ||
		fail "no loop message: $(cat "$T/err")"
	# and none went round twice: the only clients served are the N
	[ "$(grep -c 'refused: a connection from this bridge itself' "$T/err")" -eq "$1" ] &&
		[ "$(grep -c ': #[0-9]* connection from ' "$T/err")" -eq "$1" ] ||
		fail "$(cat "$T/err")"
}

@test "tcp2unix: a TCP loop made after start (an address added later) is refused per client" {
	tcp_loop_later 3 1
}

@test "tcp2unix -j 3: a TCP loop made after start is refused whichever loop accepts the connection back" {
	tcp_loop_later 12 3
}
