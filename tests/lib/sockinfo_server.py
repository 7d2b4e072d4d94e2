#!/usr/bin/env python3
"""A socket for the sockinfo tests: bound, listening (or not), accepting
(or not), with a given mode and group.

usage: sockinfo_server.py ADDRESS [--type stream|dgram|seqpacket] [--mode OCTAL]
         [--group GID] [--backlog N] [--no-listen] [--accept] [--count-file F]
         [--ready-file F] [--port-file F]
ADDRESS: a path (reached through its directory when past sun_path), @NAME,
HOST:PORT or [V6]:PORT.  --accept counts accepted connections in
--count-file; without it the listener never accepts."""
import argparse
import os
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("address")
ap.add_argument("--type", default="stream", choices=["stream", "dgram", "seqpacket"])
ap.add_argument("--mode")
ap.add_argument("--group", type=int)
ap.add_argument("--backlog", type=int, default=16)
ap.add_argument("--no-listen", action="store_true")
ap.add_argument("--accept", action="store_true")
ap.add_argument("--count-file")
ap.add_argument("--ready-file")
ap.add_argument("--port-file")
args = ap.parse_args()

TYPES = {"stream": socket.SOCK_STREAM, "dgram": socket.SOCK_DGRAM,
         "seqpacket": socket.SOCK_SEQPACKET}


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


a = args.address
if a.startswith("@") or "/" in a:
    s = socket.socket(socket.AF_UNIX, TYPES[args.type])
    if a.startswith("@"):
        s.bind("\0" + a[1:])
    elif len(os.fsencode(a)) > 100:
        d, name = os.path.split(a)
        old = os.open(".", os.O_RDONLY)
        os.chdir(d)
        s.bind(name)
        os.fchdir(old)
    else:
        s.bind(a)
    if "/" in a and not a.startswith("@"):
        if args.mode:
            os.chmod(a, int(args.mode, 8))
        if args.group is not None:
            os.chown(a, -1, args.group)
else:
    host, _, port = a.rpartition(":")
    fam = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host.strip("[]"), int(port)))
    if args.port_file:
        write(args.port_file, "%d\n" % s.getsockname()[1])
if args.type != "dgram" and not args.no_listen:
    s.listen(args.backlog)
if args.count_file:
    write(args.count_file, "0\n")
if args.ready_file:
    write(args.ready_file, "%d\n" % os.getpid())
held = []
n = 0
while True:
    if args.accept:
        c, _ = s.accept()
        held.append(c)
        n += 1
        if args.count_file:
            write(args.count_file, "%d\n" % n)
    else:
        time.sleep(3600)
