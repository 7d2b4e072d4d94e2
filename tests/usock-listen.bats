#!/usr/bin/env bats
# usock-listen: stdio relay, COMMAND mode, address forms, socket file rules,
# --mode/--owner, -k/-c/-b, signals.

load helpers

setup_file() {
	BIG=$BATS_FILE_TMPDIR/big
	BIG2=$BATS_FILE_TMPDIR/big2
	{ head -c 4096 /dev/zero; head -c 99995904 /dev/urandom; } >"$BIG"
	{ head -c 99995904 /dev/urandom; head -c 4096 /dev/zero; } >"$BIG2"
	export BIG BIG2
	# a bind() that pauses afterwards, to widen the bind..chmod..listen window
	SLOWBIND=
	if command -v cc >/dev/null; then
		cc -shared -fPIC -o "$BATS_FILE_TMPDIR/slowbind.so" "$BATS_TEST_DIRNAME/lib/slowbind.c" -ldl &&
			SLOWBIND=$BATS_FILE_TMPDIR/slowbind.so
	fi
	export SLOWBIND
}

# slow_bind CMD...: run CMD with bind() of UNIX paths pausing 300 ms after.
slow_bind() {
	exec env LD_PRELOAD="$SLOWBIND" USOCK_TEST_BIND_DELAY_MS=300 "$@"
}

# listen_roundtrip TO_CLIENT FROM_CLIENT: usock-listen relays TO_CLIENT
# (its stdin) to a python client that sends FROM_CLIENT and half-closes;
# both sides must get the other's bytes, and usock-listen exits 0.
listen_roundtrip() {
	start_bg usock-listen "$T/s.sock" <"$1" >"$T/got"
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 60 $CLIENT "$T/s.sock" --send-file "$2" --out "$T/cgot"
	expect_exit 0 "$pid" 60
	assert_equal "$(sha "$T/got")" "$(sha "$2")"
	assert_equal "$(sha "$T/cgot")" "$(sha "$1")"
}

@test "empty input both ways: exit 0, nothing relayed" {
	: >"$T/empty"
	listen_roundtrip "$T/empty" "$T/empty"
	assert_file_empty "$T/got"
	assert_file_empty "$T/cgot"
}

@test "one byte each way" {
	printf 'L' >"$T/a"
	printf 'C' >"$T/b"
	listen_roundtrip "$T/a" "$T/b"
	assert_equal "$(cat "$T/got")" C
	assert_equal "$(cat "$T/cgot")" L
}

@test "exactly one buffer (65536 bytes) each way" {
	head -c 65536 /dev/urandom >"$T/a"
	head -c 65536 /dev/urandom >"$T/b"
	listen_roundtrip "$T/a" "$T/b"
}

@test "one byte more than a buffer (65537 bytes) each way" {
	head -c 65537 /dev/urandom >"$T/a"
	head -c 65537 /dev/urandom >"$T/b"
	listen_roundtrip "$T/a" "$T/b"
}

@test "100 MB with NUL bytes both directions at once, usock-listen <-> usock-connect" {
	start_bg usock-listen "$T/s.sock" <"$BIG" >"$T/got"
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 run_to "$T/cgot" timeout 60 usock-connect "$T/s.sock" <"$BIG2"
	expect_exit 0 "$pid" 60
	assert_equal "$(sha "$T/got")" "$(sha "$BIG2")"
	assert_equal "$(sha "$T/cgot")" "$(sha "$BIG")"
}

@test "half-close (stdio): client EOF first, answer written 2 s later arrives in full" {
	head -c 500000 /dev/urandom >"$T/request"
	head -c 1000000 /dev/urandom >"$T/answer"
	mkfifo "$T/in"
	local w
	exec {w}<>"$T/in" # open both ends first: a bare `<fifo` would block here
	start_bg usock-listen "$T/s.sock" <"$T/in" >"$T/got" {w}>&-
	local lpid=$BG_PID
	wait_for_socket "$T/s.sock"
	start_bg $CLIENT "$T/s.sock" --send-file "$T/request" --out "$T/cgot" {w}>&-
	local cpid=$BG_PID
	wait_until 10 file_size_is "$T/got" 500000
	sleep 2 # the server "thinks" for 2 s after the client's EOF
	pid_alive "$cpid" || fail "client ended before the answer was sent"
	cat "$T/answer" >&"$w"
	exec {w}>&-
	expect_exit 0 "$cpid"
	expect_exit 0 "$lpid"
	assert_equal "$(sha "$T/got")" "$(sha "$T/request")"
	assert_equal "$(sha "$T/cgot")" "$(sha "$T/answer")"
}

