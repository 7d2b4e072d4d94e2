#!/usr/bin/env python3
"""A generated permission matrix for sockinfo: directory modes x socket
modes x owners and groups x POSIX ACLs x users.  For every case and
user, sockinfo's verdict must equal a real connect() by that user, and
its reason must name the deciding directory or file and the class that
decides (owner, group, others, ACL entry), as an independent model of
the kernel's rules (generic_permission, posix_acl_permission) says.

usage (as root, inside `unshare -m`, the script and WORK reachable by
every user):
    perm_matrix.py run WORK BINDIR [--cases N] [--seed S]
    perm_matrix.py connect LISTFILE      (as a user: one line of 0/1/errno)

`run` puts test users and groups into a private /etc/passwd and
/etc/group (bind mounts: this mount namespace only), builds WORK/m with
one listening socket per case, and checks, for each user:
  - sockinfo -u USER as root (exact, the kernel in a child),
  - sockinfo run as that user (exact, faccessat),
  - sockinfo -u USER run as an unrelated user (an estimate from the mode
    bits and ACLs), where that user may look at every file on the way.
Prints one line per disagreement, and a summary; exit 0 when all agree."""
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys

# ---- as a user: connect to every path ----


def connect_all(listfile):
    out = []
    with open(listfile) as f:
        paths = [l.rstrip("\n") for l in f]
    for p in paths:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(p)
            out.append("1")
        except PermissionError:
            out.append("0")
        except OSError as e:
            out.append("E%d" % e.errno)
        finally:
            s.close()
    print(" ".join(out))


# ---- the model: the kernel's permission rules ----

ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER = 1, 2, 4, 8, 0x10, 0x20


