#!/usr/bin/env bats
# Names from outside: one escaping rule in every output, addresses that
# parse back from what the tools print, prefixes that are not ours.

load helpers

# py_listen NAME: a python3 listener bound to NAME (bytes, a Python
# literal such as b"\0demo\0x"), until killed; waits until it listens.
py_listen() {
	start_bg "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(eval(sys.argv[1])); s.listen(8)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept(); c.sendall(b"hi\n"); c.close()' "$1" "$T/ready.$$"
	wait_for_file "$T/ready.$$"
	rm -f "$T/ready.$$"
}

@test "printed addresses parse back: a UTF-8 directory and a backslash" {
	mkdir "$T/café" "$T/back\\slash"
	# a backslash is given escaped, as the printer writes it
	for d in café 'back\x5cslash'; do
		start_bg usock-listen -k --print-address "$T/$d/a.sock" -- echo ok 2>"$T/pa"
		wait_for_socket "$T/$(printf '%b' "$d")/a.sock"
		local a
		a=$(wait_file_line "$T/pa" '^unix:')
		run -0 timeout 10 usock-connect "$a" </dev/null
		assert_output ok
	done
	# the backslash is escaped, UTF-8 is not
	run -0 grep -c 'back\\x5cslash' "$T/pa"
}

@test "an abstract name holding a NUL byte is reachable as @NAME\\x00..." {
	py_listen 'b"\0demo\0x"'
	run -0 timeout 10 usock-connect '@demo\x00x' </dev/null
	assert_output hi
	run -0 timeout 10 usock-connect 'abstract:demo\x00x' </dev/null
	assert_output hi
	run -1 timeout 10 usock-connect -z '@demo@x'
}

@test "a lone backslash or a NUL in a path is an address error" {
	run -2 usock-connect './a\b' </dev/null
	assert_output --partial 'write a backslash itself as \x5c'
	run -2 usock-connect 'unix:/tmp/a\x00b' </dev/null
	assert_output --partial 'NUL'
}

@test "another tool's address type is a usage error with a hint, in every tool" {
	run -2 usock-connect UNIX-CONNECT:/run/app.sock </dev/null
	assert_output "usock-connect: address 'UNIX-CONNECT:/run/app.sock': unknown address type 'UNIX-CONNECT:'; did you mean unix:/run/app.sock?"
	run -2 usock-connect UNIX:/run/app.sock </dev/null
	assert_output --partial "did you mean unix:/run/app.sock?"
	run -2 usock-connect uinx:/run/app.sock </dev/null
	assert_output --partial "did you mean unix:/run/app.sock?"
	run -2 timeout 5 tcp2unix 0 UNIX-CONNECT:/run/app.sock
	assert_output --partial "did you mean unix:/run/app.sock?"
	run -2 timeout 5 usock-listen TCP-LISTEN:8080
	assert_output --partial "did you mean tcp:8080?"
	run -2 sockinfo UNIX:/run/app.sock
	assert_output --partial "did you mean unix:/run/app.sock?"
	run -2 usock-connect a:b/c.sock </dev/null
	assert_output --partial "written ./a:b/c.sock"
}

@test "a relative path whose first component holds a colon, written ./a:b" {
	mkdir "$T/a:b"
	start_bg usock-listen -k "$T/a:b/s.sock" -- echo ok
	wait_for_socket "$T/a:b/s.sock"
	cd "$T"
	run -0 timeout 10 usock-connect ./a:b/s.sock </dev/null
	assert_output ok
}

# hex STRING: the bytes of STRING (printf %b escapes) in hex, for names.py.
hex() {
	printf '%b' "$1" | od -An -v -tx1 | tr -d ' \n'
}

# pub_dir: $T/pub, where nobody may create sockets; the test scripts
# copied where nobody can read them ($ULIB).
pub_dir() {
	chmod 755 "$T"
	for_others
	mkdir -m 1777 "$T/pub"
}

# nobody_listen NAME [COMM]: as nobody, in $T/pub, a listener bound to
# NAME (printf %b escapes; \0 first: abstract) named COMM.
NL=0
nobody_listen() {
	NL=$((NL + 1))
	local args=(listen "$(hex "$1")" --ready "$T/pub/ready.$NL")
	[ -z "${2:-}" ] || args+=(--comm "$(hex "$2")")
	start_bg env -C "$T/pub" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$PY" "$ULIB/names.py" "${args[@]}"
	wait_for_file "$T/pub/ready.$NL"
}

