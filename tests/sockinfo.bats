#!/usr/bin/env bats
# sockinfo: states, types, processes, queues, who may connect (as root,
# as an unprivileged user, for -u USER, with ACLs), --json, --audit, TCP,
# -a, directories, colour, and no side effects on the servers inspected.

load helpers

setup() {
	# make check runs the suite against USOCK_BIN (build/san/bin too)
	[ -z "${USOCK_BIN:-}" ] || BIN=$USOCK_BIN
	common_setup
	[ -x "$BIN/sockinfo" ] || fail "$BIN/sockinfo not built (run make)"
	SI_N=0
}

# si_start ADDRESS [sockinfo_server.py options]: start a test socket in the
# background and wait until it is set up; its pid is in BG_PID.
si_start() {
	SI_N=$((SI_N + 1))
	local ready=$T/ready.$SI_N
	start_bg "$PY" "$LIB/sockinfo_server.py" "$@" --ready-file "$ready"
	wait_for_file "$ready"
}

# si_clients PATH N: hold N connections to PATH in the background.
si_clients() {
	SI_N=$((SI_N + 1))
	local ready=$T/ready.$SI_N
	start_bg "$PY" "$LIB/sockinfo_clients.py" "$1" "$2" --ready-file "$ready"
	wait_for_file "$ready"
}

# as_nobody CMD...: run CMD as nobody:nogroup with no other groups.
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

# jfield JSON FILTER: the jq FILTER applied to the first object of JSON.
jfield() {
	jq -r ".[0] | $2" <<<"$1"
}

# An unprivileged user must reach $T (mktemp makes it 0700).
open_t() {
	chmod 755 "$T"
	for_others
}

@test "live listener: state, type, mode, owner, pid and command; exit 0" {
	si_start "$T/s.sock" --mode 0640
	local pid=$BG_PID comm
	comm=$(cat "/proc/$pid/comm")
	run -0 sockinfo "$T/s.sock"
	assert_line --regexp '^unix:.*/s\.sock$'
	assert_line --regexp '^  state +listening \(stream\)$'
	assert_line --regexp '^  file +srw-r----- 0640 +owner root +group root'
	assert_line --regexp "^  listener +pid $pid $comm \\(user root\\)$"
	run -0 sockinfo --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.listeners[0].pid')" "$pid"
	assert_equal "$(jfield "$output" '.listeners[0].command')" "$comm"
	assert_equal "$(jfield "$output" '.listeners[0].user')" root
	assert_equal "$(jfield "$output" '.listeners | length')" 1
	assert_equal "$(jfield "$output" '.state')" listening
	assert_equal "$(jfield "$output" '.mode')" 0640
}

@test "stale socket file (listener killed with SIGKILL): state stale, exit 1" {
	si_start "$T/s.sock"
	kill -KILL "$BG_PID"
	wait_until 10 bash -c "! grep -q ' $T/s.sock\$' /proc/net/unix"
	assert [ -S "$T/s.sock" ]
	run -1 sockinfo "$T/s.sock"
	assert_line --regexp '^  state +stale'
	assert_output --partial 'in this network namespace'
	assert_line --regexp '^  connect +no: '
	run -1 sockinfo --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.state')" stale
	assert_equal "$(jfield "$output" '.can_connect')" false
	assert_equal "$(jfield "$output" '.listeners | length')" 0
}

@test "a stream socket bound but never listening: bound, refused, exit 1" {
	si_start "$T/s.sock" --no-listen
	run -1 sockinfo --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.state')" bound
	assert_equal "$(jfield "$output" '.type')" stream
	assert_equal "$(jfield "$output" '.can_connect')" false
	assert_regex "$(jfield "$output" '.reason')" 'does not listen'
	assert_equal "$(jfield "$output" '.listeners[0].pid')" "$BG_PID"
}

@test "not a socket (regular file, FIFO) and missing path: exit 1" {
	echo hi >"$T/file"
	mkfifo "$T/fifo"
	run -1 sockinfo "$T/file"
	assert_line --regexp '^  state +not-a-socket$'
	assert_output --partial 'regular file'
	run -1 sockinfo --json "$T/fifo"
	assert_equal "$(jfield "$output" '.state')" not-a-socket
	assert_regex "$(jfield "$output" '.reason')" 'FIFO'
	run -1 sockinfo --json "$T/nothing.sock"
	assert_equal "$(jfield "$output" '.state')" missing
	assert_equal "$(jfield "$output" '.mode')" null
	run -1 sockinfo --json "$T/nodir/x.sock"
	assert_equal "$(jfield "$output" '.reason')" "$T/nodir does not exist"
	assert_equal "$(cat "$T/file")" hi
}

@test "exit 0 only when every ADDRESS is a live listener" {
	si_start "$T/a.sock"
	si_start "$T/b.sock"
	run -0 sockinfo "$T/a.sock" "$T/b.sock"
	run -1 sockinfo "$T/a.sock" "$T/missing.sock"
	run -1 sockinfo "$T/missing.sock" "$T/a.sock"
	# both reported, in order
	run -1 sockinfo --json "$T/missing.sock" "$T/a.sock"
	assert_equal "$(jq -r '.[].state' <<<"$output" | tr '\n' ' ')" "missing listening "
}

