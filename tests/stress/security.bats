#!/usr/bin/env bats
# Security: what a listening tool exposes, what it may delete or replace,
# how wide its socket file ever is, whom --allow lets through, and that
# sockinfo looks without touching.

load ../helpers

setup_file() {
	# a bind() that pauses afterwards, to widen the bind..chmod..listen window
	SLOWBIND=
	if command -v cc >/dev/null; then
		cc -shared -fPIC -o "$BATS_FILE_TMPDIR/slowbind.so" \
			"$BATS_TEST_DIRNAME/../lib/slowbind.c" -ldl &&
			SLOWBIND=$BATS_FILE_TMPDIR/slowbind.so
	fi
	export SLOWBIND
}

setup() {
	common_setup
	local t
	for t in tcp2unix usock-listen usock-bench sockinfo; do
		[ -x "$BIN/$t" ] || fail "$BIN/$t not built (run make)"
	done
	BRIDGE_WRAP=()
	NETNS=
}

teardown() {
	if [ -n "$NETNS" ]; then
		ip netns del "$NETNS" 2>/dev/null || true
		ip link del "$VETH" 2>/dev/null || true
	fi
	common_teardown
}

# listening_on TOOL ARG...: start TOOL --print-address ARG... and set
# LADDR to the address it prints.
listening_on() {
	local err
	err=$(mktemp "$T/err.XXXXXX")
	start_bg "$1" --print-address "${@:2}" </dev/null >/dev/null 2>"$err"
	LADDR=$(wait_file_line "$err" '^(tcp|unix):')
}

# reaches [NETNS] HOST PORT: a TCP connection to HOST:PORT succeeds (from
# inside network namespace NETNS when given).
reaches() {
	local ns=()
	[ $# -eq 3 ] && ns=(ip netns exec "$1") && shift
	"${ns[@]}" "$PY" -c 'import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()' "$1" "$2" 2>/dev/null
}

@test "a bare PORT listens on loopback only: unreachable from another network namespace and on the host's other address" {
	NETNS=usock$$
	VETH=usv$$
	ip netns add "$NETNS" 2>/dev/null || {
		NETNS=
		skip "cannot create a network namespace (ip netns add needs root)"
	}
	local net="10.231.$(($$ % 250))" port tool
	ip link add "$VETH" type veth peer name usp$$
	ip link set usp$$ netns "$NETNS"
	ip addr add "$net.1/24" dev "$VETH"
	ip link set "$VETH" up
	ip netns exec "$NETNS" ip addr add "$net.2/24" dev usp$$
	ip netns exec "$NETNS" ip link set usp$$ up
	# the path works: a listener on every interface is reached from there
	listening_on usock-listen -k '*:0'
	wait_until 10 reaches "$NETNS" "$net.1" "${LADDR##*:}"
	stress_serve "$T/e.sock" echo
	for tool in "usock-listen -k" "tcp2unix" "usock-bench --serve echo"; do
		if [ "$tool" = tcp2unix ]; then
			listening_on tcp2unix 0 "$T/e.sock"
		else
			listening_on $tool 0
		fi
		[[ $LADDR == tcp:127.0.0.1:* ]] || fail "$tool 0 listens on $LADDR"
		port=${LADDR##*:}
		reaches 127.0.0.1 "$port" || fail "$tool: not reachable on 127.0.0.1:$port"
		! reaches "$net.1" "$port" || fail "$tool: reachable on the host's $net.1:$port"
		! reaches "$NETNS" "$net.1" "$port" || fail "$tool: reachable from another host at $net.1:$port"
	done
}

# snapshot PATH: what a path is, to the byte: type, inode, mode, size,
# link target, contents.
snapshot() {
	stat -c '%F %i %a %s %Y' "$1"
	if [ -L "$1" ]; then readlink "$1"; fi
	if [ -f "$1" ] && [ ! -L "$1" ]; then sha "$1"; fi
	if [ -d "$1" ]; then ls -la "$1"; fi
}

@test "no tool replaces what is not a stale socket: file, directory, FIFO, symlinks (to a stale socket, a live one, a file, nowhere), a live socket" {
	stress_serve "$T/live.sock" echo
	make_stale_socket "$T/stale.sock"
	echo precious >"$T/file"
	mkdir "$T/dir"
	touch "$T/dir/inside"
	mkfifo "$T/fifo"
	ln -s stale.sock "$T/to-stale"
	ln -s live.sock "$T/to-live"
	ln -s file "$T/to-file"
	ln -s nowhere "$T/to-nowhere"
	local kind tool before
	for kind in file dir fifo to-stale to-live to-file to-nowhere live.sock; do
		for tool in usock-listen tcp2unix usock-bench; do
			before=$(snapshot "$T/$kind"; snapshot "$T/stale.sock")
			case $tool in
			usock-listen) run timeout 5 usock-listen "$T/$kind" </dev/null ;;
			tcp2unix) run timeout 5 tcp2unix "$T/$kind" "$T/live.sock" ;;
			usock-bench) run timeout 5 usock-bench --serve echo "$T/$kind" ;;
			esac
			[ "$status" -eq 1 ] || fail "$tool on $kind: exit $status: $output"
			assert_equal "$(snapshot "$T/$kind"; snapshot "$T/stale.sock")" "$before"
		done
	done
	assert_equal "$(cat "$T/file")" precious
	check_echo "$T/live.sock"
	check_echo "$T/to-live"
	# a stale socket is the one thing replaced
	start_bg usock-listen "$T/stale.sock" </dev/null >/dev/null
	wait_for_socket "$T/stale.sock"
}

