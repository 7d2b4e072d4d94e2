#!/usr/bin/env python3
"""Hold N connections to a UNIX socket path for the sockinfo tests.

usage: sockinfo_clients.py PATH N [--type stream|seqpacket|dgram] [--ready-file F]"""
import argparse
import os
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("path")
ap.add_argument("n", type=int)
ap.add_argument("--type", default="stream", choices=["stream", "dgram", "seqpacket"])
ap.add_argument("--ready-file")
args = ap.parse_args()
t = {"stream": socket.SOCK_STREAM, "dgram": socket.SOCK_DGRAM,
     "seqpacket": socket.SOCK_SEQPACKET}[args.type]
held = []
for _ in range(args.n):
    c = socket.socket(socket.AF_UNIX, t)
    c.connect(args.path)
    held.append(c)
if args.ready_file:
    with open(args.ready_file + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(args.ready_file + ".tmp", args.ready_file)
time.sleep(3600)
