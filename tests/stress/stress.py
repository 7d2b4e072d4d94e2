#!/usr/bin/env python3
"""Servers and clients for tests/stress: every byte they move is checked.

usage: stress.py COMMAND ...
  serve ADDR MODE [--ready-file F] [--log F] [--backlog N]
      asyncio server; MODE is
        echo    echo until EOF, then half-close; log "echo SHA N" per connection
        sink    read until EOF; log "sink SHA N"
        source  send the pattern stream (--seed) until the peer goes
        greet   log "accept" at once, send "HELLO\\n", then echo
  transfer ADDR BYTES [--seed S] [--rate BYTES_PER_S] [--sink] [--timeout S]
      send BYTES of the pattern stream and half-close; without --sink read
      the echo until EOF and check it is what was sent.  Prints
      "sent SHA N" (and "echo SHA N").  With --sink, stdout gets the line
      at once and the client waits for the peer's EOF only.
  read-prefix ADDR [--seed S] [--min BYTES] [--progress-file F]
      read until EOF or reset; check that what came is a prefix of the
      pattern stream, at least --min bytes (F is created once they have
      come); prints "prefix N"
  rst ADDR BYTES [--count N]
      N times at once: send BYTES (with an echo peer, read some back),
      then close with SO_LINGER 0 (a reset); prints "N reset"
  hold ADDR N [--ready-file F] [--go-file G] [--bind HOST]
      open N connections and keep them; once G exists send each a distinct
      line, half-close and check the echo; prints "N ok, M failed"
  connect-count ADDR N [--bind HOST] [--timeout S]
      N connections, one after another: each sends a line, half-closes
      and reads until EOF or reset; prints "N connections, B bytes
      received"
The pattern stream is 1 MiB blocks of seeded random bytes, each block
starting with its index, so loss, duplication and reordering all show."""
import argparse
import asyncio
import errno
import hashlib
import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import sockaddr  # noqa: E402

BLOCK = 1 << 20


class Pattern:
    """The pattern stream: block k is BASE with its first 8 bytes set to k."""

    def __init__(self, seed):
        self.base = random.Random(seed).randbytes(BLOCK)

    def block(self, k):
        return struct.pack("<Q", k) + self.base[8:]

    def chunks(self, n, size=BLOCK):
        """The first N bytes, in pieces of at most SIZE."""
        off, k = 0, 0
        while off < n:
            blk = memoryview(self.block(k))
            for r in range(0, min(BLOCK, n - off), size):
                yield blk[r:r + min(size, n - off - r)]
            off += min(BLOCK, n - off)
            k += 1


def die(msg):
    print("stress.py: %s" % msg, file=sys.stderr)
    sys.exit(1)


def log_line(path, line):
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def sa_of(addr):
    family, sa, chdir = sockaddr.parse(addr)
    if chdir:
        os.chdir(chdir)
    return family, sa


