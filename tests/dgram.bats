#!/usr/bin/env bats
# Datagram and seqpacket UNIX sockets: usock-connect and usock-listen with
# unix-dgram: and unix-seqpacket: addresses against real peers (logger,
# systemd-notify, python), message boundaries, answers, size and queue
# limits, socket-file rules, and tcp2unix's refusal.

load helpers

PEER="$PY $LIB/dgram_peer.py"

# wait_bound PATH|@NAME [SECONDS]: /proc/net/unix shows a socket bound to
# that name (datagram sockets never listen).
wait_bound() {
	wait_until "${2:-10}" _bound "$1"
}

_bound() {
	awk -v n="$1" '$8 == n { f = 1 } END { exit !f }' /proc/net/unix
}

# peer_serve ADDR OUT [dgram_peer.py serve options]: a python receiver,
# ready; its pid in PPID_.
peer_serve() {
	local addr=$1 out=$2 ready
	shift 2
	ready=$(mktemp -u "$T/ready.XXXXXX")
	# shellcheck disable=SC2086 # interpreter and script, split on purpose
	start_bg $PEER serve "$addr" --out "$out" --ready-file "$ready" "$@"
	PPID_=$BG_PID
	wait_for_file "$ready"
}

# hexlines STRING...: the lines dgram_peer.py writes for these messages.
hexlines() {
	local m
	for m in "$@"; do
		printf '%d %s\n' "$(printf '%s' "$m" | wc -c)" "$(printf '%s' "$m" | od -An -v -tx1 | tr -d ' \n')"
	done
}

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

@test "logger -u PATH into usock-listen unix-dgram:PATH: one line per message, -k implied, SIGTERM ends it" {
	start_bg usock-listen unix-dgram:"$T/log.sock" >"$T/out" 2>"$T/err"
	local pid=$BG_PID
	wait_bound "$T/log.sock"
	run -0 logger -u "$T/log.sock" "first message"
	run -0 logger -u "$T/log.sock" --rfc5424 "second message"
	wait_until 10 file_has_lines "$T/out" 2
	assert_regex "$(sed -n 1p "$T/out")" '^<13>.* first message$'
	assert_regex "$(sed -n 2p "$T/out")" '^<13>1 .* second message$'
	pid_alive "$pid" || fail "usock-listen ended after the first datagram"
	kill -TERM "$pid"
	expect_exit 0 "$pid" 10
	assert_not_exists "$T/log.sock"
	assert_equal "$(cat "$T/err")" ""
}

file_has_lines() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

@test "systemd-notify --ready into usock-listen unix-dgram:@NAME (NOTIFY_SOCKET)" {
	command -v systemd-notify >/dev/null || skip "no systemd-notify"
	local name
	name=$(abstract_name)
	start_bg usock-listen --print-address unix-dgram:@"$name" >"$T/out" 2>"$T/err"
	local pid=$BG_PID
	wait_bound "@$name"
	assert_equal "$(wait_file_line "$T/err" '^unix-dgram:@')" "unix-dgram:@$name"
	NOTIFY_SOCKET=@$name run -0 timeout 10 systemd-notify --ready --status="up and running"
	wait_until 10 grep -qx 'READY=1' "$T/out"
	grep -qx 'STATUS=up and running' "$T/out" || fail "no STATUS line: $(cat "$T/out")"
	kill -TERM "$pid"
	expect_exit 0 "$pid" 10
}

@test "usock-connect unix-dgram: a python receiver gets exactly one datagram per line, bytes intact" {
	peer_serve "$T/d.sock" "$T/got" --count 5
	printf 'one\n\nthree \\ tab\there\n\001\002\377\nlast, no newline' >"$T/in"
	run -0 --separate-stderr usock-connect unix-dgram:"$T/d.sock" <"$T/in"
	assert_equal "$stderr" ""
	expect_exit 0 "$PPID_" 10
	assert_equal "$(cat "$T/got")" "$(hexlines one '' "three \\ tab	here" $'\001\002\377' 'last, no newline')"
}

@test "usock-connect unix-dgram:@NAME (abstract), and -x shows each datagram's boundary" {
	local name
	name=$(abstract_name)
	peer_serve "@$name" "$T/got" --count 2
	printf 'hello\nworld!\n' | usock-connect -x unix-dgram:@"$name" 2>"$T/dump"
	expect_exit 0 "$PPID_" 10
	assert_equal "$(cat "$T/got")" "$(hexlines hello 'world!')"
	# two records: one at offset 0 (5 bytes), one at offset 5 (6 bytes)
	assert_equal "$(grep -c '^> #1 ' "$T/dump")" 2
	grep -q '^> 00000000  68 65 6c 6c 6f  ' "$T/dump" || fail "$(cat "$T/dump")"
	grep -q '^> 00000005  77 6f 72 6c 64 21  ' "$T/dump" || fail "$(cat "$T/dump")"
}

