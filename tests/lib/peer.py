#!/usr/bin/env python3
"""Scripted peers for the transparency matrix (tests/transparency.bats).

usage: peer.py target ADDRESS ENDING --result F [--ready F] [--proxy]
       peer.py target - ENDING --result F            (fd 0/1 are the connection)
       peer.py client ADDRESS ENDING --result F
       peer.py client - ENDING --result F -- CMD...   (CMD's stdin/stdout are
                                                       the connection)

Each ENDING is a short play between a client and a target: what each one
sends, when it reads, and how it ends (half-close, close, reset).  A peer
writes one JSON line to --result: how many bytes it received and their
sha256, how its read side ended ("eof", "reset", "none" when it did not
read to the end), how its writes ended ("ok", "failed"), and for a CMD its
exit status and stderr.  The same play is run connected directly and
through a relay; the suite compares the two results."""
import hashlib
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import fcntl
import termios
import errno

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

KB, MB = 1 << 10, 1 << 20


def data(n, seed):
    """N deterministic bytes: 64 KiB blocks, each numbered."""
    import random
    base = random.Random(seed).randbytes(64 * KB)
    out = bytearray()
    i = 0
    while len(out) < n:
        out += i.to_bytes(8, "big") + base[8:]
        i += 1
    return bytes(out[:n])


class Conn:
    """A connection: a socket, or a pair of fds (pipes or sockets)."""

    def __init__(self, rfd, wfd, sock=None):
        self.rfd, self.wfd, self.sock = rfd, wfd, sock
        self.got = 0
        self.h = hashlib.sha256()
        self.end = "none"
        self.write = "ok"

    def is_sock(self, fd):
        return stat.S_ISSOCK(os.fstat(fd).st_mode)

    def send(self, b):
        try:
            view = memoryview(b)
            while view:
                n = os.write(self.wfd, view[:256 * KB])
                view = view[n:]
        except OSError as e:
            self.write = "failed:" + errno.errorcode.get(e.errno, str(e.errno))
            return False
        return True

    def recv_some(self, n):
        b = os.read(self.rfd, n)
        self.got += len(b)
        self.h.update(b)
        return b

    def read_all(self, limit=None):
        """Read until EOF (or LIMIT bytes); record how it ended."""
        try:
            while limit is None or self.got < limit:
                want = 256 * KB if limit is None else min(256 * KB, limit - self.got)
                if not self.recv_some(want):
                    self.end = "eof"
                    return
        except OSError as e:
            self.end = "reset" if e.errno in (errno.ECONNRESET, errno.EPIPE) else \
                "error:" + errno.errorcode.get(e.errno, str(e.errno))

    def half_close(self):
        try:
            if self.sock is not None:
                self.sock.shutdown(socket.SHUT_WR)
            elif self.is_sock(self.wfd):
                socket.socket(fileno=os.dup(self.wfd)).shutdown(socket.SHUT_WR)
            else:
                os.close(self.wfd)
                self.wfd = -1
        except OSError:
            pass

    def outq(self):
        try:
            return struct.unpack("i", fcntl.ioctl(self.wfd, termios.TIOCOUTQ, b"\0" * 4))[0]
        except OSError:
            return 0

    def reset(self):
        """End with a reset: TCP after what was sent has left (SO_LINGER 0);
        UNIX by closing with input unread (the caller leaves some)."""
        deadline = time.monotonic() + 5
        while self.outq() > 0 and time.monotonic() < deadline:
            time.sleep(0.002)
        s = self.sock or socket.socket(fileno=os.dup(self.wfd))
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()
        if self.sock is None:
            s.close()

    def close(self):
        if self.sock is not None:
            self.sock.close()
        else:
            for fd in {self.rfd, self.wfd}:
                if fd >= 0:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
        self.rfd = self.wfd = -1

    def result(self, **extra):
        r = {"got": self.got, "sha": self.h.hexdigest()[:16], "end": self.end,
             "write": self.write.split(":")[0]}
        r.update(extra)
        return r


def sender(c, b, then_half_close=True):
    def run():
        if c.send(b) and then_half_close:
            c.half_close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# ---- the plays: (client role, target role) ----

def c_late(c):
    sender(c, data(1 * MB, 1))
    c.read_all()


def t_late(c):
    c.read_all()
    time.sleep(0.2)
    c.send(data(1 * MB, 2))
    c.close()


def c_early(c):
    sender(c, data(5 * MB, 1))
    c.read_all()


def t_early(size):
    def play(c):
        c.read_all(16)
        c.send(data(size, 2))
        c.close()
    return play


def c_target_reset(c):
    c.send(data(64 * KB, 1))
    c.half_close()
    c.read_all()


def t_target_reset(c):
    c.read_all(1 * KB)
    c.send(data(100 * KB, 2))
    c.reset()


def c_client_reset(c):
    # sends 200 KB, never reads what the target streams, then resets
    c.send(data(200 * KB, 1))
    time.sleep(0.3)
    c.reset()


def t_client_reset(c):
    sender(c, data(4 * MB, 2), then_half_close=False)
    c.read_all()
    c.close()


def c_target_never_reads(c):
    sender(c, data(64 * KB, 1))
    c.read_all()


def t_target_never_reads(c):
    c.send(data(100 * KB, 2))
    c.half_close()
    time.sleep(1.0)
    c.close()


def c_client_never_reads(c):
    c.send(data(64 * KB, 1))
    c.half_close()
    time.sleep(1.0)
    c.close()


