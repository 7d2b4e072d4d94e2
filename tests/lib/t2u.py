#!/usr/bin/env python3
"""Clients and servers for the tcp2unix tests.

usage: t2u.py COMMAND ...
 servers (each creates --ready-file F once listening, then runs until killed):
  echo-server ADDR [--backlog N]
      asyncio echo server (many connections, deep backlog); echoes until
      the peer's EOF, then half-closes and waits for the peer to close
  full-backlog ADDR
      listen with backlog 0 and fill the queue; never accept
  two-writes ADDR
      for each line received, answer "head\\n" and, 2 ms later, "body\\n"
  early-answer ADDR
      for each connection: read 10 bytes, answer "413 too large\\n" and
      close without reading the rest
 clients (exit 0 when every check passed, else 1 with a message):
  many ADDR N [--opened-file F --go-file G]
      open N connections at once (then create F and wait for G), send
      each a distinct message, half-close, check each echo; prints "N ok"
  proxy-check ADDR v1|v2 [--bind PATH]
      through a bridge in front of an echo server: send a payload and
      check that what comes back is the expected PROXY header followed by
      the payload, byte for byte (the header is computed from this
      client's own socket addresses); prints the header's length
  half-close TARGET BRIDGE --first client|server [--size N] [--delay S]
      serve TARGET and connect through BRIDGE; one side sends SIZE bytes
      and half-closes, the other answers DELAY seconds later with SIZE
      bytes and half-closes; both check what they received
  upload ADDR SIZE
      send SIZE bytes (ignoring a refusal to take them) while printing
      what arrives, until the end of the connection
  stall ADDR --ready-file F
      connect, create F, and never read; ends when killed
  ping ADDR N
      N rounds of: send a line, wait for "head\\nbody\\n"; prints the
      seconds they took"""
import argparse
import asyncio
import hashlib
import ipaddress
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sockaddr  # noqa: E402


def die(msg):
    print("t2u.py: %s" % msg, file=sys.stderr)
    sys.exit(1)


def ready(path):
    if path:
        open(path, "w").close()