# swap_when_there DIR GLOB: once a name matching GLOB appears in DIR, do
# what anyone may do in a world-writable directory without the sticky
# bit: move DIR/p.sock (if there) aside to DIR/moved.sock and put a
# symbolic link to $T/victim in its place.
swap_when_there() {
	local deadline=$((SECONDS + 10)) f
	while ! compgen -G "$1/$2" >/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.01
	done
	if [ -S "$1/p.sock" ]; then mv "$1/p.sock" "$1/moved.sock"; fi
	ln -s ../victim "$1/p.sock"
	for f in "$1"/.usock-*; do [ ! -e "$f" ] || echo "seen $f"; done
}

# victim: a file that is not a socket, 0600 OWNER, in $T/victim; a fresh
# world-writable directory $T/d without the sticky bit.
victim() {
	rm -rf "$T/d" "$T/victim"
	mkdir -m 0777 "$T/d"
	chmod 0777 "$T/d"
	echo secret >"$T/victim"
	chmod 0600 "$T/victim"
	chown "$1" "$T/victim"
}

@test "-m and -o never reach a symlink swapped in after bind(): the other file keeps its mode and owner, in every tool" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to give a file away"
	[ -n "$SLOWBIND" ] || skip "no C compiler for the bind-delay shim"
	stress_serve "$T/e.sock" echo
	local args tool want pid
	for args in "usock-listen -m 0666 -k" "usock-listen -m 0666 -o nobody:nogroup -k" \
		"usock-listen -o nobody -k" "tcp2unix -m 0666" "tcp2unix -m 0660 -o nobody:nogroup" \
		"usock-bench --serve echo"; do
		victim root:root
		start_bg swap_when_there "$T/d" p.sock
		pid=$BG_PID
		tool=${args%% *}
		start_bg env LD_PRELOAD="$SLOWBIND" USOCK_TEST_BIND_DELAY_MS=500 \
			$args --print-address "$T/d/p.sock" \
			$([ "$tool" != tcp2unix ] || echo "$T/e.sock") </dev/null 2>"$T/err"
		wait_file_line "$T/err" '^unix:'
		expect_exit 0 "$pid"
		# the options reached our socket, wherever it was moved
		case $args in
		*"-m 0666 -o"*) want="666 nobody:nogroup" ;;
		*"-m 0660 -o"*) want="660 nobody:nogroup" ;;
		*-o*) want="nobody:root" ;;
		*-m*) want="666 root:root" ;;
		*) want=root:root ;;
		esac
		[[ "$(stat -c '%a %U:%G' "$T/d/moved.sock")" == *"$want" ]] ||
			fail "$args: our socket is $(stat -c '%a %U:%G' "$T/d/moved.sock"), expected $want"
		assert_equal "$(stat -c '%a %U:%G %F' "$T/victim")" "600 root:root regular file"
		assert_equal "$(cat "$T/victim")" secret
		kill -TERM "$BG_PID"
		expect_exit 0 "$BG_PID"
		# and at exit the link, which is not ours, is left alone
		assert_equal "$(readlink "$T/d/p.sock")" ../victim
	done
}

