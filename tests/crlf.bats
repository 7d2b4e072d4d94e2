#!/usr/bin/env bats
# --crlf on pipes (usock-connect, usock-listen's stdio mode): each LF of
# standard input goes out as CR LF, like nc -C.

load helpers

@test "usock-connect --crlf from a pipe: an HTTP/1.0 request ends in CR LF CR LF" {
	start_server "$T/s.sock" --mode sink --record "$T/got"
	run -0 usock-connect --crlf "$T/s.sock" < <(printf 'GET / HTTP/1.0\nHost: x\n\n')
	wait_for_file "$T/got"
	assert_equal "$(cat "$T/got")" "$(printf 'GET / HTTP/1.0\r\nHost: x\r\n\r')"
	assert_equal "$(stat -c %s "$T/got")" 27
}

@test "usock-connect --crlf: nginx answers a request typed with bare LFs" {
	command -v nginx >/dev/null || skip "nginx not installed"
	local port
	port=$(free_port)
	mkdir -p "$T/www" "$T/ng"
	echo hello >"$T/www/index.html"
	chmod 755 "$T" "$T/www"   # nginx's worker is not root
	cat >"$T/ng/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $T/ng/nginx.pid;
error_log $T/ng/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $T/ng; proxy_temp_path $T/ng; fastcgi_temp_path $T/ng;
  uwsgi_temp_path $T/ng; scgi_temp_path $T/ng;
  server { listen 127.0.0.1:$port; root $T/www; }
}
CONF
	start_bg nginx -p "$T/ng" -c "$T/ng/nginx.conf"
	wait_for_port "$port"
	run -0 usock-connect --crlf "127.0.0.1:$port" < <(printf 'GET /index.html HTTP/1.0\n\n')
	assert_line --index 0 --regexp $'^HTTP/1\\.1 200 OK\r$'
	assert_output --partial hello
}

@test "usock-connect --crlf: 300 000 LFs across many reads all become CR LF" {
	start_server "$T/s.sock" --mode sink --record "$T/got"
	head -c 300000 /dev/zero | tr '\0' '\n' >"$T/in"
	run -0 usock-connect --crlf "$T/s.sock" <"$T/in"
	wait_for_file "$T/got"
	assert_equal "$(stat -c %s "$T/got")" 600000
	assert_equal "$(tr -d '\r' <"$T/got" | cmp - "$T/in" && echo same)" same
}

@test "usock-listen --crlf: the client gets CR LF for each LF of stdin" {
	printf 'a\nb\n' | start_bg usock-listen --crlf "$T/s.sock"
	wait_for_socket "$T/s.sock"
	run -0 run_to "$T/got" usock-connect "$T/s.sock" </dev/null
	assert_equal "$(od -An -c "$T/got" | tr -s ' ')" " a \\r \\n b \\r \\n"
	run -2 --separate-stderr usock-listen --crlf "$T/x.sock" -- cat
	assert_equal "$stderr" "usock-listen: cannot use --crlf with a COMMAND"
	run -2 --separate-stderr usock-connect --crlf -z "$T/s.sock"
	assert_regex "$stderr" '^usock-connect: cannot use --probe with --crlf'
	# the name in the refusal is printed escaped, as every name
	run -2 --separate-stderr usock-listen --crlf "unix-dgram:$T/d"$'\e[2J'.sock
	assert_equal "$stderr" "usock-listen: --crlf: only for stream addresses, not 'unix-dgram:$T/d\\x1b[2J.sock'"
}