@test "abstract socket: listening with its pid; an unknown name is missing" {
	local name
	name=$(abstract_name)
	si_start "@$name"
	run -0 sockinfo --json "@$name"
	assert_equal "$(jfield "$output" '.kind')" abstract
	assert_equal "$(jfield "$output" '.address')" "@$name"
	assert_equal "$(jfield "$output" '.path')" null
	assert_equal "$(jfield "$output" '.state')" listening
	assert_equal "$(jfield "$output" '.can_connect')" true
	assert_equal "$(jfield "$output" '.listeners[0].pid')" "$BG_PID"
	assert_regex "$(jfield "$output" '.reason')" 'no file permissions'
	run -1 sockinfo --json "abstract:$name-none"
	assert_equal "$(jfield "$output" '.state')" missing
}

@test "seqpacket listener and datagram socket: their types; a bound dgram socket is live" {
	si_start "$T/q.sock" --type seqpacket
	si_start "$T/d.sock" --type dgram
	local dpid=$BG_PID
	run -0 sockinfo --json "$T/q.sock" "$T/d.sock"
	assert_equal "$(jq -r '.[0].type, .[0].state' <<<"$output" | tr '\n' ' ')" "seqpacket listening "
	assert_equal "$(jq -r '.[1].type, .[1].state' <<<"$output" | tr '\n' ' ')" "dgram bound "
	assert_equal "$(jq -r '.[1].listeners[0].pid' <<<"$output")" "$dpid"
	assert_equal "$(jq -r '.[1].queue' <<<"$output")" null
	run -0 sockinfo "$T/d.sock"
	assert_line --regexp '^  state +bound \(dgram\)$'
}

@test "queued connections are counted: a listener that never accepts, 5 clients" {
	si_start "$T/s.sock" --backlog 16
	si_clients "$T/s.sock" 5
	run -0 sockinfo --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.queue')" 5
	assert_equal "$(jfield "$output" '.backlog')" 16
	assert_equal "$(jfield "$output" '.peers')" 5
	assert_equal "$(jfield "$output" '.clients | length')" 5
	assert_equal "$(jfield "$output" '.clients[0].pid')" "$BG_PID"
	run -0 sockinfo "$T/s.sock"
	assert_line --regexp '^  queue +5 waiting to be accepted \(backlog 16\), 0 accepted$'
}

@test "accepted connections are peers, not queued" {
	si_start "$T/s.sock" --accept --count-file "$T/count"
	si_clients "$T/s.sock" 3
	wait_until 10 file_is "$T/count" 3
	run -0 sockinfo --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.queue')" 0
	assert_equal "$(jfield "$output" '.peers')" 3
}

@test "inspection never connects: the server's accept count stays 0; --probe connects once" {
	si_start "$T/s.sock" --accept --count-file "$T/count"
	local pid=$BG_PID
	run -0 sockinfo "$T/s.sock"
	run -0 sockinfo --json "$T/s.sock"
	run -0 sockinfo -v -u nobody "$T/s.sock"
	run -0 sockinfo "$T"
	run -0 sockinfo -a
	run -0 sockinfo --audit --json "$T"
	open_t
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" "$T/s.sock"
	assert_equal "$(cat "$T/count")" 0
	# the counter works: a probe is one accepted connection
	run -0 sockinfo --probe "$T/s.sock"
	assert_line --regexp "^  probe +connected; the listener is pid $pid, uid 0, gid 0$"
	wait_until 10 file_is "$T/count" 1
	run -1 sockinfo --probe --json "$T/gone.sock"
	assert_equal "$(jfield "$output" '.probe.ok')" false
}

@test "unprivileged: root-owned 0600 socket: no, for others, naming mode and file" {
	open_t
	si_start "$T/s.sock" --mode 0600
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	assert_equal "$(jfield "$output" '.reason')" \
		"no write permission on $T/s.sock for others (mode 0600, owner root, group root)"
	assert_equal "$(jfield "$output" '.exact')" true
	# the listener belongs to root: not visible, and said so
	assert_equal "$(jfield "$output" '.listeners_partial')" true
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" "$T/s.sock"
	assert_regex "$stderr" 'not root'
	assert_line --regexp '^  listener +not visible'
}

@test "unprivileged: 0666 socket: yes, granted to others" {
	open_t
	si_start "$T/s.sock" --mode 0666
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	assert_regex "$(jfield "$output" '.reason')" "^write permission on $T/s.sock granted to others \\(mode 0666"
}

@test "unprivileged: 0660 socket of a group the user is in: yes; not in it: no" {
	open_t
	si_start "$T/s.sock" --mode 0660 --group 4242
	run -0 --separate-stderr setpriv --reuid=nobody --regid=nogroup --groups=4242 "$UBIN/sockinfo" --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	assert_regex "$(jfield "$output" '.reason')" 'granted to group 4242 \(mode 0660'
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	assert_regex "$(jfield "$output" '.reason')" 'for others \(mode 0660, owner root, group 4242\)'
}

