#!/usr/bin/env python3
"""Test client for the usock suite.

usage: client.py ADDRESS [--send TEXT | --send-file F] [--out F] [--pid-file F]
                 [--hold-file F] [--no-half-close] [--retry SECONDS]
Sends the data (in a thread), then half-closes (after --hold-file exists,
if given) and copies everything received to --out or stdout until EOF."""
import argparse
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sockaddr  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("address")
ap.add_argument("--send", default="")
ap.add_argument("--send-file")
ap.add_argument("--out")
ap.add_argument("--pid-file")
ap.add_argument("--pid-stderr", action="store_true", help="print the pid on stderr")
ap.add_argument("--hold-file")
ap.add_argument("--no-half-close", action="store_true")
ap.add_argument("--retry", type=float, default=0.0)
ap.add_argument("--timeout", type=float, default=30.0)
args = ap.parse_args()

if args.pid_file:
    with open(args.pid_file, "w") as f:
        f.write("%d\n" % os.getpid())
if args.pid_stderr:
    print(os.getpid(), file=sys.stderr, flush=True)
s = sockaddr.connect(args.address, args.retry)
s.settimeout(args.timeout)


def send():
    try:
        if args.send_file:
            with open(args.send_file, "rb") as f:
                while True:
                    b = f.read(65536)
                    if not b:
                        break
                    s.sendall(b)
        elif args.send:
            s.sendall(args.send.encode())
        if args.hold_file:
            deadline = time.monotonic() + args.timeout
            while not os.path.exists(args.hold_file) and time.monotonic() < deadline:
                time.sleep(0.02)
        if not args.no_half_close:
            s.shutdown(socket.SHUT_WR)
    except OSError as e:
        print("client.py: send: %s" % e, file=sys.stderr)


t = threading.Thread(target=send)
t.start()
out = open(args.out, "wb") if args.out else sys.stdout.buffer
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out.write(b)
    out.flush()
except OSError as e:
    print("client.py: recv: %s" % e, file=sys.stderr)
    sys.exit(1)
t.join()
