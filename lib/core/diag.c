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

/* The bound name of a UNIX socket: a path, or "@" and the abstract name
 * with NUL bytes shown as '@' (as ss and /proc/net/unix show them). */
static char *unix_name(const char *p, size_t len)
{
	char *s = malloc(len + 2);
	if (!s)
		return NULL;
	if (len && p[0] == 0) {
		for (size_t i = 0; i < len; i++)
			s[i] = p[i] ? p[i] : '@';
		s[len] = 0;
	} else {
		size_t n = strnlen(p, len);
		memcpy(s, p, n);
		s[n] = 0;
	}
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

int diag_unix_proc(struct diag_unix_set *s)
{
	char line[4608];
	memset(s, 0, sizeof *s);
	s->from_proc = 1;
	FILE *f = fopen("/proc/net/unix", "re");
	if (!f)
		return -1;
	if (!fgets(line, sizeof line, f)) { /* the header */
		fclose(f);
		errno = EPROTO;
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		unsigned long ref, proto, fl, type, st, ino;
		int off = 0;
		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "%*s %lx %lx %lx %lx %lx %lu%n", &ref, &proto, &fl,
			   &type, &st, &ino, &off) != 6)
			continue;
		struct diag_unix u = { .ino = (uint32_t)ino, .type = (uint8_t)type };
		u.state = (fl & 0x10000) ? DIAG_LISTEN :
			  st == 3 ? DIAG_ESTABLISHED : DIAG_CLOSE;
		const char *name = line + off;
		if (*name == ' ')
			name++;
		if (*name && !(u.name = strdup(name)))
			goto nomem;
		struct diag_unix *v = grow(s->v, &s->cap, s->n, sizeof *v);
		if (!v) {
			free(u.name);
			goto nomem;
		}
		s->v = v;
		s->v[s->n++] = u;
	}
	fclose(f);
	return 0;
nomem:
	fclose(f);
	diag_unix_free(s);
	errno = ENOMEM;
	return -1;
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
