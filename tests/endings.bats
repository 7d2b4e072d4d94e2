#!/usr/bin/env bats
# How connections end: the cases this kind of bug was found with (an early
# answer cut short, a command's reply reset, timers that cut with a clean
# EOF, a dead stdout that deadlocks, a drain that waits for nothing), each
# checked against what a careful user expects.  The systematic comparison
# with a direct connection is tests/transparency.bats.

load helpers

setup() {
	common_setup
}

# answer_server PATH|tcp SCRIPT: a server on the UNIX socket PATH, or on
# a TCP port of 127.0.0.1 (then in $PORT), running the python lines SCRIPT
# for each client c.
answer_server() {
	cat >"$T/srv.py" <<EOF
import os, socket, sys, time
fam = socket.AF_INET if sys.argv[1] == "tcp" else socket.AF_UNIX
s = socket.socket(fam)
s.bind(("127.0.0.1", 0) if fam == socket.AF_INET else sys.argv[1])
s.listen(8)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]) if fam == socket.AF_INET else "")
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
while True:
    c, _ = s.accept()
$(sed 's/^/    /' <<<"$2")
EOF
	start_bg "$PY" "$T/srv.py" "$1" "$T/srv.ready"
	wait_for_file "$T/srv.ready"
	PORT=$(cat "$T/srv.ready")
}

@test "f6: tcp2unix delivers a 3 MB early answer whole to a client still uploading 20 MB" {
	head -c 3000000 /dev/urandom >"$T/answer"
	answer_server "$T/app.sock" 'c.recv(16); c.sendall(open("'"$T/answer"'", "rb").read()); c.close()'
	start_bridge -v 0 "$T/app.sock"
	local i
	for i in 1 2 3; do
		head -c 20000000 /dev/zero | timeout 30 usock-connect "$HOSTPORT" >"$T/out" 2>"$T/err" || true
		assert_equal "$(sha "$T/out")" "$(sha "$T/answer")"
	done
	# the log counts what was written to the client: the whole answer
	wait_file_line "$BERR" ' -> unix:.*; [0-9]+ bytes up, 3000000 down, '
	run -0 grep -c ' 3000000 down, ' "$BERR"
	assert_output 3
}

@test "f5: usock-listen -- cat FILE answers every client in full, over TCP and UNIX, exit 0" {
	head -c 3000000 /dev/urandom >"$T/big"
	local addr i
	for addr in tcp:127.0.0.1:0 "$T/s.sock"; do
		start_bg usock-listen -k --print-address "$addr" -- cat "$T/big" 2>"$T/l.err"
		addr=$(wait_file_line "$T/l.err" '^(tcp:|unix:)')
		for i in 1 2 3; do
			echo "GET / HTTP/1.0" | timeout 20 usock-connect "$addr" >"$T/out"
			assert_equal "$(sha "$T/out")" "$(sha "$T/big")"
		done
		kill -TERM "$BG_PID"
		expect_exit 0 "$BG_PID" 10
	done
}

@test "f5: a COMMAND that reads nothing of a 5 MB upload: the client still gets the whole answer" {
	head -c 1000000 /dev/urandom >"$T/big"
	start_bg usock-listen --print-address 127.0.0.1:0 -- cat "$T/big" 2>"$T/l.err"
	local lp=$BG_PID addr
	addr=$(wait_file_line "$T/l.err" '^tcp:')
	head -c 5000000 /dev/zero | timeout 20 usock-connect "$addr" >"$T/out"
	assert_equal "$(sha "$T/out")" "$(sha "$T/big")"
	# without -k: the status of COMMAND, once the lingering close is over
	expect_exit 0 "$lp" 40
}

# late_server PATH: reads the request to EOF, answers 1000 bytes, pauses
# 2 s, answers 1000 more.
late_server() {
	answer_server "$1" 'while c.recv(65536): pass
c.sendall(b"A" * 1000); time.sleep(2)
try: c.sendall(b"B" * 1000)
except OSError: pass
c.close()'
}

