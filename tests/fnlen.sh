#!/bin/bash
# fnlen.sh [MAX] [FILE...]: fail, listing them, when a function in FILE
# (default: lib/*/*.c cmd/*.c) is longer than MAX lines (default 80),
# counted from the line that names it to its closing brace.  Functions
# are written as the style guide has them: the name at the start of a
# line, the body's braces alone at the start of theirs.
max=${1:-80}
shift
[ $# -gt 0 ] || set -- lib/*/*.c cmd/*.c
awk -v max="$max" '
	FNR == 1 { infn = 0; sig = 0 }
	!infn && /^[A-Za-z_].*\(/ && !/;[[:space:]]*$/ { sig = FNR; line = $0 }
	!infn && /^\{[[:space:]]*$/ && sig {
		infn = 1; start = sig
		name = line; sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
	}
	infn && /^\}/ {
		infn = 0; sig = 0
		n = FNR - start + 1
		if (n > max) { printf "%s:%d: %s is %d lines (at most %d)\n", FILENAME, start, name, n, max; bad = 1 }
	}
	END { exit bad }
' "$@"
