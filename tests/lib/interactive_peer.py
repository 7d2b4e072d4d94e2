#!/usr/bin/env python3
"""A scripted peer for tests/interactive.bats.

usage: interactive_peer.py PATH --log FILE --ctl FIFO --ready FILE
                           [--count N] [--after-eof SECONDS TEXT]

Listens on the UNIX socket PATH (or, for PATH "tcp", on 127.0.0.1 at a
free port, written into --ready) and serves N connections (default 1) one
after the other.  Every byte received is appended to --log (flushed at
once); a connection's end of file is logged as a line "<EOF>" in
--log.events.  Lines written to the FIFO --ctl act on the connection:
  send TEXT    send TEXT, with Python escapes (\\n, \\x1b, \\r) decoded
  close        close the connection
  reset        close it with a reset (SO_LINGER 0; TCP only)
With --after-eof, at the client's end of file the peer waits SECONDS,
sends TEXT (escapes decoded) and closes; without it, it closes at once.
"""
import argparse
import os
import selectors
import socket
import struct
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("path")
ap.add_argument("--log", required=True)
ap.add_argument("--ctl", required=True)
ap.add_argument("--ready", required=True)
ap.add_argument("--count", type=int, default=1)
ap.add_argument("--after-eof", nargs=2, metavar=("SECONDS", "TEXT"))
args = ap.parse_args()


def unescape(text):
    # UTF-8 stays as it is; \xHH is one byte
    return text.encode().decode("unicode_escape").encode("latin-1")


def log(data, suffix=""):
    with open(args.log + suffix, "ab") as f:
        f.write(data)


os.mkfifo(args.ctl)
ctl = os.open(args.ctl, os.O_RDWR | os.O_NONBLOCK)  # never sees EOF
if args.path == "tcp":
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    ready = str(srv.getsockname()[1])
else:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.path)
    ready = ""
srv.listen(1)
with open(args.ready + ".tmp", "w") as f:
    f.write(ready)
os.rename(args.ready + ".tmp", args.ready)

sel = selectors.DefaultSelector()
sel.register(ctl, selectors.EVENT_READ, "ctl")
pending = b""
for _ in range(args.count):
    conn, _ = srv.accept()
    sel.register(conn, selectors.EVENT_READ, "conn")
    open_ = True
    while open_:
        for key, _ in sel.select():
            if key.data == "ctl":
                pending += os.read(ctl, 65536)
                while b"\n" in pending and open_:
                    line, pending = pending.split(b"\n", 1)
                    cmd, _, arg = line.decode().partition(" ")
                    if cmd == "send":
                        conn.sendall(unescape(arg))
                    elif cmd == "close":
                        open_ = False
                    elif cmd == "reset":
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                        open_ = False
                continue
            data = conn.recv(65536)
            if data:
                log(data)
                continue
            log(b"<EOF>\n", ".events")
            if args.after_eof:
                time.sleep(float(args.after_eof[0]))
                conn.sendall(unescape(args.after_eof[1]))
            open_ = False
    sel.unregister(conn)
    conn.close()
sys.exit(0)
