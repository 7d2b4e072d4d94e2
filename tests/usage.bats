#!/usr/bin/env bats
# What a newcomer meets first, in every tool: options that cannot go
# together are refused (one line, exit 2) instead of one being ignored;
# ambiguous abbreviations name their candidates; messages say what
# happened in the words a person would use.

load helpers

TOOLS=(tcp2unix usock-listen usock-connect sockinfo usock-bench)

@test "every tool: an ambiguous abbreviation lists the options it could mean; an unknown one is called unknown" {
	run -2 --separate-stderr sockinfo --a
	assert_equal "$stderr" "sockinfo: ambiguous option --a: --all or --audit (try --help)"
	run -2 --separate-stderr usock-connect --h ./x.sock
	assert_equal "$stderr" "usock-connect: ambiguous option --h: --history, --hexdump or --help (try --help)"
	local t
	for t in "${TOOLS[@]}"; do
		run -2 --separate-stderr "$t" --no-such-option
		assert_equal "$stderr" "$t: unknown option --no-such-option (try --help)"
		# --he: --help, and --hexdump where the tool has it
		run --separate-stderr "$t" --he
		if "$t" --help | grep -q -- --hexdump; then
			assert_equal "$status" 2
			assert_regex "$stderr" "^$t: ambiguous option --he: (.*, )?--hexdump(, .*)? or --help|^$t: ambiguous option --he: --help(, .*)? or --hexdump"
		fi
	done
}

@test "every tool: -q with -v is a usage error, in either order" {
	local t
	for t in "${TOOLS[@]}"; do
		run -2 --separate-stderr "$t" -q -v ./x.sock
		assert_equal "$stderr" "$t: cannot use --verbose with --quiet"
		run -2 --separate-stderr "$t" --verbose --quiet ./x.sock
		assert_equal "$stderr" "$t: cannot use --quiet with --verbose"
	done
	# -v may still be repeated
	run -2 --separate-stderr usock-connect -vv
	assert_equal "$stderr" "usock-connect: missing ADDRESS (try --help)"
}

@test "--mode above 0777 (setuid, setgid, sticky) is a usage error; nothing is created" {
	cd "$T"
	run -2 --separate-stderr usock-listen -m 7777 ./m.sock
	assert_equal "$stderr" "usock-listen: --mode: 7777 sets the setuid, setgid or sticky bit, which mean nothing on a socket (0..0777)"
	run -2 --separate-stderr tcp2unix -m 1777 ./m.sock ./app.sock
	assert_regex "$stderr" '^tcp2unix: --mode: 1777 sets the setuid'
	run -2 --separate-stderr usock-listen -m 10000 ./m.sock
	assert_equal "$stderr" "usock-listen: --mode: 10000 is out of range 0..0777"
	assert_not_exists "$T/m.sock"
	start_bg usock-listen -k -m 0777 "$T/m.sock" -- true </dev/null
	wait_for_socket "$T/m.sock"
	assert_equal "$(stat -c %a "$T/m.sock")" 777
}

@test "usock-connect: -i with --no-interactive, --history with --no-history, --raw or --prompt on a pipe" {
	run -2 --separate-stderr usock-connect -i --no-interactive ./x.sock
	assert_equal "$stderr" "usock-connect: cannot use --interactive with --no-interactive"
	run -2 --separate-stderr usock-connect --history "$T/h" --no-history ./x.sock
	assert_equal "$stderr" "usock-connect: cannot use --history with --no-history"
	assert_not_exists "$T/h"
	run -2 --separate-stderr usock-connect --raw ./x.sock </dev/null
	assert_equal "$stderr" "usock-connect: --raw: works only in interactive mode (standard input is not a terminal)"
	run -2 --separate-stderr usock-connect --prompt 'x> ' --no-interactive ./x.sock
	assert_equal "$stderr" "usock-connect: --prompt: works only in interactive mode (--no-interactive was given)"
}

