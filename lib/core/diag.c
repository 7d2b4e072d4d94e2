/* diag.c — read the kernel's AF_UNIX and TCP socket tables with one
 * NETLINK_SOCK_DIAG dump each (what ss does), or /proc/net/unix. */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "addr.h"
#include "diag.h"

#ifndef UDIAG_SHOW_UID
#define UDIAG_SHOW_UID 0x40
#define UNIX_DIAG_UID 7
#endif

/* Called for each message of a dump; returns 0, or -1 with errno. */
typedef int (*diag_cb)(const struct nlmsghdr *h, void *ctx);

/* Send the dump request REQ (LEN bytes after the netlink header) and
 * hand every answer to CB.  Returns 0, or -1 with errno. */
static int diag_run(const void *req, size_t len, diag_cb cb, void *ctx)
{
	struct {
		struct nlmsghdr h;
		char body[64];
	} msg;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	size_t cap = 65536;
	char *buf = NULL;
	int r = -1, e = 0;

	if (len > sizeof msg.body) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	memset(&msg, 0, sizeof msg);
	msg.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	msg.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.h.nlmsg_seq = 1;
	memcpy(msg.body, req, len);
	while (sendto(fd, &msg, msg.h.nlmsg_len, 0, (struct sockaddr *)&nl,
		      sizeof nl) < 0) {
		if (errno != EINTR)
			goto out;
	}
	buf = malloc(cap);
	if (!buf)
		goto out;
	for (;;) {
		ssize_t n = recv(fd, buf, cap, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0) {
			errno = EPROTO;
			goto out;
		}
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
		ssize_t left = n; /* signed: NLMSG_NEXT may take it below 0 */
		for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				r = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *err = NLMSG_DATA(h);
				errno = h->nlmsg_len >= NLMSG_LENGTH(sizeof *err) &&
					err->error < 0 && err->error > -4096 ?
					-err->error : EPROTO;
				goto out;
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && cb(h, ctx) < 0)
				goto out;
		}
	}
out:
	e = errno;
	free(buf);
	close(fd);
	errno = e;
	return r;
}

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return v;
	size_t c = *cap ? *cap * 2 : 256;
	void *nv = realloc(v, c * size);
	if (nv)
		*cap = c;
	return nv;
}

/* The bound name of a UNIX socket: a path (raw bytes, as stat() wants
 * it), or "@" and the abstract name in the escaped form of usock(7) (it
 * may hold NUL bytes, written \x00): the canonical address itself. */
static char *unix_name(const char *p, size_t len)
{
	if (len && p[0] == 0) {
		size_t need = 1 + esc_bytes(NULL, 0, p + 1, len - 1);
		char *s = malloc(need + 1);
		if (!s)
			return NULL;
		s[0] = '@';
		esc_bytes(s + 1, need, p + 1, len - 1);
		return s;
	}
	size_t n = strnlen(p, len);
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

struct unix_ctx {
	struct diag_unix_set *s;
	int flags;
};

static int unix_cb(const struct nlmsghdr *h, void *ctx)
{
	struct unix_ctx *c = ctx;
	struct diag_unix_set *s = c->s;
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	struct diag_unix u = { 0 };

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof *m))
		return 0;
	u.ino = m->udiag_ino;
	u.type = m->udiag_type;
	u.state = m->udiag_state;
	int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
	const struct rtattr *a =
		(const struct rtattr *)((const char *)m + NLMSG_ALIGN(sizeof *m));
	for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		const void *d = RTA_DATA(a);
		size_t dl = RTA_PAYLOAD(a);
		switch (a->rta_type) {
		case UNIX_DIAG_NAME:
			free(u.name);
			u.name = unix_name(d, dl);
			if (!u.name)
				goto nomem;
			break;
		case UNIX_DIAG_VFS:
			if (dl >= sizeof(struct unix_diag_vfs)) {
				const struct unix_diag_vfs *v = d;
				u.vfs_ino = v->udiag_vfs_ino;
				u.vfs_dev = v->udiag_vfs_dev;
				u.has_vfs = 1;
			}
			break;
		case UNIX_DIAG_PEER:
			if (dl >= 4)
				memcpy(&u.peer, d, 4);
			break;
		case UNIX_DIAG_ICONS:
			free(u.icons);
			u.nicons = (uint32_t)(dl / 4);
			u.icons = malloc(dl ? dl : 1);
			if (!u.icons)
				goto nomem;
			memcpy(u.icons, d, u.nicons * 4);
			break;
		case UNIX_DIAG_RQLEN:
			if (dl >= sizeof(struct unix_diag_rqlen)) {
				const struct unix_diag_rqlen *q = d;
				u.rqueue = q->udiag_rqueue;
				u.wqueue = q->udiag_wqueue;
				u.has_rqlen = 1;
			}
			break;
		case UNIX_DIAG_UID:
			if (dl >= 4) {
				memcpy(&u.uid, d, 4);
				u.has_uid = 1;
			}
			break;
		}
	}
	if ((c->flags & DIAG_LISTENERS) && !u.name) {
		free(u.icons);
		return 0;
	}
	struct diag_unix *v = grow(s->v, &s->cap, s->n, sizeof *v);
	if (!v)
		goto nomem;
	s->v = v;
	s->v[s->n++] = u;
	return 0;