def read_acl(path):
    try:
        b = os.getxattr(path, "system.posix_acl_access", follow_symlinks=False)
    except OSError:
        return None
    return [struct.unpack_from("<HHI", b, 4 + 8 * i) for i in range((len(b) - 4) // 8)]


class Node:
    def __init__(self, path):
        st = os.lstat(path)
        self.path, self.mode, self.uid, self.gid = path, st.st_mode & 0o7777, st.st_uid, st.st_gid
        self.acl = read_acl(path)


def eval_perm(user, node, want, names):
    """(granted, class) as sockinfo names the class that decides."""
    uid, groups = user["uid"], user["groups"]
    if uid == 0:
        return True, "root"
    if node.acl and node.mode & 0o070:  # acl_permission_check
        mask = 7
        for tag, perm, _ in node.acl:
            if tag == ACL_MASK:
                mask = perm & 7
        found, first, hit = False, None, None
        for tag, perm, qid in node.acl:
            if tag == ACL_USER_OBJ and uid == node.uid:
                return (perm & want) == want, "its owner " + names.user(node.uid)
            if tag == ACL_USER and qid == uid:
                hit = (tag, perm, qid)
                break
            if tag in (ACL_GROUP_OBJ, ACL_GROUP):
                g = qid if tag == ACL_GROUP else node.gid
                if g in groups:
                    if not found:
                        first = g
                    found = True
                    if (perm & want) == want:
                        hit = (tag, perm, g)
                        break
            if tag == ACL_OTHER:
                if found:
                    return False, "group %s (ACL)" % names.group(first)
                return (perm & want) == want, "others"
        tag, perm, q = hit
        who = ("the ACL entry for user " + names.user(uid)) if tag == ACL_USER else \
            "group %s (ACL)" % names.group(q)
        if (perm & mask & want) == want:
            return True, who
        if (perm & want) == want:
            who += ", cut by the ACL mask " + "".join(
                c if mask & b else "-" for c, b in (("r", 4), ("w", 2), ("x", 1)))
        return False, who
    if uid == node.uid:
        bits, who = node.mode >> 6, "its owner " + names.user(node.uid)
    elif node.gid in groups:
        bits, who = node.mode >> 3, "group " + names.group(node.gid)
    else:
        bits, who = node.mode, "others"
    return (bits & 7 & want) == want, who


def describe(node, names):
    return "(mode %04o%s, owner %s, group %s)" % (
        node.mode, "+acl" if node.acl else "", names.user(node.uid), names.group(node.gid))


def model(user, chain, names):
    """(may connect, the reason's expected start, the node that decides)."""
    for d in chain[:-1]:
        ok, who = eval_perm(user, d, 1, names)
        if not ok:
            return False, "search permission denied on %s for %s %s" % (
                d.path, who, describe(d, names))
    f = chain[-1]
    ok, who = eval_perm(user, f, 2, names)
    if user["uid"] == 0:
        return True, "root may connect"
    if ok:
        return True, "write permission on %s granted to %s %s" % (f.path, who, describe(f, names))
    return False, "no write permission on %s for %s %s" % (f.path, who, describe(f, names))


# ---- the matrix ----

class Names:
    def __init__(self, users, groups):
        self.users, self.groups = users, groups

    def user(self, uid):
        return self.users.get(uid, str(uid))

    def group(self, gid):
        return self.groups.get(gid, str(gid))


def free_ids(n, start):
    used = set()
    for f in ("/etc/passwd", "/etc/group"):
        with open(f) as fh:
            for line in fh:
                parts = line.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    used.add(int(parts[2]))
    out, i = [], start
    while len(out) < n:
        if i not in used:
            out.append(i)
        i += 1
    return out


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def setpriv(user):
    g = ["--groups=" + ",".join(map(str, user["supp"]))] if user["supp"] else ["--clear-groups"]
    return ["setpriv", "--reuid=%d" % user["uid"], "--regid=%d" % user["gid"]] + g


def gen_cases(rng, n, ids):
    """Specs (outer dir, inner dir, socket): (mode, uid, gid, acl text)."""
    A, B, C, D, G1, G2, G3 = ids["A"], ids["B"], ids["C"], ids["D"], ids["G1"], ids["G2"], ids["G3"]
    owners = [0, 0, A, B, D]
    groups = [0, G1, G2, G3, A]
    dmodes = [0o700, 0o710, 0o701, 0o711, 0o750, 0o705, 0o755, 0o770, 0o707, 0o751, 0o775, 0o1777]
    smodes = [0o600, 0o660, 0o606, 0o620, 0o602, 0o666, 0o640, 0o622, 0o200, 0o020, 0o002, 0o000, 0o777, 0o460]
    dacls = ["u:%d:--x" % B, "g:%d:--x" % G2, "u:%d:---" % A, "g:%d:--x,m::---" % G1,
             "u:%d:--x,g:%d:---" % (C, G1), "g:%d:--x,o::---" % G2]
    sacls = ["u:%d:rw-" % B, "g:%d:-w-" % G2, "u:%d:---" % A, "g:%d:rw-,m::r--" % G1,
             "u:%d:-w-,g::---" % C, "g:%d:r--,g:%d:-w-" % (G1, G2), "u:%d:-w-" % D, "g:%d:-w-" % G3]
    cases = []
    # every socket mode in an open tree, every dir mode over a 0666 socket
    for m in smodes:
        for o, g in ((0, 0), (A, G1), (B, G2)):
            cases.append(((0o755, 0, 0, None), (0o755, 0, 0, None), (m, o, g, None)))
    for m in dmodes:
        for o, g in ((0, 0), (A, G1), (0, G2)):
            cases.append(((0o755, 0, 0, None), (m, o, g, None), (0o666, 0, 0, None)))
    while len(cases) < n:
        def spec(modes, acls, p_acl):
            return (rng.choice(modes), rng.choice(owners), rng.choice(groups),
                    rng.choice(acls) if rng.random() < p_acl else None)
        cases.append((spec(dmodes, dacls, 0.4), spec(dmodes, dacls, 0.5), spec(smodes, sacls, 0.6)))
    return cases


def apply(path, spec, acl_lines):
    mode, uid, gid, acl = spec
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    if acl:
        acl_lines.append((path, acl))


def run(work, bindir, ncases, seed):
    rng = random.Random(seed)
    # users and groups, in this mount namespace only
    A, B, C, D, E, G1, G2, G3 = free_ids(8, 46100)
    ids = dict(A=A, B=B, C=C, D=D, G1=G1, G2=G2, G3=G3)
    etc = os.path.join(work, "etc")
    os.makedirs(etc)
    shutil.copy("/etc/passwd", etc + "/passwd")
    shutil.copy("/etc/group", etc + "/group")
    with open(etc + "/passwd", "a") as f:
        f.write("usm-plain:x:%d:%d::/:/bin/false\n" % (A, A))
        f.write("usm-multi:x:%d:%d::/:/bin/false\n" % (B, B))
        f.write("usm-prim:x:%d:%d::/:/bin/false\n" % (C, G1))
    with open(etc + "/group", "a") as f:
        f.write("usm-plain:x:%d:\n" % A)
        f.write("usm-multi:x:%d:\n" % B)
        f.write("usm-g1:x:%d:usm-multi\n" % G1)
        f.write("usm-g2:x:%d:usm-multi,usm-plain\n" % G2)
        f.write("usm-g3:x:%d:\n" % G3)
    for f in ("passwd", "group"):
        os.chmod(etc + "/" + f, 0o644)
        sh("mount", "--bind", etc + "/" + f, "/etc/" + f)
    users = [
        dict(spec="usm-plain", uid=A, gid=A, supp=[G2]),
        dict(spec="usm-multi", uid=B, gid=B, supp=[G1, G2]),
        dict(spec="usm-prim", uid=C, gid=G1, supp=[]),
        dict(spec=str(D), uid=D, gid=D, supp=[], assumed=True),
        dict(spec="%d:%d" % (E, G2), uid=E, gid=G2, supp=[]),
    ]
    for u in users:
        u["groups"] = set([u["gid"]] + u["supp"])
    names = Names({0: "root", A: "usm-plain", B: "usm-multi", C: "usm-prim"},
                  {0: "root", A: "usm-plain", B: "usm-multi", G1: "usm-g1", G2: "usm-g2", G3: "usm-g3"})

    # the tree: WORK/m/cN/d/s.sock, one listener per case
    cases = gen_cases(rng, ncases, ids)
    base = os.path.join(work, "m")
    os.mkdir(base)
    os.chmod(base, 0o755)
    socks, paths, acl_lines = [], [], []
    for i, (outer, inner, sock) in enumerate(cases):
        o = os.path.join(base, "c%d" % i)
        d = os.path.join(o, "d")
        p = os.path.join(d, "s.sock")
        os.makedirs(d)
        s = socket.socket(socket.AF_UNIX)
        s.bind(p)
        s.listen(64)
        socks.append(s)
        apply(p, sock, acl_lines)
        apply(d, inner, acl_lines)
        apply(o, outer, acl_lines)
        paths.append(p)
    # after every chmod: setfacl recomputes the mask and the group bits
    for path, acl in acl_lines:
        sh("setfacl", "-m", acl, path)
    listfile = os.path.join(work, "paths")
    with open(listfile, "w") as f:
        f.write("".join(p + "\n" for p in paths))
    os.chmod(listfile, 0o644)
    chains = []
    for p in paths:
        parts, chain, cur = p.split("/")[1:], [Node("/")], ""
        for c in parts:
            cur += "/" + c
            chain.append(Node(cur))
        chains.append(chain)

    me = os.path.abspath(__file__)
    si = os.path.join(bindir, "sockinfo")
    bad, checked, kinds = [], 0, {}

    def sockinfo(cmd):
        r = subprocess.run(cmd + ["--json"] + paths, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, check=False)
        try:
            return json.loads(r.stdout)
        except ValueError:
            bad.append("%s: not JSON (exit %d): %r" % (" ".join(cmd[:6]), r.returncode, r.stdout[:200]))
            return [dict(can_connect=None, reason="", exact=None)] * len(paths)

    # the unrelated user for estimates: no groups, owns nothing here
    observer = dict(uid=65534, gid=65534, supp=[], groups={65534})
    for u in users:
        real = subprocess.run(setpriv(u) + [sys.executable, me, "connect", listfile],
                              stdout=subprocess.PIPE, check=True, text=True).stdout.split()
        if len(real) != len(paths):
            bad.append("%s: %d connect results for %d paths" % (u["spec"], len(real), len(paths)))
            continue
        as_root = sockinfo([si, "-u", u["spec"]])
        as_self = sockinfo(setpriv(u) + [si])
        estimate = sockinfo(setpriv(observer) + [si, "-u", u["spec"]])
        for i, p in enumerate(paths):
            if real[i] not in ("0", "1"):
                bad.append("%s %s: connect failed otherwise: %s" % (u["spec"], p, real[i]))
                continue
            kernel = real[i] == "1"
            can, why = model(u, chains[i], names)
            kinds[("yes " if kernel else "no ") + why.split(" on ")[0] +
                  (" (ACL)" if "ACL" in why else "")] = kinds.get(
                ("yes " if kernel else "no ") + why.split(" on ")[0] +
                (" (ACL)" if "ACL" in why else ""), 0) + 1
            if can != kernel:
                bad.append("%s %s: the model says %s, the kernel %s (test bug)" % (u["spec"], p, can, kernel))
            checks = [("-u as root", as_root[i], not u.get("assumed")),
                      ("as the user", as_self[i], True)]
            # an estimate can only see what the observer may search
            if model(observer, chains[i][:-1] + [Node_any(chains[i][-1])], names)[0]:
                checks.append(("estimate", estimate[i], False))
            for label, v, exact in checks:
                checked += 1
                if v.get("can_connect") != kernel:
                    bad.append("%s, %s %s: sockinfo says %s, connect says %s: %s" % (
                        label, u["spec"], p, v.get("can_connect"), kernel, v.get("reason")))
                elif not (v.get("reason") or "").startswith(why):
                    bad.append("%s, %s %s: reason %r, expected %r..." % (label, u["spec"], p, v.get("reason"), why))
                elif v.get("exact") != exact:
                    bad.append("%s, %s %s: exact is %s" % (label, u["spec"], p, v.get("exact")))
    for s in socks:
        s.close()
    for line in bad[:40]:
        print(line)
    print("; ".join("%s: %d" % kv for kv in sorted(kinds.items())))
    print("%d cases x %d users: %d verdicts checked, %d disagree" % (
        len(paths), len(users), checked, len(bad)))
    return 1 if bad or not checked else 0


class Node_any:
    """The socket node, seen only for search: stands for 'may stat it'."""

    def __init__(self, node):
        self.path, self.uid, self.gid, self.acl = node.path, node.uid, node.gid, None
        self.mode = 0o777


if __name__ == "__main__":
    if sys.argv[1] == "connect":
        connect_all(sys.argv[2])
        sys.exit(0)
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd")
    ap.add_argument("work")
    ap.add_argument("bindir")
    ap.add_argument("--cases", type=int, default=240)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    sys.exit(run(a.work, a.bindir, a.cases, a.seed))