# no_control FILE: FILE holds no control byte but line ends, no C1
# control (as UTF-8) and no bidirectional override.
no_control() {
	run -1 env LC_ALL=C grep -c $'[\x01-\x09\x0b-\x1f\x7f]' "$1"
	run -1 env LC_ALL=C grep -c -e $'\xc2[\x80-\x9f]' -e $'\xe2\x80[\xa8-\xae]' "$1"
}

@test "hostile names from an unprivileged user: sockinfo rows, blocks and JSON" {
	pub_dir
	# (a last component that fits in sun_path through its directory)
	nobody_listen 'x\nstream  listening  srw-rw----  root:docker  812\u2215dockerd  \u2215run\u2215docker.sock'
	nobody_listen "$T/pub/e\\e]0;PWNED\\a\\e[31mred.sock" '\e[31mEV\nIL\e[0m'
	local evil=$BG_PID
	nobody_listen "$T/pub/a\\xff\\xe2\\x80\\xaeb.sock"
	nobody_listen "\\0hostile$$\\0\\n\\e[2J"
	sockinfo -a >"$T/table"
	no_control "$T/table"
	# one row each, and no planted row
	for w in docker.sock PWNED 'a\\xff\\xe2\\x80\\xaeb.sock' "@hostile$$\\\\x00\\\\x0a\\\\x1b\\[2J"; do
		run -0 grep -c -- "$w" "$T/table"
		assert_output 1
	done
	run -1 grep -E '^stream +listening +srw-rw---- +root:docker' "$T/table"
	run -0 grep -F "$evil/\\x1b[31mEV\\x0aIL\\x1b[0m" "$T/table"
	# the block of one socket: the process name escaped too
	sockinfo "$T/pub/e\\x1b]0;PWNED\\x07\\x1b[31mred.sock" >"$T/block"
	no_control "$T/block"
	run -0 grep -F "pid $evil \\x1b[31mEV\\x0aIL\\x1b[0m (user nobody)" "$T/block"
	# JSON: valid, the same text, and every address connects
	sockinfo --json -a >"$T/json"
	no_control "$T/json"
	jq -e . "$T/json" >/dev/null
	run -0 jq -r --arg p "$T/pub" '.[] | select((.address | contains($p)) or
		(.address | contains("hostile"))) | .address' "$T/json"
	[ "${#lines[@]}" -eq 4 ] || fail "want 4 hostile sockets in the JSON: $output"
	local a
	for a in "${lines[@]}"; do
		run timeout 10 usock-connect "$a" </dev/null
		[ "$status" -eq 0 ] || fail "$a: $output"
		assert_output hi
	done
	run -0 jq -r --argjson p "$evil" '.[] | .listeners[] | select(.pid == $p) | .command' "$T/json"
	assert_output --partial '\x1b[31mEV\x0aIL\x1b[0m'
}

@test "usock-listen names a live listener's process escaped" {
	pub_dir
	# a process name holds at most 15 bytes
	nobody_listen "$T/pub/c.sock" '\e]0;X\a\e[31mY'
	run -1 usock-listen "$T/pub/c.sock"
	assert_output --partial "address in use by a live listener (pid $BG_PID, \\x1b]0;X\\x07\\x1b[31mY)"
	printf '%s\n' "$output" >"$T/err"
	no_control "$T/err"
}