nomem:
	free(u.name);
	free(u.icons);
	errno = ENOMEM;
	return -1;
}

int diag_unix_dump(struct diag_unix_set *s, int flags)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = (uint32_t)-1,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_RQLEN |
			      UDIAG_SHOW_UID,
	};
	struct unix_ctx c = { s, flags };

	memset(s, 0, sizeof *s);
	if (flags & DIAG_LISTENERS)
		req.udiag_states = (1u << DIAG_LISTEN) | (1u << DIAG_CLOSE);
	if (flags & DIAG_DETAIL)
		req.udiag_show |= UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS;
	if (diag_run(&req, sizeof req, unix_cb, &c) < 0) {
		int e = errno;
		diag_unix_free(s);
		errno = e;
		return -1;
	}
	return 0;
}

/* N hex digits at P (exactly N) into *V; 0, or -1. */
static int hexn(const char *p, int n, unsigned long *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		int c = (unsigned char)p[i];
		int d = c >= '0' && c <= '9' ? c - '0' :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		*v = *v << 4 | (unsigned long)d;
	}
	return 0;
}

/* The longest name the kernel prints for a socket: sun_path's 108 bytes
 * (an abstract name is '@' and at most 107 bytes). */
#define PROC_NAME_MAX 108

/* Read the line L (LEN bytes, no newline) of /proc/net/unix in exactly
 * the form the kernel writes it (net/unix/af_unix.c, unix_seq_show):
 * "%pK: %08X %08X %08X %04X %02X %5lu", then " NAME" for a bound socket,
 * the pointer as wide as *PTRW (set by the first line).  Fills U (not
 * its name) and returns the offset of the name, LEN when there is none,
 * or -1 when L is not such a line. */
static long proc_line(const char *l, size_t len, size_t *ptrw,
		      struct diag_unix *u)
{
	static const int w[5] = { 8, 8, 8, 4, 2 };
	unsigned long f[5], ino = 0;
	size_t p = 0;

	while (p < len && p < 16 && l[p] != ':')
		p++;
	size_t pw = p;
	if ((pw != 8 && pw != 16) || (*ptrw && pw != *ptrw) ||
	    hexn(l, (int)pw, &f[0]))
		return -1;
	if (p + 2 > len || l[p + 1] != ' ')
		return -1;
	p += 2;
	for (int i = 0; i < 5; i++) {
		if (p + (size_t)w[i] + 1 > len || hexn(l + p, w[i], &f[i]) ||
		    l[p + (size_t)w[i]] != ' ')
			return -1;
		p += (size_t)w[i] + 1;
	}
	/* %5lu: right-aligned in 5 columns, or wider */
	size_t d0 = p;
	while (p < len && l[p] == ' ')
		p++;
	size_t d1 = p;
	while (p < len && l[p] >= '0' && l[p] <= '9' && p - d1 < 10)
		ino = ino * 10 + (unsigned long)(l[p++] - '0');
	size_t nd = p - d1;
	if (!nd || (nd < 5 && d1 - d0 != 5 - nd) || (nd >= 5 && d1 != d0) ||
	    ino > UINT32_MAX)
		return -1;
	/* protocol 0; flags 0 or __SO_ACCEPTCON; a stream, datagram or
	 * seqpacket socket; a state from SS_FREE to SS_DISCONNECTING */
	if (f[1] != 0 || (f[2] & ~0x10000ul) || (f[3] != SOCK_STREAM &&
	    f[3] != SOCK_DGRAM && f[3] != SOCK_SEQPACKET) || f[4] > 4)
		return -1;
	if (p < len && (l[p] != ' ' || p + 1 == len))
		return -1;
	*ptrw = pw;
	u->ino = (uint32_t)ino;
	u->type = (uint8_t)f[3];
	u->state = (f[2] & 0x10000) ? DIAG_LISTEN :
		   f[4] == 3 ? DIAG_ESTABLISHED : DIAG_CLOSE;
	return p < len ? (long)p + 1 : (long)len;
}

