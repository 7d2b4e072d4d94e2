#!/usr/bin/env bats
# Command lines: --help, --version, bad options, bad numbers, bad addresses,
# and --help kept in step with the man pages and the completions.

load helpers

TOOLS=(usock-connect usock-listen)

@test "--help: usage on stdout, exit 0, nothing on stderr; -h the same" {
	local tool
	for tool in "${TOOLS[@]}"; do
		run -0 --separate-stderr "$tool" --help
		assert_equal "$stderr" ""
		assert_output --partial "$tool"
		assert_output --partial "--help"
		local long=$output
		run -0 --separate-stderr "$tool" -h
		assert_equal "$output" "$long"
	done
}

@test "-V/--version: 'usock 0.1.0' on stdout, exit 0" {
	local tool
	for tool in "${TOOLS[@]}"; do
		run -0 --separate-stderr "$tool" -V
		assert_output --regexp 'usock\)? 0\.1\.0'
		assert_equal "$stderr" ""
		run -0 "$tool" --version
		assert_output --regexp 'usock\)? 0\.1\.0'
	done
}

@test "unknown option: exit 2, one line PROG: ... on stderr, nothing on stdout" {
	local tool
	for tool in "${TOOLS[@]}"; do
		run -2 --separate-stderr "$tool" --bogus-option "$T/x.sock"
		assert_output ""
		assert_regex "$stderr" "^$tool: .*bogus-option"
		run -2 --separate-stderr "$tool" -Y "$T/x.sock"
		assert_regex "$stderr" "^$tool: "
	done
}

@test "missing ADDRESS: exit 2" {
	run -2 --separate-stderr usock-connect
	assert_regex "$stderr" '^usock-connect: '
	run -2 --separate-stderr usock-listen
	assert_regex "$stderr" '^usock-listen: '
}

@test "extra arguments: exit 2" {
	run -2 usock-connect "$T/a.sock" "$T/b.sock" </dev/null
	run -2 usock-listen "$T/a.sock" "$T/b.sock" </dev/null
	assert_not_exists "$T/a.sock"
}

@test "option needing an argument given none: exit 2" {
	run -2 usock-connect "$T/a.sock" -w
	run -2 usock-listen "$T/a.sock" -c
	assert_not_exists "$T/a.sock"
}

@test "usock-listen: --max-conns out of range names the option and the range" {
	run -2 --separate-stderr usock-listen -c 0 "$T/s.sock" -- true
	assert_equal "$stderr" "usock-listen: --max-conns: 0 is out of range 1..1000000"
	run -2 --separate-stderr usock-listen --max-conns 1000001 "$T/s.sock" -- true
	assert_regex "$stderr" '^usock-listen: --max-conns: .*1\.\.1000000'
	run -2 --separate-stderr usock-listen -c abc "$T/s.sock" -- true
	assert_regex "$stderr" '^usock-listen: --max-conns: '
	run -2 usock-listen -c 5x "$T/s.sock" -- true
	run -2 usock-listen -c -1 "$T/s.sock" -- true
	assert_not_exists "$T/s.sock"
}

@test "usock-listen: bad --backlog and --mode values" {
	local v
	for v in 0 65536 abc 12x -3 ""; do
		run -2 --separate-stderr usock-listen -b "$v" "$T/s.sock" </dev/null
		assert_regex "$stderr" '^usock-listen: --backlog: '
	done
	for v in 0999 abc 8 -1 ""; do
		run -2 --separate-stderr usock-listen -m "$v" "$T/s.sock" </dev/null
		assert_regex "$stderr" '^usock-listen: --mode: '
	done
	assert_not_exists "$T/s.sock"
}

@test "usock-listen: --mode/--owner with a TCP address is a usage error" {
	run -2 usock-listen -m 0600 "$(free_port)" </dev/null
	run -2 usock-listen -o nobody "$(free_port)" </dev/null
	run -2 usock-listen -m 0600 "@$(abstract_name)" </dev/null
}

@test "usock-listen: unknown user or group for --owner: exit 2" {
	run -2 --separate-stderr usock-listen -o no-such-user-usock "$T/s.sock" </dev/null
	assert_regex "$stderr" 'no-such-user-usock'
	run -2 --separate-stderr usock-listen -o root:no-such-group-usock "$T/s.sock" </dev/null
	assert_regex "$stderr" 'no-such-group-usock'
	assert_not_exists "$T/s.sock"
}

@test "usock-connect: bad --wait and --timeout values" {
	local v
	for v in abc -1 1x 1.5.2 "" 5sec; do
		run -2 --separate-stderr usock-connect -w "$v" "$T/s.sock" </dev/null
		assert_regex "$stderr" '^usock-connect: --wait: '
		run -2 --separate-stderr usock-connect -t "$v" "$T/s.sock" </dev/null
		assert_regex "$stderr" '^usock-connect: --timeout: '
	done
}