@test "half-close (COMMAND): reads to EOF, waits 2 s, answers 1 MB; python client gets it all" {
	head -c 300000 /dev/urandom >"$T/request"
	head -c 1000000 /dev/urandom >"$T/answer"
	start_bg usock-listen "$T/s.sock" -- sh -c 'cat >"$1"; sleep 2; cat "$2"' sh "$T/got" "$T/answer"
	local lpid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 $CLIENT "$T/s.sock" --send-file "$T/request" --out "$T/cgot"
	expect_exit 0 "$lpid"
	assert_equal "$(sha "$T/got")" "$(sha "$T/request")"
	assert_equal "$(sha "$T/cgot")" "$(sha "$T/answer")"
}

@test "abstract name @NAME: listen, connect, --print-address says @NAME" {
	local name
	name=$(abstract_name)
	start_bg usock-listen --print-address "@$name" <<<"from listener" >"$T/got" 2>"$T/err"
	local pid=$BG_PID
	wait_for_socket "@$name"
	run -0 timeout 20 usock-connect "@$name" <<<"from client"
	assert_output "from listener"
	expect_exit 0 "$pid"
	assert_equal "$(cat "$T/got")" "from client"
	assert_equal "$(head -n1 "$T/err")" "@$name"
}

@test "abstract:NAME form; --print-address gives the canonical @NAME" {
	local name
	name=$(abstract_name)
	start_bg usock-listen --print-address "abstract:$name" </dev/null >"$T/got" 2>"$T/err"
	local pid=$BG_PID
	wait_for_socket "@$name"
	run -0 timeout 20 $CLIENT "@$name" --send "x"
	expect_exit 0 "$pid"
	assert_equal "$(cat "$T/got")" x
	assert_equal "$(head -n1 "$T/err")" "@$name"
}