@test "adv-a: --idle-timeout cuts a late answer with a reset, and the log says what was cut" {
	late_server "$T/app.sock"
	start_bridge -v --idle-timeout 1 0 "$T/app.sock"
	run -1 --separate-stderr timeout 10 usock-connect "$HOSTPORT" <<<"GET"
	assert_equal "${#output}" 1000
	assert_stderr_line 'Connection reset by peer'
	wait_file_line "$BERR" ': idle timeout, reset \(cut: down open\); 4 bytes up, 1000 down, '
}

@test "adv-a: the drain deadline cuts a late answer with a reset, and the log says what was cut" {
	late_server "$T/app.sock"
	start_bridge -v --drain 1 0 "$T/app.sock"
	timeout 10 usock-connect "$HOSTPORT" <<<"GET" >"$T/out" 2>"$T/err" &
	local cp=$!
	BG_PIDS+=("$cp")
	wait_until 5 file_size_is "$T/out" 1000
	kill -TERM "$BPID"
	expect_exit 1 "$cp" 10
	grep -q 'Connection reset by peer' "$T/err" || fail "no reset: $(cat "$T/err")"
	file_size_is "$T/out" 1000
	expect_exit 0 "$BPID" 10
	wait_file_line "$BERR" ': drain deadline, reset \(cut: down open\); 4 bytes up, 1000 down, '
}

@test "adv-a: usock-connect -t cuts with a reset that the server sees" {
	answer_server tcp 'c.settimeout(10)
try:
    while c.recv(65536): pass
    print("eof", flush=True)
except OSError as e: print("reset" if "reset" in str(e) else str(e), flush=True)
c.close()' >"$T/srv.out"
	# input stays open: the timeout ends it, not an end of file
	run -124 --separate-stderr timeout 10 usock-connect -t 0.5 "127.0.0.1:$PORT" < <(sleep 5)
	wait_until 5 file_is "$T/srv.out" reset
}

@test "adv-h: yes | usock-connect ECHO | head -1 ends at once, exit 1" {
	start_bg usock-bench --serve echo "$T/e.sock" 2>/dev/null
	wait_for_socket "$T/e.sock"
	local t0 st
	t0=$(now_ms)
	st=$(yes | timeout 10 usock-connect "$T/e.sock" 2>/dev/null | head -1 >/dev/null
	     echo "${PIPESTATUS[1]}")
	assert_equal "$st" 1
	[ $(($(now_ms) - t0)) -lt 5000 ] || fail "took $(($(now_ms) - t0)) ms"
}

# active_is N: tcp2unix ($BPID) says, on SIGUSR1, that N connections are open.
active_is() {
	kill -USR1 "$BPID"
	sleep 0.05
	grep -q "^tcp2unix: accepted [0-9]*, active $1," "$BERR"
}

@test "f4: the drain ends when its last connection ends as 'target busy'" {
	start_bg "$PY" "$LIB/t2u.py" full-backlog "$T/full.sock" --ready-file "$T/full"
	wait_for_file "$T/full"
	start_bridge -v --connect-timeout 2 --drain 8 0 "$T/full.sock"
	timeout 10 usock-connect "$HOSTPORT" <<<"hi" >/dev/null 2>&1 &
	BG_PIDS+=("$!")
	wait_until 5 active_is 1
	local t0
	t0=$(now_ms)
	kill -TERM "$BPID"
	expect_exit 0 "$BPID" 10
	[ $(($(now_ms) - t0)) -lt 4000 ] || fail "the drain took $(($(now_ms) - t0)) ms"
	wait_file_line "$BERR" ': target busy'
}

@test "f4: a client that leaves during a pending connect is noticed, logged 'client left', and frees its -c place" {
	start_bg "$PY" "$LIB/t2u.py" full-backlog "$T/full.sock" --ready-file "$T/full"
	wait_for_file "$T/full"
	start_bridge -v -c 1 --connect-timeout 30 0 "$T/full.sock"
	# sends nothing and closes: gone
	run -1 timeout 10 usock-connect "$HOSTPORT" </dev/null
	wait_file_line "$BERR" ': client left; 0 bytes up, 0 down, '
	# its place is free: the next client is taken at once
	timeout 10 usock-connect "$HOSTPORT" </dev/null >/dev/null 2>&1 || true
	run -0 grep -c ': client left' "$BERR"
	assert_output 2
	bridge_counters_are "2, active 0, refused 0, failed 2, completed 0,"
}

