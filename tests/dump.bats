#!/usr/bin/env bats
# Traffic dumps (--dump=hex|text, -x; usock(7) "Traffic dumps"): records
# that name their connection, never mixed, exactly the bytes relayed,
# socat -v's text view, hostile bytes and names escaped, and a stderr
# nobody reads stalls nothing.

load helpers

VIEW="$PY $LIB/dump_view.py"

# view ARGS...: tests/lib/dump_view.py
view() {
	# shellcheck disable=SC2086 # interpreter and script, split on purpose
	$VIEW "$@"
}

@test "--dump=text is socat -v's view of the same bytes, both directions" {
	command -v socat >/dev/null || skip "socat not installed"
	printf 'GET /x HTTP/1.1\r\nHost: a\\b\r\n\tTab\001\177\303\251\377\r\n\r\n' >"$T/req"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n' >"$T/ans"
	start_server "$T/s.sock" --mode answer --count 2 --answer-file "$T/ans"
	# socat waits for the answer's EOF (-t 10: at most that long after ours)
	run -0 timeout 20 bash -c 'socat -t 10 -v - UNIX-CONNECT:"$1" <"$2" >"$3" 2>"$4"' \
		_ "$T/s.sock" "$T/req" "$T/socat.out" "$T/socat.err"
	run -0 timeout 20 bash -c 'usock-connect --dump=text "$1" <"$2" >"$3" 2>"$4"' \
		_ "$T/s.sock" "$T/req" "$T/out" "$T/dump"
	cmp "$T/socat.out" "$T/ans"
	cmp "$T/out" "$T/ans"
	local d
	for d in '>' '<'; do
		view socat "$T/dump" "$d" >"$T/mine"
		view socat-ref "$T/socat.err" "$d" >"$T/ref"
		[ -s "$T/ref" ] || fail "socat showed nothing for $d: $(cat "$T/socat.err")"
		cmp "$T/mine" "$T/ref" || fail "$d: $(cat "$T/mine") vs socat's $(cat "$T/ref")"
	done
	# and the view itself: the one escaping rule, line by line
	local n
	n=$(stat -c %s "$T/req")
	grep -Eq "^> #1 [0-9/]{10} [0-9:.]{15} length=$n from=0 to=$((n - 1)) peer=unix:$T/s.sock\$" "$T/dump" ||
		fail "$(cat "$T/dump")"
	grep -qxF '>  GET /x HTTP/1.1\x0d' "$T/dump" || fail "$(cat "$T/dump")"
	grep -qxF '>  Host: a\x5cb\x0d' "$T/dump" || fail "$(cat "$T/dump")"
	grep -qxF '>  \x09Tab\x01\x7fé\xff\x0d' "$T/dump" || fail "$(cat "$T/dump")"
	grep -qxF '<  HTTP/1.1 200 OK\x0d' "$T/dump" || fail "$(cat "$T/dump")"
}

@test "the relayed bytes are the same with and without --dump, and the dump shows exactly them" {
	head -c 100000 /dev/urandom >"$T/blob"
	start_server "$T/s.sock" --mode echo --count 3
	run -0 timeout 20 bash -c 'usock-connect "$1" <"$2" >"$3"' _ "$T/s.sock" "$T/blob" "$T/plain"
	cmp "$T/blob" "$T/plain"
	run -0 timeout 20 bash -c 'usock-connect -x "$1" <"$2" >"$3" 2>"$4"' \
		_ "$T/s.sock" "$T/blob" "$T/hex.out" "$T/hex.dump"
	cmp "$T/blob" "$T/hex.out"
	run -0 timeout 20 bash -c 'usock-connect --dump=text "$1" <"$2" >"$3" 2>"$4"' \
		_ "$T/s.sock" "$T/blob" "$T/text.out" "$T/text.dump"
	cmp "$T/blob" "$T/text.out"
	local f
	for f in hex text; do
		run -0 view check "$T/$f.dump"
		assert_line "#1 > 100000 0 unix:$T/s.sock"
		assert_line "#1 < 100000 0 unix:$T/s.sock"
		view save "$T/$f.dump" 1 '>' '' "$T/$f.up" 1 '<' '' "$T/$f.down"
		cmp "$T/blob" "$T/$f.up"
		cmp "$T/blob" "$T/$f.down"
	done
	# records are at most PIPE_BUF bytes
	run -0 awk '/^[<>] #/ { if (n > 4096) big++; n = 0 } { n += length($0) + 1 }
		END { if (n > 4096) big++; print big + 0 }' "$T/text.dump"
	assert_output 0
}

