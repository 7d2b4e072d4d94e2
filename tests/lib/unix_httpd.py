#!/usr/bin/env python3
"""A threaded HTTP/1.1 server on a UNIX socket, for the tcp2unix tests.

usage: unix_httpd.py PATH DIR [--ready-file F]
Serves the files of DIR with keep-alive (HTTP/1.1, Content-Length) on the
UNIX stream socket PATH, one thread per connection, until killed."""
import argparse
import functools
import http.server
import os
import socketserver

ap = argparse.ArgumentParser()
ap.add_argument("path")
ap.add_argument("dir")
ap.add_argument("--ready-file")
args = ap.parse_args()


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    # a UNIX peer has no (host, port): name it by its socket instead
    def address_string(self):
        return "unix"

    def log_message(self, fmt, *a):
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


if os.path.exists(args.path):
    os.unlink(args.path)
srv = Server(args.path, functools.partial(Handler, directory=args.dir))
if args.ready_file:
    open(args.ready_file, "w").close()
try:
    srv.serve_forever()
finally:
    os.unlink(args.path)
