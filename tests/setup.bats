#!/usr/bin/env bats
# The set-up a newcomer meets: make check's package check (tests/deps),
# make install with or without bash-completion, and the installed
# completions found by the shells' own loaders.

load helpers

# a copy of what make needs to parse the Makefile, with one package no
# machine has added to the list, where nobody can read and write it
fake_checkout() {
	for_others
	local c=$T-pub/co
	mkdir -p "$c/tests"
	cp "$ROOT/Makefile" "$c/"
	cp "$ROOT/tests/deps" "$ROOT/tests/deps.sh" "$c/tests/"
	echo "usock-no-such-package	# added by the test" >>"$c/tests/deps"
	chown -R nobody "$c"
	FAKE=$c
}

@test "make check as another user with a package missing: one line naming apt-get install, exit 2, nothing built" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	command -v dpkg-query >/dev/null || skip "not a dpkg system"
	fake_checkout
	run -2 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		make -C "$FAKE" --no-print-directory check
	assert_output ""
	[ "$(wc -l <<<"$stderr")" -eq 1 ] || fail "more than one line: $stderr"
	assert_regex "$stderr" 'run: sudo apt-get install --no-install-recommends ([a-z0-9.+-]+ )*usock-no-such-package\.'
	assert_not_exists "$FAKE/build"
}

@test "tests/deps.sh missing names exactly the packages dpkg does not have" {
	command -v dpkg-query >/dev/null || skip "not a dpkg system"
	fake_checkout
	run -0 "$FAKE/tests/deps.sh" missing
	# make check runs make deps first, so only the added one is missing
	assert_output usock-no-such-package
	run -2 --separate-stderr "$FAKE/tests/deps.sh" frobnicate
	assert_stderr_line '^usage: tests/deps.sh missing\|install$'
}

@test "make deps as another user with a package missing: the same line, exit 2" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
	command -v dpkg-query >/dev/null || skip "not a dpkg system"
	fake_checkout
	run -2 --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$FAKE/tests/deps.sh" install
	assert_output ""
	assert_regex "$stderr" '^make check: packages missing; run: sudo apt-get install --no-install-recommends .*usock-no-such-package$'
}

# make_install ARGS...: make install of the binaries under test (no
# rebuild: BUILD is where they are)
make_install() {
	make -s -C "$ROOT" --no-print-directory install BUILD="${BIN%/bin}" "$@"
}

@test "make install PREFIX=DIR: everything under DIR, bash and zsh completions where their loaders look" {
	make_install PREFIX="$T/p"
	local tool
	for tool in tcp2unix usock-listen usock-connect sockinfo usock-bench; do
		assert_file_executable "$T/p/bin/$tool"
		assert_exists "$T/p/share/man/man1/$tool.1"
		assert_exists "$T/p/share/bash-completion/completions/$tool"
		assert_exists "$T/p/share/zsh/site-functions/_$tool"
	done
	assert_exists "$T/p/share/man/man7/usock.7"
	# the address completers the tools' files share, beside them
	assert_exists "$T/p/share/bash-completion/completions/_usock"
	assert_exists "$T/p/share/zsh/site-functions/_usock_address"
	# bash-completion's own loader, told about this prefix, finds them
	[ -r /usr/share/bash-completion/bash_completion ] || fail "bash-completion is in tests/deps"
	run -0 env XDG_DATA_DIRS="$T/p/share" bash -c \
		'. /usr/share/bash-completion/bash_completion; __load_completion usock-connect && complete -p usock-connect'
	assert_output --regexp '^complete .* usock-connect$'
	run -0 env XDG_DATA_DIRS="$T/p/share" bash -c \
		'. /usr/share/bash-completion/bash_completion; __load_completion tcp2unix && declare -F _usock_addresses _usock_rejoin_at'
	assert_output $'_usock_addresses\n_usock_rejoin_at'
	# zsh with the prefix on fpath autoloads the same function names
	run -0 zsh -fc 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2"; print -r -- ${_comps[sockinfo]}' \
		zsh "$T/p/share/zsh/site-functions" "$T/zcompdump"
	assert_output _sockinfo
	run -0 zsh -fc 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2"; autoload +X _usock_address && print -r -- ${functions[_usock_address]}' \
		zsh "$T/p/share/zsh/site-functions" "$T/zcompdump"
	assert_output --partial 'unix-seqpacket:'
}

@test "make install DESTDIR: no bash-completion needed, paths follow PREFIX" {
	make_install PREFIX=/usr DESTDIR="$T/pkg"
	assert_exists "$T/pkg/usr/share/bash-completion/completions/usock-connect"
	assert_exists "$T/pkg/usr/share/zsh/site-functions/_usock-connect"
	make -s -C "$ROOT" --no-print-directory uninstall PREFIX=/usr DESTDIR="$T/pkg"
	run -0 find "$T/pkg" -type f
	assert_output ""
}
