#!/usr/bin/env python3
"""Test server for the usock suite: echo, delayed answer, idle, PONG, drip, sink.

usage: server.py ADDRESS [--mode MODE] [--count N] [options]
Each accepted connection is handled in its own thread; after --count
connections (0: forever) the server waits for them and exits."""
import argparse
import hashlib
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
ap.add_argument("--mode", default="echo",
                choices=["echo", "answer", "idle", "pong", "drip", "sink", "flood"])
ap.add_argument("--count", type=int, default=1)
ap.add_argument("--port-file", help="write the bound port here once listening")
ap.add_argument("--ready-file", help="create this file once listening")
ap.add_argument("--record", help="append every byte received to this file")
ap.add_argument("--sha-file", help="write sha256 and length of the bytes received")
ap.add_argument("--delay-after-eof", type=float, default=0.0)
ap.add_argument("--answer-bytes", type=int, default=0)
ap.add_argument("--answer-file")
ap.add_argument("--drip", type=int, default=5, help="drip: bytes to send")
ap.add_argument("--drip-interval", type=float, default=0.3)
ap.add_argument("--mode-after-bind", help="chmod the socket file to this octal mode")
args = ap.parse_args()

lock = threading.Lock()


def recv_all(c, sink):
    n = 0
    h = hashlib.sha256()
    while True:
        b = c.recv(65536)
        if not b:
            return n, h.hexdigest()
        n += len(b)
        h.update(b)
        if sink:
            sink(b)


def recorder():
    if not args.record:
        return None
    def w(b):
        with lock, open(args.record, "ab") as f:
            f.write(b)
    return w


def finish(n, digest):
    if args.sha_file:
        with open(args.sha_file + ".tmp", "w") as f:
            f.write("%s %d\n" % (digest, n))
        os.rename(args.sha_file + ".tmp", args.sha_file)


def handle(c):
    rec = recorder()
    try:
        if args.mode == "echo":
            h = hashlib.sha256()
            n = 0
            while True:
                b = c.recv(65536)
                if not b:
                    break
                n += len(b)
                h.update(b)
                if rec:
                    rec(b)
                c.sendall(b)
            finish(n, h.hexdigest())
            c.shutdown(socket.SHUT_WR)
            while c.recv(65536):
                pass
        elif args.mode == "answer":
            n, d = recv_all(c, rec)
            finish(n, d)
            time.sleep(args.delay_after_eof)
            if args.answer_file:
                with open(args.answer_file, "rb") as f:
                    c.sendall(f.read())
            else:
                pat = bytes(range(256)) * 4096
                left = args.answer_bytes
                while left > 0:
                    k = min(left, len(pat))
                    c.sendall(pat[:k])
                    left -= k
            c.shutdown(socket.SHUT_WR)
        elif args.mode == "idle":
            # never sends; keeps the connection open even after the peer's EOF
            n, d = recv_all(c, rec)
            finish(n, d)
            time.sleep(3600)
        elif args.mode == "pong":
            f = c.makefile("rb")
            line = f.readline()
            if rec:
                rec(line)
            c.sendall(b"PONG\n" if line.strip() == b"PING" else b"WHAT\n")
            c.shutdown(socket.SHUT_WR)
        elif args.mode == "drip":
            for i in range(args.drip):
                c.sendall(b"%d" % (i % 10))
                time.sleep(args.drip_interval)
            c.shutdown(socket.SHUT_WR)
            recv_all(c, rec)
        elif args.mode == "flood":
            blk = b"x" * 65536
            try:
                while True:
                    c.sendall(blk)
            except OSError:
                pass
        elif args.mode == "sink":
            c.shutdown(socket.SHUT_WR)
            n, d = recv_all(c, rec)
            finish(n, d)
    except OSError as e:
        print("server.py: %s" % e, file=sys.stderr)
    finally:
        c.close()


s = sockaddr.listen(args.address,
                   mode=int(args.mode_after_bind, 8) if args.mode_after_bind else None)
if args.port_file:
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(args.port_file + ".tmp", args.port_file)
if args.ready_file:
    open(args.ready_file, "w").close()
threads = []
served = 0
while args.count == 0 or served < args.count:
    c, _ = s.accept()
    served += 1
    t = threading.Thread(target=handle, args=(c,))
    t.start()
    threads.append(t)
s.close()
for t in threads:
    t.join()