@test "usock-listen --dump=text: the client's bytes are '>', its own '<', numbered per connection" {
	head -c 100000 /dev/urandom >"$T/blob"
	start_bg usock-listen -k --dump=text "$T/s.sock" <<<"answer" >"$T/got" 2>"$T/dump"
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 usock-connect "$T/s.sock" <"$T/blob"
	assert_output answer
	run -0 timeout 20 usock-connect "$T/s.sock" <<<"second"
	wait_file_line "$T/dump" '^> #2 ' >/dev/null
	kill -TERM "$pid"
	expect_exit 0 "$pid"
	run -0 view check "$T/dump"
	assert_line "#1 > 100000 0 unix:"
	assert_line "#1 < 7 0 unix:"
	assert_line "#2 > 7 0 unix:"
	view bytes "$T/dump" 1 '>' >"$T/shown"
	cmp "$T/blob" "$T/shown"
	grep -qxF '>  second' "$T/dump" || fail "$(tail -5 "$T/dump")"
}

@test "two processes dumping to one stderr pipe: whole records, each naming its connection" {
	local x
	for x in a b; do
		head -c 60000 /dev/urandom >"$T/$x.1"
		head -c 60000 /dev/urandom >"$T/$x.2"
		cat "$T/$x.1" "$T/$x.2" >"$T/$x"
		start_server "$T/$x.sock" --mode echo
		mkfifo "$T/$x.in"
	done
	# both write to one pipe, read by one cat
	start_bg bash -c '{ usock-connect -x "$1/a.sock" <"$1/a.in" >"$1/a.out" &
		usock-connect --dump=hex "$1/b.sock" <"$1/b.in" >"$1/b.out" &
		wait; } 2>&1 | cat >"$1/dump"' _ "$T"
	local all=$BG_PID
	exec 5>"$T/a.in" 6>"$T/b.in"
	# a, then b, then a again, then b: their records alternate for sure
	cat "$T/a.1" >&5
	wait_file_line "$T/dump" "^< #1 .* from=0 to=[0-9]+ peer=unix:$T/a.sock\$" >/dev/null
	cat "$T/b.1" >&6
	wait_file_line "$T/dump" "^< #1 .* from=0 to=[0-9]+ peer=unix:$T/b.sock\$" >/dev/null
	cat "$T/a.2" >&5
	exec 5>&-
	cat "$T/b.2" >&6
	exec 6>&-
	expect_exit 0 "$all"
	cmp "$T/a" "$T/a.out"
	cmp "$T/b" "$T/b.out"
	run -0 view check "$T/dump"
	view save "$T/dump" 1 '>' "unix:$T/a.sock" "$T/a.up" 1 '<' "unix:$T/a.sock" "$T/a.down" \
		1 '>' "unix:$T/b.sock" "$T/b.up" 1 '<' "unix:$T/b.sock" "$T/b.down"
	for x in a b; do
		cmp "$T/$x" "$T/$x.up"
		cmp "$T/$x" "$T/$x.down"
	done
	run -0 awk '/^[<>] #1 / { p = $NF; if (last && p != last) sw++; last = p } END { print sw + 0 }' "$T/dump"
	[ "$output" -ge 3 ] || fail "the records did not alternate: $output"
}

@test "hostile bytes and names are escaped in the dump: no control byte reaches stderr" {
	local srv="$T/s"$'\n'"x"$'\e'"[31m.sock" cli="$T/c"$'\r'"y"$'\a'
	start_bg usock-listen --dump=text "$srv" <<<"hi" >"$T/got" 2>"$T/ldump"
	local pid=$BG_PID
	wait_for_file "$srv"
	run -0 timeout 20 "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.connect(sys.argv[2])
s.sendall(b"\x1b]0;pwned\x07\x00\x9b31m\n")
s.shutdown(socket.SHUT_WR)
while s.recv(100):
    pass' "$cli" "$srv"
	expect_exit 0 "$pid"
	run -0 view check "$T/ldump"
	assert_line "#1 > 16 0 unix:$T/c\\x0dy\\x07"
	grep -qxF '>  \x1b]0;pwned\x07\x00\xc2\x9b31m' "$T/ldump" ||
		grep -qxF '>  \x1b]0;pwned\x07\x00\x9b31m' "$T/ldump" || fail "$(cat "$T/ldump")"
	# usock-connect names the hostile path it connected to, escaped
	start_bg usock-listen "$srv" </dev/null >/dev/null
	printf '\e[2J\0' | timeout 20 usock-connect -w 10 -x "$srv" >/dev/null 2>"$T/cdump"
	run -0 view check "$T/cdump"
	assert_line "#1 > 5 0 unix:$T/s\\x0ax\\x1b[31m.sock"
	grep -Eq '^> 00000000  1b 5b 32 4a 00 +\|\.\[2J\.\|$' "$T/cdump" || fail "$(cat "$T/cdump")"
}