def listen_sock(addr, backlog):
    family, sa, _ = sockaddr.parse(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    if family != socket.AF_UNIX:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(sa)
    s.listen(backlog)
    return s


def connect(addr, bind=None, timeout=30):
    family, sa, _ = sockaddr.parse(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    if bind:
        s.bind(bind)
    s.settimeout(timeout)
    s.connect(sa)
    return s


def recv_to_eof(s, out=None):
    """Everything S sends until EOF (written to OUT as it comes, if given)."""
    chunks = []
    while True:
        b = s.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        if out:
            out.write(b)
        chunks.append(b)


def serve_each(a, handle, backlog=16):
    """Listen on a.addr and run HANDLE(connection) in a thread for each."""
    lst = listen_sock(a.addr, backlog)
    ready(a.ready_file)
    while True:
        c, _ = lst.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


# ---- servers ---------------------------------------------------------------

async def echo_conn(reader, writer):
    try:
        while True:
            b = await reader.read(65536)
            if not b:
                break
            writer.write(b)
            await writer.drain()
        writer.write_eof()
        while await reader.read(65536):
            pass
    except OSError:
        pass
    finally:
        writer.close()


async def echo_server(a):
    s = listen_sock(a.addr, a.backlog)
    if s.family == socket.AF_UNIX:
        srv = await asyncio.start_unix_server(echo_conn, sock=s)
    else:
        srv = await asyncio.start_server(echo_conn, sock=s)
    ready(a.ready_file)
    async with srv:
        await srv.serve_forever()


def full_backlog(a):
    lst = listen_sock(a.addr, 0)
    family, sa, _ = sockaddr.parse(a.addr)
    held = []
    # connect without blocking until the queue takes no more (UNIX), or a
    # few more than it holds (TCP: the kernel drops their SYNs)
    for _ in range(64):
        c = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        try:
            c.connect(sa)
        except BlockingIOError:
            if family == socket.AF_UNIX:
                c.close()
                break
        held.append(c)
        if family != socket.AF_UNIX and len(held) >= 4:
            break
    ready(a.ready_file)
    time.sleep(3600)
    lst.close()


def two_writes(a):
    def handle(c):
        for _ in c.makefile("rb"):
            c.sendall(b"head\n")
            time.sleep(0.002)
            c.sendall(b"body\n")
        c.close()
    serve_each(a, handle)


def early_answer(a):
    def handle(c):
        c.recv(10)
        c.sendall(b"413 too large\n")
        c.close()
    serve_each(a, handle)


# ---- clients ---------------------------------------------------------------

async def many(a):
    family, sa, _ = sockaddr.parse(a.addr)
    conns = []
    for i in range(a.n):
        try:
            if family == socket.AF_UNIX:
                conns.append(await asyncio.open_unix_connection(sa))
            else:
                conns.append(await asyncio.open_connection(sa[0], sa[1]))
        except OSError as e:
            print("t2u.py: connection %d: %s" % (i, e), file=sys.stderr)
            conns.append(None)
    # all N are open now: send, half-close, check each echo
    if a.opened_file:
        ready(a.opened_file)
        deadline = time.monotonic() + a.timeout
        while a.go_file and not os.path.exists(a.go_file):
            if time.monotonic() > deadline:
                die("%s did not appear" % a.go_file)
            await asyncio.sleep(0.02)

    async def one(i, rw):
        if rw is None:
            return False
        r, w = rw
        msg = (b"connection %d " % i) * (1 + i % 7)
        try:
            w.write(msg)
            await w.drain()
            w.write_eof()
            got = await r.read(-1)
        except OSError as e:
            print("t2u.py: connection %d: %s" % (i, e), file=sys.stderr)
            return False
        finally:
            w.close()
        return got == msg

    res = await asyncio.wait_for(
        asyncio.gather(*(one(i, c) for i, c in enumerate(conns))), a.timeout)
    ok = sum(res)
    print("%d ok" % ok)
    if ok != a.n:
        die("%d of %d connections failed" % (a.n - ok, a.n))


V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def expected_header(version, s):
    """The PROXY header a bridge should send for a client socket S."""
    if s.family == socket.AF_UNIX:
        if version == "v1":
            return b"PROXY UNKNOWN\r\n"
        src = os.fsencode(s.getsockname() or "")
        dst = os.fsencode(s.getpeername())
        return (V2_SIG + b"\x21\x31" + struct.pack("!H", 216) +
                src.ljust(108, b"\0") + dst.ljust(108, b"\0"))
    src, dst = s.getsockname(), s.getpeername()
    six = s.family == socket.AF_INET6
    if version == "v1":
        return ("PROXY %s %s %s %d %d\r\n" % ("TCP6" if six else "TCP4",
                src[0], dst[0], src[1], dst[1])).encode()
    body = (ipaddress.ip_address(src[0]).packed +
            ipaddress.ip_address(dst[0]).packed +
            struct.pack("!HH", src[1], dst[1]))
    return V2_SIG + (b"\x21\x21" if six else b"\x21\x11") + \
        struct.pack("!H", len(body)) + body


def proxy_check(a):
    s = connect(a.addr, bind=a.bind, timeout=10)
    header = expected_header(a.version, s)
    payload = b"GET / HTTP/1.0\r\n\r\n\x00binary\xff"
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    got = recv_to_eof(s)
    want = header + payload
    if got != want:
        die("PROXY %s mismatch:\n got  %r\n want %r" % (a.version, got, want))
    print("ok %d header bytes" % len(header))


def pattern(seed, n):
    block = hashlib.sha256(seed).digest() * 2048  # 64 KiB
    return (block * (n // len(block) + 1))[:n]


def half_close(a):
    up, down = pattern(b"up", a.size), pattern(b"down", a.size)
    lst = listen_sock(a.target, 4)
    result = {}

    def server():
        c, _ = lst.accept()
        c.settimeout(30)
        try:
            if a.first == "client":
                result["up"] = recv_to_eof(c)
                time.sleep(a.delay)
                c.sendall(down)
                c.shutdown(socket.SHUT_WR)
            else:
                c.sendall(down)
                c.shutdown(socket.SHUT_WR)
                result["up"] = recv_to_eof(c)
        except OSError as e:
            result["error"] = "server: %s" % e
        finally:
            c.close()

    th = threading.Thread(target=server)
    th.start()
    s = connect(a.bridge)
    if a.first == "client":
        s.sendall(up)
        s.shutdown(socket.SHUT_WR)
        got = recv_to_eof(s)
    else:
        got = recv_to_eof(s)
        time.sleep(a.delay)
        s.sendall(up)
        s.shutdown(socket.SHUT_WR)
    th.join(30)
    if th.is_alive():
        die("server still waiting for the client's EOF")
    if "error" in result:
        die(result["error"])
    if got != down:
        die("client received %d bytes, not the %d expected" % (len(got), len(down)))
    if result.get("up") != up:
        die("server received %d bytes, not the %d sent" %
            (len(result.get("up") or b""), len(up)))
    print("ok %d up, %d down" % (len(up), len(down)))


def upload(a):
    s = connect(a.addr, timeout=10)

    def send():
        try:
            s.sendall(b"x" * a.size)
        except OSError:
            pass

    threading.Thread(target=send, daemon=True).start()
    try:
        recv_to_eof(s, sys.stdout.buffer)
    except OSError as e:
        print("t2u.py: upload: %s" % e, file=sys.stderr)
    sys.stdout.flush()


def stall(a):
    s = connect(a.addr)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ready(a.ready_file)
    time.sleep(3600)
    s.close()


def ping(a):
    s = connect(a.addr, timeout=10)
    if s.family != socket.AF_UNIX:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = time.monotonic()
    for i in range(a.n):
        s.sendall(b"req %d\n" % i)
        got = b""
        while got != b"head\nbody\n":
            b = s.recv(64)
            if not b or len(got) > 10:
                die("round %d: got %r" % (i, got + b))
            got += b
    print("%.3f" % (time.monotonic() - t))


# command: (function, [(argument, options)...])
SERVER = [("addr", {}), ("--ready-file", {})]
COMMANDS = {
    "echo-server": (echo_server, SERVER + [("--backlog", {"type": int, "default": 4096})]),
    "full-backlog": (full_backlog, SERVER),
    "two-writes": (two_writes, SERVER),
    "early-answer": (early_answer, SERVER),
    "many": (many, [("addr", {}), ("n", {"type": int}),
                    ("--timeout", {"type": float, "default": 30}),
                    ("--opened-file", {}), ("--go-file", {})]),
    "proxy-check": (proxy_check, [("addr", {}), ("version", {"choices": ["v1", "v2"]}),
                                  ("--bind", {})]),
    "half-close": (half_close, [("target", {}), ("bridge", {}),
                                ("--first", {"choices": ["client", "server"], "required": True}),
                                ("--size", {"type": int, "default": 1 << 20}),
                                ("--delay", {"type": float, "default": 2.0})]),
    "upload": (upload, [("addr", {}), ("size", {"type": int})]),
    "stall": (stall, SERVER),
    "ping": (ping, [("addr", {}), ("n", {"type": int})]),
}

ap = argparse.ArgumentParser()
sub = ap.add_subparsers(dest="cmd", required=True)
for name, (_, spec) in COMMANDS.items():
    p = sub.add_parser(name)
    for arg, opts in spec:
        p.add_argument(arg, **opts)
args = ap.parse_args()
fn = COMMANDS[args.cmd][0]
if asyncio.iscoroutinefunction(fn):
    asyncio.run(fn(args))
else:
    fn(args)
