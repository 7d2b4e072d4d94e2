#!/usr/bin/env bats
# The transparency matrix: each ending of a connection, played by scripted
# peers (tests/lib/peer.py) connected directly and through each relay path;
# what each peer received (bytes, sha256), how its reading and writing
# ended, and the tools' exit codes must be the same both ways, as far as
# the protocols allow (peer.py LOOSE says where they do not fix it).
# Then the cases this kind of bug was found with.

load helpers

setup() {
	common_setup
	PEER=("$PY" "$LIB/peer.py")
}

# Paths, each compared with the direct connection to a UNIX target:
#   t2u       client -TCP-> tcp2unix -> UNIX target
#   t2u-pp    the same with --proxy-protocol v1 (the target drops the header)
#   connect   client on the stdio of usock-connect -> UNIX target
#   listen    client -UNIX-> usock-listen, the target on its stdio
#   command   client -UNIX-> usock-listen -- TARGET (the target's stdio is
#             the connection)
#   command-tcp  the same over TCP (compared with the direct UNIX run too:
#             a direct TCP target that closes on unread input loses the end
#             of its own answer to the kernel's reset, which is the very loss
#             the relays must not have)
#   chain     client -TCP-> usock-listen -- usock-connect -> UNIX target
ALL_PATHS="t2u t2u-pp connect listen command command-tcp chain"

# direct ENDING FAMILY D: the play with the target listening itself, in
# directory D; results in D/r.c (client) and D/r.t (target).
direct() {
	local ending=$1 d=$3 addr=$3/t.sock tp
	[ "$2" = tcp ] && addr=127.0.0.1:0
	mkdir -p "$d"
	start_bg "${PEER[@]}" target "$addr" "$ending" --result "$d/r.t" --ready "$d/t.addr"
	tp=$BG_PID
	wait_for_file "$d/t.addr"
	timeout 60 "${PEER[@]}" client "$(cat "$d/t.addr")" "$ending" --result "$d/r.c"
	wait_pid "$tp" 30
}

# target ENDING D [ARG...]: a UNIX target at D/t.sock, pid in TP.
target() {
	local ending=$1 d=$2
	shift 2
	start_bg "${PEER[@]}" target "$d/t.sock" "$ending" --result "$d/r.t" \
		--ready "$d/t.addr" "$@"
	TP=$BG_PID
	wait_for_file "$d/t.addr"
}

# through PATH ENDING D: the play through PATH, in directory D (run in a
# subshell of its own: several paths play at once).
through() {
	local path=$1 ending=$2 d=$3 addr lp bp
	mkdir -p "$d"
	case $path in
	t2u | t2u-pp)
		local pp=()
		[ "$path" = t2u-pp ] && pp=(--proxy-protocol v1)
		target "$ending" "$d" ${pp:+--proxy}
		start_bg tcp2unix --print-address "${pp[@]}" 0 "$d/t.sock" 2>"$d/b.err"
		bp=$BG_PID
		addr=$(wait_file_line "$d/b.err" '^tcp:')
		timeout 60 "${PEER[@]}" client "${addr#tcp:}" "$ending" --result "$d/r.c"
		wait_pid "$TP" 30
		kill -TERM "$bp"
		expect_exit 0 "$bp" 40
		;;
	connect)
		target "$ending" "$d"
		timeout 60 "${PEER[@]}" client - "$ending" --result "$d/r.c" -- \
			usock-connect "$d/t.sock"
		wait_pid "$TP" 30
		;;
	listen)
		start_bg "${PEER[@]}" target - "$ending" --result "$d/r.t" -- \
			usock-listen "$d/l.sock"
		TP=$BG_PID
		wait_for_socket "$d/l.sock"
		timeout 60 "${PEER[@]}" client "$d/l.sock" "$ending" --result "$d/r.c"
		wait_pid "$TP" 40
		;;
	command | command-tcp | chain)
		addr=$d/l.sock
		[ "$path" != command ] && addr=127.0.0.1:0
		if [ "$path" = chain ]; then
			target "$ending" "$d"
			start_bg usock-listen --print-address "$addr" -- \
				usock-connect "$d/t.sock" 2>"$d/l.err"
		else
			start_bg usock-listen --print-address "$addr" -- \
				"${PEER[@]}" target - "$ending" --result "$d/r.t" 2>"$d/l.err"
		fi
		lp=$BG_PID
		addr=$(wait_file_line "$d/l.err" '^(tcp:|unix:)')
		timeout 60 "${PEER[@]}" client "${addr#unix:}" "$ending" --result "$d/r.c"
		[ "$path" = chain ] && wait_pid "$TP" 30
		# usock-listen ends once COMMAND has, after its lingering close
		# (its status is COMMAND's)
		wait_pid "$lp" 40 || [ $? -ne 254 ]
		;;
	esac
}

