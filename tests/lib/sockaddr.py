"""Address parsing shared by the test servers and clients (a subset of usock(7))."""
import os
import socket


def parse(addr):
    """Return (family, sockaddr, chdir) for ADDRESS.

    PATH (contains '/'), unix:PATH, @NAME, abstract:NAME, [V6]:PORT,
    HOST:PORT, tcp:..., PORT.  A UNIX path too long for sun_path is
    reached relative to its directory: chdir is that directory."""
    for prefix in ("tcp4:", "tcp6:", "tcp:"):
        if addr.startswith(prefix):
            addr = addr[len(prefix):]
            break
    else:
        if addr.startswith("unix:"):
            return _unix(addr[5:])
        if addr.startswith("abstract:"):
            return socket.AF_UNIX, "\0" + addr[9:], None
        if addr.startswith("@"):
            return socket.AF_UNIX, "\0" + addr[1:], None
        if "/" in addr:
            return _unix(addr)
    if addr.isdigit():
        return socket.AF_INET, ("127.0.0.1", int(addr)), None
    host, _, port = addr.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, (host[1:-1], int(port)), None
    if host in ("", "*"):
        host = "127.0.0.1"
    if host == "localhost":
        host = "127.0.0.1"
    return socket.AF_INET, (host, int(port)), None


def _unix(path):
    if len(os.fsencode(path)) > 100:
        d, name = os.path.split(path)
        return socket.AF_UNIX, name, d
    return socket.AF_UNIX, path, None


def connect(addr, retry=0.0):
    """Connect to ADDRESS, retrying on ENOENT/ECONNREFUSED for RETRY seconds."""
    import time
    family, sa, chdir = parse(addr)
    deadline = time.monotonic() + retry
    while True:
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            if chdir:
                cwd = os.getcwd()
                os.chdir(chdir)
                try:
                    s.connect(sa)
                finally:
                    os.chdir(cwd)
            else:
                s.connect(sa)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def listen(addr, backlog=16, mode=None):
    """Listen on ADDRESS; chmod a UNIX socket file to MODE before listen()."""
    family, sa, chdir = parse(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    if family != socket.AF_UNIX:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if chdir:
        cwd = os.getcwd()
        os.chdir(chdir)
        try:
            s.bind(sa)
        finally:
            os.chdir(cwd)
    else:
        s.bind(sa)
    if mode is not None:
        if chdir:
            os.chmod(os.path.join(chdir, sa), mode)
        else:
            os.chmod(sa, mode)
    s.listen(backlog)
    return s
