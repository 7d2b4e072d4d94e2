#!/usr/bin/env python3
"""A server that tells each client the name it sees for it.

usage: peername.py ADDRESS --ready F
  ADDRESS is a UNIX path, @NAME (abstract) or HOST:PORT ([V6]:PORT); port
  0 picks one, written into F.  For each connection: send the peer name
  as the kernel reports it (getpeername) and a newline, then close.  A
  UNIX name is written as is ("@" + name for the abstract namespace,
  empty for an unnamed client); a TCP one as HOST PORT.
"""
import argparse
import os
import socket

ap = argparse.ArgumentParser()
ap.add_argument("address")
ap.add_argument("--ready", required=True)
a = ap.parse_args()

if "/" in a.address or a.address.startswith("@"):
    s = socket.socket(socket.AF_UNIX)
    s.bind("\0" + a.address[1:] if a.address.startswith("@") else a.address)
    port = ""
else:
    host, _, p = a.address.rpartition(":")
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(p)))
    port = str(s.getsockname()[1])
s.listen(16)
with open(a.ready + ".tmp", "w") as f:
    f.write(port)
os.rename(a.ready + ".tmp", a.ready)
while True:
    c, _ = s.accept()
    name = c.getpeername()
    if c.family == socket.AF_UNIX:
        if isinstance(name, bytes):
            name = name.decode("utf-8", "surrogateescape")
        text = "@" + name[1:] if name.startswith("\0") else name
    else:
        text = "%s %d" % (name[0], name[1])
    c.sendall(text.encode("utf-8", "surrogateescape") + b"\n")
    c.close()