@test "usock-listen: -c without -k is refused; with -k and a COMMAND it limits" {
	run -2 --separate-stderr usock-listen -c 3 "$T/z.sock"
	assert_equal "$stderr" "usock-listen: cannot use --max-conns without a COMMAND"
	run -2 --separate-stderr usock-listen -c 3 "$T/z.sock" -- cat
	assert_equal "$stderr" "usock-listen: cannot use --max-conns without --keep-open (one connection, one COMMAND)"
	assert_not_exists "$T/z.sock"
	start_bg usock-listen -k -c 3 "$T/z.sock" -- cat </dev/null
	wait_for_socket "$T/z.sock"
	run -0 timeout 20 usock-connect "$T/z.sock" <<<hi
	assert_output hi
}

@test "usock-listen: a COMMAND that is not executable, a directory, or missing is refused at start with that reason" {
	run -1 --separate-stderr timeout 20 usock-listen "$T/x.sock" -- /etc/passwd
	assert_equal "$stderr" "usock-listen: COMMAND /etc/passwd: not executable"
	run -1 --separate-stderr timeout 20 usock-listen -k "$T/x.sock" -- /tmp
	assert_equal "$stderr" "usock-listen: COMMAND /tmp: is a directory, not a program"
	run -1 --separate-stderr timeout 20 usock-listen "$T/x.sock" -- "$T/none"
	assert_equal "$stderr" "usock-listen: COMMAND $T/none: not found"
	mkdir "$T/p" "$T/p/dir"
	printf '#!/bin/sh\necho hi\n' >"$T/p/script"
	run -1 --separate-stderr env PATH="$T/p" "$BIN/usock-listen" "$T/x.sock" -- script
	assert_equal "$stderr" "usock-listen: COMMAND script: found in PATH, but not executable"
	run -1 --separate-stderr env PATH="$T/p" "$BIN/usock-listen" "$T/x.sock" -- dir
	assert_equal "$stderr" "usock-listen: COMMAND dir: found in PATH only as a directory"
	run -1 --separate-stderr env PATH="$T/p" "$BIN/usock-listen" "$T/x.sock" -- nothing
	assert_equal "$stderr" "usock-listen: COMMAND nothing: not found in PATH"
	assert_not_exists "$T/x.sock"
	# the same script, executable, in PATH, runs
	chmod +x "$T/p/script"
	start_bg env PATH="$T/p:$PATH" "$BIN/usock-listen" "$T/x.sock" -- script </dev/null
	wait_for_socket "$T/x.sock"
	run -0 timeout 20 usock-connect "$T/x.sock" </dev/null
	assert_output hi
}

@test "usock-listen: USOCK_LOCAL of a *:PORT listener is the address each client reached" {
	local port
	port=$(free_port)
	start_bg usock-listen -k "*:$port" -- sh -c 'echo "$USOCK_LOCAL"' </dev/null
	wait_for_port "$port"
	run -0 timeout 20 usock-connect "127.0.0.1:$port" </dev/null
	assert_output "tcp:127.0.0.1:$port"
	if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then
		run -0 timeout 20 usock-connect "[::1]:$port" </dev/null
		assert_output "tcp:[::1]:$port"
	fi
}

@test "usock-bench: an unknown MODE is named; --serve with --compare is refused" {
	run -2 --separate-stderr usock-bench ./e.sock latecny
	assert_equal "$stderr" "usock-bench: unknown MODE 'latecny': throughput, latency, connect-rate or hold N (try --help)"
	run -2 --separate-stderr usock-bench --compare ./a.sock ./b.sock latecny
	assert_regex "$stderr" "^usock-bench: unknown MODE 'latecny'"
	run -2 --separate-stderr usock-bench ./a.sock ./b.sock latency
	assert_equal "$stderr" "usock-bench: unexpected argument './b.sock' (one ADDRESS only, or two with --compare)"
	run -2 --separate-stderr usock-bench --serve echo --compare latency
	assert_equal "$stderr" "usock-bench: cannot use --serve with --compare (which serves its own, or measures the two ADDRESSes)"
}