@test "hostile client names in usock-listen -v, tcp2unix -v and the environment" {
	pub_dir
	local l="$T/pub/l\\x1b[1m.sock" c="$T/pub/c\\n\\e[2Jc.sock"
	start_bg usock-listen -v -k -m 0666 "$l" -- sh -c 'cat >/dev/null; printf "%s|%s\n" "$USOCK_PEER" "$USOCK_LOCAL"' 2>"$T/l.err"
	wait_for_socket "$T/pub/l"$'\e'"[1m.sock"
	run -0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$PY" "$ULIB/names.py" client "$(hex "$c")" "$T/pub/l"$'\e'"[1m.sock"
	assert_output "unix:$T/pub/c\\x0a\\x1b[2Jc.sock|unix:$T/pub/l\\x1b[1m.sock"
	wait_file_line "$T/l.err" 'connection from' >/dev/null
	no_control "$T/l.err"
	run -0 grep -F "connection from unix:$T/pub/c\\x0a\\x1b[2Jc.sock" "$T/l.err"
	rm -f "$T/pub/c"$'\n\e'"[2Jc.sock"
	# the same client through tcp2unix -v
	start_bg tcp2unix -v -m 0666 "$T/pub/f\\x1b.sock" "$l" 2>"$T/b.err"
	wait_for_socket "$T/pub/f"$'\e'".sock"
	run -0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$PY" "$ULIB/names.py" client "$(hex "$c")" "$T/pub/f"$'\e'".sock"
	wait_file_line "$T/b.err" ' up, ' >/dev/null
	no_control "$T/b.err"
	run -0 grep -F "#1 connection from unix:$T/pub/c\\x0a\\x1b[2Jc.sock (pid " "$T/b.err"
	run -0 grep -F "#1 unix:$T/pub/c\\x0a\\x1b[2Jc.sock (pid " "$T/b.err"
	assert_output --partial ", uid $(id -u nobody)) -> unix:$T/pub/l\\x1b[1m.sock: "
}

@test "error lines name paths and arguments escaped" {
	run -1 usock-connect "$T/no\\x1b[31mfile" </dev/null
	assert_output "usock-connect: connect unix:$T/no\\x1b[31mfile: No such file or directory"
	run -2 usock-connect $'./a\e[31m\\b' </dev/null
	assert_output --partial "address './a\\x1b[31m\\x5cb'"
	run -2 tcp2unix --drain $'1\e[2J' 0 "$T/x.sock"
	assert_output "tcp2unix: --drain: '1\\x1b[2J': not a duration (use e.g. 5, 1.5, 200ms, 2m)"
	printf 'not a socket' >"$T/f"$'\n'"x"
	run -1 usock-listen "$T/f\\x0ax"
	assert_output --partial "listen unix:$T/f\\x0ax: the path exists and is not a socket"
	[ "${#lines[@]}" -eq 1 ] || fail "one line: $output"
	printf '%s\n' "$output" >"$T/err"
	no_control "$T/err"
}

@test "/proc/net/unix: a name holding a newline cannot forge a live listener" {
	"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$T/app.sock"
	pub_dir
	nobody_listen "\\0x\\n0000000000000000: 00000002 00000000 00010000 0001 01 12345 $T/app.sock"
	run -1 sockinfo "$T/app.sock"
	assert_line --regexp '^  state +stale'
	USOCK_DIAG=proc run -1 --separate-stderr sockinfo "$T/app.sock"
	refute_line --regexp '^  state +listening'
	assert_line --regexp '^  state +unknown'
	assert_line --partial 'may be part of the name of the socket before it'
	refute_line --regexp '^  connect +yes'
	# asked for: no warning that sock_diag is unavailable
	assert_equal "$stderr" ""
	run -1 timeout 5 usock-connect -z "$T/app.sock"
}

@test "/proc/net/unix: names holding a newline are read whole" {
	pub_dir
	nobody_listen "$T/pub/two\\nlines.sock"
	USOCK_DIAG=proc run -0 --separate-stderr sockinfo "$T/pub/two\\x0alines.sock"
	assert_line --regexp '^  state +listening'
	assert_equal "$stderr" ""
}

@test "durations: zero in any spelling where zero is allowed" {
	local d
	for d in 0 0s 0ms 0.0; do
		start_bg tcp2unix --drain "$d" --print-address 0 "$T/x.sock" 2>"$T/pa.$d"
		wait_file_line "$T/pa.$d" '^tcp:' >/dev/null
		kill -TERM "$BG_PID"
		expect_exit 0 "$BG_PID"
	done
	run -2 tcp2unix --drain 0.0001 0 "$T/x.sock"
	assert_output "tcp2unix: --drain: '0.0001': must be 0 or at least 1ms"
	run -2 usock-connect -w 0s "$T/x.sock"
	assert_output --partial 'must be at least 1ms'
}

@test "PROXY v2 from a listener past sun_path: no /proc/self/fd name" {
	local d
	d="$T/$(printf 'e%.0s' {1..80})/$(printf 'f%.0s' {1..40})"
	mkdir -p "$d"
	for L in "$T/short.sock" "$d/long.sock"; do
		rm -f "$T/out" "$T/t.ready"
		start_bg "$PY" "$LIB/names.py" proxy-target "$T/t.sock" --ready "$T/t.ready" --out "$T/out"
		wait_for_file "$T/t.ready"
		start_bg tcp2unix -q --proxy-protocol v2 "$L" "$T/t.sock"
		local bridge=$BG_PID
		wait_for_file "$L"
		(cd "$(dirname "$L")" && printf PAYLOAD | timeout 10 usock-connect "./$(basename "$L")" >/dev/null)
		wait_for_file "$T/out"
		run -0 sed -n 2p "$T/out"
		assert_output PAYLOAD
		if [ "$L" = "$T/short.sock" ]; then
			assert_equal "$(head -1 "$T/out")" "$(printf '%s' "$L" | od -An -v -tx1 | tr -d ' \n')"
		else
			assert_equal "$(head -1 "$T/out")" ""
		fi
		kill -TERM "$bridge"
		expect_exit 0 "$bridge"
		rm -f "$T/t.sock"
	done
}