@test "a stderr nobody reads stalls no connection; the note comes once it is read" {
	head -c 3000000 /dev/urandom >"$T/blob"
	mkfifo "$T/err"
	# a reader that reads nothing keeps the pipe open (and full)
	exec 4<>"$T/err"
	start_bg usock-listen -k -x "$T/s.sock" </dev/null >"$T/got" 2>"$T/err" 4>&-
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	# 3 MB are 15 MB of hex: far past the pipe and the 4 MiB queue
	run -0 timeout 20 usock-connect "$T/s.sock" <"$T/blob"
	cmp "$T/blob" "$T/got"
	# the queue is still full: this one is not shown, but counted
	run -0 timeout 20 usock-connect "$T/s.sock" <<<"more"
	# now read it: what was left out is told
	start_bg cat "$T/err" >"$T/dump" 4>&-
	local cat_pid=$BG_PID
	wait_file_line "$T/dump" '^\[#1: [0-9]+ bytes not shown\]$' 20 >/dev/null
	wait_file_line "$T/dump" '^\[#2: 5 bytes not shown\]$' 20 >/dev/null
	# and once it drained, records are shown again
	run -0 timeout 20 usock-connect "$T/s.sock" <<<"again"
	wait_file_line "$T/dump" '^> 00000000  61 67 61 69 6e 0a' 20 >/dev/null
	kill -TERM "$pid"
	expect_exit 0 "$pid"
	exec 4>&-
	expect_exit 0 "$cat_pid"
	run -0 view check "$T/dump"
	local shown lost
	read -r _ _ shown lost _ < <(grep '^#1 > ' <<<"$output")
	[ "$lost" -gt 0 ] || fail "no bytes not shown: $output"
	[ $((shown + lost)) -eq 3000000 ] || fail "shown $shown + not shown $lost: $output"
	assert_line "#2 > 0 5 -"
	assert_line "#3 > 6 0 unix:"
}

@test "--dump usage errors: one line, exit 2" {
	run -2 --separate-stderr usock-connect --dump=bin "$T/s.sock"
	assert_equal "$stderr" "usock-connect: --dump: 'bin' is not a dump format (hex or text)"
	run -2 --separate-stderr usock-connect --dump "$T/s.sock"
	assert_equal "${#stderr_lines[@]}" 1
	run -2 --separate-stderr usock-connect -x --dump=text "$T/s.sock"
	assert_equal "$stderr" "usock-connect: cannot use --dump=hex (-x) with --dump=text"
	run -2 --separate-stderr usock-connect -z --dump=text "$T/s.sock"
	assert_equal "$stderr" "usock-connect: cannot use --probe with --dump"
	run -2 --separate-stderr usock-listen --dump=text "$T/s.sock" -- cat
	assert_regex "$stderr" "^usock-listen: cannot use --dump with a COMMAND"
	run -2 --separate-stderr usock-listen --dump=$'\e[31m' "$T/s.sock"
	assert_equal "$stderr" "usock-listen: --dump: '\\x1b[31m' is not a dump format (hex or text)"
	[ ! -e "$T/s.sock" ]
}

# bridge_on ARGS...: tcp2unix ARGS with its stderr in $T/berr (or where
# BERR_TO says), its address in $BADDR (from --ready-fd).
bridge_on() {
	start_bg tcp2unix --ready-fd 5 "$@" 5>"$T/baddr" 2>"${BERR_TO:-$T/berr}" 4>&- 6>&-
	BPID=$BG_PID
	BADDR=$(wait_file_line "$T/baddr" '^tcp:')
}