@test "unprivileged: a directory without search permission blocks, and is named" {
	open_t
	mkdir -m 0700 "$T/locked"
	si_start "$T/locked/s.sock" --mode 0666
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json "$T/locked/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	assert_equal "$(jfield "$output" '.reason')" \
		"search permission denied on $T/locked for others (mode 0700, owner root, group root)"
	# the socket is still found by the name it was bound to
	assert_equal "$(jfield "$output" '.state')" listening
}

@test "-u nobody from root: exact answers from a child that becomes nobody" {
	open_t
	mkdir -m 0700 "$T/locked"
	si_start "$T/600.sock" --mode 0600
	si_start "$T/666.sock" --mode 0666
	si_start "$T/locked/s.sock" --mode 0666
	run -1 sockinfo --json -u nobody "$T/600.sock" "$T/666.sock" "$T/locked/s.sock" "$T/none.sock"
	assert_equal "$(jq -r '[.[].can_connect] | join(" ")' <<<"$output")" "false true false false"
	assert_equal "$(jq -r '[.[].exact] | join(" ")' <<<"$output")" "true true true true"
	assert_regex "$(jq -r '.[0].reason' <<<"$output")" 'no write permission .* for others \(mode 0600'
	assert_regex "$(jq -r '.[2].reason' <<<"$output")" "search permission denied on $T/locked "
	# root itself may connect to anything
	run -0 sockinfo --json "$T/600.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	assert_regex "$(jfield "$output" '.reason')" '^root may connect'
	run -2 --separate-stderr sockinfo -u no-such-user-usock "$T/600.sock"
	assert_regex "$stderr" '^sockinfo: --user: no such user: no-such-user-usock$'
}

# free_uid: a uid with no passwd entry (and no group of that number).
free_uid() {
	local u=43210
	while getent passwd "$u" >/dev/null || getent group "$u" >/dev/null; do
		u=$((u + 1))
	done
	echo "$u"
}

@test "-u UID with no passwd entry: that uid, gid UID, no groups; never exact; UID:GID works" {
	open_t
	si_start "$T/g.sock" --mode 0660
	local u
	u=$(free_uid)
	# the kernel, for the same credentials: refused (sockinfo's gid 0 must not leak)
	run -1 setpriv --reuid "$u" --regid "$u" --clear-groups "$UBIN/usock-connect" -z "$T/g.sock"
	run -0 sockinfo --json -u "$u" "$T/g.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	assert_equal "$(jfield "$output" '.exact')" false
	assert_regex "$(jfield "$output" '.reason')" "^no write permission on $T/g.sock for others \\(mode 0660, owner root, group root\\); uid $u has no passwd entry: checked as gid $u with no supplementary groups"
	refute_regex "$(jfield "$output" '.reason')" 'group root \('
	# UID:GID names the group: exact, and the kernel agrees
	run -0 setpriv --reuid "$u" --regid 0 --clear-groups "$UBIN/usock-connect" -z "$T/g.sock"
	run -0 sockinfo --json -u "$u:0" "$T/g.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	assert_equal "$(jfield "$output" '.exact')" true
	assert_regex "$(jfield "$output" '.reason')" 'granted to group root \(mode 0660'
	run -0 sockinfo --json -u "$u:root" "$T/g.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	run -0 sockinfo --json -u "nobody:root" "$T/g.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	run -0 sockinfo --json -u nobody "$T/g.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	# without root: an estimate, for the same uid and gid
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json -u "$u" "$T/g.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	assert_equal "$(jfield "$output" '.exact')" false
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json -u "$u:0" "$T/g.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	assert_equal "$(jfield "$output" '.exact')" false
	run -2 --separate-stderr sockinfo -u "$u:no-such-group-usock" "$T/g.sock"
	assert_equal "$stderr" "sockinfo: --user: no such group: no-such-group-usock"
	run -2 --separate-stderr sockinfo -u "nobody:" "$T/g.sock"
	assert_equal "$stderr" "sockinfo: --user: no group after the colon: nobody:"
	run -2 --separate-stderr sockinfo -u ":0" "$T/g.sock"
	assert_equal "$stderr" "sockinfo: --user: no such user: :0"
}

@test "-u USER in 300 groups: every group counts, as for the kernel" {
	open_t
	cp /etc/group "$T/group"
	local i
	for i in $(seq 1 300); do echo "usbg$i:x:$((47000 + i)):nobody"; done >>"$T/group"
	si_start "$T/g.sock" --mode 0660 --group 47300
	si_start "$T/h.sock" --mode 0660 --group 47001
	# a private mount namespace sees the longer group file; nothing else does
	run -0 unshare -m bash -c '
		mount --bind "$1/group" /etc/group || exit 9
		[ "$(id -G nobody | wc -w)" -gt 300 ] || exit 8
		runuser -u nobody -- "$2/usock-connect" -z "$1/g.sock" || exit 7
		"$2/sockinfo" --json -u nobody "$1/g.sock" "$1/h.sock"' _ "$T" "$UBIN"
	assert_equal "$(jq -r '[.[].can_connect] | join(" ")' <<<"$output")" "true true"
	assert_equal "$(jq -r '[.[].exact] | join(" ")' <<<"$output")" "true true"
	assert_regex "$(jq -r '.[0].reason' <<<"$output")" 'granted to group usbg300 \(mode 0660'
	# and as that user itself: every group it holds counts
	run -0 unshare -m bash -c '
		mount --bind "$1/group" /etc/group || exit 9
		runuser -u nobody -- "$2/sockinfo" --json "$1/g.sock" 2>/dev/null' _ "$T" "$UBIN"
	assert_equal "$(jfield "$output" '.can_connect')" true
}