@test "tcp2unix: --allow with a UNIX or abstract listening address is refused" {
	run -2 --separate-stderr tcp2unix --allow 10.0.0.0/8 "$T/front.sock" "$T/app.sock"
	assert_equal "$stderr" "tcp2unix: --allow filters TCP clients by address; '$T/front.sock' is not a TCP address"
	run -2 --separate-stderr tcp2unix --allow ::1 "@$(abstract_name)" "$T/app.sock"
	assert_regex "$stderr" '^tcp2unix: --allow filters TCP clients'
	assert_not_exists "$T/front.sock"
}

@test "counts agree with their number: 1 connection, 1 byte; -q still prints failed connections" {
	start_bg usock-listen -k "$T/app.sock" -- head -c 1 </dev/null
	wait_for_socket "$T/app.sock"
	start_bridge -v -c 1 0 "$T/app.sock"
	run -0 --separate-stderr timeout 20 usock-connect -v "$HOSTPORT" < <(printf x)
	assert_output x
	assert_stderr_line '1 byte sent, 1 received$'
	wait_file_line "$BERR" 'closed; 1 byte up, 1 down'
	kill -TERM "$BPID"
	expect_exit 0 "$BPID"
	grep -qx "tcp2unix: listening on $BADDR, forwarding to unix:.*app.sock, at most 1 connection" "$BERR" || fail "$(cat "$BERR")"
	grep -qx 'tcp2unix: stopping: 0 connections to drain' "$BERR" || fail "$(cat "$BERR")"
	grep -qx 'tcp2unix: stopped: 1 connection served' "$BERR" || fail "$(cat "$BERR")"
	# tcp2unix(1): -q silences --allow lines, not failures
	start_bridge -q 0 "$T/none.sock"
	run -1 timeout 20 usock-connect "$HOSTPORT" </dev/null
	wait_file_line "$BERR" 'target refused \(No such file or directory\); 0 bytes up, 0 down'
}

@test "durations are said as written: -t 3 is 3 s, 1500ms is 1.5 s" {
	start_bg usock-listen -k "$T/s.sock" -- sleep 30 </dev/null
	wait_for_socket "$T/s.sock"
	run -124 --separate-stderr timeout 20 usock-connect -t 1 "$T/s.sock" < <(sleep 10)
	assert_equal "$stderr" "usock-connect: unix:$T/s.sock: no traffic for 1 s; connection reset"
	run -124 --separate-stderr timeout 20 usock-connect -t 300ms "$T/s.sock" < <(sleep 10)
	assert_equal "$stderr" "usock-connect: unix:$T/s.sock: no traffic for 300 ms; connection reset"
	run -124 --separate-stderr timeout 20 usock-connect -t 1500ms "$T/s.sock" < <(sleep 10)
	assert_equal "$stderr" "usock-connect: unix:$T/s.sock: no traffic for 1.5 s; connection reset"
}

# plain_man PAGE: PAGE as text on one long line a paragraph, without the
# overstrike of bold and underline
plain_man() {
	mandoc -T utf8 -O width=1000 "$1" | sed 's/.\x08//g'
}

@test "man pages: usock-bench's basis renders as (‘rate’ or ‘p50’); tcp2unix(1) says -q keeps failures" {
	run -0 plain_man "$ROOT/man/usock-bench.1"
	assert_output --partial "basis (‘rate’ or ‘p50’)"
	run -0 plain_man "$ROOT/man/tcp2unix.1"
	refute_output --partial "silences both kinds"
	assert_output --partial "is a failure, logged with or without -q"
}

@test "sockinfo: a bare name of an existing file is that path, even one that looks like a port" {
	start_bg usock-listen -k "$T/world.sock" -- true </dev/null
	wait_for_socket "$T/world.sock"
	echo data >"$T/8080"
	cd "$T"
	run -0 sockinfo world.sock
	assert_line --index 0 "unix:./world.sock"
	assert_line --regexp '^  state +listening \(stream\)$'
	run -1 sockinfo 8080
	assert_line --index 0 "unix:./8080"
	assert_line --regexp '^  state +not-a-socket$'
	assert_equal "$(cat "$T/8080")" data
	# an explicit kind keeps its meaning; a missing bare word is no path
	run -1 sockinfo tcp:8080
	refute_line --index 0 "unix:./8080"
	run -2 --separate-stderr sockinfo nothing-here.sock
	assert_regex "$stderr" "^sockinfo: address 'nothing-here.sock': not an address"
}