@test "-o as an unprivileged user: the file is made in a private directory, moved into place with its owner and mode, never over what appeared meanwhile" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch users"
	getent group users >/dev/null || skip "no group 'users'"
	for_others
	chmod 0755 "$T"
	victim nobody
	local as=(setpriv --reuid=nobody --regid=nogroup --groups=users)
	start_bg "${as[@]}" "$UBIN/usock-listen" --print-address -m 0660 -o :users -k \
		"$T/d/s.sock" </dev/null 2>"$T/err"
	wait_file_line "$T/err" '^unix:'
	assert_equal "$(stat -c '%a %U:%G' "$T/d/s.sock")" "660 nobody:users"
	assert_equal "$(ls -A "$T/d")" s.sock
	run -0 timeout 10 usock-connect -z "$T/d/s.sock"
	kill -TERM "$BG_PID"
	expect_exit 0 "$BG_PID"
	assert_equal "$(ls -A "$T/d")" ""
	# a stale socket file is replaced, a live one refused; nothing left over
	make_stale_socket "$T/d/s.sock"
	chmod 0666 "$T/d/s.sock"
	stress_serve "$T/d/live.sock" echo
	chmod 0666 "$T/d/live.sock"
	start_bg "${as[@]}" "$UBIN/usock-listen" --print-address -o :users -k \
		"$T/d/s.sock" </dev/null 2>"$T/err2"
	wait_file_line "$T/err2" '^unix:'
	assert_equal "$(stat -c %U:%G "$T/d/s.sock")" nobody:users
	run -1 --separate-stderr timeout 10 "${as[@]}" "$UBIN/usock-listen" -o :users "$T/d/live.sock" </dev/null
	assert_regex "$stderr" ": address in use by a live listener"
	check_echo "$T/d/live.sock"
	kill -TERM "$BG_PID" "$SPID"
	expect_exit 0 "$BG_PID"
	wait_gone "$T/d/s.sock"
	rm -f "$T/d/live.sock"
	assert_equal "$(ls -A "$T/d")" ""
	# a link planted at the path while the socket is set up is refused,
	# its target untouched, the private directory removed
	[ -n "$SLOWBIND" ] || skip "no C compiler for the bind-delay shim"
	install -m 0644 "$SLOWBIND" "$T/slowbind.so"
	start_bg swap_when_there "$T/d" '.usock-*'
	local pid=$BG_PID
	run -1 --separate-stderr timeout 10 env LD_PRELOAD="$T/slowbind.so" USOCK_TEST_BIND_DELAY_MS=500 \
		"${as[@]}" "$UBIN/usock-listen" -m 0666 -o :users -k "$T/d/p.sock" </dev/null
	assert_regex "$stderr" '^usock-listen: listen unix:.*/d/p\.sock: the path exists and is not a socket'
	expect_exit 0 "$pid"
	assert_equal "$(stat -c '%a %U' "$T/victim")" "600 nobody"
	assert_equal "$(ls -A "$T/d")" p.sock
}