@test "generated permission matrix: every verdict equals a real connect by that user, and names what decides" {
	# 240 cases (directory modes x socket modes x owners and groups x ACLs,
	# two directory levels) x 5 users (plain, in two supplementary groups,
	# primary group only, a uid without passwd entry, UID:GID): sockinfo
	# -u as root, sockinfo as the user, and the estimate of an unrelated
	# user, each against connect(2) as that user and a model of the kernel
	open_t
	run -0 unshare -m "$PY" "$ULIB/perm_matrix.py" run "$T" "$UBIN"
	assert_line --regexp '^240 cases x 5 users: [0-9]+ verdicts checked, 0 disagree$'
	# it reaches every kind of verdict, ACLs included
	local kind
	for kind in 'no no write permission' 'no no write permission (ACL)' \
		'no search permission denied' 'no search permission denied (ACL)' \
		'yes write permission' 'yes write permission (ACL)'; do
		assert_output --partial "$kind: "
	done
}

@test "-u USER without root: estimated from the mode bits, and marked so" {
	open_t
	si_start "$T/600.sock" --mode 0600
	si_start "$T/666.sock" --mode 0666
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json -u daemon "$T/600.sock" "$T/666.sock"
	assert_equal "$(jq -r '[.[].can_connect] | join(" ")' <<<"$output")" "false true"
	assert_equal "$(jq -r '[.[].exact] | join(" ")' <<<"$output")" "false false"
	assert_regex "$(jq -r '.[0].reason' <<<"$output")" 'estimated from the mode bits'
}

@test "POSIX ACL: a user entry grants access to a 0600 socket; the mask can take it away" {
	open_t
	si_start "$T/s.sock" --mode 0600
	"$PY" "$LIB/sockinfo_acl.py" "$T/s.sock" u::rw- u:65534:rw- g::--- m::rw- o::--- ||
		skip "this file system has no POSIX ACLs"
	# the kernel (as nobody, and -u nobody from root) and the estimate agree
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	assert_regex "$(jfield "$output" '.reason')" 'granted to the ACL entry for user nobody \(mode 0660\+acl'
	run -0 sockinfo --json -u nobody "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	run -0 --separate-stderr setpriv --reuid=daemon --regid=daemon --clear-groups "$UBIN/sockinfo" --json -u nobody "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" true
	assert_equal "$(jfield "$output" '.exact')" false
	run -0 --separate-stderr setpriv --reuid=daemon --regid=daemon --clear-groups "$UBIN/sockinfo" --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	# mask --- : the entry no longer counts
	"$PY" "$LIB/sockinfo_acl.py" "$T/s.sock" u::rw- u:65534:rw- g::--- m::--- o::---
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	run -0 --separate-stderr setpriv --reuid=daemon --regid=daemon --clear-groups "$UBIN/sockinfo" --json -u nobody "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	# group bits 0: the kernel leaves the ACL aside, the others bits decide
	assert_regex "$(jfield "$output" '.reason')" '^no write permission on .* for others \(mode 0600\+acl'
	# mask r-- : the entry counts, without its w
	"$PY" "$LIB/sockinfo_acl.py" "$T/s.sock" u::rw- u:65534:rw- g::--- m::r-- o::---
	run -1 as_nobody "$UBIN/usock-connect" -z "$T/s.sock"
	run -0 --separate-stderr setpriv --reuid=daemon --regid=daemon --clear-groups "$UBIN/sockinfo" --json -u nobody "$T/s.sock"
	assert_equal "$(jfield "$output" '.can_connect')" false
	assert_regex "$(jfield "$output" '.reason')" 'the ACL entry for user nobody, cut by the ACL mask r-- \(mode 0640\+acl'
}

@test "--json: one array; every pinned key present with its type" {
	si_start "$T/s.sock" --mode 0660
	echo x >"$T/file"
	run -1 --separate-stderr sockinfo --json "$T/s.sock" "$T/file" "$T/none" "@$(abstract_name)"
	assert_equal "$(jq -s 'length' <<<"$output")" 1
	assert_equal "$(jq 'length' <<<"$output")" 4
	local k
	for k in address path kind type state mode owner group listeners queue backlog \
		peers can_connect reason; do
		assert_equal "$(jq --arg k "$k" '[.[] | has($k)] | all' <<<"$output")" true
	done
	assert_equal "$(jq -r '.[0] | [.address, .path, .kind, .type, .state, .mode, .owner, .group] | join(",")' <<<"$output")" \
		"unix:$T/s.sock,$T/s.sock,unix,stream,listening,0660,root,root"
	assert_equal "$(jq -r '.[0] | [(.listeners | type), (.listeners[0].pid | type), (.listeners[0].command | type), (.listeners[0].user | type), (.queue | type), (.backlog | type), (.peers | type), (.can_connect | type), (.reason | type)] | join(",")' <<<"$output")" \
		"array,number,string,string,number,number,number,boolean,string"
	assert_equal "$(jq -r '[.[].state] | join(",")' <<<"$output")" "listening,not-a-socket,missing,missing"
	# python's parser agrees
	run -0 "$PY" -c 'import json, sys; d = json.load(sys.stdin); assert isinstance(d, list) and len(d) == 4' <<<"$output"
}