def unconnected(addr, bind=None, timeout=30.0):
    """A socket for ADDR (bound to BIND) and the address to connect it to."""
    family, sa = sa_of(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    if bind:
        s.bind((bind, 0))
    s.settimeout(timeout)
    return s, sa


def connect(addr, bind=None, timeout=30.0):
    s, sa = unconnected(addr, bind, timeout)
    s.connect(sa)
    return s


def connect_async(addr, bind=None):
    """A connected socket for asyncio.open_connection."""
    s = connect(addr, bind)
    s.setblocking(False)
    return s


# ---- serve ------------------------------------------------------------------

async def serve(args):
    pat = Pattern(args.seed)

    async def handle(reader, writer):
        h, n = hashlib.sha256(), 0
        ended = False  # one log line per connection, however it ends
        try:
            if args.mode == "greet":
                log_line(args.log, "accept")
                writer.write(b"HELLO\n")
            if args.mode == "source":
                k = 0
                while True:
                    writer.write(pat.block(k))
                    await writer.drain()
                    k += 1
            while True:
                b = await reader.read(BLOCK)
                if not b:
                    break
                h.update(b)
                n += len(b)
                if args.mode != "sink":
                    writer.write(b)
                    await writer.drain()
            log_line(args.log, "%s %s %d" % (args.mode, h.hexdigest(), n))
            ended = True
            writer.write_eof()
            await writer.drain()
            while await reader.read(BLOCK):
                pass
        except (OSError, asyncio.IncompleteReadError):
            if not ended:
                log_line(args.log, "%s failed after %d" % (args.mode, n))
        finally:
            writer.close()

    family, sa = sa_of(args.address)
    s = socket.socket(family, socket.SOCK_STREAM)
    if family != socket.AF_UNIX:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(sa)
    s.listen(args.backlog)
    server = await asyncio.start_server(handle, sock=s, limit=BLOCK)
    if args.ready_file:
        open(args.ready_file, "w").close()
    async with server:
        await server.serve_forever()


# ---- clients ----------------------------------------------------------------

def transfer(args):
    import threading
    pat = Pattern(args.seed)
    s = connect(args.address, timeout=args.timeout)
    sent = hashlib.sha256()
    err = []

    def send():
        try:
            t0 = time.monotonic()
            done = 0
            for piece in pat.chunks(args.bytes, 65536):
                s.sendall(piece)
                sent.update(piece)
                done += len(piece)
                if args.rate:
                    ahead = done / args.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append("send: %s" % e)

    t = threading.Thread(target=send)
    t.start()
    got, n = hashlib.sha256(), 0
    try:
        while True:
            b = s.recv(BLOCK)
            if not b:
                break
            got.update(b)
            n += len(b)
    except OSError as e:
        err.append("recv after %d bytes: %s" % (n, e))
    t.join()
    if err:
        die("; ".join(err))
    print("sent %s %d" % (sent.hexdigest(), args.bytes), flush=True)
    if args.sink:
        if n:
            die("a sink answered %d bytes" % n)
        return
    print("echo %s %d" % (got.hexdigest(), n))
    if (got.hexdigest(), n) != (sent.hexdigest(), args.bytes):
        die("the echo (%d bytes) differs from what was sent (%d)" % (n, args.bytes))


def read_prefix(args):
    pat = Pattern(args.seed)
    s = connect(args.address)
    n, k, blk = 0, -1, b""
    try:
        while True:
            b = s.recv(BLOCK)
            if not b:
                break
            off = 0
            while off < len(b):
                if n // BLOCK != k:
                    k = n // BLOCK
                    blk = pat.block(k)
                r = n % BLOCK
                want = blk[r:r + len(b) - off]
                if b[off:off + len(want)] != want:
                    die("byte %d differs from the pattern" % n)
                off += len(want)
                n += len(want)
            if args.progress_file and n >= args.min:
                open(args.progress_file, "w").close()
                args.progress_file = None
    except ConnectionResetError:
        pass
    if n < args.min:
        die("only %d bytes, expected at least %d" % (n, args.min))
    print("prefix %d" % n)


async def rst(args):
    payload = os.urandom(args.bytes)

    async def one():
        r, w = await asyncio.open_connection(sock=connect_async(args.address))
        w.write(payload)
        await w.drain()
        await r.read(4096)
        s = w.get_extra_info("socket")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()

    await asyncio.gather(*(one() for _ in range(args.count)))
    print("%d reset" % args.count)


async def hold(args):
    conns = []
    for _ in range(args.n):
        s = connect_async(args.address, args.bind)
        conns.append(await asyncio.open_connection(sock=s))
    if args.ready_file:
        open(args.ready_file, "w").close()
    while args.go_file and not os.path.exists(args.go_file):
        await asyncio.sleep(0.02)

    async def check(i, r, w):
        line = b"connection %d %s\n" % (i, os.urandom(8).hex().encode())
        try:
            w.write(line)
            await w.drain()
            w.write_eof()
            got = await asyncio.wait_for(r.read(), args.timeout)
            w.close()
            return got == line
        except (OSError, asyncio.TimeoutError):
            return False

    ok = await asyncio.gather(*(check(i, r, w) for i, (r, w) in enumerate(conns)))
    good = sum(ok)
    print("%d ok, %d failed" % (good, len(ok) - good))
    if good != len(ok):
        sys.exit(1)


def connect_count(args):
    total = 0
    for _ in range(args.n):
        s, sa = unconnected(args.address, args.bind, args.timeout)
        try:
            # a refused client may see the reset at any step: while
            # connecting, sending, half-closing (ENOTCONN once the reset
            # has closed the socket) or reading
            s.connect(sa)
            s.sendall(b"let me in\n")
            s.shutdown(socket.SHUT_WR)
            while True:
                b = s.recv(65536)
                if not b:
                    break
                total += len(b)
        except (ConnectionResetError, BrokenPipeError):
            pass
        except OSError as e:
            if e.errno != errno.ENOTCONN:
                raise
        s.close()
    print("%d connections, %d bytes received" % (args.n, total))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("address")
    p.add_argument("mode", choices=["echo", "sink", "source", "greet"])
    p.add_argument("--ready-file")
    p.add_argument("--log")
    p.add_argument("--backlog", type=int, default=4096)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("transfer")
    p.add_argument("address")
    p.add_argument("bytes", type=int)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--sink", action="store_true")
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("read-prefix")
    p.add_argument("address")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--min", type=int, default=1)
    p.add_argument("--progress-file")
    p = sub.add_parser("rst")
    p.add_argument("address")
    p.add_argument("bytes", type=int)
    p.add_argument("--count", type=int, default=1)
    p = sub.add_parser("hold")
    p.add_argument("address")
    p.add_argument("n", type=int)
    p.add_argument("--ready-file")
    p.add_argument("--go-file")
    p.add_argument("--bind")
    p.add_argument("--timeout", type=float, default=30)
    p = sub.add_parser("connect-count")
    p.add_argument("address")
    p.add_argument("n", type=int)
    p.add_argument("--bind")
    p.add_argument("--timeout", type=float, default=10)
    args = ap.parse_args()
    if args.cmd == "serve":
        asyncio.run(serve(args))
    elif args.cmd == "transfer":
        transfer(args)
    elif args.cmd == "read-prefix":
        read_prefix(args)
    elif args.cmd == "rst":
        asyncio.run(rst(args))
    elif args.cmd == "hold":
        asyncio.run(hold(args))
    else:
        connect_count(args)


if __name__ == "__main__":
    main()