# netns_serve PATH: a greeting server on PATH in a network namespace of
# its own (as in a container sharing the file system); accepts logged
# in $T/accepts.
netns_serve() {
	unshare -n true 2>/dev/null || skip "cannot make a network namespace (unshare -n needs root)"
	local ready=$T/ns.ready
	start_bg unshare -n $STRESS serve "$1" greet --log "$T/accepts" --ready-file "$ready"
	wait_for_file "$ready"
}

@test "a live listener in another network namespace is never taken for stale: every tool refuses, the file and its server stay" {
	netns_serve "$T/ns.sock"
	stress_serve "$T/e.sock" echo
	local ino tool n=0
	ino=$(stat -c %i "$T/ns.sock")
	for tool in usock-listen tcp2unix usock-bench; do
		case $tool in
		usock-listen) run -1 --separate-stderr timeout 10 usock-listen -k "$T/ns.sock" </dev/null ;;
		tcp2unix) run -1 --separate-stderr timeout 10 tcp2unix "$T/ns.sock" "$T/e.sock" ;;
		usock-bench) run -1 --separate-stderr timeout 10 usock-bench --serve echo "$T/ns.sock" ;;
		esac
		assert_regex "$stderr" "^$tool: listen unix:$T/ns\.sock: address in use by a live listener \(pid [0-9]+, "
		assert_equal "$(stat -c %i "$T/ns.sock")" "$ino"
		# the proof of life was one connection, closed at once
		n=$((n + 1))
		wait_until 5 eval '[ "$(grep -c "^accept$" "$T/accepts")" -eq '"$n"' ]'
	done
	run -0 timeout 10 usock-connect "$T/ns.sock" </dev/null
	assert_output HELLO
	# once that server is gone the file is stale, and replaced
	kill -TERM "${BG_PIDS[0]}"
	wait_until 10 eval '! pid_alive "${BG_PIDS[0]}"'
	[ -S "$T/ns.sock" ] || skip "the server removed its socket file"
	start_bg usock-listen -k "$T/ns.sock" </dev/null
	wait_for_socket "$T/ns.sock"
}

@test "a stale socket file the user may not connect to cannot be proven stale: refused, kept; one it may connect to is replaced" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch users"
	for_others
	chmod 0755 "$T"
	mkdir -m 0777 "$T/d"
	chmod 0777 "$T/d"
	make_stale_socket "$T/d/root.sock"
	chmod 0600 "$T/d/root.sock"
	local ino as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	ino=$(stat -c %i "$T/d/root.sock")
	run -1 --separate-stderr timeout 10 "${as[@]}" "$UBIN/usock-listen" "$T/d/root.sock" </dev/null
	assert_equal "$stderr" "usock-listen: listen unix:$T/d/root.sock: a socket file is there and whether anything listens on it cannot be checked (Permission denied); refusing to replace it"
	assert_equal "$(stat -c %i "$T/d/root.sock")" "$ino"
	chmod 0666 "$T/d/root.sock"
	start_bg "${as[@]}" "$UBIN/usock-listen" -k "$T/d/root.sock" </dev/null
	wait_for_socket "$T/d/root.sock"
	assert_equal "$(stat -c %U "$T/d/root.sock")" nobody
}

# check_echo ADDR: a checksummed 64 KiB echo through ADDR.
check_echo() {
	run -0 timeout 20 $STRESS transfer "$1" 65536
	assert_equal "${lines[0]#sent }" "${lines[1]#echo }"
}