# matrix ENDING TRIES PATH...: the play directly and through each PATH
# (the paths at once), TRIES times; every difference is listed, then the
# test fails.
matrix() {
	local ending=$1 tries=$2 path fam i diff bad="" pids=() d
	shift 2
	direct "$ending" unix "$T/direct-unix"
	for ((i = 1; i <= tries; i++)); do
		pids=()
		for path in "$@"; do
			(through "$path" "$ending" "$T/$path-$i") >"$T/$path-$i.log" 2>&1 &
			pids+=("$!")
			BG_PIDS+=("$!")
		done
		for path in "$@"; do
			wait_pid "${pids[0]}" 120 || bad+="$ending via $path (try $i) did not end well: $(cat "$T/$path-$i.log")
"
			pids=("${pids[@]:1}")
		done
		for path in "$@"; do
			fam=unix
			d=$T/$path-$i
			[ -f "$d/r.c" ] && [ -f "$d/r.t" ] || continue
			if ! diff=$("${PEER[@]}" compare "$ending" "$T/direct-$fam/r" "$d/r"); then
				bad+="$ending via $path (try $i): $diff
  direct: $(cat "$T/direct-$fam/r.c" "$T/direct-$fam/r.t" | tr '\n' ' ')
  relayed: $(cat "$d/r.c" "$d/r.t" | tr '\n' ' ')
"
			fi
		done
	done
	[ -z "$bad" ] || fail "$bad"
}

# rc_is PATH-TRY/r.X N: the stdio tool of that run exited N.
rc_is() {
	grep -q "\"rc\": $2[,}]" "$T/$1" || fail "$1: expected exit $2: $(cat "$T/$1")"
}

@test "matrix: the client half-closes, the target answers late (1 MB each way)" {
	matrix late 1 $ALL_PATHS
	rc_is connect-1/r.c 0
	rc_is listen-1/r.t 0
}

# No 'listen' path for the early answers: a target on usock-listen's
# stdio that closes its input pipe is a standard output whose reader left,
# which ends the exchange at once by design (usock(7), ENDINGS).
@test "matrix: the target answers early (1000 B) and closes with the upload unread" {
	matrix early-small 3 t2u t2u-pp connect command command-tcp chain
}

@test "matrix: the target answers early (5 MB) and closes with the upload unread" {
	matrix early-big 3 t2u t2u-pp connect command command-tcp chain
}

@test "matrix: the target resets after 100 KB; every byte before the reset arrives" {
	# a pipe cannot carry a reset: no 'listen' path
	matrix target-reset 3 t2u t2u-pp connect command command-tcp chain
	rc_is connect-1/r.c 1
}

@test "matrix: the client resets mid-stream; the target gets every byte before it" {
	# the client on a pipe cannot reset: no 'connect' path
	matrix client-reset 3 t2u t2u-pp listen command command-tcp chain
}

@test "matrix: the target never reads, answers, half-closes and closes" {
	matrix target-never-reads 1 $ALL_PATHS
	rc_is connect-1/r.c 0
}

@test "matrix: the client never reads the 8 MB answer and closes" {
	matrix client-never-reads 3 $ALL_PATHS
	rc_is connect-1/r.c 1
}

@test "matrix: 150 MB both ways at once" {
	matrix big 1 t2u connect chain
	rc_is connect-1/r.c 0
}

@test "matrix: zero bytes each way" {
	matrix zero 1 $ALL_PATHS
	rc_is connect-1/r.c 0
	rc_is listen-1/r.t 0
}

@test "matrix: the target closes without reading anything" {
	matrix unread 3 $ALL_PATHS
}