@test "port 0 with --print-address: prints tcp:127.0.0.1:NNNNN, and that address works" {
	start_bg usock-listen --print-address 0 <<<"hi there" >"$T/got" 2>"$T/err"
	local pid=$BG_PID line
	line=$(wait_file_line "$T/err" '^tcp:127\.0\.0\.1:[0-9]+$')
	local port=${line##*:}
	[ "$port" -gt 0 ] && [ "$port" -lt 65536 ] || fail "bad port in '$line'"
	run -0 timeout 20 usock-connect "$line" <<<"ping"
	assert_output "hi there"
	expect_exit 0 "$pid"
	assert_equal "$(cat "$T/got")" ping
}

@test "IPv6 loopback: tcp:[::1]:0 --print-address prints tcp:[::1]:PORT" {
	start_bg usock-listen --print-address "tcp:[::1]:0" <<<"v6" >"$T/got" 2>"$T/err"
	local pid=$BG_PID line
	line=$(wait_file_line "$T/err" '^tcp:\[::1\]:[0-9]+$')
	run -0 timeout 20 $CLIENT "[::1]:${line##*:}" --send "six"
	assert_output v6
	expect_exit 0 "$pid"
	assert_equal "$(cat "$T/got")" six
	grep -Eq "^ *[0-9]+: 0{32}:$(printf '%04X' "${line##*:}") " /proc/net/tcp6 &&
		fail "listened on :: instead of ::1" || true
}

# listeners_on PORT FILE: local addresses (hex) listening on PORT in FILE.
listeners_on() {
	awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }' "$2"
}

@test "bare PORT listens on 127.0.0.1 only" {
	local port
	port=$(free_port)
	start_bg usock-listen "$port" </dev/null
	wait_for_port "$port"
	assert_equal "$(listeners_on "$port" /proc/net/tcp)" "0100007F:$(printf '%04X' "$port")"
	assert_equal "$(listeners_on "$port" /proc/net/tcp6)" ""
	run -0 timeout 20 $CLIENT "127.0.0.1:$port" --send x
}

@test ":PORT listens on 127.0.0.1 only" {
	local port
	port=$(free_port)
	start_bg usock-listen ":$port" </dev/null
	wait_for_port "$port"
	assert_equal "$(listeners_on "$port" /proc/net/tcp)" "0100007F:$(printf '%04X' "$port")"
	assert_equal "$(listeners_on "$port" /proc/net/tcp6)" ""
}

@test "*:PORT listens on every interface, IPv4 and IPv6" {
	local port
	port=$(free_port)
	start_bg usock-listen -k "*:$port" </dev/null
	wait_for_port "$port"
	local all
	all="$(listeners_on "$port" /proc/net/tcp) $(listeners_on "$port" /proc/net/tcp6)"
	[[ $all == *"00000000:"* ]] || fail "no wildcard listener: $all"
	run -0 timeout 20 $CLIENT "127.0.0.1:$port" --send a
	run -0 timeout 20 $CLIENT "[::1]:$port" --send b
}

@test "--print-address for a UNIX path prints unix:PATH" {
	start_bg usock-listen --print-address -k "$T/s.sock" </dev/null 2>"$T/err"
	wait_for_socket "$T/s.sock"
	wait_file_line "$T/err" "^unix:$T/s.sock\$"
}

@test "--print-address is printed even with -q" {
	start_bg usock-listen -q --print-address 0 </dev/null 2>"$T/err"
	wait_file_line "$T/err" '^tcp:127\.0\.0\.1:[0-9]+$'
}

@test "long UNIX path (~200 bytes in nested dirs): listen + connect, removed at exit" {
	local d="$T" i
	for i in 1 2 3 4; do d="$d/$(printf 'd%.0s' {1..40})$i"; done
	mkdir -p "$d"
	local p="$d/app.sock"
	[ "${#p}" -gt 180 ] || fail "path only ${#p} bytes"
	start_bg usock-listen "$p" <<<"deep answer" >"$T/got"
	local pid=$BG_PID
	wait_for_file "$p"
	[ -S "$p" ] || fail "$p is not a socket"
	run -0 timeout 20 usock-connect -w 5 "$p" <<<"deep question"
	assert_output "deep answer"
	expect_exit 0 "$pid"
	assert_equal "$(cat "$T/got")" "deep question"
	assert_not_exists "$p"
}

@test "long UNIX path with an 82-byte final component works" {
	local d="$T" i
	for i in 1 2; do d="$d/$(printf 'e%.0s' {1..40})$i"; done
	mkdir -p "$d"
	local p
	p="$d/$(printf 's%.0s' {1..82})"
	start_bg usock-listen -k "$p" </dev/null
	wait_for_file "$p"
	run -0 timeout 20 usock-connect -w 5 -z "$p"
}

@test "final path component over 82 bytes in a path over 107: exit 2, message names 107, nothing created" {
	local d name
	d="$T/$(printf 'd%.0s' {1..30})"
	mkdir "$d"
	name=$(printf 'n%.0s' {1..90})
	run -2 --separate-stderr timeout 20 usock-listen "$d/$name" </dev/null
	assert_regex "$stderr" '^usock-listen: .*107'
	assert_not_exists "$d/$name"
	name=$(printf 'n%.0s' {1..120})
	run -2 --separate-stderr timeout 20 usock-listen "$T/$name" </dev/null
	assert_regex "$stderr" '^usock-listen: .*107'
	assert_not_exists "$T/$name"
}

@test "socket file removed after SIGTERM (exit 0)" {
	start_bg usock-listen -k "$T/s.sock" </dev/null
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	kill -TERM "$pid"
	expect_exit 0 "$pid"
	assert_not_exists "$T/s.sock"
}

@test "socket file removed after SIGINT (exit 0)" {
	start_bg with_sigint usock-listen -k "$T/s.sock" </dev/null
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	kill -INT "$pid"
	expect_exit 0 "$pid"
	assert_not_exists "$T/s.sock"
}

@test "socket file removed after a normal exit" {
	start_bg usock-listen "$T/s.sock" </dev/null
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 $CLIENT "$T/s.sock" --send bye
	expect_exit 0 "$pid"
	assert_not_exists "$T/s.sock"
}

@test "without -k the socket file is gone once the connection is accepted" {
	start_bg usock-listen "$T/s.sock" </dev/null
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	start_bg $CLIENT "$T/s.sock" --hold-file "$T/release"
	local cpid=$BG_PID
	wait_gone "$T/s.sock"
	pid_alive "$pid" || fail "usock-listen ended while the client was connected"
	touch "$T/release"
	expect_exit 0 "$cpid"
	expect_exit 0 "$pid"
}

@test "socket file left alone at exit when replaced by a regular file" {
	start_bg usock-listen -k "$T/s.sock" </dev/null
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	rm "$T/s.sock"
	echo "someone else's" >"$T/s.sock"
	kill -TERM "$pid"
	expect_exit 0 "$pid"
	assert_file_exists "$T/s.sock"
	assert_equal "$(cat "$T/s.sock")" "someone else's"
}

@test "socket file left alone at exit when replaced by another socket" {
	start_bg usock-listen -k "$T/s.sock" </dev/null
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	rm "$T/s.sock"
	start_server "$T/s.sock" --mode echo
	local ino
	ino=$(stat -c %i "$T/s.sock")
	kill -TERM "$pid"
	expect_exit 0 "$pid"
	[ -S "$T/s.sock" ] || fail "the other socket was removed"
	assert_equal "$(stat -c %i "$T/s.sock")" "$ino"
	run -0 timeout 20 $CLIENT "$T/s.sock" --send still-there
	assert_output still-there
}

@test "stale socket (bound, never listened, owner gone) is replaced" {
	make_stale_socket "$T/s.sock"
	start_bg usock-listen "$T/s.sock" <<<"fresh" >"$T/got"
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 $CLIENT "$T/s.sock" --send hi
	assert_output fresh
	expect_exit 0 "$pid"
}

@test "stale socket left by a listener killed with SIGKILL is replaced" {
	start_bg usock-listen -k "$T/s.sock" </dev/null
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	kill -KILL "$pid"
	expect_exit 137 "$pid"
	[ -S "$T/s.sock" ] || fail "expected a stale socket file after SIGKILL"
	start_bg usock-listen "$T/s.sock" <<<"second" >"$T/got"
	pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 usock-connect "$T/s.sock" </dev/null
	assert_output second
	expect_exit 0 "$pid"
}

@test "live socket refused: exit 1, says live listener and its pid, file untouched" {
	start_server "$T/s.sock" --mode echo
	local spid=$BG_PID ino
	ino=$(stat -c %i "$T/s.sock")
	run -1 --separate-stderr timeout 20 usock-listen "$T/s.sock" </dev/null
	assert_regex "$stderr" "^usock-listen: .*$T/s.sock.*live listener"
	assert_regex "$stderr" "pid $spid"
	assert_equal "$(stat -c %i "$T/s.sock")" "$ino"
	run -0 timeout 20 $CLIENT "$T/s.sock" --send "still served"
	assert_output "still served"
}

@test "live socket held by another usock-listen refused, names it" {
	start_bg usock-listen -k "$T/s.sock" </dev/null
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -1 --separate-stderr timeout 20 usock-listen "$T/s.sock" </dev/null
	assert_regex "$stderr" "live listener.*pid $pid"
	assert_regex "$stderr" "usock-listen"
	pid_alive "$pid" || fail "first listener died"
	[ -S "$T/s.sock" ] || fail "socket file removed"
	run -0 timeout 20 usock-connect -z "$T/s.sock"
}

@test "path in a missing directory: exit 1, No such file or directory" {
	run -1 --separate-stderr timeout 20 usock-listen "$T/no/such/dir/s.sock" </dev/null
	assert_regex "$stderr" '^usock-listen: .*No such file or directory'
}

@test "path in a directory the user may not write: exit 1, Permission denied" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	for_others
	chmod 0755 "$T"
	run -1 --separate-stderr timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$UBIN/usock-listen" "$T/s.sock" </dev/null
	assert_regex "$stderr" '^usock-listen: .*Permission denied'
	assert_not_exists "$T/s.sock"
}

