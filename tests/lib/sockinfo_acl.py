#!/usr/bin/env python3
"""Set a POSIX access ACL on a file without setfacl: write the
system.posix_acl_access extended attribute in the kernel's format.

usage: sockinfo_acl.py PATH ENTRY...
ENTRY: u::rw- | u:UID:rw- | g::r-- | g:GID:rw- | m::rw- | o::---"""
import os
import struct
import sys

TAGS = {("u", False): 0x01, ("u", True): 0x02, ("g", False): 0x04,
        ("g", True): 0x08, ("m", False): 0x10, ("o", False): 0x20}


def perm(s):
    return (4 if s[0] == "r" else 0) | (2 if s[1] == "w" else 0) | (1 if s[2] == "x" else 0)


entries = []
for e in sys.argv[2:]:
    kind, qual, p = e.split(":")
    tag = TAGS[(kind, qual != "")]
    entries.append((tag, perm(p), int(qual) if qual else 0xffffffff))
entries.sort(key=lambda x: (x[0], x[2]))
blob = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *x) for x in entries)
os.setxattr(sys.argv[1], "system.posix_acl_access", blob, follow_symlinks=False)