@test "--read-boundaries: a 100000-byte binary file (NULs, newlines) is one datagram, byte for byte" {
	head -c 100000 /dev/urandom >"$T/blob"
	peer_serve "$T/d.sock" "$T/got" --count 1
	run -0 usock-connect --read-boundaries unix-dgram:"$T/d.sock" <"$T/blob"
	expect_exit 0 "$PPID_" 10
	assert_equal "$(cut -d' ' -f1 "$T/got")" 100000
	assert_equal "$(cut -d' ' -f2 "$T/got")" "$(od -An -v -tx1 "$T/blob" | tr -d ' \n')"
}

@test "a 100000-byte datagram reaches usock-listen whole (no 64 KiB truncation)" {
	head -c 100000 /dev/urandom | tr -d '\n' >"$T/blob"
	start_bg usock-listen unix-dgram:"$T/d.sock" >"$T/out"
	local pid=$BG_PID
	wait_bound "$T/d.sock"
	run -0 usock-connect --read-boundaries unix-dgram:"$T/d.sock" <"$T/blob"
	wait_until 10 file_size_is "$T/out" $(($(stat -c %s "$T/blob") + 1))
	printf '\n' >>"$T/blob"
	assert_equal "$(sha "$T/out")" "$(sha "$T/blob")"
}

@test "a line over the datagram size limit: exit 1, says the size and the limit" {
	peer_serve "$T/d.sock" "$T/got" --count 1
	{ head -c 300000 /dev/zero | tr '\0' a; echo; } >"$T/long"
	run -1 --separate-stderr usock-connect unix-dgram:"$T/d.sock" <"$T/long"
	assert_regex "$stderr" "^usock-connect: send unix-dgram:$T/d.sock: a line of more than [0-9]+ bytes is over the [0-9]+-byte limit of one datagram \\(SO_SNDBUF"
	assert_equal "${#stderr_lines[@]}" 1
}

@test "answers come back: one line each; at EOF -t is the answer window (exit 0)" {
	peer_serve "$T/d.sock" "$T/got" --count 3 --answer 're: '
	run -0 --separate-stderr usock-connect -t 3 unix-dgram:"$T/d.sock" < <(printf 'a\nbb\nccc\n')
	assert_output $'re: a\nre: bb\nre: ccc'
	expect_exit 0 "$PPID_" 10
}

@test "at stdin EOF without -t: usock-connect exits 0 at once" {
	peer_serve "$T/d.sock" "$T/got" --count 1
	run -0 timeout 5 usock-connect unix-dgram:"$T/d.sock" <<<'x'
	expect_exit 0 "$PPID_" 10
}

@test "usock-listen unix-dgram: -- COMMAND: once per datagram, answer to the sender, credentials" {
	start_bg usock-listen unix-dgram:"$T/d.sock" -- sh -c \
		'read -r l; echo "$l|$USOCK_PEER_UID|$USOCK_PEER_GID|$USOCK_LOCAL"; echo "$USOCK_PEER_PID $USOCK_PEER" >>"$0"' "$T/seen"
	local pid=$BG_PID
	wait_bound "$T/d.sock"
	usock-connect -t 3 unix-dgram:"$T/d.sock" <<<$'ping\npong' >"$T/ans" &
	local cpid=$!
	BG_PIDS+=("$cpid")
	expect_exit 0 "$cpid" 20
	assert_equal "$(cat "$T/ans")" "ping|$(id -u)|$(id -g)|unix-dgram:$T/d.sock
pong|$(id -u)|$(id -g)|unix-dgram:$T/d.sock"
	# the sender's pid, and its autobound abstract address
	assert_equal "$(wc -l <"$T/seen")" 2
	assert_regex "$(sed -n 1p "$T/seen")" "^$cpid unix-dgram:@[0-9a-f]{5}\$"
	# an unbound sender (logger): COMMAND runs, USOCK_PEER empty
	run -0 logger -u "$T/d.sock" hi
	wait_until 10 file_has_lines "$T/seen" 3
	assert_regex "$(sed -n 3p "$T/seen")" '^[0-9]+ $'
	pid_alive "$pid" || fail "usock-listen ended"
}

