/* loop.c — a bridge pointed at itself: is the target the listening
 * socket (at start), is an accepted client one of our own connections
 * (at run time). */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/sock.h"
#include "loop.h"

/* An IP endpoint reduced for comparison: IPv4-mapped IPv6 is IPv4. */
struct ep {
	int family;        /* AF_INET, AF_INET6, or 0: not IP */
	uint8_t a[16];     /* 4 or 16 bytes */
	uint16_t port;     /* host order */
};

static struct ep ep_of(const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	struct ep e = { 0 };
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		e.family = AF_INET;
		memcpy(e.a, &in->sin_addr, 4);
		e.port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		e.port = ntohs(in6->sin6_port);
		if (memcmp(&in6->sin6_addr, mapped, 12) == 0) {
			e.family = AF_INET;
			memcpy(e.a, (const uint8_t *)&in6->sin6_addr + 12, 4);
		} else {
			e.family = AF_INET6;
			memcpy(e.a, &in6->sin6_addr, 16);
		}
	}
	return e;
}

static size_t ep_len(const struct ep *e)
{
	return e->family == AF_INET ? 4 : 16;
}

static int ep_unspecified(const struct ep *e)
{
	static const uint8_t zero[16];
	return memcmp(e->a, zero, ep_len(e)) == 0;
}

static int ep_loopback(const struct ep *e)
{
	static const uint8_t one6[16] = { [15] = 1 };
	if (e->family == AF_INET)
		return e->a[0] == 127;
	return memcmp(e->a, one6, 16) == 0;
}

/* A connect to the unspecified address goes to the loopback one. */
static void ep_connect_target(struct ep *e)
{
	if (!ep_unspecified(e))
		return;
	if (e->family == AF_INET)
		e->a[0] = 127, e->a[3] = 1;
	else
		e->a[15] = 1;
}

/* E is an address of this host (in this network namespace). */
static int ep_local(const struct ep *e)
{
	if (ep_loopback(e))
		return 1;
	struct ifaddrs *ifs, *i;
	int found = 0;
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		struct ep x = ep_of(i->ifa_addr);
		found = x.family == e->family &&
			memcmp(x.a, e->a, ep_len(e)) == 0;
	}
	freeifaddrs(ifs);
	return found;
}

static int tcp_loops(int lfd, const struct sockaddr *lsa,
		     const struct sockaddr *tsa)
{
	struct ep l = ep_of(lsa), t = ep_of(tsa);
	if (!l.family || !t.family || l.port != t.port)
		return 0;
	ep_connect_target(&t);
	if (!ep_unspecified(&l))
		return l.family == t.family &&
		       memcmp(l.a, t.a, ep_len(&l)) == 0;
	/* a wildcard listener: any local address of a family it takes */
	if (l.family != t.family) {
		int v6only = 1;
		socklen_t sl = sizeof v6only;
		if (l.family != AF_INET6 ||
		    getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &sl) < 0 ||
		    v6only)
			return 0;
	}
	return ep_local(&t);
}

/* The socket file at PATH is bound to the listening socket LFD. */
static int path_loops(int lfd, const char *path)
{
	struct stat st, ls;
	uint32_t sockino;
	if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || fstat(lfd, &ls) < 0)
		return 0;
	int r = sock_file_state(&st, &sockino);
	if (r >= 0)
		return r > 0 && sockino == (uint32_t)ls.st_ino;
	/* no sock_diag: compare the file LFD was bound to */
	struct sockaddr_un sun;
	socklen_t len = sizeof sun;
	struct stat bound;
	memset(&sun, 0, sizeof sun);
	if (getsockname(lfd, (struct sockaddr *)&sun, &len) < 0 ||
	    sun.sun_family != AF_UNIX || !sun.sun_path[0] ||
	    stat(sun.sun_path, &bound) < 0)
		return 0;
	return bound.st_dev == st.st_dev && bound.st_ino == st.st_ino;
}

