#!/usr/bin/env python3
"""Sockets with hostile names, for the tests of tests/names.bats.

usage: names.py COMMAND ...
  listen NAMEHEX [--comm HEX] --ready F
      bind a UNIX stream socket to the bytes NAMEHEX (a leading 00: the
      abstract namespace; a relative name binds in the current directory),
      name the process COMM (prctl PR_SET_NAME), listen, create F, then
      answer every connection with "hi" and close it, until killed
  client NAMEHEX TARGET
      bind a client socket to NAMEHEX, connect to the path TARGET, send
      "x", half-close, print what comes back
  proxy-target PATH --ready F --out O
      accept one connection on PATH, read it to EOF; a PROXY v2 header's
      AF_UNIX destination block, NUL bytes stripped, goes to O (hex), and
      the payload after the header follows on the next line
"""
import argparse
import ctypes
import os
import socket
import struct
import sys


def ready(path):
    with open(path + ".tmp", "w"):
        pass
    os.rename(path + ".tmp", path)


def listen(a):
    if a.comm is not None:
        ctypes.CDLL(None).prctl(15, bytes.fromhex(a.comm), 0, 0, 0)
    s = socket.socket(socket.AF_UNIX)
    s.bind(bytes.fromhex(a.name))
    s.listen(16)
    ready(a.ready)
    while True:
        c, _ = s.accept()
        c.sendall(b"hi\n")
        c.close()


def client(a):
    s = socket.socket(socket.AF_UNIX)
    s.bind(bytes.fromhex(a.name))
    s.connect(a.target)
    s.sendall(b"x")
    s.shutdown(socket.SHUT_WR)
    d = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        d += b
    sys.stdout.write(d.decode("latin-1"))


def proxy_target(a):
    s = socket.socket(socket.AF_UNIX)
    s.bind(a.path)
    s.listen(4)
    ready(a.ready)
    c, _ = s.accept()
    d = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        d += b
    assert d[:12] == b"\r\n\r\n\x00\r\nQUIT\n" and d[12] == 0x21, d[:16]
    fam, ln = d[13], struct.unpack(">H", d[14:16])[0]
    assert fam == 0x31, fam
    dst = d[124:232].rstrip(b"\0")
    with open(a.out, "w") as f:
        f.write(dst.hex() + "\n" + d[16 + ln:].decode("latin-1") + "\n")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    x = sub.add_parser("listen")
    x.add_argument("name")
    x.add_argument("--comm")
    x.add_argument("--ready", required=True)
    x = sub.add_parser("client")
    x.add_argument("name")
    x.add_argument("target")
    x = sub.add_parser("proxy-target")
    x.add_argument("path")
    x.add_argument("--ready", required=True)
    x.add_argument("--out", required=True)
    a = p.parse_args()
    {"listen": listen, "client": client, "proxy-target": proxy_target}[a.cmd](a)


if __name__ == "__main__":
    main()