@test "TCP port already in use: exit 1, Address already in use" {
	local port
	port=$(free_port)
	start_server "$port" --mode echo
	run -1 --separate-stderr timeout 20 usock-listen "$port" </dev/null
	assert_regex "$stderr" '^usock-listen: .*Address already in use'
}

@test "privileged port as an unprivileged user: exit 1" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	for_others
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 80 ] ||
		skip "unprivileged users may bind port 80 here"
	run -1 --separate-stderr timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$UBIN/usock-listen" 80 </dev/null
	assert_regex "$stderr" '^usock-listen: .*Permission denied'
}

@test "regular file at the path: refused (exit 1), content unchanged" {
	printf 'precious\0data\n' >"$T/s.sock"
	local before
	before=$(sha "$T/s.sock")
	run -1 --separate-stderr timeout 20 usock-listen "$T/s.sock" </dev/null
	assert_regex "$stderr" "^usock-listen: .*$T/s.sock"
	assert_file_exists "$T/s.sock"
	[ -f "$T/s.sock" ] || fail "no longer a regular file"
	assert_equal "$(sha "$T/s.sock")" "$before"
}

@test "directory at the path: refused (exit 1), untouched" {
	mkdir "$T/s.sock"
	echo inside >"$T/s.sock/file"
	run -1 --separate-stderr timeout 20 usock-listen "$T/s.sock" </dev/null
	assert_regex "$stderr" '^usock-listen: '
	assert_dir_exists "$T/s.sock"
	assert_equal "$(cat "$T/s.sock/file")" inside
}