int loop_target_is_listener(int lfd, const struct addr *target)
{
	struct sockaddr_storage ls = { 0 };
	socklen_t llen = sizeof ls;
	if (getsockname(lfd, (struct sockaddr *)&ls, &llen) < 0)
		return -1;
	if (target->kind == ADDR_UNIX)
		return ls.ss_family == AF_UNIX && path_loops(lfd, target->path) ?
		       0 : -1;
	if (target->kind == ADDR_ABSTRACT) {
		return ls.ss_family == AF_UNIX && target->nsa &&
		       llen == target->salen[0] &&
		       memcmp(&ls, &target->sa[0], llen) == 0 ? 0 : -1;
	}
	for (int i = 0; i < target->nsa; i++)
		if (tcp_loops(lfd, (struct sockaddr *)&ls,
			      (const struct sockaddr *)&target->sa[i]))
			return i;
	return -1;
}

int loop_conns_init(struct loop_conns *t)
{
	t->v = NULL;
	t->nv = 0;
	t->head = malloc(65536 * sizeof *t->head);
	if (!t->head)
		return -1;
	for (int i = 0; i < 65536; i++)
		t->head[i] = -1;
	return 0;
}

void loop_conns_free(struct loop_conns *t)
{
	free(t->head);
	free(t->v);
	t->head = NULL;
	t->v = NULL;
	t->nv = 0;
}

void loop_note(struct loop_conns *t, int fd, const struct sockaddr *sa)
{
	struct sockaddr_storage local = { 0 };
	socklen_t len = sizeof local;
	if (!t->head || fd < 0 || (sa->sa_family != AF_INET &&
				   sa->sa_family != AF_INET6) ||
	    getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return;
	if (fd >= t->nv) {
		int n = fd + 1 > t->nv * 2 ? fd + 1 : t->nv * 2;
		struct loop_ent *v = realloc(t->v, (size_t)n * sizeof *v);
		if (!v)
			return; /* not noted: a loop is then only bounded by -c */
		memset(v + t->nv, 0, (size_t)(n - t->nv) * sizeof *v);
		t->v = v;
		t->nv = n;
	}
	loop_forget(t, fd);
	struct loop_ent *e = &t->v[fd];
	uint16_t port = ep_of((struct sockaddr *)&local).port;
	e->local = local;
	memset(&e->remote, 0, sizeof e->remote);
	memcpy(&e->remote, sa, sa->sa_family == AF_INET ?
	       sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	e->used = 1;
	e->prev = -1;
	e->next = t->head[port];
	if (e->next >= 0)
		t->v[e->next].prev = fd;
	t->head[port] = fd;
}

void loop_forget(struct loop_conns *t, int fd)
{
	if (fd < 0 || fd >= t->nv || !t->v[fd].used)
		return;
	struct loop_ent *e = &t->v[fd];
	if (e->prev >= 0)
		t->v[e->prev].next = e->next;
	else
		t->head[ep_of((struct sockaddr *)&e->local).port] = e->next;
	if (e->next >= 0)
		t->v[e->next].prev = e->prev;
	e->used = 0;
}

int loop_is_own(const struct loop_conns *t, int fd,
		const struct sockaddr *peer)
{
	if (peer->sa_family == AF_UNIX) {
		pid_t pid;
		uid_t uid;
		gid_t gid;
		return sock_peercred(fd, &pid, &uid, &gid) == 0 &&
		       pid == getpid();
	}
	struct ep p = ep_of(peer);
	if (!t->head || !p.family || t->head[p.port] < 0)
		return 0;
	struct sockaddr_storage here = { 0 };
	socklen_t len = sizeof here;
	if (getsockname(fd, (struct sockaddr *)&here, &len) < 0)
		return 0;
	struct ep h = ep_of((struct sockaddr *)&here);
	for (int i = t->head[p.port]; i >= 0; i = t->v[i].next) {
		const struct loop_ent *e = &t->v[i];
		struct ep l = ep_of((const struct sockaddr *)&e->local);
		struct ep r = ep_of((const struct sockaddr *)&e->remote);
		ep_connect_target(&r);
		if (l.family == p.family && !memcmp(l.a, p.a, ep_len(&l)) &&
		    r.family == h.family && r.port == h.port &&
		    !memcmp(r.a, h.a, ep_len(&r)))
			return 1;
	}
	return 0;
}