# mode_ok SEEN ASKED: SEEN (octal) gives no permission that ASKED lacks.
mode_ok() {
	[ $((8#$1 & ~8#$2)) -eq 0 ]
}

@test "tcp2unix --mode: never wider than asked from the first moment (watcher, umask 000), --owner applied, the umask kept" {
	stress_serve "$T/e.sock" echo
	umask 000
	local spec mode owner round w seen
	for spec in 0600 0660:nobody:nogroup 0640:nobody:nogroup; do
		mode=${spec%%:*}
		owner=${spec#"$mode"}
		owner=${owner#:}
		for round in 1 2 3; do
			rm -f "$T/ready"
			start_bg "$PY" "$LIB/watch_mode.py" "$T" s.sock "$T/ready" 10 >"$T/watch"
			w=$BG_PID
			wait_for_file "$T/ready"
			start_bridge --mode "$mode" ${owner:+--owner "$owner"} "$T/s.sock" "$T/e.sock"
			expect_exit 0 "$w"
			[[ $(cat "$T/watch") != never* ]] || fail "$spec: the watcher never saw the socket"
			while read -r _ seen _; do
				mode_ok "$seen" "$mode" || fail "$spec round $round: the file was $seen: $(cat "$T/watch")"
			done < <(grep '^s\.sock ' "$T/watch")
			assert_equal "$(stat -c %a "$T/s.sock")" "${mode#0}"
			[ -z "$owner" ] || assert_equal "$(stat -c %U:%G "$T/s.sock")" "$owner"
			assert_equal "$(awk '$1 == "Umask:" { print $2 }' "/proc/$BPID/status")" 0000
			check_echo "$T/s.sock"
			kill -TERM "$BPID"
			expect_exit 0 "$BPID" 10
			assert_not_exists "$T/s.sock"
		done
	done
}

@test "--allow: 20 denied clients get no byte from the target and the target sees no connection; an allowed one is served" {
	stress_serve "$T/g.sock" greet --log "$T/accepts"
	start_bridge -v --allow 10.0.0.0/8 --allow 127.0.0.2/32 0 "$T/g.sock"
	run -0 timeout 30 $STRESS connect-count "$HOSTPORT" 20
	assert_output "20 connections, 0 bytes received"
	assert_not_exists "$T/accepts"
	refute connected_on "$T/g.sock"
	bridge_counters_are "20, active 0, refused 20, failed 0, completed 0, bytes up 0, down 0"
	# from 127.0.0.2, inside a range: the greeting comes
	run -0 timeout 10 $STRESS connect-count "$HOSTPORT" 1 --bind 127.0.0.2
	assert_output "1 connections, 16 bytes received"
	assert_equal "$(grep -c '^accept$' "$T/accepts")" 1
}

@test "sockinfo connects to nothing unless --probe: the listener's accept count stays 0" {
	stress_serve "$T/s.sock" greet --log "$T/accepts"
	local name port
	name=$(abstract_name)
	stress_serve "@$name" greet --log "$T/accepts"
	port=$(free_port)
	stress_serve "127.0.0.1:$port" greet --log "$T/accepts"
	run sockinfo "$T/s.sock"
	run sockinfo -v "$T/s.sock" "@$name" "127.0.0.1:$port"
	run sockinfo --json "$T"
	run sockinfo --audit "$T"
	run sockinfo -u nobody "$T/s.sock"
	run sockinfo -a
	run sockinfo -a --tcp --json
	run sockinfo -q "$T/s.sock" "$port"
	assert_not_exists "$T/accepts"
	refute connected_on "$T/s.sock"
	run -0 sockinfo --probe "$T/s.sock"
	wait_file_line "$T/accepts" '^accept$' 5
}

@test "sockinfo --audit flags a world-writable socket planted with a root listener; the same at 0600 is clean" {
	[ "$(id -u)" -eq 0 ] || skip "needs a root listener"
	mkdir "$T/run"
	stress_serve "$T/run/app.sock" echo
	chmod 0666 "$T/run/app.sock"
	# inside the test's own 0700 directory nobody else can reach it
	run -0 sockinfo --audit "$T/run"
	assert_output ""
	# a directory everyone may search: now any local user may connect
	chmod 0755 "$T"
	run -1 sockinfo --audit "$T/run"
	assert_line --regexp '^  audit +world-writable socket \(mode 0666\): any local user may connect'
	assert_line --regexp 'the listener runs as root and any local user may connect'
	run -1 sockinfo --audit --json "$T/run"
	assert_equal "$(jq -r '.[0].audit | length' <<<"$output")" 2
	chmod 0600 "$T/run/app.sock"
	run -0 sockinfo --audit "$T/run"
	assert_output ""
}