@test "--json: names in the escaped form of usock(7), valid JSON whatever the bytes" {
	local d=$T/q
	mkdir "$d"
	local name
	name=$(printf 'a"b\\c\td\001e\377f.sock')
	si_start "$d/$name"
	run -0 sockinfo --json "$d"
	local json=$output
	run -0 "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert len(d) == 1, d
p = d[0]["path"]
assert p.endswith("a\"b\\x5cc\\x09d\\x01e\\xfff.sock"), repr(p)
assert d[0]["address"] == "unix:" + p, d[0]["address"]
assert d[0]["state"] == "listening"' <<<"$output"
	# and that address connects
	run -0 usock-connect -z "$(jq -r '.[0].address' <<<"$json")"
}

@test "--audit: world-writable, root listener writable by a group, open directory, stale" {
	open_t
	mkdir -m 0777 "$T/open"
	mkdir -m 1777 "$T/sticky"
	si_start "$T/ww.sock" --mode 0666
	si_start "$T/grp.sock" --mode 0660 --group 4242
	si_start "$T/open/s.sock" --mode 0600
	si_start "$T/sticky/s.sock" --mode 0600
	make_stale_socket "$T/stale.sock"
	run -1 sockinfo --audit --json "$T"
	assert_equal "$(jq -r '[.[].path] | sort | join(" ")' <<<"$output")" \
		"$T/grp.sock $T/open/s.sock $T/stale.sock $T/ww.sock"
	assert_regex "$(jq -r ".[] | select(.path == \"$T/ww.sock\") | .audit | join(\";\")" <<<"$output")" 'world-writable socket \(mode 0666\)'
	assert_regex "$(jq -r ".[] | select(.path == \"$T/grp.sock\") | .audit | join(\";\")" <<<"$output")" 'listener runs as root and group 4242 may connect \(mode 0660, owner root, group 4242\)'
	assert_regex "$(jq -r ".[] | select(.path == \"$T/open/s.sock\") | .audit | join(\";\")" <<<"$output")" "world-writable directory without the sticky bit: $T/open \\(mode 0777\\): anyone may replace the socket"
	assert_regex "$(jq -r ".[] | select(.path == \"$T/stale.sock\") | .audit | join(\";\")" <<<"$output")" 'stale socket file'
	# the cron recipe
	run -0 bash -c "sockinfo --audit --json '$T' | jq -r '.[] | select(.state == \"stale\") | .path'"
	assert_output "$T/stale.sock"
	run -1 sockinfo --audit "$T"
	assert_line --regexp '^  audit +.*world-writable socket'
}

@test "--audit: a clean tree gives exit 0 and no output" {
	mkdir "$T/clean"
	chmod 0755 "$T/clean"
	si_start "$T/clean/a.sock" --mode 0600
	si_start "$T/clean/b.sock" --mode 0660
	run -0 sockinfo --audit "$T/clean"
	assert_output ""
	run -0 sockinfo --audit --json "$T/clean"
	assert_equal "$(jq length <<<"$output")" 0
}

@test "--audit accounts for the directories on the way: who may reach the socket" {
	open_t
	mkdir -m 0700 "$T/priv" "$T/acl"
	mkdir -m 0750 "$T/grp"
	mkdir -m 0711 "$T/pass"
	chgrp 4242 "$T/grp"
	setfacl -m u:daemon:--x "$T/acl"
	si_start "$T/priv/s.sock" --mode 0666
	si_start "$T/grp/s.sock" --mode 0666
	si_start "$T/pass/s.sock" --mode 0666
	si_start "$T/acl/s.sock" --mode 0666
	# a 0666 socket nobody but root can reach is no finding
	run -0 sockinfo --audit "$T/priv"
	assert_output ""
	run -1 sockinfo --audit --json "$T"
	assert_equal "$(jq -r '[.[].path] | sort | join(" ")' <<<"$output")" \
		"$T/acl/s.sock $T/grp/s.sock $T/pass/s.sock"
	# findings say who: the group of the directory, the user of its ACL
	assert_equal "$(jq -r ".[] | select(.path == \"$T/grp/s.sock\") | .audit | join(\";\")" <<<"$output")" \
		"the listener runs as root and group 4242 may connect (mode 0666, owner root, group root)"
	assert_equal "$(jq -r ".[] | select(.path == \"$T/acl/s.sock\") | .audit | join(\";\")" <<<"$output")" \
		"the listener runs as root and user daemon may connect (mode 0666, owner root, group root)"
	assert_regex "$(jq -r ".[] | select(.path == \"$T/pass/s.sock\") | .audit[0]" <<<"$output")" \
		'^world-writable socket \(mode 0666\): any local user may connect$'
	# and the kernel agrees with each
	run -1 as_nobody "$UBIN/usock-connect" -z "$T/priv/s.sock"
	run -1 as_nobody "$UBIN/usock-connect" -z "$T/grp/s.sock"
	run -0 setpriv --reuid=nobody --regid=nogroup --groups=4242 "$UBIN/usock-connect" -z "$T/grp/s.sock"
	run -0 setpriv --reuid=daemon --regid=daemon --clear-groups "$UBIN/usock-connect" -z "$T/acl/s.sock"
	run -1 as_nobody "$UBIN/usock-connect" -z "$T/acl/s.sock"
	run -0 as_nobody "$UBIN/usock-connect" -z "$T/pass/s.sock"
	# a world-writable directory behind a private one: nobody can swap the file
	mkdir -m 0777 "$T/priv/open"
	si_start "$T/priv/open/s.sock" --mode 0600
	run -0 sockinfo --audit "$T/priv"
	assert_output ""
}