@test "usock-connect: durations 1.5, 200ms, 1s, 2m, 1h are accepted" {
	start_server "$T/s.sock" --mode sink --count 0
	local v
	for v in 1.5 200ms 1s 2m 1h 3; do
		run -0 timeout 20 usock-connect -z -t "$v" "$T/s.sock"
		run -0 timeout 20 usock-connect -z -w "$v" "$T/s.sock"
	done
}

@test "-v is repeatable, -q accepted" {
	start_server "$T/s.sock" --mode sink --count 0
	run -0 timeout 20 usock-connect -vv -z "$T/s.sock"
	run -0 --separate-stderr timeout 20 usock-connect -q -z "$T/s.sock"
	assert_equal "$stderr" ""
	run -1 --separate-stderr timeout 20 usock-connect -q -z "$T/none.sock"
}

@test "usock-connect: -i is not implemented (exit 2, says so); --no-interactive works" {
	run -2 --separate-stderr usock-connect -i "$T/s.sock" </dev/null
	assert_regex "$stderr" '^usock-connect: .*(interactive|not implemented|readline)'
	start_server "$T/s.sock" --mode echo
	run -0 timeout 20 usock-connect --no-interactive "$T/s.sock" <<<"plain"
	assert_output plain
}

@test "usock-connect: conflicting options (--probe with --hexdump / --interactive): exit 2" {
	run -2 --separate-stderr usock-connect -z -x "$T/s.sock" </dev/null
	assert_regex "$stderr" '^usock-connect: .*(probe|-z)'
	run -2 usock-connect -z -i "$T/s.sock" </dev/null
}

