#!/usr/bin/env bats
# Load: tcp2unix holding 8,000 connections at once and serving 200,000
# short ones, every byte echoed and checked, then giving back every
# descriptor and its memory.

load ../helpers

setup() {
	common_setup
	[ -x "$BIN/tcp2unix" ] && [ -x "$BIN/usock-bench" ] || fail "tcp2unix or usock-bench not built"
	BRIDGE_WRAP=()
}

# echo_target: usock-bench's in-process echo server on $T/e.sock.
echo_target() {
	start_bg usock-bench --serve echo "$T/e.sock"
	wait_for_socket "$T/e.sock"
}

@test "8,000 concurrent connections, each echo-checked when opened and after 2 s held; descriptors and RSS back to baseline" {
	raise_nofile 16200
	echo_target
	start_bridge 0 "$T/e.sock"
	# one connection first, so that what the first one allocates counts
	run -0 usock-bench -q "$HOSTPORT" hold 1 -d 0.1
	local fds rss peak=0 r
	fds=$(fd_count "$BPID")
	rss=$(rss_kb "$BPID")
	start_bg usock-bench "$HOSTPORT" hold 8000 -d 2 -t 30 >"$T/hold.out"
	local bench=$BG_PID
	# all 8,000 accepted and connected to the target: two descriptors each
	wait_until 30 fds_at_least "$BPID" $((fds + 16000))
	[ "$(fd_count "$BPID")" -le $((fds + 16000 + 8)) ] ||
		fail "$(fd_count "$BPID") descriptors for 8000 connections (baseline $fds)"
	r=$(rss_kb "$BPID")
	[ "$r" -gt "$peak" ] && peak=$r
	wait_pid "$bench" 60
	run cat "$T/hold.out"
	assert_line --regexp "^tcp:127\.0\.0\.1:[0-9]+ +8000 .* 16000 ok$"
	wait_until 20 fds_are "$BPID" "$fds"
	# memory given back: within 1 MiB of the baseline (it held 8,000)
	if under_asan "$BPID"; then
		echo "# AddressSanitizer build: RSS not compared" >&3
	else
		wait_until 10 rss_at_most "$BPID" $((rss + 1024))
	fi
	echo "# fds $fds -> $((fds + 16000)) -> $(fd_count "$BPID"); RSS $rss KiB -> $peak KiB -> $(rss_kb "$BPID") KiB" >&3
	bridge_counters_are "8001, active 0, refused 0, failed 0, completed 8001, bytes up 128016, down 128016"
}

@test "200,000 short connections, each echoing 1 byte: zero failures, every byte counted, no descriptor growth" {
	raise_nofile 1024
	echo_target
	start_bridge 0 "$T/e.sock"
	local fds t0
	fds=$(fd_count "$BPID")
	t0=$(now_ms)
	run -0 timeout 240 usock-bench --warmup 0 -n 200000 -P 4 -t 10 "$HOSTPORT" connect-rate
	assert_line --regexp "^tcp:127\.0\.0\.1:[0-9]+ +4 +1 B +200000 "
	echo "# 200000 connections in $(($(now_ms) - t0)) ms: ${lines[1]}" >&3
	wait_until 10 fds_are "$BPID" "$fds"
	bridge_counters_are "200000, active 0, refused 0, failed 0, completed 200000, bytes up 200000, down 200000"
}