@test "symlink at the path (to a stale socket): refused (exit 1), link and target untouched" {
	make_stale_socket "$T/target.sock"
	ln -s "$T/target.sock" "$T/s.sock"
	run -1 --separate-stderr timeout 20 usock-listen "$T/s.sock" </dev/null
	assert_regex "$stderr" '^usock-listen: '
	assert_link_exists "$T/s.sock"
	assert_equal "$(readlink "$T/s.sock")" "$T/target.sock"
	[ -S "$T/target.sock" ] || fail "symlink target removed"
}

@test "dangling symlink at the path: refused (exit 1), untouched" {
	ln -s "$T/nowhere" "$T/s.sock"
	run -1 timeout 20 usock-listen "$T/s.sock" </dev/null
	assert_link_exists "$T/s.sock"
	assert_equal "$(readlink "$T/s.sock")" "$T/nowhere"
	assert_not_exists "$T/nowhere"
}

@test "FIFO at the path: refused (exit 1), untouched" {
	mkfifo "$T/s.sock"
	run -1 --separate-stderr timeout 20 usock-listen "$T/s.sock" </dev/null
	assert_regex "$stderr" '^usock-listen: '
	[ -p "$T/s.sock" ] || fail "FIFO removed or replaced"
}

# mode_watch_rounds N [WRAPPER]: N times, start a watcher on $T, then
# usock-listen --mode 0600 (under WRAPPER); every socket the watcher saw in
# $T must have had mode 0600.
mode_watch_rounds() {
	local n=$1 round out bad wpid lpid
	shift
	umask 000 # a bind() without care would create the file 0777
	for round in $(seq "$n"); do
		rm -f "$T/ready"
		start_bg "$PY" "$LIB/watch_mode.py" "$T" s.sock "$T/ready" 10 >"$T/watch"
		wpid=$BG_PID
		wait_for_file "$T/ready"
		start_bg "$@" usock-listen --mode 0600 -k "$T/s.sock" </dev/null
		lpid=$BG_PID
		expect_exit 0 "$wpid"
		out=$(cat "$T/watch")
		[[ $out != never* ]] || fail "round $round: watcher never saw the socket"
		bad=$(awk '$2 != "0600"' "$T/watch")
		[ -z "$bad" ] || fail "round $round: saw (name mode uid gid): $bad"
		kill -TERM "$lpid"
		expect_exit 0 "$lpid"
		assert_not_exists "$T/s.sock"
	done
}

@test "--mode 0600 is in force from the first moment the file is visible" {
	mode_watch_rounds 5
}

@test "--mode 0600 in force from the first moment, with a 300 ms pause after bind()" {
	[ -n "$SLOWBIND" ] || skip "no C compiler for the bind-delay shim"
	mode_watch_rounds 2 slow_bind
}

@test "--mode sets the final permissions regardless of umask" {
	umask 077
	start_bg usock-listen -m 0666 -k "$T/a.sock" </dev/null
	wait_for_socket "$T/a.sock"
	assert_equal "$(stat -c %a "$T/a.sock")" 666
	umask 000
	start_bg usock-listen --mode 0640 -k "$T/b.sock" </dev/null
	wait_for_socket "$T/b.sock"
	assert_equal "$(stat -c %a "$T/b.sock")" 640
}

@test "--mode in a directory with a default ACL: the ACL may narrow the mode, never widen it" {
	command -v setfacl >/dev/null || skip "no setfacl"
	mkdir "$T/acl"
	setfacl -d -m u::rwx,g::r-x,o::--- "$T/acl" || skip "no ACLs on this file system"
	start_bg usock-listen -m 0666 -k "$T/acl/a.sock" </dev/null
	wait_for_socket "$T/acl/a.sock"
	assert_equal "$(stat -c %a "$T/acl/a.sock")" 640
	start_bg usock-listen -m 0600 -k "$T/acl/b.sock" </dev/null
	wait_for_socket "$T/acl/b.sock"
	assert_equal "$(stat -c %a "$T/acl/b.sock")" 600
}