@test "--audit and directory scans: what cannot be read is an error (exit 3), never clean" {
	open_t
	mkdir -m 0700 "$T/private"
	si_start "$T/private/app.sock" --mode 0666
	# as nobody: the directory cannot be read
	run -3 --separate-stderr as_nobody "$UBIN/sockinfo" --audit "$T"
	assert_regex "$stderr" "sockinfo: $T/private: cannot read the directory: Permission denied"
	refute_regex "$stderr" 'no socket files below it'
	run -3 --separate-stderr as_nobody "$UBIN/sockinfo" --audit --json "$T"
	# the kernel's table still shows the socket bound there
	run -3 --separate-stderr as_nobody "$UBIN/sockinfo" --json "$T"
	assert_regex "$stderr" "$T/private: cannot read the directory"
	assert_equal "$(jq -r '[.[] | .path + "=" + .state] | join(" ")' <<<"$output")" \
		"$T/private/app.sock=listening"
	run -3 --separate-stderr as_nobody "$UBIN/sockinfo" "$T/private"
	assert_regex "$stderr" "$T/private: cannot read the directory"
	# a socket found but not examinable cannot be audited: said, and exit 3
	run -3 --separate-stderr as_nobody "$UBIN/sockinfo" --audit --json "$T/private/app.sock"
	assert_regex "$(jfield "$output" '.audit_error')" "^cannot examine its file: search permission denied on $T/private for others "
	assert_regex "$stderr" "sockinfo: $T/private/app.sock: cannot audit: "
	# as root the same tree is readable: no error, and no finding either
	run -0 sockinfo --audit "$T"
	assert_output ""
	# an empty directory that can be read is still just empty
	mkdir "$T/empty"
	run -1 --separate-stderr as_nobody "$UBIN/sockinfo" "$T/empty"
	assert_regex "$stderr" 'no socket files below it'
}

@test "every listening socket gets its real path: bound through /proc/self/fd/N, relative, renamed" {
	open_t
	local d
	d=$T/$(printf 'a%.0s' {1..60})/$(printf 'b%.0s' {1..60})
	mkdir -p "$d" "$T/rel" "$T/other"
	chmod -R 0755 "$T"
	start_bg usock-listen -q -m 0666 -k "$d/long.sock" </dev/null
	local lpid=$BG_PID
	wait_until 10 bash -c "sockinfo -q '$d/long.sock' >/dev/null"
	# relative names from another directory, a file renamed since
	start_bg "$PY" -c '
import os, socket, sys, time
t = sys.argv[1]
os.chdir(t + "/rel")
a = socket.socket(socket.AF_UNIX); a.bind("r.sock"); a.listen(); os.chmod("r.sock", 0o666)
os.chdir(t + "/other")
b = socket.socket(socket.AF_UNIX); b.bind(t + "/rel/tmp.sock"); b.listen()
os.chmod(t + "/rel/tmp.sock", 0o666); os.rename(t + "/rel/tmp.sock", t + "/moved.sock")
open(t + "/ready", "w").close()
time.sleep(60)' "$T"
	wait_for_file "$T/ready"
	run -0 sockinfo -a --json
	local q
	for q in "$d/long.sock" "$T/rel/r.sock" "$T/moved.sock"; do
		assert_equal "$(jq -r --arg p "$q" '.[] | select(.path == $p) | .mode' <<<"$output")" 0666
	done
	assert_regex "$(jq -r --arg p "$d/long.sock" '.[] | select(.path == $p) | .note' <<<"$output")" '^bound as /proc/self/fd/[0-9]+/long\.sock; found through '
	assert_equal "$(jq -r --arg p "$d/long.sock" '.[] | select(.path == $p) | .listeners[0].pid' <<<"$output")" "$lpid"
	refute_regex "$(jq -r '.[].path' <<<"$output")" '^(/proc/self/fd/|r\.sock$)'
	run -0 sockinfo -a
	assert_line --regexp "^stream +listening +srw-rw-rw- 0666 +root:root +$lpid/usock-listen .*$d/long\\.sock\$"
	# plain --audit (every listener) reports each of them
	run -1 sockinfo --audit --json
	for q in "$d/long.sock" "$T/rel/r.sock" "$T/moved.sock"; do
		assert_regex "$(jq -r --arg p "$q" '.[] | select(.path == $p) | .audit[0]' <<<"$output")" \
			'^world-writable socket \(mode 0666\): any local user may connect$'
	done
	# a user who cannot look into root's processes: said, not skipped
	run -3 --separate-stderr as_nobody "$UBIN/sockinfo" --audit --json
	assert_regex "$stderr" "sockinfo: r\\.sock: cannot audit: its file cannot be found: bound as r\\.sock"
}

