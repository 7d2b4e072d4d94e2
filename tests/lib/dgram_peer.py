#!/usr/bin/env python3
"""A real datagram or seqpacket peer for tests/dgram.bats.

  dgram_peer.py serve ADDR --out FILE [--count N] [--type dgram|seqpacket]
                [--answer PREFIX] [--ready-file F]
      bind ADDR (a path, or @name for the abstract namespace); for
      seqpacket listen and accept one connection.  Receive N messages (a
      datagram socket) or every record until end of file (seqpacket),
      answer each with PREFIX + message when --answer is given, and write
      one line per message to FILE: its length and its bytes in hex.
  dgram_peer.py hold ADDR --ready-file F
      bind a datagram socket and never read it (its queue fills).
  dgram_peer.py send ADDR [--bind] [--answers N] [--out FILE] MSG...
      send each MSG as one datagram (from an autobound socket with
      --bind) and write the N answers, one line each as above, to FILE.
"""
import argparse
import os
import socket
import sys
import time


def sockaddr(a):
    return "\0" + a[1:] if a.startswith("@") else a


def line(m):
    return "%d %s\n" % (len(m), m.hex())


def ready(path):
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("ready\n")
        os.rename(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["serve", "hold", "send"])
    p.add_argument("addr")
    p.add_argument("msgs", nargs="*")
    p.add_argument("--type", default="dgram")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--answer")
    p.add_argument("--answers", type=int, default=0)
    p.add_argument("--bind", action="store_true")
    p.add_argument("--out")
    p.add_argument("--ready-file")
    o = p.parse_intermixed_args()
    typ = socket.SOCK_SEQPACKET if o.type == "seqpacket" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_UNIX, typ)
    if o.mode == "send":
        if o.bind:
            s.bind("")
        for m in o.msgs:
            s.sendto(m.encode(), sockaddr(o.addr))
        s.settimeout(10)
        with open(o.out or os.devnull, "w") as f:
            for _ in range(o.answers):
                f.write(line(s.recv(1 << 22)))
        return 0
    s.bind(sockaddr(o.addr))
    if o.mode == "hold":
        ready(o.ready_file)
        while True:
            time.sleep(60)
    if typ == socket.SOCK_SEQPACKET:
        s.listen(1)
        ready(o.ready_file)
        c, _ = s.accept()
    else:
        ready(o.ready_file)
        c = s
    got = []
    while typ == socket.SOCK_SEQPACKET or len(got) < o.count:
        m, frm = c.recvfrom(1 << 22)
        if typ == socket.SOCK_SEQPACKET and not m:
            break
        got.append(m)
        if o.answer is not None:
            if typ == socket.SOCK_SEQPACKET:
                c.send(o.answer.encode() + m)
            elif frm:
                s.sendto(o.answer.encode() + m, frm)
    with open(o.out, "w") as f:
        for m in got:
            f.write(line(m))
    if typ == socket.SOCK_SEQPACKET:
        c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