# A receiver that half-closes at once, takes 100 kB of the upload and
# resets (SO_LINGER 0): on TCP PORT (in $PORT) or the UNIX socket PATH.
reset_after_fin_server() {
	rm -f "$T/srv.ready"
	answer_server "$1" 'c.shutdown(socket.SHUT_WR)
n = 0
while n < 100000:
    d = c.recv(65536)
    if not d: break
    n += len(d)
__import__("select").select([c], [], [], 5)  # input left unread
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, __import__("struct").pack("ii", 1, 0))
c.close()'
}

# upload ADDR CLIENT...: CLIENT sends 300 kB from a pipe whose writer
# stays open (the sender then waits on its input, idle); prints the
# client's exit status.
upload() {
	rm -f "$T/fifo"; mkfifo "$T/fifo"
	start_bg sh -c 'exec >"$1"; head -c 300000 /dev/zero; exec sleep 30' sh "$T/fifo"
	local w=$BG_PID rc=0
	timeout 20 "$@" <"$T/fifo" >/dev/null 2>"$T/c.err" || rc=$?
	kill "$w" 2>/dev/null || true
	echo "$rc"
}

# probe PORT: a TCP client that sends 300 kB and waits (10 s at most)
# for its socket to report an error; prints "error ERRNO" or "none".
probe() {
	"$PY" -c 'import select, socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(bytes(300000))
p = select.poll(); p.register(c, select.POLLERR)
ev = p.poll(10000)
e = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
print("error" if ev and ev[0][1] & select.POLLERR else "none")' "$1"
}

@test "f8/f9: a receiver that resets after its FIN fails the upload: direct, usock-connect and tcp2unix alike" {
	reset_after_fin_server tcp
	local i rc
	for i in 1 2 3; do
		# direct, the kernel's word: the sender's socket reports the reset
		run -0 probe "$PORT"
		assert_output error
		rc=$(upload usock-connect -v "127.0.0.1:$PORT")
		assert_equal "$rc $(tail -1 "$T/c.err")" "1 usock-connect: write tcp:127.0.0.1:$PORT: Connection reset by peer"
		run -0 grep -E "^usock-connect: write tcp:127\.0\.0\.1:$PORT: Connection reset by peer\$" "$T/c.err"
		refute grep -q 'closed: ' "$T/c.err"
	done
	# through the bridge, to a UNIX receiver that closes on unread input
	reset_after_fin_server "$T/r.sock"
	start_bridge -v 0 "$T/r.sock"
	for i in 1 2 3; do
		run -0 probe "${HOSTPORT##*:}"
		assert_output error
		rc=$(upload usock-connect "$HOSTPORT")
		# the reset may overtake the FIN: then the read reports it
		assert_equal "$rc" 1
		run cat "$T/c.err"
		assert_output --regexp "^usock-connect: (write|read) $BADDR: Connection reset by peer\$"
	done
	wait_until 10 _lines_are 6 ' -> unix:.*: target failed \((Connection reset by peer|Broken pipe)\)'
	run -1 grep -E ' -> unix:.*: closed' "$BERR"
}

_lines_are() {
	[ "$(grep -cE -- "$2" "$BERR" || true)" -eq "$1" ]
}

@test "f9: a client that resets after its half-close: tcp2unix says 'client failed' and the target's write fails" {
	answer_server "$T/big.sock" 'c.recv(100)
try:
    for i in range(500): c.sendall(b"y" * 100000)
    open("'"$T"'/outcome", "w").write("sent all")
except OSError as e:
    open("'"$T"'/outcome", "w").write("error " + e.__class__.__name__)'
	start_bridge -v 0 "$T/big.sock"
	"$PY" -c 'import socket, struct, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"GET"); c.shutdown(socket.SHUT_WR)
n = 0
while n < 1000: n += len(c.recv(1000))
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()' "${HOSTPORT##*:}"
	wait_file_line "$BERR" ' -> unix:.*: client failed \(Connection reset by peer\)' >/dev/null
	wait_for_file "$T/outcome"
	run cat "$T/outcome"
	assert_output --regexp '^error '
}