def t_client_never_reads(c):
    c.read_all()
    c.send(data(8 * MB, 2))
    c.close()


BIG = 150 * MB


def c_big(c):
    sender(c, data(BIG, 1))
    c.read_all()


def t_big(c):
    t = sender(c, data(BIG, 2), then_half_close=False)
    c.read_all()
    t.join()
    c.half_close()
    c.close()


def c_zero(c):
    c.half_close()
    c.read_all()


def t_zero(c):
    c.read_all()
    c.close()


def c_unread(c):
    c.send(data(64 * KB, 1))
    c.half_close()
    c.read_all()


def t_unread(c):
    time.sleep(0.2)  # the request is there, unread
    c.close()


PLAYS = {
    "late": (c_late, t_late),
    "early-small": (c_early, t_early(1000)),
    "early-big": (c_early, t_early(5 * MB)),
    "target-reset": (c_target_reset, t_target_reset),
    "client-reset": (c_client_reset, t_client_reset),
    "target-never-reads": (c_target_never_reads, t_target_never_reads),
    "client-never-reads": (c_client_never_reads, t_client_never_reads),
    "big": (c_big, t_big),
    "zero": (c_zero, t_zero),
    "unread": (c_unread, t_unread),
}


def parse_addr(a):
    if "/" in a or a.startswith("unix:"):
        return socket.AF_UNIX, a[5:] if a.startswith("unix:") else a
    a = a[4:] if a.startswith("tcp:") else a
    host, port = a.rsplit(":", 1)
    return socket.AF_INET, (host, int(port))


def strip_proxy(c):
    """Read a PROXY v1 line, byte by byte, and drop it."""
    line = b""
    while not line.endswith(b"\r\n") and len(line) < 108:
        b = os.read(c.rfd, 1)
        if not b:
            break
        line += b


# Where a play's outcome is not fixed by the protocols, the values either
# run may show: a UNIX peer that closes on unread input makes a reset that
# the other end's reader or its writer takes, whichever comes first; a
# writer whose peer stopped reading may or may not fail.  "*": anything.
LOOSE = {
    "early-small": {"client.end": {"eof", "reset"}, "client.write": "*"},
    "early-big": {"client.end": {"eof", "reset"}, "client.write": "*"},
    "target-reset": {"client.write": "*"},
    "client-reset": {"target.end": {"eof", "reset"}, "target.write": "*",
                     "client.write": "*"},
    "target-never-reads": {"client.write": "*", "target.write": "*"},
    "client-never-reads": {"target.write": "*"},
    "unread": {"client.end": {"eof", "reset"}, "client.write": "*"},
}


def compare(ending, direct, relayed):
    """Compare the results of a play run directly and through a relay:
    what each peer received always, how each one's reading and writing
    ended unless LOOSE allows either.  Prints the differences."""
    bad = []
    for side in ("client", "target"):
        d = json.load(open("%s.%s" % (direct, side[0])))
        r = json.load(open("%s.%s" % (relayed, side[0])))
        for k in ("got", "sha", "end", "write"):
            allow = LOOSE.get(ending, {}).get(side + "." + k)
            if allow == "*":
                continue
            if allow and d[k] in allow and r[k] in allow:
                continue
            if d[k] != r[k]:
                bad.append("%s %s: direct %s, relayed %s" % (side, k, d[k], r[k]))
    for b in bad:
        print(b)
    return 1 if bad else 0


def main():
    if os.environ.get("PEER_DEBUG"):
        import faulthandler; faulthandler.dump_traceback_later(5)
    if sys.argv[1] == "compare":
        sys.exit(compare(*sys.argv[2:5]))
    role, addr, ending = sys.argv[1:4]
    opts = sys.argv[4:]
    cmd = opts[opts.index("--") + 1:] if "--" in opts else []
    opts = opts[:opts.index("--")] if "--" in opts else opts

    def opt(name):
        return opts[opts.index(name) + 1] if name in opts else None
    result = opt("--result")
    play = PLAYS[ending][0 if role == "client" else 1]
    extra = {}
    proc = None
    if addr == "-" and cmd:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        c = Conn(proc.stdout.fileno(), proc.stdin.fileno())
    elif addr == "-":
        c = Conn(0, 1)
    elif role == "target":
        fam, sa = parse_addr(addr)
        ls = socket.socket(fam)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(sa)
        ls.listen(8)
        if opt("--ready"):
            name = ls.getsockname()
            with open(opt("--ready") + ".tmp", "w") as f:
                f.write(name if fam == socket.AF_UNIX else "%s:%d" % name)
            os.rename(opt("--ready") + ".tmp", opt("--ready"))
        s, _ = ls.accept()
        ls.close()
        c = Conn(s.fileno(), s.fileno(), s)
    else:
        fam, sa = parse_addr(addr)
        s = socket.socket(fam)
        s.connect(sa)
        c = Conn(s.fileno(), s.fileno(), s)
    if role == "target" and "--proxy" in opts:
        strip_proxy(c)
    play(c)
    if proc:
        try:
            proc.stdin.close()
        except OSError:
            pass
        err = proc.stderr.read().decode(errors="replace")
        extra = {"rc": proc.wait(), "stderr": err.strip()[-200:]}
        if "read" in err and "reset by peer" in err:
            c.end = "reset"
    r = json.dumps(c.result(**extra), sort_keys=True)
    with open(result, "w") as f:
        f.write(r + "\n")
    c.close() if c.rfd >= 0 else None


if __name__ == "__main__":
    main()
