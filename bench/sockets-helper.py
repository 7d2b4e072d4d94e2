#!/usr/bin/env python3
"""Hold N listening UNIX sockets for benchmarks: DIR/s0.sock ... DIR/s<N-1>.sock.

usage: sockets-helper.py DIR N
Prints "ready N" on stdout once every socket listens, then holds them until
stdin reaches end of file (or SIGTERM/SIGINT), and removes the files."""
import os
import resource
import signal
import socket
import sys

d, n = sys.argv[1], int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 64
if soft < want:
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit("sockets-helper: the open-file limit (%d) is below %d" % (hard, want))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
os.makedirs(d, exist_ok=True)
socks = []
paths = []


def cleanup(*_):
    for p in paths:
        try:
            os.unlink(p)
        except OSError:
            pass
    sys.exit(0)


signal.signal(signal.SIGTERM, cleanup)
signal.signal(signal.SIGINT, cleanup)
for i in range(n):
    p = os.path.join(d, "s%d.sock" % i)
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(p)
    s.listen(8)
    socks.append(s)
    paths.append(p)
print("ready %d" % n, flush=True)
sys.stdin.read()
cleanup()