# bad_address TOOL ADDRESS: exit 2 with `TOOL: address 'ADDRESS': why`.
bad_address() {
	run -2 --separate-stderr timeout 20 "$1" "$2" </dev/null
	assert_output ""
	local q=$2
	q=${q//[/\\[}
	q=${q//]/\\]}
	q=${q//./\\.}
	q=${q//\*/\\*}
	assert_regex "$stderr" "^$1: address '$q': .+"
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
}

BAD_ADDRESSES=(
	"tcp:127.0.0.1:70000" # port out of range
	"tcp:127.0.0.1:x"     # port not a number
	"70000"
	"65536"
	":70000"
	"tcp:127.0.0.1:"      # empty port
	"tcp:127.0.0.1:-1"
	"tcp:localhost"       # missing port
	"tcp:[::1]"           # missing port
	"tcp:[::1:80"         # bad bracket
	"tcp:[]:80"           # empty host
	"x"                   # no form at all
	"unix:"               # empty path
	"@"                   # empty abstract name
	"abstract:"           # empty abstract name
	"sctp:x:1"            # unknown prefix
	""                    # empty address
)

@test "bad addresses: exit 2, PROG: address 'X': why (usock-connect)" {
	local a
	for a in "${BAD_ADDRESSES[@]}"; do
		bad_address usock-connect "$a"
	done
}

@test "bad addresses: exit 2, PROG: address 'X': why (usock-listen)" {
	local a
	for a in "${BAD_ADDRESSES[@]}"; do
		bad_address usock-listen "$a"
	done
}

@test "abstract name longer than 107 bytes: exit 2" {
	local long
	long=$(printf 'a%.0s' {1..120})
	run -2 usock-connect "@$long" </dev/null
	run -2 usock-listen "@$long" </dev/null
}

# long_options TOOL: the long options listed by TOOL --help, one a line.
long_options() {
	"$1" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# man_options FILE: the long options the mdoc page FILE names with Fl
# ('\-' read as '-'), one a line.  A `--name` in a literal example (a
# command line of another program) is not one of them.
man_options() {
	sed 's/\\-/-/g' "$1" | grep -oE -- 'Fl -[a-z][a-z0-9-]*' | sed 's/^Fl -/--/' | sort -u
}

# completion_options FILE: every `--name` in the completion file FILE.
completion_options() {
	grep -oE -- '--[a-z][a-z0-9-]*' "$1" | sort -u
}

# man_cross_ref FILE OPT: OPT appears in FILE only in paragraphs that
# name, with .Xr, another tool whose --help lists OPT (a cross-reference
# such as "as usock-listen's --keep-open does").
man_cross_ref() {
	local file=$1 opt=$2 tool
	local tools
	tools=$(sed 's/\\-/-/g' "$file" | awk -v o="Fl ${opt#-}" '
		/^\.(Pp|It|Sh|Ss|Bl|El|Bd|Ed)( |$)/ { if (has) print "-" xr; has = 0; xr = "" }
		/^\.Xr / { xr = xr " " $2 }
		index($0, o) { rest = substr($0, index($0, o) + length(o), 1)
			if (rest !~ /[a-z0-9-]/) has = 1 }
		END { if (has) print "-" xr }')
	[ -n "$tools" ] || return 1
	local para
	while read -r para; do
		local ok=0
		for tool in $para; do
			[[ " ${ALL_TOOLS[*]} " == *" $tool "* ]] || continue
			long_options "$tool" | grep -qx -- "$opt" && ok=1
		done
		[ "$ok" = 1 ] || return 1
	done <<<"$tools"
}

# check_listed TOOL FILE KIND: TOOL --help and FILE (KIND man: an mdoc
# page; completion: a bash or zsh completion file) list the same long
# options, both ways: every option of --help is in FILE, and every
# option FILE names is one of TOOL's (in a man page, or another tool's
# in a cross-reference that names that tool).
check_listed() {
	local tool=$1 file=$2 kind=$3 opt missing=() extra=()
	assert_file_exists "$file"
	local help listed
	help=$(long_options "$tool")
	if [ "$kind" = man ]; then
		listed=$(man_options "$file")
	else
		listed=$(completion_options "$file")
	fi
	for opt in $help; do
		grep -qx -- "$opt" <<<"$listed" || missing+=("$opt")
	done
	for opt in $listed; do
		grep -qx -- "$opt" <<<"$help" && continue
		[ "$kind" = man ] && man_cross_ref "$file" "$opt" && continue
		extra+=("$opt")
	done
	[ "${#missing[@]}${#extra[@]}" = 00 ] ||
		fail "$file lacks: ${missing[*]:-none}; lists options $tool --help does not: ${extra[*]:-none}"
}

@test "--help lists the options (sanity for the consistency checks)" {
	run -0 long_options usock-connect
	local o
	for o in --wait --probe --timeout --interactive --no-interactive --hexdump --verbose --quiet --help --version; do
		assert_line "$o"
	done
	run -0 long_options usock-listen
	for o in --keep-open --max-conns --mode --owner --backlog --print-address --hexdump --verbose --quiet --help --version; do
		assert_line "$o"
	done
}

@test "every long option of usock-connect --help is in man/usock-connect.1" {
	check_listed usock-connect "$ROOT/man/usock-connect.1" man
}

@test "every long option of usock-listen --help is in man/usock-listen.1" {
	check_listed usock-listen "$ROOT/man/usock-listen.1" man
}

@test "every long option of usock-connect --help is in the bash and zsh completions" {
	check_listed usock-connect "$ROOT/completions/bash/usock-connect" completion
	check_listed usock-connect "$ROOT/completions/zsh/_usock-connect" completion
}

@test "every long option of usock-listen --help is in the bash and zsh completions" {
	check_listed usock-listen "$ROOT/completions/bash/usock-listen" completion
	check_listed usock-listen "$ROOT/completions/zsh/_usock-listen" completion
}

ALL_TOOLS=(usock-connect usock-listen tcp2unix sockinfo usock-bench)

@test "every tool: a bad option is exactly one line PROG: ... naming it, exit 2" {
	local tool
	for tool in "${ALL_TOOLS[@]}"; do
		run -2 --separate-stderr "$tool" --no-such-option
		assert_output ""
		assert_equal "${#stderr_lines[@]}" 1
		assert_regex "$stderr" "^$tool: .*--no-such-option"
		run -2 --separate-stderr "$tool" --help=1
		assert_equal "${#stderr_lines[@]}" 1
		assert_regex "$stderr" "^$tool: .*--help"
	done
}

@test "every tool: --help, man page, bash and zsh completions list the same long options" {
	local tool
	for tool in "${ALL_TOOLS[@]}"; do
		check_listed "$tool" "$ROOT/man/$tool.1" man
		check_listed "$tool" "$ROOT/completions/bash/$tool" completion
		check_listed "$tool" "$ROOT/completions/zsh/_$tool" completion
	done
}

@test "the option lists are compared both ways: an option only in a man page or a completion fails" {
	# a copy with one stray option each, and one cross-reference
	cp "$ROOT/man/usock-connect.1" "$T/c.1"
	printf '.Pp\nAs\n.Xr usock-listen 1\n.Fl \\-keep-open\ndoes.\n' >>"$T/c.1"
	check_listed usock-connect "$T/c.1" man
	printf '.Pp\nSee\n.Fl \\-keep-open .\n' >>"$T/c.1"
	run check_listed usock-connect "$T/c.1" man
	assert_failure
	assert_output --partial "options usock-connect --help does not: --keep-open"
	cp "$ROOT/man/usock-connect.1" "$T/d.1"
	printf '.It Fl \\-frobnicate\n' >>"$T/d.1"
	run check_listed usock-connect "$T/d.1" man
	assert_failure
	assert_output --partial "does not: --frobnicate"
	sed 's/--wait/--wiat/g' "$ROOT/completions/zsh/_usock-connect" >"$T/_c"
	run check_listed usock-connect "$T/_c" completion
	assert_failure
	assert_output --partial "lacks: --wait"
	assert_output --partial "does not: --wiat"
	# a literal example's command line is not an option of the page
	cp "$ROOT/man/usock-connect.1" "$T/e.1"
	printf '.Bd -literal\ngunicorn --bind unix:/run/a.sock\n.Ed\n' >>"$T/e.1"
	check_listed usock-connect "$T/e.1" man
}