/* "@" and the escaped form of what follows '@' in NAME. */
static char *unix_name_proc(const char *name)
{
	size_t len = strlen(name + 1), need = 1 + esc_bytes(NULL, 0, name + 1, len);
	char *n = malloc(need + 1);
	if (n) {
		n[0] = '@';
		esc_bytes(n + 1, need, name + 1, len);
	}
	return n;
}

/* All of F in a new buffer, NUL-terminated, its length in *LEN; NULL
 * with errno (ENOMEM, or the read's error). */
static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	*len = 0;
	while (buf) {
		if (*len + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				break;
			buf = nb;
		}
		size_t r = fread(buf + *len, 1, cap - *len - 1, f);
		if (r) {
			*len += r;
			continue;
		}
		if (!ferror(f)) {
			buf[*len] = 0;
			return buf;
		}
		free(buf);
		errno = errno ? errno : EIO;
		return NULL;
	}
	free(buf);
	errno = ENOMEM;
	return NULL;
}

/* Append a newline and the LL bytes at LINE to the name of P: the rest
 * of a name that holds a newline.  0, or -1 (ENOMEM). */
static int name_continue(struct diag_unix *p, const char *line, size_t ll)
{
	size_t pl = strlen(p->name), nl = pl + 1 + ll;
	char *n = malloc(nl + 1);
	if (!n)
		return -1;
	memcpy(n, p->name, pl);
	n[pl] = '\n';
	memcpy(n + pl + 1, line, ll);
	n[nl] = 0;
	free(p->name);
	p->name = n;
	return 0;
}

/* The sockets of the LEN bytes of /proc/net/unix at BUF (its header
 * line first) into S, each well-formed line one, marked doubtful when
 * it could lie inside the name before it; what is not well-formed
 * continues the name before.  0, or -1 with errno (EPROTO: no header;
 * ENOMEM). */
static int proc_unix_lines(struct diag_unix_set *s, char *buf, size_t len)
{
	size_t ptrw = 0;
	char *line = memchr(buf, '\n', len);     /* after the header */
	if (!line) {
		errno = EPROTO;
		return -1;
	}
	size_t prev_len = 0;    /* the name of the line before, so far */
	int prev_named = 0;
	for (line++; line < buf + len;) {
		char *end = memchr(line, '\n', (size_t)(buf + len - line));
		size_t ll = end ? (size_t)(end - line) : (size_t)(buf + len - line);
		struct diag_unix u = { 0 };
		long off = memchr(line, 0, ll) ? -2 : proc_line(line, ll, &ptrw, &u);
		if (off == -2) {
			prev_named = 0;   /* the kernel writes no NUL byte */
		} else if (off < 0) {
			/* the rest of the name before, past its newline */
			if (prev_named) {
				if (name_continue(&s->v[s->n - 1], line, ll) < 0)
					goto nomem;
				prev_len += 1 + ll;
			}
		} else {
			u.doubtful = prev_named && prev_len + 1 + ll <= PROC_NAME_MAX;
			struct diag_unix *v = grow(s->v, &s->cap, s->n, sizeof *v);
			if (!v)
				goto nomem;
			s->v = v;
			s->v[s->n++] = u;
			prev_named = (size_t)off < ll;
			prev_len = prev_named ? ll - (size_t)off : 0;
			if (prev_named &&
			    !(s->v[s->n - 1].name = strndup(line + off, ll - (size_t)off)))
				goto nomem;
		}
		line += ll + 1;
	}
	return 0;
nomem:
	errno = ENOMEM;
	return -1;
}