@test "usock-listen unix-dgram: -- cat echoes every datagram byte for byte; no output, no answer" {
	start_bg usock-listen unix-dgram:"$T/e.sock" -- cat
	wait_bound "$T/e.sock"
	run -0 timeout 20 $PEER send "$T/e.sock" --bind --answers 3 --out "$T/got" 'x' '' $'two\nlines\n'
	assert_equal "$(cat "$T/got")" "$(hexlines x '' $'two\nlines\n')"
	start_bg usock-listen unix-dgram:"$T/n.sock" -- true
	wait_bound "$T/n.sock"
	run -0 --separate-stderr usock-connect -t 0.5 unix-dgram:"$T/n.sock" <<<'x'
	assert_output ""
}

@test "usock-listen unix-dgram: stdin lines go to the last sender with an address" {
	mkfifo "$T/fifo"
	# read-write: opening it does not wait for the other end
	exec 4<>"$T/fifo"
	start_bg usock-listen unix-dgram:"$T/d.sock" <"$T/fifo" >"$T/out"
	wait_bound "$T/d.sock"
	usock-connect -t 3 unix-dgram:"$T/d.sock" <<<'hello' >"$T/ans" &
	local cpid=$!
	BG_PIDS+=("$cpid")
	wait_until 10 grep -qx hello "$T/out"
	echo 'answer' >&4
	exec 4>&-
	expect_exit 0 "$cpid" 20
	assert_equal "$(cat "$T/ans")" answer
}

@test "the receiver's queue stays full: bounded by -t, exit 124; SIGTERM ends an unbounded wait (143)" {
	local ready
	ready=$(mktemp -u "$T/ready.XXXXXX")
	# shellcheck disable=SC2086
	start_bg $PEER hold "$T/full.sock" --ready-file "$ready"
	wait_for_file "$ready"
	run -124 --separate-stderr timeout 20 usock-connect -t 1 unix-dgram:"$T/full.sock" < <(seq 1 100)
	assert_regex "$stderr" "^usock-connect: send unix-dgram:$T/full.sock: the receiver's queue stayed full for 1000 ms"
	seq 1 100 | usock-connect unix-dgram:"$T/full.sock" 2>"$T/err" &
	local cpid=$!
	BG_PIDS+=("$cpid")
	sleep 0.3
	pid_alive "$cpid" || fail "usock-connect did not wait for room"
	kill -TERM "$cpid"
	expect_exit 143 "$cpid" 10
}

@test "no reader: missing path (1), stale file (1, says nothing is bound), a stream socket (says the type)" {
	run -1 --separate-stderr usock-connect unix-dgram:"$T/none.sock" <<<x
	assert_regex "$stderr" "No such file or directory"
	make_stale_socket "$T/stale.sock"
	run -1 --separate-stderr usock-connect unix-dgram:"$T/stale.sock" <<<x
	assert_regex "$stderr" "^usock-connect: connect unix-dgram:$T/stale.sock: Connection refused \\(no socket is bound there"
	start_bg usock-listen "$T/st.sock" </dev/null
	wait_for_socket "$T/st.sock"
	run -1 --separate-stderr usock-connect unix-dgram:"$T/st.sock" <<<x
	assert_regex "$stderr" "Protocol wrong type for socket \\(the socket there is not a datagram socket\\)"
}

@test "-w waits for a datagram socket to appear" {
	usock-connect -w 10 unix-dgram:"$T/late.sock" <<<'late' &
	local cpid=$!
	BG_PIDS+=("$cpid")
	sleep 0.3
	peer_serve "$T/late.sock" "$T/got" --count 1
	expect_exit 0 "$cpid" 20
	expect_exit 0 "$PPID_" 10
	assert_equal "$(cat "$T/got")" "$(hexlines late)"
}

@test "dgram socket files: stale replaced, live refused (names it), other file refused, -m applied, removed at exit" {
	make_stale_socket "$T/s.sock"
	start_bg usock-listen -m 0620 unix-dgram:"$T/s.sock" >/dev/null
	local pid=$BG_PID
	wait_bound "$T/s.sock"
	assert_equal "$(stat -c %a "$T/s.sock")" 620
	run -1 --separate-stderr usock-listen unix-dgram:"$T/s.sock"
	assert_regex "$stderr" "live listener.*pid $pid"
	[ -S "$T/s.sock" ] || fail "the live socket file was removed"
	kill -TERM "$pid"
	expect_exit 0 "$pid" 10
	assert_not_exists "$T/s.sock"
	echo data >"$T/f"
	run -1 --separate-stderr usock-listen unix-dgram:"$T/f"
	assert_equal "$(cat "$T/f")" data
	# a live python receiver is refused too
	peer_serve "$T/p.sock" "$T/got" --count 1
	run -1 --separate-stderr usock-listen unix-dgram:"$T/p.sock"
	assert_regex "$stderr" "live listener.*python"
	[ -S "$T/p.sock" ] || fail "the live socket file was removed"
}

