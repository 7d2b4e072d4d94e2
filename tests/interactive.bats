#!/usr/bin/env bats
# usock-connect's interactive mode, driven through a real terminal (tmux):
# typing, peer output above the prompt, history, --crlf, Ctrl-D, Ctrl-C,
# escaping, and the cases where readline must stay out of the way.

load helpers
load lib/interactive_tmux

setup() {
	common_setup
	command -v tmux >/dev/null || skip "tmux is not installed"
	"$BIN/usock-connect" -i "$T/none" </dev/null 2>&1 | grep -q 'not available in this build' &&
		skip "usock-connect is built without readline"
	P="unix:$T/s.sock>"     # the prompt, as the screen shows it
}

teardown() {
	term_stop
	common_teardown
}

@test "a typed line reaches the peer; the prompt names the address" {
	peer_start
	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	term_type 'PING one'
	term_keys Enter
	wait_log 'PING one\n'
	screen_wait_line "$P PING one"
	peer_do 'send +PONG\r\n'
	screen_wait_line '+PONG'
	screen_wait_last "$P"
}

@test "peer output while a line is half typed goes above it; the line stays intact" {
	peer_start
	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	term_type 'half typed'
	screen_wait_line "$P half typed"
	peer_do 'send hello from peer\n'
	screen_wait_line 'hello from peer'
	screen_wait_line "$P half typed"
	screen_wait_last "$P half typed"
	run -0 screen
	assert_output --regexp "hello from peer
$P half typed"
	# the cursor is still at the end of the line
	assert_equal "$(tm display -p '#{cursor_x}')" "$((${#P} + 11))"
	# an unfinished peer line stands in for the prompt until it ends
	peer_do 'send Password: '
	screen_wait_line 'Password: half typed'
	peer_do 'send (not yet)\n'
	screen_wait_line 'Password: (not yet)'
	screen_wait_last "$P half typed"
	# what was typed is all there: typing goes on and Enter sends it
	term_type ' done'
	term_keys Enter
	wait_log 'half typed done\n'
}

@test "history: saved in ~/.local/state/usock/history.d/ADDRESS (0600), recalled with Up after a restart" {
	peer_start --count 2
	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	local line
	for line in 'first cmd' 'second cmd' '' 'second cmd' ' secret'; do
		term_type "$line"
		term_keys Enter
	done
	wait_log 'first cmd\nsecond cmd\n\nsecond cmd\n secret\n'
	local h="$T/home/.local/state/usock/history.d/unix:${T//\//%2F}%2Fs.sock"
	# blank, repeated and space-led lines are not kept
	assert_equal "$(cat "$h")" "$(printf 'first cmd\nsecond cmd')"
	assert_equal "$(stat -c %a "$h")" 600
	assert_equal "$(stat -c %a "$T/home/.local" "$T/home/.local/state" "$T/home/.local/state/usock" "$T/home/.local/state/usock/history.d" | sort -u)" 700
	term_keys C-d
	term_exit 0

	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	term_keys Up
	screen_wait_line "$P second cmd"
	term_keys Up
	screen_wait_line "$P first cmd"
	term_keys Enter
	wait_log 'first cmd\nsecond cmd\n\nsecond cmd\n secret\nfirst cmd\n'
	# the same line again is not saved twice in a row, across runs too
	assert_equal "$(wc -l <"$h")" 3
}