@test "tcp2unix -j 2 --dump=text: concurrent connections, whole records, each named by #N and its client" {
	local x
	start_server "$T/s.sock" --mode echo --count 0
	bridge_on -j 2 --dump=text 0 "$T/s.sock"
	for x in a b; do
		head -c 60000 /dev/urandom >"$T/$x.1"
		head -c 60000 /dev/urandom >"$T/$x.2"
		cat "$T/$x.1" "$T/$x.2" >"$T/$x"
		mkfifo "$T/$x.in"
	done
	# (the shell opens the fifos itself: a writer first, kept from the clients)
	exec 5<>"$T/a.in" 6<>"$T/b.in"
	start_bg usock-connect "$BADDR" <"$T/a.in" >"$T/a.out" 5>&- 6>&-
	local pa=$BG_PID
	cat "$T/a.1" >&5
	wait_file_line "$T/berr" '^< #1 .* from=0 ' >/dev/null
	start_bg usock-connect "$BADDR" <"$T/b.in" >"$T/b.out" 5>&- 6>&-
	local pb=$BG_PID
	cat "$T/b.1" >&6
	wait_file_line "$T/berr" '^< #2 .* from=0 ' >/dev/null
	cat "$T/a.2" >&5
	cat "$T/b.2" >&6
	exec 5>&- 6>&-
	expect_exit 0 "$pa"
	expect_exit 0 "$pb"
	cmp "$T/a" "$T/a.out"
	cmp "$T/b" "$T/b.out"
	kill -TERM "$BPID"
	expect_exit 0 "$BPID"
	run -0 view check "$T/berr"
	assert_line --regexp '^#1 > 120000 0 tcp:127\.0\.0\.1:[0-9]+$'
	assert_line --regexp '^#2 > 120000 0 tcp:127\.0\.0\.1:[0-9]+$'
	# two clients, two ports
	[ "$(grep -c '^#[12] > ' <<<"$output")" -eq 2 ]
	[ "$(awk '/^#[12] > / { print $5 }' <<<"$output" | sort -u | wc -l)" -eq 2 ]
	view save "$T/berr" 1 '>' '' "$T/a.up" 1 '<' '' "$T/a.down" \
		2 '>' '' "$T/b.up" 2 '<' '' "$T/b.down"
	for x in a b; do
		cmp "$T/$x" "$T/$x.up"
		cmp "$T/$x" "$T/$x.down"
	done
	run -0 awk '/^[<>] #[0-9]+ / { if (last && $2 != last) sw++; last = $2 } END { print sw + 0 }' "$T/berr"
	[ "$output" -ge 3 ] || fail "the records did not alternate: $output"
}

@test "tcp2unix -x: a stderr nobody reads stalls no connection; the note comes once it is read" {
	head -c 2000000 /dev/urandom >"$T/blob"
	start_server "$T/s.sock" --mode echo --count 0
	mkfifo "$T/err"
	exec 4<>"$T/err"
	BERR_TO=$T/err bridge_on -x 0 "$T/s.sock"
	# 2 MB each way are 20 MB of hex: far past the pipe and the 4 MiB queue
	run -0 timeout 20 bash -c 'usock-connect "$1" <"$2" >"$3"' _ "$BADDR" "$T/blob" "$T/out"
	cmp "$T/blob" "$T/out"
	run -0 timeout 20 usock-connect "$BADDR" <<<"more"
	assert_output more
	start_bg cat "$T/err" >"$T/dump" 4>&-
	local cat_pid=$BG_PID
	wait_file_line "$T/dump" '^\[#1: [0-9]+ bytes not shown\]$' 20 >/dev/null
	wait_file_line "$T/dump" '^\[#2: 10 bytes not shown\]$' 20 >/dev/null
	run -0 timeout 20 usock-connect "$BADDR" <<<"again"
	wait_file_line "$T/dump" '^< 00000000  61 67 61 69 6e 0a' 20 >/dev/null
	kill -TERM "$BPID"
	expect_exit 0 "$BPID"
	exec 4>&-
	expect_exit 0 "$cat_pid"
	run -0 view check "$T/dump"
	local up down lost
	read -r _ _ down _ _ < <(grep '^#1 < ' <<<"$output")
	read -r _ _ up lost _ < <(grep '^#1 > ' <<<"$output")
	[ "$lost" -gt 0 ] || fail "no bytes not shown: $output"
	[ $((up + down + lost)) -eq 4000000 ] || fail "shown $up + $down, not shown $lost: $output"
	assert_line --regexp '^#3 > 6 0 tcp:'
	assert_line --regexp '^#3 < 6 0 tcp:'
}

@test "tcp2unix --dump usage errors: one line, exit 2" {
	run -2 --separate-stderr tcp2unix --dump=raw 0 "$T/s.sock"
	assert_equal "$stderr" "tcp2unix: --dump: 'raw' is not a dump format (hex or text)"
	run -2 --separate-stderr tcp2unix --dump=text -x 0 "$T/s.sock"
	assert_equal "$stderr" "tcp2unix: cannot use --dump=hex (-x) with --dump=text"
}

@test "a dump into a regular file drops nothing: --dump=text 2>file decodes back to every byte" {
	head -c 4000000 /dev/urandom >"$T/blob"
	start_bg usock-listen -k "$T/s.sock" -- cat </dev/null
	wait_for_socket "$T/s.sock"
	timeout 60 usock-connect --dump=text "$T/s.sock" <"$T/blob" >"$T/got" 2>"$T/dump"
	cmp "$T/blob" "$T/got"
	run -1 grep -c 'not shown' "$T/dump"
	"$PY" "$LIB/dump_view.py" bytes "$T/dump" 1 '>' | cmp - "$T/blob"
	"$PY" "$LIB/dump_view.py" bytes "$T/dump" 1 '<' | cmp - "$T/blob"
}