@test "--owner nobody:nogroup is applied" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to chown"
	start_bg usock-listen --owner nobody:nogroup -m 0600 -k "$T/s.sock" </dev/null
	wait_for_socket "$T/s.sock"
	assert_equal "$(stat -c %U:%G:%a "$T/s.sock")" nobody:nogroup:600
}

@test "-o with numeric uid:gid is applied" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to chown"
	start_bg usock-listen -o 65534:65534 -k "$T/s.sock" </dev/null
	wait_for_socket "$T/s.sock"
	assert_equal "$(stat -c %u:%g "$T/s.sock")" 65534:65534
}

@test "permission denied: -m 0600 root socket, nobody connects, exit 1" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	for_others
	chmod 0711 "$T"
	start_bg usock-listen -m 0600 -k "$T/s.sock" </dev/null
	wait_for_socket "$T/s.sock"
	run -1 --separate-stderr timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$UBIN/usock-connect" "$T/s.sock" </dev/null
	assert_regex "$stderr" '^usock-connect: .*Permission denied'
}

@test "--owner nobody with -m 0600: nobody may connect" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	for_others
	chmod 0711 "$T"
	start_bg usock-listen -m 0600 -o nobody -k "$T/s.sock" </dev/null
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$UBIN/usock-connect" -z "$T/s.sock"
}

@test "-k (stdio): serves two clients in sequence and keeps listening" {
	start_bg usock-listen -k "$T/s.sock" </dev/null >"$T/got"
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 $CLIENT "$T/s.sock" --send $'one\n'
	assert_output ""
	run -0 timeout 20 $CLIENT "$T/s.sock" --send $'two\n'
	assert_output ""
	wait_until 10 file_is "$T/got" $'one\ntwo'
	pid_alive "$pid" || fail "usock-listen -k exited"
	[ -S "$T/s.sock" ] || fail "socket file gone while listening"
	run -0 timeout 20 usock-connect -z "$T/s.sock"
}

@test "-k (stdio): stdin EOF reaches later connections at once" {
	start_bg usock-listen -k "$T/s.sock" <<<"only once" >/dev/null
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 usock-connect "$T/s.sock" </dev/null
	assert_output "only once"
	# this client never half-closes: it reads until the listener's EOF
	run -0 timeout 10 $CLIENT "$T/s.sock" --send "x" --no-half-close
	assert_output ""
}

@test "SIGTERM with -k: stops listening, lets a running COMMAND finish, exit 0" {
	start_bg usock-listen -k "$T/s.sock" -- sh -c 'touch "$1"; sleep 1; echo finished' sh "$T/started"
	local lpid=$BG_PID
	wait_for_socket "$T/s.sock"
	start_bg usock-connect "$T/s.sock" </dev/null >"$T/got"
	local cpid=$BG_PID
	wait_for_file "$T/started"
	kill -TERM "$lpid"
	wait_gone "$T/s.sock"
	expect_exit 0 "$cpid"
	assert_equal "$(cat "$T/got")" finished
	expect_exit 0 "$lpid"
}

@test "COMMAND mode relays bulk data: -- cat echoes 20 MB" {
	head -c 20000000 "$BIG" >"$T/in"
	start_bg usock-listen "$T/s.sock" -- cat
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 run_to "$T/out" timeout 20 usock-connect "$T/s.sock" <"$T/in"
	assert_equal "$(sha "$T/out")" "$(sha "$T/in")"
	expect_exit 0 "$pid"
}

@test "-k (COMMAND): each client gets its own command" {
	start_bg usock-listen -k "$T/s.sock" -- sh -c 'read x; echo "got $x"'
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 usock-connect "$T/s.sock" <<<"one"
	assert_output "got one"
	run -0 timeout 20 usock-connect "$T/s.sock" <<<"two"
	assert_output "got two"
}

@test "COMMAND env: USOCK_PEER, USOCK_LOCAL, USOCK_PEER_PID/UID/GID for a UNIX peer" {
	start_bg usock-listen "$T/s.sock" -- sh -c 'env | grep "^USOCK_" | sort'
	local lpid=$BG_PID
	wait_for_socket "$T/s.sock"
	start_bg usock-connect "$T/s.sock" </dev/null >"$T/env"
	local cpid=$BG_PID
	expect_exit 0 "$cpid"
	expect_exit 0 "$lpid"
	run cat "$T/env"
	assert_line "USOCK_PEER_PID=$cpid"
	assert_line "USOCK_PEER_UID=$(id -u)"
	assert_line "USOCK_PEER_GID=$(id -g)"
	assert_line "USOCK_LOCAL=unix:$T/s.sock"
	assert_line --regexp '^USOCK_PEER='
}