@test "sockinfo -a: -q keeps only what one may not connect to; -u USER adds a CONNECT column" {
	chmod 0755 "$T" # nobody must reach the sockets
	start_bg usock-listen -k -m 0600 "$T/closed.sock" -- true </dev/null
	start_bg usock-listen -k -m 0666 "$T/open.sock" -- true </dev/null
	wait_for_socket "$T/closed.sock"
	wait_for_socket "$T/open.sock"
	run -0 sockinfo -a
	refute_line --partial CONNECT
	assert_line --regexp "  $T/closed.sock$"
	assert_line --regexp "  $T/open.sock$"
	run -0 sockinfo -a -u nobody
	assert_line --index 0 --regexp '^TYPE +STATE +MODE +OWNER +PROCESS +QUEUE +CONNECT +ADDRESS$'
	assert_line --regexp " no +$T/closed.sock$"
	assert_line --regexp " yes +$T/open.sock$"
	# root may connect to both: -q leaves them out (the exit status
	# speaks for every socket on the host, not only these)
	run sockinfo -a -q
	refute_output --partial "$T/closed.sock"
	refute_output --partial "$T/open.sock"
	# nobody may not connect to the 0600 one: -q -u nobody keeps it alone
	run sockinfo -a -q -u nobody
	assert_line --regexp " no +$T/closed.sock$"
	refute_output --partial "$T/open.sock"
}

@test "sockinfo: the holder of a bound datagram socket is a process, not a listener" {
	start_bg "$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
time.sleep(60)' "$T/d.sock"
	wait_for_file "$T/d.sock"
	wait_until 10 sockinfo "$T/d.sock"
	run -0 sockinfo "$T/d.sock"
	assert_line --regexp '^  state +bound \(dgram\)$'
	assert_line --regexp '^  process +pid [0-9]+ python3 '
	refute_line --regexp '^  listener'
}

@test "completion: sockinfo offers every file, as ./NAME for a bare word (bash)" {
	[ -r /usr/share/bash-completion/bash_completion ] || fail "bash-completion is in tests/deps"
	mkdir "$T/c" "$T/c/sub"
	touch "$T/c/app.conf"
	make_stale_socket "$T/c/app.sock"
	run -0 bash -c '. /usr/share/bash-completion/bash_completion
		. "$1/completions/bash/sockinfo"
		cd "$2"
		COMP_WORDS=(sockinfo ap); COMP_CWORD=1; COMP_LINE="sockinfo ap"; COMP_POINT=11
		_sockinfo; printf "%s\n" "${COMPREPLY[@]}" | sort' bash "$ROOT" "$T/c"
	assert_output "./app.conf
./app.sock"
	# usock-connect still offers only sockets
	run -0 bash -c '. /usr/share/bash-completion/bash_completion
		. "$1/completions/bash/usock-connect"
		cd "$2"
		COMP_WORDS=(usock-connect ap); COMP_CWORD=1; COMP_LINE="usock-connect ap"; COMP_POINT=16
		_usock_connect 2>/dev/null || _usock-connect 2>/dev/null || $(complete -p usock-connect | sed "s/.*-F \([^ ]*\) .*/\1/")
		printf "%s\n" "${COMPREPLY[@]}"' bash "$ROOT" "$T/c"
	assert_output "./app.sock"
}