@test "the same socket however the operand is spelled: relative, absolute, ./, .." {
	open_t
	mkdir -m 0700 "$T/priv"
	mkdir -m 0755 "$T/o"
	si_start "$T/priv/s.sock" --mode 0666
	local spell out first=
	cd "$T/o"
	for spell in "$T/priv/s.sock" ../priv/s.sock "$T/o/../priv/s.sock" "$T//priv/./s.sock" "unix:../priv/s.sock"; do
		run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json "$spell"
		out=$(jq -c '.[0] | [.state, .type, .can_connect, .exact, (.reason | sub("denied on .*/priv "; "denied on priv "))]' <<<"$output")
		[ -n "$first" ] || first=$out
		assert_equal "$out" "$first"
	done
	assert_equal "$first" '["listening","stream",false,true,"search permission denied on priv for others (mode 0700, owner root, group root)"]'
	cd "$T"
	run -0 --separate-stderr as_nobody "$UBIN/sockinfo" --json ./priv/s.sock
	assert_equal "$(jfield "$output" '.state')" listening
	# as root, with the file visible, every spelling is the same file
	cd "$T/o"
	run -0 sockinfo --json ../priv/s.sock "$T/priv/s.sock" "$T/o/../priv/./s.sock"
	assert_equal "$(jq -r '[.[] | .state + "/" + .mode + "/" + (.listeners[0].pid | tostring)] | unique | length' <<<"$output")" 1
}

@test "a directory argument: every socket file below it, nothing else" {
	mkdir -p "$T/d/sub/deeper"
	si_start "$T/d/a.sock"
	si_start "$T/d/sub/deeper/b.sock"
	make_stale_socket "$T/d/sub/c.sock"
	echo x >"$T/d/file"
	ln -s "$T/d/a.sock" "$T/d/sub/link"
	run -1 sockinfo --json "$T/d"
	assert_equal "$(jq -r '[.[] | .path + "=" + .state] | join(" ")' <<<"$output")" \
		"$T/d/a.sock=listening $T/d/sub/c.sock=stale $T/d/sub/deeper/b.sock=listening"
	rm "$T/d/sub/c.sock"
	run -0 sockinfo "$T/d"
	mkdir "$T/empty"
	run -1 --separate-stderr sockinfo "$T/empty"
	assert_regex "$stderr" 'no socket files below it'
}

@test "a symbolic link to a socket is followed and said so" {
	si_start "$T/s.sock"
	ln -s s.sock "$T/link"
	run -0 sockinfo --json "$T/link"
	assert_equal "$(jfield "$output" '.state')" listening
	assert_equal "$(jfield "$output" '.symlink')" true
	assert_equal "$(jfield "$output" '.listeners[0].pid')" "$BG_PID"
}

@test "a path past the 107-byte sun_path limit is matched by inode and device" {
	local d
	d=$T/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..40})
	mkdir -p "$d"
	si_start "$d/s.sock"
	[ "${#d}" -gt 107 ]
	run -0 sockinfo --json "$d/s.sock"
	assert_equal "$(jfield "$output" '.state')" listening
	assert_equal "$(jfield "$output" '.listeners[0].pid')" "$BG_PID"
}

@test "tmpfs (/dev/shm): device numbers match there too" {
	[ -d /dev/shm ] || skip "no /dev/shm"
	local d
	d=$(mktemp -d /dev/shm/us-si.XXXXXX)
	si_start "$d/s.sock"
	local pid=$BG_PID
	run -0 sockinfo --json "$d/s.sock"
	kill "$pid"
	rm -rf "$d"
	assert_equal "$(jfield "$output" '.state')" listening
	assert_equal "$(jfield "$output" '.listeners[0].pid')" "$pid"
}

@test "renamed into place (as usock-listen does): found by the file's identity" {
	si_start "$T/tmpname.sock"
	mv "$T/tmpname.sock" "$T/final.sock"
	run -0 sockinfo --json "$T/final.sock"
	assert_equal "$(jfield "$output" '.state')" listening
	run -1 sockinfo --json "$T/tmpname.sock"
	assert_equal "$(jfield "$output" '.state')" missing
}

@test "usock-listen's socket: listening, its pid and command" {
	start_bg usock-listen -k -m 0600 "$T/l.sock" </dev/null
	local pid=$BG_PID
	wait_for_file "$T/l.sock"
	wait_until 10 bash -c "sockinfo -q '$T/l.sock' >/dev/null"
	run -0 sockinfo --json "$T/l.sock"
	assert_equal "$(jfield "$output" '.listeners[0].pid')" "$pid"
	assert_equal "$(jfield "$output" '.listeners[0].command')" usock-listen
	assert_equal "$(jfield "$output" '.mode')" 0600
}

