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