# bash_complete TOOL LINE: complete LINE (the cursor at its end) with
# TOOL's bash completion, COMP_WORDS split as bash splits them (at blanks,
# and at '@' and ':', which become words of their own); print COMPREPLY
# sorted, one a line.  COMP_WORDBREAKS is bash's default, as in an
# interactive shell.
bash_complete() {
	bash -c '. /usr/share/bash-completion/bash_completion
		. "$1/completions/bash/$2"
		COMP_WORDBREAKS=$4
		COMP_LINE=$3 COMP_POINT=${#3} COMP_WORDS=() rest=$3 w=""
		while [[ $rest ]]; do
			c=${rest:0:1} rest=${rest:1}
			case $c in
			" ") [[ $w ]] && COMP_WORDS+=("$w"); w="" ;;
			[@:]) [[ $w ]] && COMP_WORDS+=("$w"); COMP_WORDS+=("$c"); w="" ;;
			*) w+=$c ;;
			esac
		done
		COMP_WORDS+=("$w")
		[[ $w || ${3: -1} == " " ]] || unset "COMP_WORDS[-1]"
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		$(complete -p "$2" | sed "s/.*-F \([^ ]*\) .*/\1/")
		printf "%s\n" "${COMPREPLY[@]}" | sort' bash "$ROOT" "$1" "$2" \
		$' \t\n"\'@><=;|&(:'
}

@test "completion: an @name split by bash is one word for sockinfo and usock-bench (bash)" {
	[ -r /usr/share/bash-completion/bash_completion ] || fail "bash-completion is in tests/deps"
	local n
	n=$(abstract_name)
	start_bg usock-listen -k "@$n" -- true
	wait_for_socket "@$n"
	# the @name is offered; readline replaces what follows the '@'
	run -0 bash_complete sockinfo "sockinfo -v @${n%-*}"
	assert_line "$n"
	run -0 bash_complete usock-bench "usock-bench @${n%-*}"
	assert_line "$n"
	# after one address: the modes
	run -0 bash_complete usock-bench "usock-bench @$n "
	assert_output "connect-rate
hold
latency
throughput"
	# --compare: a second address is still to come after the first
	run -0 bash_complete usock-bench "usock-bench --compare @$n @"
	assert_line "$n"
	run -0 bash_complete usock-bench "usock-bench --compare @$n @$n "
	assert_output "connect-rate
hold
latency
throughput"
	# an option value after an @name: sockinfo -u USER
	run -0 bash_complete sockinfo "sockinfo @$n -u roo"
	assert_line root
}

@test "a bare port and localhost try ::1 and then 127.0.0.1, whatever /etc/hosts lists" {
	grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null ||
		fail "this host has no IPv6 loopback address"
	local port
	port=$(free_port)
	start_bg "$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind(("::1", int(sys.argv[1])))
s.listen()
open(sys.argv[2], "w").close()
time.sleep(60)' "$port" "$T/ready"
	wait_for_file "$T/ready"
	run -0 timeout 20 usock-connect -z "$port"
	run -0 timeout 20 usock-connect -z "localhost:$port"
	run -0 timeout 20 usock-connect -z "tcp6:LOCALHOST:$port"
	run -1 --separate-stderr timeout 20 usock-connect -z "tcp4:localhost:$port"
	assert_stderr_line 'Connection refused'
	# and a server on 127.0.0.1 only is reached as well
	start_server 127.0.0.1:0 --mode pong --port-file "$T/p4"
	run -0 timeout 20 usock-connect "$(cat "$T/p4")" <<<PING
	assert_output PONG
}

@test "completion: zsh offers sockinfo every file, inserting ./ before a bare name" {
	mkdir "$T/c" "$T/z"
	touch "$T/c/app.conf"
	make_stale_socket "$T/c/app.sock"
	run -0 timeout 30 zsh -f "$TESTS_DIR/lib/zsh_complete.zsh" "$ROOT/completions/zsh" "$T/z" "$T/c" "sockinfo app.c"
	assert_output "[sockinfo ./app.conf ]"
	rm "$T/z/line"
	run -0 timeout 30 zsh -f "$TESTS_DIR/lib/zsh_complete.zsh" "$ROOT/completions/zsh" "$T/z" "$T/c" "usock-bench app.s"
	assert_output "[usock-bench ./app.sock ]"
}