@test "TCP listeners on IPv4 and IPv6 with their pids; a free port is missing" {
	"$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null ||
		skip "no IPv6 loopback"
	si_start 127.0.0.1:0 --port-file "$T/p4"
	local pid4=$BG_PID p4
	si_start "[::1]:0" --port-file "$T/p6"
	local pid6=$BG_PID p6
	p4=$(cat "$T/p4")
	p6=$(cat "$T/p6")
	run -0 sockinfo --json "tcp:127.0.0.1:$p4" "[::1]:$p6"
	assert_equal "$(jq -r '[.[] | .address, .kind, .state, (.listeners[0].pid | tostring)] | join(" ")' <<<"$output")" \
		"tcp:127.0.0.1:$p4 tcp listening $pid4 tcp:[::1]:$p6 tcp listening $pid6"
	assert_equal "$(jq -r '.[0].backlog' <<<"$output")" 16
	# a bare port: listeners on any address
	run -0 sockinfo --json "$p6"
	assert_equal "$(jfield "$output" '.address')" "tcp:[::1]:$p6"
	# the IPv6-only listener does not take IPv4 connections
	run -1 sockinfo --json "tcp:127.0.0.1:$p6"
	assert_equal "$(jfield "$output" '.state')" missing
	run -1 sockinfo "$(free_port)"
	assert_line --regexp '^  state +missing'
	run -0 sockinfo -a --tcp
	assert_line --regexp "^tcp +listening .* $pid4/[^ ]+ .*tcp:127\\.0\\.0\\.1:$p4\$"
}

@test "-a lists a socket made by the test, with its mode, owner and pid" {
	si_start "$T/all.sock" --mode 0620 --backlog 9
	local pid=$BG_PID
	run -0 sockinfo -a
	assert_line --index 0 --regexp '^TYPE +STATE +MODE +OWNER +PROCESS +QUEUE +ADDRESS$'
	assert_line --regexp "^stream +listening +srw--w---- 0620 +root:root +$pid/[^ ]+ +0/9 +$T/all\\.sock\$"
	run -0 sockinfo
	assert_line --regexp "$T/all\\.sock\$"
	run -0 sockinfo -a --json
	assert_equal "$(jq -r ".[] | select(.path == \"$T/all.sock\") | .listeners[0].pid" <<<"$output")" "$pid"
	run -2 --separate-stderr sockinfo -a "$T/all.sock"
	assert_regex "$stderr" '^sockinfo: cannot use --all with an ADDRESS$'
}

@test "without sock_diag (/proc/net/unix): still listening and stale; no warning when asked" {
	si_start "$T/s.sock"
	make_stale_socket "$T/stale.sock"
	run -1 --separate-stderr env USOCK_DIAG=proc sockinfo --json "$T/s.sock" "$T/stale.sock"
	assert_equal "$stderr" ""
	assert_equal "$(jq -r '[.[].state] | join(" ")' <<<"$output")" "listening stale"
	assert_equal "$(jq -r '.[0].listeners[0].pid' <<<"$output")" "$BG_PID"
}

@test "colour only on a terminal, and never with NO_COLOR" {
	command -v script >/dev/null || skip "no script(1)"
	si_start "$T/s.sock"
	run -0 sockinfo "$T/s.sock"
	refute_output --partial $'\033['
	run -0 script -qec "sockinfo '$T/s.sock'" /dev/null
	assert_output --partial $'\033[32mlistening'
	run -0 env NO_COLOR=1 script -qec "sockinfo '$T/s.sock'" /dev/null
	refute_output --partial $'\033['
}

@test "-q shows only what is not a live listener" {
	si_start "$T/s.sock"
	run -1 sockinfo -q "$T/s.sock" "$T/none.sock"
	refute_output --partial "$T/s.sock"
	assert_line "unix:$T/none.sock"
}

@test "usage errors: exit 2 with one PROG: line" {
	run -2 --separate-stderr sockinfo --bogus
	assert_regex "$stderr" '^sockinfo: .*bogus'
	run -2 --separate-stderr sockinfo nonsense
	assert_regex "$stderr" "^sockinfo: address 'nonsense': "
	run -2 --separate-stderr sockinfo tcp:127.0.0.1:0
	assert_regex "$stderr" 'port 0'
	run -2 --separate-stderr sockinfo --probe
	assert_equal "$stderr" "sockinfo: cannot use --probe without an ADDRESS"
	run -0 sockinfo --help
	assert_output --partial '--audit'
	run -0 sockinfo -V
	assert_output --regexp 'usock\)? 0\.1\.0'
}

@test "every long option of sockinfo --help is in its man page and completions" {
	local opt name text missing=()
	text=$(sed 's/\\-/-/g' "$ROOT/man/sockinfo.1")
	for opt in $(sockinfo --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
		name=${opt#--}
		grep -Eq -- "(--|Fl -)$name([^a-z0-9-]|\$)" <<<"$text" || missing+=("man:$opt")
		grep -Eq -- "--$name([^a-z0-9-]|\$)" "$ROOT/completions/bash/sockinfo" || missing+=("bash:$opt")
		grep -Eq -- "--$name([^a-z0-9-]|\$)" "$ROOT/completions/zsh/_sockinfo" || missing+=("zsh:$opt")
	done
	[ "${#missing[@]}" -eq 0 ] || fail "missing: ${missing[*]}"
}