@test "COMMAND env: peer credentials of an unprivileged client (python, os.getpid)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	for_others
	chmod 0711 "$T"
	start_bg usock-listen -m 0666 "$T/s.sock" -- sh -c 'env | grep "^USOCK_PEER_" | sort'
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$PY" "$ULIB/client.py" "$T/s.sock" --pid-stderr
	assert_line "USOCK_PEER_UID=65534"
	assert_line "USOCK_PEER_GID=65534"
	local pid
	pid=$(echo "$output" | grep -E '^[0-9]+$')
	assert_line "USOCK_PEER_PID=$pid"
}

@test "COMMAND env over TCP: USOCK_PEER tcp:127.0.0.1:N, USOCK_LOCAL, no PEER_PID" {
	local port
	port=$(free_port)
	start_bg usock-listen "$port" -- sh -c 'env | grep "^USOCK_" | sort'
	wait_for_port "$port"
	run -0 timeout 20 usock-connect "$port" </dev/null
	assert_line --regexp '^USOCK_PEER=tcp:127\.0\.0\.1:[0-9]+$'
	assert_line "USOCK_LOCAL=tcp:127.0.0.1:$port"
	refute_line --regexp '^USOCK_PEER_PID='
}

@test "several commands run at once" {
	mkdir "$T/marks"
	# each command marks itself, then waits (up to 10 s) until 3 marks exist
	start_bg usock-listen -k "$T/s.sock" -- sh -c '
		touch "$1/m.$$"; n=0
		while [ "$(ls "$1" | wc -l)" -lt 3 ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
		ls "$1" | wc -l' sh "$T/marks"
	wait_for_socket "$T/s.sock"
	local i pids=()
	for i in 1 2 3; do
		start_bg $CLIENT "$T/s.sock" --out "$T/c$i"
		pids+=("$BG_PID")
	done
	for i in 0 1 2; do expect_exit 0 "${pids[$i]}"; done
	for i in 1 2 3; do assert_equal "$(tr -d ' ' <"$T/c$i")" 3; done
}

@test "-c 1: the second client waits in the backlog until the first command ends" {
	start_bg usock-listen -k -c 1 "$T/s.sock" -- sh -c \
		'read id; echo "start $id" >>"$1"; cat >/dev/null; echo "end $id" >>"$1"' sh "$T/log"
	wait_for_socket "$T/s.sock"
	start_bg $CLIENT "$T/s.sock" --send $'A\n' --hold-file "$T/releaseA"
	local a=$BG_PID
	wait_file_line "$T/log" '^start A$' >/dev/null
	start_bg $CLIENT "$T/s.sock" --send $'B\n'
	local b=$BG_PID
	sleep 1 # B must not be served in this window
	run cat "$T/log"
	refute_line "start B"
	touch "$T/releaseA"
	wait_file_line "$T/log" '^end B$' >/dev/null
	expect_exit 0 "$a"
	expect_exit 0 "$b"
	assert_equal "$(cat "$T/log")" $'start A\nend A\nstart B\nend B'
}

@test "COMMAND's exit status is usock-listen's exit status (without -k)" {
	start_bg usock-listen "$T/s.sock" -- sh -c 'exit 7'
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 usock-connect "$T/s.sock" </dev/null
	expect_exit 7 "$pid"

	start_bg usock-listen "$T/t.sock" -- true
	pid=$BG_PID
	wait_for_socket "$T/t.sock"
	run -0 timeout 20 usock-connect "$T/t.sock" </dev/null
	expect_exit 0 "$pid"
}

@test "COMMAND killed by a signal: exit 128+N" {
	start_bg usock-listen "$T/s.sock" -- sh -c 'kill -TERM $$'
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run timeout 20 usock-connect "$T/s.sock" </dev/null
	expect_exit 143 "$pid"
}

@test "COMMAND not found: exit 1 at start, no socket file left" {
	run -1 --separate-stderr timeout 20 usock-listen "$T/s.sock" -- no-such-command-usock-test
	assert_regex "$stderr" '^usock-listen: .*no-such-command-usock-test'
	assert_not_exists "$T/s.sock"
}

# race ROUNDS [WRAPPER...]: start two "usock-listen -k" on one path at the
# same moment (each run through WRAPPER), ROUNDS times: exactly one wins,
# the other exits 1 saying the path is in use, and the winner serves.
race() {
	local rounds=$1 round p1 p2 winner loser lerr
	shift
	for round in $(seq "$rounds"); do
		rm -f "$T/go" "$T/e1" "$T/e2"
		start_bg sh -c 'while [ ! -e "$1" ]; do :; done; shift; exec "$@"' sh "$T/go" \
			"$@" usock-listen -k "$T/r.sock" </dev/null 2>"$T/e1"
		p1=$BG_PID
		start_bg sh -c 'while [ ! -e "$1" ]; do :; done; shift; exec "$@"' sh "$T/go" \
			"$@" usock-listen -k "$T/r.sock" </dev/null 2>"$T/e2"
		p2=$BG_PID
		touch "$T/go"
		wait_until 10 eval '! pid_alive "$p1" || ! pid_alive "$p2"'
		if pid_alive "$p1"; then
			winner=$p1 loser=$p2 lerr=$T/e2
		else
			winner=$p2 loser=$p1 lerr=$T/e1
		fi
		expect_exit 1 "$loser"
		grep -Eq '^usock-listen: .*(live listener|in use)' "$lerr" ||
			fail "round $round: loser said: $(cat "$lerr")"
		pid_alive "$winner" || fail "round $round: both listeners failed"
		wait_for_socket "$T/r.sock"
		run -0 timeout 20 usock-connect -z "$T/r.sock"
		kill -TERM "$winner"
		expect_exit 0 "$winner"
		assert_not_exists "$T/r.sock"
	done
}

@test "two listeners racing for one path: exactly one wins, 20 rounds" {
	race 20 env
}

@test "two listeners racing, with a 300 ms pause between bind() and listen(): exactly one wins" {
	[ -n "$SLOWBIND" ] || skip "no C compiler for the bind-delay shim"
	race 3 env LD_PRELOAD="$SLOWBIND" USOCK_TEST_BIND_DELAY_MS=300
}

@test "-b/--backlog is accepted and applied" {
	start_bg usock-listen -b 3 -k "$T/s.sock" </dev/null
	wait_for_socket "$T/s.sock"
	run -0 ss -xlH src "$T/s.sock"
	assert_output --regexp "LISTEN +0 +3 +$T/s.sock"
	start_bg usock-listen --backlog 1 "$T/t.sock" <<<"ok"
	local pid=$BG_PID
	wait_for_socket "$T/t.sock"
	run -0 timeout 20 usock-connect "$T/t.sock" </dev/null
	assert_output ok
	expect_exit 0 "$pid"
}

@test "-x (stdio): hexdump of both directions on stderr, the client's bytes as '>'" {
	start_bg usock-listen -x "$T/s.sock" <<<"hi" >"$T/got" 2>"$T/err"
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 usock-connect "$T/s.sock" <<<"yo"
	assert_output hi
	expect_exit 0 "$pid"
	assert_equal "$(cat "$T/got")" yo
	stderr=$(cat "$T/err")
	assert_stderr_line '^< #1 [0-9/]+ [0-9:.]+ length=3 from=0 to=2 peer=unix:$'
	assert_stderr_line '^< 00000000  68 69 0a +\|hi\.\|$'
	assert_stderr_line '^> 00000000  79 6f 0a +\|yo\.\|$'
}

@test "-v logs each connection" {
	start_bg usock-listen -v "$T/s.sock" </dev/null 2>"$T/err"
	local pid=$BG_PID
	wait_for_socket "$T/s.sock"
	run -0 timeout 20 usock-connect "$T/s.sock" </dev/null
	expect_exit 0 "$pid"
	grep -q '^usock-listen: connection from ' "$T/err" || fail "no connection line: $(cat "$T/err")"
}

@test "SIGPIPE: usock-listen | head -c 1 does not die by signal" {
	start_bg $CLIENT "$T/s.sock" --send-file "$BIG" --retry 10 --out /dev/null
	run -0 --separate-stderr timeout 20 bash -c 'usock-listen "$1" </dev/null | head -c 1 >/dev/null; echo "status=${PIPESTATUS[0]}"' _ "$T/s.sock"
	refute_output "status=141"
	assert_output --regexp '^status=(0|1)$'
}