/* Drop from S the doubtful lines that repeat another socket's inode, and
 * give abstract names the escaped form (the kernel printed NUL bytes as
 * '@').  0, or -1 (ENOMEM) with S holding only what is still to free. */
static int proc_unix_settle(struct diag_unix_set *s)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct diag_unix *u = &s->v[i];
		int dup = 0;
		for (size_t j = 0; u->doubtful && j < s->n && !dup; j++)
			dup = j != i && s->v[j].ino == u->ino;
		if (dup) {
			free(u->name);
			continue;
		}
		if (u->name && u->name[0] == '@') {
			char *n = unix_name_proc(u->name);
			if (!n) {
				for (size_t j = i; j < s->n; j++)
					free(s->v[j].name);
				s->n = k;
				errno = ENOMEM;
				return -1;
			}
			free(u->name);
			u->name = n;
		}
		s->v[k++] = *u;
	}
	s->n = k;
	return 0;
}

/* /proc/net/unix shows names raw, so a name holding a newline spreads
 * over several lines, and what follows its newline can read as a line of
 * its own: any user can forge one by binding such a name.  A line that
 * is not in the kernel's exact form continues the name before it.  A
 * well-formed line is doubtful when it could still lie inside the name
 * before it (that name and the line fit in the 108 bytes of a name): it
 * is dropped if it repeats the inode of another socket (inodes are
 * unique), else kept and marked doubtful for the caller to weigh. */
int diag_unix_proc(struct diag_unix_set *s)
{
	size_t len;

	memset(s, 0, sizeof *s);
	s->from_proc = 1;
	FILE *f = fopen("/proc/net/unix", "re");
	if (!f)
		return -1;
	char *buf = read_all(f, &len);
	int rc = buf ? proc_unix_lines(s, buf, len) : -1;
	if (rc == 0)
		rc = proc_unix_settle(s);
	int e = errno;
	free(buf);
	fclose(f);
	if (rc < 0) {
		diag_unix_free(s);
		errno = e;
	}
	return rc;
}

void diag_unix_free(struct diag_unix_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name); // NOLINT(clang-analyzer-core.NullDereference): n > 0 means v is set
		free(s->v[i].icons);
	}
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

/* The kernel keeps a dev_t as MAJOR << 20 | MINOR (MINORBITS 20) and
 * puts that in udiag_vfs_dev, while stat(2) encodes it for userspace
 * (new_encode_dev); compare major and minor. */
int diag_dev_match(uint32_t kdev, dev_t dev)
{
	return major(dev) == (kdev >> 20) && minor(dev) == (kdev & 0xfffff);
}

int diag_vfs_match(const struct diag_unix *u, dev_t dev, ino_t ino)
{
	return u->has_vfs && u->vfs_ino == (uint32_t)ino &&
	       diag_dev_match(u->vfs_dev, dev);
}

static int tcp_cb(const struct nlmsghdr *h, void *ctx)
{
	struct diag_tcp_set *s = ctx;
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	struct diag_tcp t = { 0 };

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof *m))
		return 0;
	t.family = m->idiag_family;
	t.state = m->idiag_state;
	t.port = ntohs(m->id.idiag_sport);
	memcpy(t.addr, m->id.idiag_src, t.family == AF_INET ? 4 : 16);
	t.ino = m->idiag_inode;
	t.uid = m->idiag_uid;
	t.rqueue = m->idiag_rqueue;
	t.wqueue = m->idiag_wqueue;
	int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
	const struct rtattr *a =
		(const struct rtattr *)((const char *)m + NLMSG_ALIGN(sizeof *m));
	for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
		if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
			t.v6only = *(const uint8_t *)RTA_DATA(a);
	struct diag_tcp *v = grow(s->v, &s->cap, s->n, sizeof *v);
	if (!v) {
		errno = ENOMEM;
		return -1;
	}
	s->v = v;
	s->v[s->n++] = t;
	return 0;
}

int diag_tcp_dump(struct diag_tcp_set *s, int family, uint32_t states)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = (uint8_t)family,
		.sdiag_protocol = IPPROTO_TCP,
		/* INET_DIAG_SKV6ONLY comes with the TCLASS extension */
		.idiag_ext = 1 << (INET_DIAG_TCLASS - 1),
		.idiag_states = states,
	};
	return diag_run(&req, sizeof req, tcp_cb, s);
}

void diag_tcp_free(struct diag_tcp_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
