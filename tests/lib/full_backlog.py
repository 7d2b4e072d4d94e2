#!/usr/bin/env python3
"""A listener whose backlog is full and that never accepts.

usage: full_backlog.py PATH|PORT --ready-file FILE

PATH (with a '/'): a UNIX stream socket; a connect() to it gets EAGAIN
(blocks, when blocking).  PORT: TCP on 127.0.0.1 with the accept queue
full, so the kernel drops further SYNs and a connect stays pending.  The
ready file is created once the backlog is full; then it sleeps until
killed."""
import argparse
import select
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("address")
ap.add_argument("--ready-file", required=True)
args = ap.parse_args()

held = []
if "/" in args.address:
    s = socket.socket(socket.AF_UNIX)
    s.bind(args.address)
    s.listen(0)
    while True:                      # fill the backlog, never accept
        c = socket.socket(socket.AF_UNIX)
        c.setblocking(False)
        try:
            c.connect(args.address)
        except BlockingIOError:
            c.close()
            break
        held.append(c)
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(args.address)))
    s.listen(0)
    # one connection fills an accept queue of 0 (the kernel allows
    # backlog + 1); a few more to be sure, each left half-open
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", int(args.address)))
        except BlockingIOError:
            pass
        held.append(c)
    # the first one completes and fills the queue: wait for it
    select.select([], [held[0]], [], 5)
open(args.ready_file, "w").close()
while True:
    time.sleep(3600)