@test "unix-seqpacket: a python server gets one record per line; answers printed; half-close ends it" {
	peer_serve "$T/q.sock" "$T/got" --type seqpacket --answer 'R:'
	printf 'x\nyy\n\001\000z\nlast' >"$T/in"
	run -0 run_to "$T/out" timeout 20 usock-connect unix-seqpacket:"$T/q.sock" <"$T/in"
	expect_exit 0 "$PPID_" 10
	assert_equal "$(cat "$T/got")" "$(hexlines x yy | sed '$a 3 01007a'; hexlines last)"
	printf 'R:x\nR:yy\nR:\001\000z\nR:last\n' >"$T/want"
	assert_equal "$(sha "$T/out")" "$(sha "$T/want")"
}

@test "unix-seqpacket: an empty line is not sent (a zero-length record reads as EOF) and says so" {
	peer_serve "$T/q.sock" "$T/got" --type seqpacket
	run -0 --separate-stderr timeout 20 usock-connect unix-seqpacket:"$T/q.sock" < <(printf 'a\n\nb\n')
	assert_regex "$stderr" "1 empty line\\(s\\) not sent"
	expect_exit 0 "$PPID_" 10
	assert_equal "$(cat "$T/got")" "$(hexlines a b)"
}

@test "usock-listen unix-seqpacket: records as lines, stdin lines as records, ends when both sides end" {
	printf 'to-client-1\nto-client-2\n' >"$T/in"
	start_bg usock-listen unix-seqpacket:"$T/q.sock" <"$T/in" >"$T/out"
	local pid=$BG_PID
	wait_bound "$T/q.sock"
	run -0 timeout 20 "$PY" -c '
import socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.connect(sys.argv[1])
c.send(b"a\nb"); c.send(b"c")
c.shutdown(socket.SHUT_WR)
while True:
    d = c.recv(1000)
    if not d:
        break
    print(repr(d))
' "$T/q.sock"
	assert_output $'b\'to-client-1\'\nb\'to-client-2\''
	expect_exit 0 "$pid" 10
	assert_equal "$(cat "$T/out")" $'a\nb\nc'
	assert_not_exists "$T/q.sock"
}

@test "usock-listen unix-seqpacket: -- COMMAND gets the connection, records kept" {
	start_bg usock-listen unix-seqpacket:"$T/q.sock" -- sh -c 'cat; echo "done $USOCK_PEER"'
	wait_bound "$T/q.sock"
	run -0 run_to "$T/out" timeout 20 usock-connect unix-seqpacket:"$T/q.sock" <<<$'r1\nr2'
	# "done ...\n" is one record: printed, then its line end; the
	# client did not bind a name
	printf 'r1\nr2\ndone unix-seqpacket:\n\n' >"$T/want"
	assert_equal "$(cat "$T/out")" "$(cat "$T/want")"
	assert_equal "$(sha "$T/out")" "$(sha "$T/want")"
}

@test "sockinfo's verdicts hold for dgram and seqpacket sockets (checked by sending as nobody)" {
	chmod 755 "$T"
	start_bg usock-listen -m 0600 unix-dgram:"$T/closed.sock" >/dev/null
	start_bg usock-listen -m 0666 unix-dgram:"$T/open.sock" >"$T/open.out"
	start_bg usock-listen -m 0600 unix-seqpacket:"$T/qclosed.sock" </dev/null >/dev/null
	wait_bound "$T/closed.sock"
	wait_bound "$T/open.sock"
	wait_bound "$T/qclosed.sock"
	run -0 sockinfo -u nobody --json "$T/closed.sock" "$T/open.sock" "$T/qclosed.sock"
	assert_equal "$(jq -r '.[] | "\(.type) \(.state) \(.can_connect)"' <<<"$output")" \
		"dgram bound false
dgram bound true
seqpacket listening false"
	run -1 as_nobody "$BIN/usock-connect" unix-dgram:"$T/closed.sock" <<<x
	run -1 as_nobody "$BIN/usock-connect" unix-seqpacket:"$T/qclosed.sock" <<<x
	run -0 as_nobody "$BIN/usock-connect" unix-dgram:"$T/open.sock" <<<sent-by-nobody
	wait_until 10 grep -qx sent-by-nobody "$T/open.out"
	# the addresses sockinfo prints name the socket type, so they connect
	run -0 sockinfo --json "$T/open.sock" "$T/qclosed.sock"
	assert_equal "$(jq -r '.[].address' <<<"$output")" \
		"unix-dgram:$T/open.sock
unix-seqpacket:$T/qclosed.sock"
	run -0 usock-connect "$(jq -r '.[0].address' <<<"$output")" <<<by-printed-address
	wait_until 10 grep -qx by-printed-address "$T/open.out"
}

