#!/usr/bin/env python3
"""Read a traffic dump (--dump=hex|text, usock(7) "Traffic dumps").

usage:
  dump_view.py check DUMP        check the structure; print one line per
                                 connection and direction: "#ID MARK SHOWN
                                 NOT_SHOWN PEER" (NOT_SHOWN from the notes,
                                 per connection, on its '>' line)
  dump_view.py bytes DUMP ID MARK [PEER]   the bytes a connection's
                                 direction showed, decoded, on stdout
  dump_view.py save DUMP ID MARK PEER FILE [ID MARK PEER FILE...]
                                 the same into FILEs, several in one go
                                 (PEER "" for any)
  dump_view.py socat DUMP MARK   a text dump's bytes of direction MARK in
                                 the view of socat -v (its escapes)
  dump_view.py socat-ref ERR MARK   socat -v's own output (ERR), headers
                                 left out, bytes of direction MARK

Connections are told apart by number and peer (several processes may
share one stderr).  check fails (exit 1, a reason on stderr) when a line is neither a header,
a data line of the record it follows, nor a note; when a record's bytes
are not as many as its header says; when a direction's offsets do not
follow on (a gap must be told by a note of its connection); and when any
byte other than the line feed is a control byte."""
import re
import sys

HDR = re.compile(rb"^([<>]) #(\d+) (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6}) "
                 rb"length=(\d+) from=(\d+) to=(\d+) peer=(.*)$")
HEX = re.compile(rb"^([<>]) ([0-9a-f]{8,16})  ((?:[0-9a-f]{2} |   ){8}) "
                 rb"((?:[0-9a-f]{2} |   ){8}) \|([ -~]{1,16})\|$")
NOTE = re.compile(rb"^\[#(\d+): (\d+) bytes not shown\]$")
ESC = re.compile(rb"\\x([0-9a-f]{2})")


def die(msg):
    sys.stderr.write("dump_view: %s\n" % msg)
    sys.exit(1)


def unescape(s):
    return ESC.sub(lambda m: bytes([int(m.group(1), 16)]), s)


def records(data):
    """Yield (mark, id, off, length, peer, payload bytes) and ('note', id, n)."""
    for i, c in enumerate(data):
        if c < 0x20 and c != 0x0a or c == 0x7f:
            die("control byte 0x%02x at %d" % (c, i))
    if data and not data.endswith(b"\n"):
        die("does not end with a newline")
    cur = None
    lines = data.split(b"\n")[:-1]

    def close(r):
        if r is None:
            return None
        mark, ident, off, length, peer, parts, text, ended = r
        if text:
            body = b"\n".join(parts)
            # the record's last newline is its own, unless a byte
            if len(body) + 1 == length and ended:
                body += b"\n"
        else:
            body = b"".join(parts)
        if len(body) != length:
            die("#%d %s at %d: %d bytes shown, length=%d" %
                (ident, mark.decode(), off, len(body), length))
        return (mark, ident, off, length, peer, body)

    for ln in lines:
        m = HDR.match(ln)
        if m:
            done = close(cur)
            if done:
                yield done
            length, off, to = int(m.group(4)), int(m.group(5)), int(m.group(6))
            if length < 1 or to != off + length - 1:
                die("bad header: %r" % ln)
            cur = [m.group(1), int(m.group(2)), off, length, m.group(7), [],
                   None, False]
            continue
        m = NOTE.match(ln)
        if m:
            done = close(cur)
            if done:
                yield done
            cur = None
            yield ("note", int(m.group(1)), int(m.group(2)))
            continue
        if cur is None:
            die("a line outside any record: %r" % ln)
        mark = cur[0]
        m = HEX.match(ln)
        if m and cur[6] is not True and m.group(1) == mark:
            cur[6] = False
            hx = (m.group(3) + m.group(4)).split()
            want = cur[2] + sum(len(p) for p in cur[5])
            if int(m.group(2), 16) != want:
                die("hex line at offset %s, expected %x" % (m.group(2), want))
            cur[5].append(bytes(int(h, 16) for h in hx))
            continue
        if ln.startswith(mark + b"  ") and cur[6] is not False:
            cur[6] = True
            cur[5].append(unescape(ln[3:]))
            cur[7] = True
            continue
        die("a line that belongs to no record of %s: %r" % (mark.decode(), ln))
    done = close(cur)
    if done:
        yield done