@test "history: \$XDG_STATE_HOME, --history FILE (cut to 1000 lines), --no-history" {
	peer_start --count 3
	term_start XDG_STATE_HOME="$T/state" usock-connect "$T/s.sock"
	screen_wait_line "$P"
	term_type 'xdg line'
	term_keys Enter C-d
	term_exit 0
	HIST=$T/state/usock/history.d/unix:${T//\//%2F}%2Fs.sock
	assert_equal "$(cat "$HIST")" 'xdg line'
	assert_equal "$(stat -c %a "$T/state/usock")" 700
	assert_equal "$(stat -c %a "$T/state/usock/history.d")" 700
	assert_not_exists "$T/home/.local"

	seq -f 'old %g' 1 1200 >"$T/own"
	term_start usock-connect --history "$T/own" "$T/s.sock"
	screen_wait_line "$P"
	term_keys Up
	screen_wait_line "$P old 1200"
	term_keys C-u
	term_type 'own line'
	term_keys Enter C-d
	term_exit 0
	assert_equal "$(head -n 1 "$T/own")" 'old 201'
	assert_equal "$(tail -n 1 "$T/own")" 'own line'
	assert_equal "$(wc -l <"$T/own")" 1001

	term_start XDG_STATE_HOME="$T/state" usock-connect --no-history "$T/s.sock"
	screen_wait_line "$P"
	term_type 'not kept'
	term_keys Enter C-d
	term_exit 0
	assert_equal "$(cat "$HIST")" 'xdg line'
	wait_log 'xdg line\nown line\nnot kept\n'
}

@test "--crlf sends lines ending in CR LF; --prompt sets the prompt; -x dumps above the prompt" {
	peer_start
	term_start usock-connect --crlf --prompt 'smtp> ' -x "$T/s.sock"
	screen_wait_line 'smtp>'
	term_type 'EHLO example.org'
	term_keys Enter
	term_type 'QUIT'
	term_keys Enter
	wait_log 'EHLO example.org\r\nQUIT\r\n'
	screen_wait_line 'smtp> QUIT'
	screen_wait '^> 00000000  45 48 4c 4f 20 65 78 61'
	screen_wait '^> 00000012  51 55 49 54 0d 0a +\|QUIT\.\.\|$'
	peer_do 'send 221 bye\r\n'
	screen_wait '^< 00000000  32 32 31 20 62 79 65 0d  0a +\|221 bye\.\.\|$'
	screen_wait_line '221 bye'
	screen_wait_last 'smtp>'
}

@test "Ctrl-D at an empty line sends EOF; an answer 2 s later is shown in full, then exit 0" {
	local answer='answer 1\n' i
	for i in $(seq 2 15); do answer+="answer $i\\n"; done
	peer_start --after-eof 2 "${answer}last line, unfinished"
	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	term_type 'REQUEST'
	term_keys Enter
	wait_log 'REQUEST\n'
	local t0 t1
	t0=$(now_ms)
	term_keys C-d
	wait_file_line "$T/log.events" '<EOF>'
	screen_wait 'end of file sent to unix:.*s\.sock'
	term_exit 0
	t1=$(now_ms)
	[ $((t1 - t0)) -ge 1900 ] || fail "ended after $((t1 - t0)) ms, before the answer"
	run -0 screen
	for i in $(seq 1 15); do assert_line "answer $i"; done
	assert_line 'last line, unfinished'
	assert_line --regexp "^usock-connect: unix:.*s\.sock closed the connection\$"
}

@test "escape sequences from the peer are shown escaped, never executed" {
	peer_start
	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	peer_do 'send marker before\n'
	screen_wait_line 'marker before'
	peer_do 'send \x1b[2J\x1b]0;pwned\x07 tab\there\r\nbell\x07 del\x7f nul\x00 c1\xc2\x9b bad\xff cr\rx ok héllo ✓\n'
	screen_wait_line '\x1b[2J\x1b]0;pwned\x07 tab\there'
	screen_wait_line 'bell\x07 del\x7f nul\x00 c1\xc2\x9b bad\xff cr\rx ok héllo ✓'
	# the screen was not cleared, the title not set
	screen_wait_line 'marker before'
	assert_not_equal "$(tm display -p '#{pane_title}')" pwned
	# escaped bytes stand out in reverse video
	run -0 tm capture-pane -p -e
	assert_output --partial $'\e[7m\\x1b'
	screen_wait_last "$P"
}

@test "NO_COLOR: escaped bytes without reverse video; --raw: the peer's bytes as they are" {
	peer_start --count 2
	term_start NO_COLOR=1 usock-connect "$T/s.sock"
	screen_wait_line "$P"
	peer_do 'send a\x01b\n'
	screen_wait_line 'a\x01b'
	run -0 tm capture-pane -p -e
	refute_output --partial $'\e[7m'
	peer_do close
	term_exit 0

	term_start usock-connect --raw "$T/s.sock"
	screen_wait_line "$P"
	peer_do 'send \x1b]0;rawtitle\x07plain\n'
	screen_wait_line 'plain'
	assert_equal "$(tm display -p '#{pane_title}')" rawtitle
}

@test "Ctrl-C clears the line; twice within a second quits with 130" {
	peer_start
	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	term_type 'junk'
	term_keys C-c
	screen_wait_line "$P junk^C"
	local t0
	t0=$(now_ms)    # the first Ctrl-C has been handled by now
	screen_wait_last "$P"
	term_type 'ok'
	term_keys Enter
	wait_log 'ok\n'
	# a second later, Ctrl-C on the empty line says how to quit
	wait_until 5 ms_since "$t0" 1050
	term_keys C-c
	screen_wait 'Ctrl-C again within a second quits'
	term_keys C-c
	term_exit 130
	wait_log 'ok\n'
}

@test "peer close: exit 0 with a message; peer reset: exit 1" {
	peer_start
	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	term_type 'never sent'
	screen_wait_line "$P never sent"
	peer_do close
	term_exit 0
	screen_wait "^usock-connect: unix:.*s\.sock closed the connection\$"
	run -0 screen
	refute_line "$P never sent"

	rm -f "$T/ready" "$T/ctl"
	peer_start tcp
	term_start usock-connect "tcp:127.0.0.1:$PORT"
	screen_wait_line "tcp:127.0.0.1:$PORT>"
	peer_do reset
	term_exit 1
	screen_wait "^usock-connect: read tcp:127\.0\.0\.1:$PORT: Connection reset by peer\$"
}

@test "Tab completes words seen in the session" {
	peer_start
	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	peer_do 'send alphabet-soup beta\n'
	screen_wait_line 'alphabet-soup beta'
	term_type 'alp'
	term_keys Tab
	screen_wait_line "$P alphabet-soup"
	term_type 'x'
	term_keys Enter
	wait_log 'alphabet-soup x\n'
	# and words typed before
	term_type 'alphabet-s'
	term_keys Tab
	screen_wait_line "$P alphabet-soup"
}

@test "stdin not a terminal: no readline, the relay stays byte-exact" {
	start_server "$T/e.sock" --mode echo
	printf 'PING\r\n\033[2Jraw \000 bytes\377\n' >"$T/in"
	run -0 run_to "$T/out" timeout 20 usock-connect "$T/e.sock" <"$T/in"
	cmp "$T/in" "$T/out"
	# -i needs a terminal on stdin; --raw needs interactive mode
	run -2 --separate-stderr usock-connect -i "$T/e.sock" </dev/null
	assert_equal "$stderr" 'usock-connect: --interactive: standard input is not a terminal'
	run -2 --separate-stderr usock-connect --raw "$T/e.sock" </dev/null
	assert_regex "$stderr" '^usock-connect: --raw: works only in interactive mode'

	# in a terminal, with stdin a pipe: no prompt, the bytes unchanged
	peer_start --count 2 --after-eof 0.2 'bye\x1b[1m!\n'
	# shellcheck disable=SC2016 # for the inner shell
	term_start bash -c 'printf "one\ttwo\r\n" | usock-connect "$1"' _ "$T/s.sock"
	wait_log 'one\ttwo\r\n'
	term_exit 0
	screen_wait_line 'bye!'
	run -0 screen
	refute_output --partial 'unix:'
	refute_output --partial '\x1b'

	# stdout not a terminal: no readline either
	# shellcheck disable=SC2016 # for the inner shell
	term_start bash -c 'usock-connect "$1" >"$2"' _ "$T/s.sock" "$T/down"
	term_type 'cooked line'
	term_keys Enter
	wait_log 'one\ttwo\r\ncooked line\n'
	peer_do 'send \x1b[2J\n'
	printf '\033[2J\n' >"$T/expect"
	wait_until 10 cmp -s "$T/down" "$T/expect"
	term_keys C-d
	term_exit 0
	cmp "$T/down" <(printf '\033[2J\nbye\033[1m!\n')
	run -0 screen
	refute_output --partial 'unix:'
}

@test "-i with stdout not a terminal: editing on stderr, the peer's bytes unchanged on stdout" {
	peer_start
	# shellcheck disable=SC2016 # for the inner shell
	term_start bash -c 'usock-connect -i "$1" >"$2"' _ "$T/s.sock" "$T/down"
	screen_wait_line "$P"
	term_type 'edited'
	term_keys C-a
	term_type 'well '
	term_keys Enter
	wait_log 'well edited\n'
	peer_do 'send \x1b[2Jreply\n'
	printf '\033[2Jreply\n' >"$T/expect"
	wait_until 10 cmp -s "$T/down" "$T/expect"
	peer_do close
	term_exit 0
	run -0 screen
	assert_line "$P well edited"
	refute_output --partial reply
}

@test "built without readline: -i fails with exit 2, a terminal gets the plain relay" {
	local norl=${USOCK_NORL_BIN:-}
	if [ -z "$norl" ]; then
		run -0 make -s -C "$ROOT" -j2 BUILD="$BATS_FILE_TMPDIR/norl" NO_READLINE=1 \
			"$BATS_FILE_TMPDIR/norl/bin/usock-connect"
		norl=$BATS_FILE_TMPDIR/norl/bin
	fi
	run -2 --separate-stderr "$norl/usock-connect" -i "$T/s.sock"
	assert_equal "$stderr" 'usock-connect: --interactive: line editing is not available in this build (built without readline)'
	run -2 "$norl/usock-connect" --raw "$T/s.sock" </dev/null
	run -0 "$norl/usock-connect" --help
	assert_output --partial '--history'

	peer_start
	term_start "$norl/usock-connect" "$T/s.sock"
	term_type 'plain line'
	term_keys Enter
	wait_log 'plain line\n'
	peer_do close
	term_exit 0
	run -0 screen
	refute_output --partial 'unix:'
}

@test "Unicode format characters from the peer (U+202E, U+200B, U+2066) are escaped like control bytes" {
	peer_start
	term_start usock-connect "$T/s.sock"
	screen_wait_line "$P"
	peer_do 'send abc\xe2\x80\xaedef\xe2\x80\x8bghi\xe2\x81\xa6jkl soft\xc2\xadhyphen ok é ✓\n'
	screen_wait_line 'abc\xe2\x80\xaedef\xe2\x80\x8bghi\xe2\x81\xa6jkl soft\xc2\xadhyphen ok é ✓'
	run -0 tm capture-pane -p -e
	assert_output --partial $'\e[7m\\xe2\\x80\\xae'
	screen_wait_last "$P"
}

@test "history: one file per endpoint; another endpoint does not bring the lines back" {
	peer_start --count 2
	start_bg usock-listen -k "$T/other.sock" -- cat </dev/null
	wait_for_socket "$T/other.sock"
	term_start XDG_STATE_HOME="$T/state" usock-connect "$T/s.sock"
	screen_wait_line "$P"
	term_type 'SET key value'
	term_keys Enter C-d
	term_exit 0
	# the other endpoint: Up recalls nothing, so the typed z stands alone
	term_start XDG_STATE_HOME="$T/state" usock-connect "$T/other.sock"
	screen_wait_line "unix:$T/other.sock>"
	term_keys Up
	term_type 'z'
	screen_wait_line "unix:$T/other.sock> z"
	term_keys C-u
	term_type 'EHLO me'
	term_keys Enter
	screen_wait_line 'EHLO me'
	term_keys C-d
	term_exit 0
	run -0 ls "$T/state/usock/history.d"
	assert_equal "${#lines[@]}" 2
	assert_equal "$(cat "$T/state/usock/history.d/unix:${T//\//%2F}%2Fother.sock")" 'EHLO me'
	# back to the first: its own line comes back
	term_start XDG_STATE_HOME="$T/state" usock-connect "$T/s.sock"
	screen_wait_line "$P"
	term_keys Up
	screen_wait_line "$P SET key value"
	term_keys C-u C-d
	term_exit 0
}

# joined_has TEXT: the screen, wrapped lines joined, holds TEXT.
joined_has() {
	tm capture-pane -pJ | grep -Fq -- "$1"
}

@test "history: a planted symbolic link, a directory of another user or writable by others is refused, untouched" {
	[ "$(id -u)" = 0 ] || skip "needs root to give files to another user"
	peer_start --count 5
	local d="$T/x/usock/history.d" name="unix:${T//\//%2F}%2Fs.sock"
	# the tester's case: root with a state directory a user owns, the
	# history file a link to root's file
	mkdir -p "$d"
	seq 1 1500 >"$T/victim"
	ln -s "$T/victim" "$d/$name"
	chown -R nobody "$T/x"
	term_start XDG_STATE_HOME="$T/x" usock-connect "$T/s.sock"
	term_poll 10 'no warning' joined_has "history $T/x/usock: owned by another user; lines are not saved"
	screen_wait_line "$P"
	term_type 'CMD3'
	term_keys Enter C-d
	term_exit 0
	assert_equal "$(wc -l <"$T/victim")" 1500
	assert_equal "$(tail -n 1 "$T/victim")" 1500
	assert_equal "$(stat -c %U "$T/x/usock" "$d" | sort -u)" nobody
	# our own directories, the link alone: not followed
	chown -R root "$T/x"
	chmod 700 "$T/x/usock" "$d"
	term_start XDG_STATE_HOME="$T/x" usock-connect "$T/s.sock"
	term_poll 10 'no warning' joined_has "history $d/$name: a symbolic link, not followed; lines are not saved"
	term_keys C-d
	term_exit 0
	assert_equal "$(wc -l <"$T/victim")" 1500
	# history.d writable by others: refused, its mode left as it is
	rm "$d/$name"
	chmod 777 "$d"
	term_start XDG_STATE_HOME="$T/x" usock-connect "$T/s.sock"
	term_poll 10 'no warning' joined_has "history $d: writable by group or others; lines are not saved"
	term_keys C-d
	term_exit 0
	assert_equal "$(stat -c %a "$d")" 777
	assert_not_exists "$d/$name"
	# --history FILE: a link, or a file of another user, is not used either
	ln -s "$T/victim" "$T/hl"
	install -o nobody -m 600 /dev/null "$T/theirs"
	term_start usock-connect --history "$T/hl" "$T/s.sock"
	term_poll 10 'no warning' joined_has "history $T/hl: a symbolic link, not followed; lines are not saved"
	term_keys C-d
	term_exit 0
	term_start usock-connect --history "$T/theirs" "$T/s.sock"
	term_poll 10 'no warning' joined_has "history $T/theirs: owned by another user; lines are not saved"
	screen_wait_line "$P"
	term_type 'not theirs'
	term_keys Enter C-d
	term_exit 0
	assert_equal "$(wc -c <"$T/theirs")" 0
	assert_equal "$(wc -l <"$T/victim")" 1500
}
