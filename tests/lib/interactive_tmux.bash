# Terminal helpers for tests/interactive.bats: usock-connect runs in a
# tmux pane (a real terminal), the test types with send-keys and reads
# the screen with capture-pane.  A scripted peer (interactive_peer.py)
# records what it receives in $T/log and takes commands on $T/ctl.

# tm ARGS...: tmux on this terminal's own server, UTF-8 both ways; its
# socket is in $T (each term_start gets a new server: one being killed
# may linger a moment).
tm() {
	LC_ALL=C.UTF-8 tmux -u -S "$T/tmux.${TERM_N:-0}" -f /dev/null "$@"
}

# term_start [VAR=VALUE...] CMD...: run CMD in a fresh 120x30 terminal,
# with a small environment (HOME=$T/home, UTF-8, no inputrc) plus the
# VAR=VALUE words; CMD's exit status is written to $T/rc.
term_start() {
	local envs=()
	while [[ $1 == [A-Z_]*=* ]]; do
		envs+=("$1")
		shift
	done
	term_stop
	TERM_N=$((${TERM_N:-0} + 1))
	rm -f "$T/rc"
	mkdir -p "$T/home"
	# shellcheck disable=SC2016 # expanded by the inner bash
	tm new-session -d -x 120 -y 30 -- env -i PATH="$PATH" HOME="$T/home" \
		TERM=screen LANG=C.UTF-8 INPUTRC=/dev/null RC_FILE="$T/rc" "${envs[@]}" \
		bash -c '"$@"; echo $? >"$RC_FILE.tmp"; mv "$RC_FILE.tmp" "$RC_FILE"
			exec sleep 600' _ "$@" 3>&-
}

# term_stop: end the tmux server and what runs in it.
term_stop() {
	tm kill-server 2>/dev/null || true
}

# term_type TEXT: type TEXT literally.
term_type() {
	tm send-keys -l -- "$1"
}

# term_keys KEY...: press keys (Enter, C-d, Up, Tab...).
term_keys() {
	tm send-keys "$@"
}

# screen: what the terminal shows, one line a screen row.
screen() {
	tm capture-pane -p
}

# term_poll SECONDS WHAT CMD...: poll until CMD succeeds; at the deadline
# fail saying WHAT, with the screen and what the peer received.
term_poll() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$(_deadline_ns "$secs")
	until "$@"; do
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			fail "$what after $secs s; screen:
$(screen)
peer received: $(od -c "$T/log" 2>/dev/null | head -5)"
			return 1
		fi
		sleep 0.02
	done
}

screen_has() {
	screen | grep -Eq -- "$1"
}

screen_has_line() {
	screen | grep -Fxq -- "$1"
}

# screen_wait REGEX [SECONDS]: poll (default 10 s) until a line of the
# screen matches the extended REGEX.
screen_wait() {
	term_poll "${2:-10}" "no screen line matches /$1/" screen_has "$1"
}

# screen_wait_line TEXT [SECONDS]: poll until a screen line is exactly TEXT.
screen_wait_line() {
	term_poll "${2:-10}" "no screen line is '$1'" screen_has_line "$1"
}

# last_line: the last screen line that is not empty.
last_line() {
	screen | grep -v '^$' | tail -n 1
}

last_line_is() {
	[ "$(last_line)" = "$1" ]
}

# screen_wait_last TEXT [SECONDS]: poll until the last line is TEXT.
screen_wait_last() {
	term_poll "${2:-10}" "the last screen line is not '$1'" last_line_is "$1"
}

# term_exit N [SECONDS]: the command in the terminal ends with status N.
term_exit() {
	wait_for_file "$T/rc" "${2:-10}"
	[ "$(cat "$T/rc")" = "$1" ] || fail "exit status $(cat "$T/rc"), expected $1; screen:
$(screen)"
}

# peer_start [interactive_peer.py options]: start the peer on $T/s.sock
# (or TCP with "tcp" first: its port in PORT) and wait until it listens.
peer_start() {
	local where="$T/s.sock"
	if [ "${1:-}" = tcp ]; then
		where=tcp
		shift
	fi
	start_bg "$PY" "$LIB/interactive_peer.py" "$where" --log "$T/log" \
		--ctl "$T/ctl" --ready "$T/ready" "$@"
	wait_for_file "$T/ready"
	# shellcheck disable=SC2034 # for the test
	PORT=$(cat "$T/ready")
}

# peer_do COMMAND: send, close or reset (see interactive_peer.py).
peer_do() {
	printf '%s\n' "$1" >"$T/ctl"
}

# ms_since T0 MS: more than MS milliseconds have passed since T0 (now_ms).
ms_since() {
	[ $(($(now_ms) - $1)) -gt "$2" ]
}

# log_is FORMAT: the peer has received exactly printf FORMAT.
log_is() {
	# shellcheck disable=SC2059 # FORMAT is a printf format
	[ -f "$T/log" ] && cmp -s "$T/log" <(printf "$1")
}

# wait_log FORMAT [SECONDS]: poll until log_is FORMAT.
wait_log() {
	term_poll "${2:-10}" "the peer did not receive '$1'" log_is "$1"
}