def check(path):
    data = open(path, "rb").read()
    state = {}
    notes = {}
    peers = {}
    for r in records(data):
        if r[0] == "note":
            notes[r[1]] = notes.get(r[1], 0) + r[2]
            continue
        mark, ident, off, length, peer, _ = r
        key = (ident, peer, mark)
        shown, nxt = state.get(key, (0, 0))
        if off < nxt:
            die("#%d %s: offset %d again (at %d already)" % (ident, mark.decode(), off, nxt))
        if off > nxt and not notes.get(ident):
            die("#%d %s: a gap %d..%d and no note" % (ident, mark.decode(), nxt, off))
        state[key] = (shown + length, off + length)
        peers[ident] = peer
    for ident, peer, mark in sorted(state):
        shown = state[(ident, peer, mark)][0]
        sys.stdout.buffer.write(b"#%d %s %d %d %s\n" % (
            ident, mark, shown, notes.get(ident, 0) if mark == b">" else 0,
            peer))
    for ident in sorted(notes):
        if ident not in peers:
            sys.stdout.buffer.write(b"#%d > 0 %d -\n" % (ident, notes[ident]))


def payload(path, ident, mark, peer=None):
    out = bytearray()
    for r in records(open(path, "rb").read()):
        if r[0] != "note" and r[1] == ident and r[0] == mark and \
           (peer is None or r[4] == peer):
            out += r[5]
    return bytes(out)


SOCAT = {0x07: b"\\a", 0x08: b"\\b", 0x09: b"\t", 0x0a: b"\n", 0x0b: b"\\v",
         0x0c: b"\\f", 0x0d: b"\\r", 0x5c: b"\\\\"}


def socat_view(b):
    """What socat -v (1.7.4) prints for the bytes B."""
    out = bytearray()
    for c in b:
        if c in SOCAT:
            out += SOCAT[c]
        elif 0x20 <= c < 0x7f:
            out.append(c)
        else:
            out += b"."
    return bytes(out)


SOCAT_HDR = re.compile(rb"([<>]) \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+  "
                       rb"length=\d+ from=\d+ to=\d+\n")


def socat_ref(path, mark):
    data = open(path, "rb").read()
    parts = SOCAT_HDR.split(data)
    # parts: [before, mark, body, mark, body, ...]
    out = bytearray()
    for i in range(1, len(parts) - 1, 2):
        if parts[i] == mark:
            out += parts[i + 1]
    return bytes(out)


def main():
    a = sys.argv[1:]
    if a[:1] == ["check"] and len(a) == 2:
        check(a[1])
    elif a[:1] == ["bytes"] and len(a) in (4, 5):
        peer = a[4].encode() if len(a) == 5 else None
        sys.stdout.buffer.write(payload(a[1], int(a[2]), a[3].encode(), peer))
    elif a[:1] == ["save"] and len(a) >= 6 and (len(a) - 2) % 4 == 0:
        recs = list(records(open(a[1], "rb").read()))
        for k in range(2, len(a), 4):
            ident, mark, peer, out = int(a[k]), a[k + 1].encode(), a[k + 2].encode(), a[k + 3]
            with open(out, "wb") as f:
                for r in recs:
                    if r[0] == mark and r[1] == ident and (not peer or r[4] == peer):
                        f.write(r[5])
    elif a[:1] == ["socat"] and len(a) == 3:
        mark = a[2].encode()
        b = bytearray()
        for r in records(open(a[1], "rb").read()):
            if r[0] == mark:
                b += r[5]
        sys.stdout.buffer.write(socat_view(bytes(b)))
    elif a[:1] == ["socat-ref"] and len(a) == 3:
        sys.stdout.buffer.write(socat_ref(a[1], a[2].encode()))
    else:
        die("usage: see the top of this file")


main()