@test "tcp2unix refuses dgram and seqpacket addresses: exit 2, says a stream has no boundaries" {
	local a
	for a in "unix-dgram:$T/d.sock" "unix-seqpacket:$T/q.sock" "unix-dgram:@x"; do
		run -2 --separate-stderr tcp2unix 0 "$a"
		assert_regex "$stderr" "^tcp2unix: address '.*': .*boundaries"
		assert_equal "${#stderr_lines[@]}" 1
		run -2 --separate-stderr tcp2unix "$a" "$T/t.sock"
		assert_regex "$stderr" "boundaries"
	done
	assert_not_exists "$T/d.sock"
	assert_not_exists "$T/q.sock"
}

@test "option checks: --read-boundaries needs a message address, -i and --max-conns refused with dgram" {
	run -2 --separate-stderr usock-connect --read-boundaries "$T/s.sock"
	assert_regex "$stderr" "read-boundaries.*stream has no boundaries"
	run -2 --separate-stderr usock-connect -i unix-dgram:"$T/s.sock"
	assert_regex "$stderr" "cannot use --interactive with unix-dgram:"
	run -2 --separate-stderr usock-listen -c 2 unix-dgram:"$T/s.sock" -- cat
	assert_regex "$stderr" "max-conns"
	assert_not_exists "$T/s.sock"
}

@test "on a terminal each datagram is one escaped line; on a pipe the bytes are as sent" {
	peer_serve "$T/d.sock" "$T/got" --count 1 --answer $'\e[31mred\tline\nnext\\'
	printf 'x\n' >"$T/in"
	# script(1) gives usock-connect a terminal for its output
	run -0 timeout 20 script -qec "usock-connect -t 2 unix-dgram:$T/d.sock <$T/in" /dev/null
	assert_output --partial 'x1b[31mred\x09line\x0anext\x5cx'
	assert_equal "${#lines[@]}" 1
	expect_exit 0 "$PPID_" 10
	peer_serve "$T/e.sock" "$T/got" --count 1 --answer $'\e[31m'
	run -0 run_to "$T/out" usock-connect -t 2 unix-dgram:"$T/e.sock" <"$T/in"
	printf '\033[31mx\n' >"$T/want"
	assert_equal "$(sha "$T/out")" "$(sha "$T/want")"
}

@test "--linger gives a datagram exchange its answer window (exit 0); -z probes a bound socket" {
	peer_serve "$T/d.sock" "$T/got" --count 2 --answer 'ok '
	run -0 --separate-stderr timeout 20 usock-connect --linger 2 unix-dgram:"$T/d.sock" <<<$'a\nb'
	assert_output $'ok a\nok b'
	expect_exit 0 "$PPID_" 10
	start_bg usock-listen unix-dgram:"$T/z.sock" >"$T/zout"
	wait_bound "$T/z.sock"
	run -0 usock-connect -z unix-dgram:"$T/z.sock"
	make_stale_socket "$T/stale.sock"
	run -1 usock-connect -z unix-dgram:"$T/stale.sock"
	[ ! -s "$T/zout" ] || fail "the probe sent something: $(cat "$T/zout")"
}

@test "a COMMAND answer too long for one datagram is reported and not sent; the server goes on" {
	start_bg usock-listen unix-dgram:"$T/d.sock" -- sh -c 'read -r l; if [ "$l" = big ]; then head -c 300000 /dev/zero; else echo "small $l"; fi' 2>"$T/err"
	wait_bound "$T/d.sock"
	run -0 --separate-stderr timeout 20 usock-connect -t 1 unix-dgram:"$T/d.sock" <<<'big'
	assert_output ""
	wait_file_line "$T/err" "answer to unix-dgram:@[0-9a-f]+: 300000 bytes are over the [0-9]+-byte limit of one datagram; not sent"
	run -0 --separate-stderr timeout 20 usock-connect -t 2 unix-dgram:"$T/d.sock" <<<'one'
	assert_output 'small one'
}
