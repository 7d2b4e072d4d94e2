#!/usr/bin/env python3
"""Watch a directory in a tight loop and report the modes of the sockets seen.

usage: watch_mode.py DIR NAME READY_FILE [SECONDS]
Creates READY_FILE once watching, then polls until a socket named NAME has
been seen for 0.6 s (or SECONDS pass).  Prints one line per distinct
(name, mode, uid, gid) of every socket that appeared in DIR, like
`NAME 0600 0 0`, and `never` if NAME never appeared."""
import os
import stat
import sys
import time

d, name, ready = sys.argv[1], sys.argv[2], sys.argv[3]
limit = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
seen = set()
first = None
open(ready, "w").close()
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        entries = os.scandir(d)
    except OSError:
        continue
    for e in entries:
        try:
            st = os.lstat(e.path)
        except OSError:
            continue
        if stat.S_ISSOCK(st.st_mode):
            seen.add((e.name, "%04o" % stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))
            if e.name == name and first is None:
                first = time.monotonic()
    if first is not None and time.monotonic() - first > 0.6:
        break
if first is None:
    print("never")
for s in sorted(seen):
    print("%s %s %d %d" % s)
