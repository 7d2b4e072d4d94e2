/* inspect.c — put together what the kernel's socket tables, the file
 * system and /proc say about one socket address, without connecting to
 * it (unless asked to probe). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inspect.h"

/* Replace *DST by a formatted string (NULL when out of memory). */
static void set(char **dst, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set(char **dst, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*dst);
	*dst = s;
}

/* A new string A B, or NULL. */
static char *concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);
	if (s) {
		memcpy(s, a, la); // NOLINT(bugprone-not-null-terminated-result): B's NUL follows
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

const char *inspect_state_name(enum inspect_state s)
{
	static const char *const names[] = {
		[INSPECT_LISTENING] = "listening", [INSPECT_BOUND] = "bound",
		[INSPECT_CONNECTED] = "connected", [INSPECT_STALE] = "stale",
		[INSPECT_NOT_SOCKET] = "not-a-socket", [INSPECT_MISSING] = "missing",
		[INSPECT_UNKNOWN] = "unknown",
	};
	return names[s];
}

const char *inspect_type_name(int type)
{
	switch (type) {
	case SOCK_STREAM: return "stream";
	case SOCK_DGRAM: return "dgram";
	case SOCK_SEQPACKET: return "seqpacket";
	}
	return NULL;
}

int inspect_live(const struct inspect_report *r)
{
	return r->state == INSPECT_LISTENING ||
	       (r->state == INSPECT_BOUND && r->type == SOCK_DGRAM);
}

void inspect_init(struct inspect_ctx *c)
{
	memset(c, 0, sizeof *c);
}

void inspect_free(struct inspect_ctx *c)
{
	diag_unix_free(&c->ux);
	diag_tcp_free(&c->tcp);
	diag_tcp_free(&c->tcp_conns);
	free(c->vfs_index);
	free(c->name_index);
	memset(c, 0, sizeof *c);
}

static int cmp_vfs(const void *a, const void *b, void *ctx)
{
	const struct diag_unix *v = ctx;
	uint32_t x = v[*(const size_t *)a].vfs_ino, y = v[*(const size_t *)b].vfs_ino;
	return x < y ? -1 : x > y;
}

static int cmp_name(const void *a, const void *b, void *ctx)
{
	const struct diag_unix *v = ctx;
	return strcmp(v[*(const size_t *)a].name, v[*(const size_t *)b].name);
}

/* Sort the sockets that have a file identity, and those with a name. */
static int build_index(struct inspect_ctx *c)
{
	c->vfs_index = malloc((c->ux.n + 1) * sizeof *c->vfs_index);
	c->name_index = malloc((c->ux.n + 1) * sizeof *c->name_index);
	if (!c->vfs_index || !c->name_index)
		return -1;
	for (size_t i = 0; i < c->ux.n; i++) {
		if (c->ux.v[i].has_vfs)
			c->vfs_index[c->nvfs++] = i;
		if (c->ux.v[i].name)
			c->name_index[c->nname++] = i;
	}
	qsort_r(c->vfs_index, c->nvfs, sizeof *c->vfs_index, cmp_vfs, c->ux.v);
	qsort_r(c->name_index, c->nname, sizeof *c->name_index, cmp_name, c->ux.v);
	return 0;
}

int inspect_load_unix(struct inspect_ctx *c, int flags)
{
	const char *force = getenv("USOCK_DIAG");
	if (!force || strcmp(force, "proc")) {
		if (diag_unix_dump(&c->ux, flags) == 0) {
			c->have_ux = 1;
			return build_index(c);
		}
		c->ux_errno = errno;
	}       /* USOCK_DIAG=proc: asked for, so no error to report */
	if (diag_unix_proc(&c->ux) < 0)
		return -1;
	c->have_ux = 1;
	return build_index(c);
}

int inspect_load_tcp(struct inspect_ctx *c, int conns)
{
	if (diag_tcp_dump(&c->tcp, AF_INET, 1u << DIAG_LISTEN) < 0 ||
	    diag_tcp_dump(&c->tcp, AF_INET6, 1u << DIAG_LISTEN) < 0)
		return -1;
	c->have_tcp = 1;
	if (conns) {
		uint32_t st = (1u << DIAG_ESTABLISHED) | (1u << 2) | (1u << 3);
		if (diag_tcp_dump(&c->tcp_conns, AF_INET, st) < 0 ||
		    diag_tcp_dump(&c->tcp_conns, AF_INET6, st) < 0)
			return -1;
		c->have_tcp_conns = 1;
	}
	return 0;
}

/* ---- UNIX sockets ---- */

/* A line of /proc/net/unix that may be part of another socket's name. */
#define DOUBTFUL_NOTE "/proc/net/unix cannot tell: the line that shows a " \
	"socket bound here may be part of the name of the socket before it " \
	"(a name can hold a newline), and no process that could be examined " \
	"holds that socket; load the unix_diag module for a sure answer"

/* What the sockets bound to one file or name add up to. */
struct tally {
	const struct diag_unix *listener, *bound, *connected;
	unsigned conns;      /* stream/seqpacket connections on it */
	uint32_t *clients;
	size_t nclients, cap;
};

static void tally_client(struct tally *t, uint32_t ino)
{
	if (!ino)
		return;
	if (t->nclients == t->cap) {
		size_t c = t->cap ? t->cap * 2 : 16;
		uint32_t *v = realloc(t->clients, c * sizeof *v);
		if (!v)
			return;
		t->clients = v;
		t->cap = c;
	}
	t->clients[t->nclients++] = ino;
}

static void tally_add(struct tally *t, const struct diag_unix *u)
{
	/* a doubtful line never hides a sure one */
	if (u->state == DIAG_LISTEN) {
		if (!t->listener || t->listener->doubtful)
			t->listener = u;
	} else if (u->type == SOCK_DGRAM) {
		if (u->state == DIAG_ESTABLISHED && u->peer) {
			if (!t->connected || t->connected->doubtful)
				t->connected = u;
		} else if (!t->bound || t->bound->doubtful) {
			t->bound = u;
		}
	} else if (u->state == DIAG_ESTABLISHED) {
		t->conns++; /* an accepted (or not yet accepted) connection */
		tally_client(t, u->peer);
	} else if (!t->bound || t->bound->doubtful) {
		t->bound = u; /* bound, never listened */
	}
}

/* The clients still waiting in the accept queue of the listener L:
 * UNIX_DIAG_ICONS lists their (the connecting side's) inodes. */
static void tally_pending(struct tally *t, const struct diag_unix *l)
{
	for (uint32_t i = 0; i < l->nicons; i++)
		tally_client(t, l->icons[i]);
}

/* The state of R from the sockets tallied in T. */
static void tally_apply(struct inspect_ctx *c, struct tally *t,
			struct inspect_report *r)
{
	const struct diag_unix *u = t->listener ? t->listener :
				    t->bound ? t->bound : t->connected;
	int detail = !c->ux.from_proc;

	if (u) {
		r->doubtful = u->doubtful;
		r->type = u->type;
		r->sock_ino = u->ino;
		if (u->has_uid) {
			r->has_sock_uid = 1;
			r->sock_uid = u->uid;
		}
	}
	if (t->listener) {
		r->state = INSPECT_LISTENING;
		if (u->has_rqlen) {
			r->has_queue = 1;
			r->queue = u->rqueue;
			r->backlog = u->wqueue;
		}
		r->has_peers = detail;
		r->peers = t->conns + u->nicons;
		tally_pending(t, u);
	} else if (t->bound && t->bound->type == SOCK_DGRAM) {
		r->state = INSPECT_BOUND;
		/* datagram clients: sockets connected to this one */
		for (size_t i = 0; i < c->ux.n; i++)
			if (c->ux.v[i].peer == u->ino) {
				r->peers++;
				tally_client(t, c->ux.v[i].ino);
			}
		r->has_peers = detail;
	} else if (t->bound) {
		r->state = INSPECT_BOUND;
		set(&r->note, "a %s socket is bound here but does not listen: "
		    "connections are refused", inspect_type_name(u->type));
	} else if (t->connected) {
		r->state = INSPECT_CONNECTED;
		set(&r->note, "the datagram socket bound here is connected to "
		    "another socket and takes datagrams from it only");
	} else if (t->conns) {
		r->state = INSPECT_STALE;
		r->has_peers = 1;
		r->peers = t->conns;
		set(&r->note, "nothing listens on it any more: the listening "
		    "socket is closed, %u accepted connection%s still open",
		    t->conns, t->conns == 1 ? " is" : "s are");
	} else {
		r->state = INSPECT_STALE;
		set(&r->note, "no socket is bound to this file in this network "
		    "namespace (a listener in another namespace would not show)");
	}
	r->client_inos = t->clients;
	r->nclient_inos = t->nclients;
	t->clients = NULL;
}

/* Index in c->name_index of the first socket named NAME, or c->nname. */
static size_t name_lookup(const struct inspect_ctx *c, const char *name)
{
	size_t lo = 0, hi = c->nname;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(c->ux.v[c->name_index[mid]].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Tally the sockets named exactly NAME. */
static void tally_name(const struct inspect_ctx *c, const char *name,
		       struct tally *t, const struct stat *st)
{
	for (size_t k = name_lookup(c, name); k < c->nname; k++) {
		const struct diag_unix *u = &c->ux.v[c->name_index[k]];
		struct stat s2;
		if (strcmp(u->name, name))
			break;
		if (st && (stat(u->name, &s2) < 0 || s2.st_dev != st->st_dev ||
			   s2.st_ino != st->st_ino))
			continue;
		tally_add(t, u);
	}
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Tally the sockets bound to the file ST (path R->path). */
static void tally_file(struct inspect_ctx *c, const struct inspect_report *r,
		       const struct stat *st, struct tally *t)
{
	size_t lo = 0, hi = c->nvfs;
	uint32_t ino = (uint32_t)st->st_ino;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->ux.v[c->vfs_index[mid]].vfs_ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < c->nvfs && c->ux.v[c->vfs_index[lo]].vfs_ino == ino; lo++) {
		const struct diag_unix *u = &c->ux.v[c->vfs_index[lo]];
		if (diag_dev_match(u->vfs_dev, st->st_dev))
			tally_add(t, u);
	}
	if (t->listener || t->bound || t->connected || t->conns)
		return;
	/* No file identity (old kernel, /proc/net/unix, a file system that
	 * reports another device): try the names sockets were bound to. */
	char abs[PATH_MAX];
	if (realpath(r->path, abs))
		tally_name(c, abs, t, st);
	tally_name(c, r->path, t, st);
	if (c->ux.from_proc && !t->listener && !t->bound) {
		const char *b = base_name(r->path);
		for (size_t k = 0; k < c->nname; k++) {
			const struct diag_unix *u = &c->ux.v[c->name_index[k]];
			struct stat s2;
			if (!strcmp(base_name(u->name), b) && strcmp(u->name, r->path) &&
			    stat(u->name, &s2) == 0 && s2.st_dev == st->st_dev &&
			    s2.st_ino == st->st_ino)
				tally_add(t, u);
		}
	}
}


static void report_start(struct inspect_report *r, enum addr_kind kind)
{
	memset(r, 0, sizeof *r);
	r->kind = kind;
}

/* PATH as an absolute name without ".", ".." or symbolic links, as far
 * as this process can tell: realpath(3) of the longest prefix it can
 * resolve, then the rest taken literally ("a/../b" is "b").  For a file
 * in a directory we may not search, to compare with the bound names. */
static int guess_canonical(const char *path, char *out, size_t n)
{
	char abs[PATH_MAX], head[PATH_MAX];
	if (path[0] == '/')
		snprintf(abs, sizeof abs, "%s", path);
	else if (!getcwd(head, sizeof head) ||
		 snprintf(abs, sizeof abs, "%s/%s", head, path) >= (int)sizeof abs)
		return -1;
	/* the longest prefix realpath() resolves */
	size_t cut = strlen(abs);
	for (;;) {
		snprintf(head, sizeof head, "%.*s", (int)cut, abs);
		if (!cut || realpath(cut ? head : "/", out))
			break;
		while (cut && abs[cut - 1] != '/')
			cut--;
		while (cut > 1 && abs[cut - 1] == '/')
			cut--;
	}
	if (!cut)
		snprintf(out, n, "/");
	/* the rest, one component at a time */
	size_t l = strlen(out);
	const char *p = abs + cut;
	while (*p) {
		while (*p == '/')
			p++;
		size_t k = strcspn(p, "/");
		if (!k)
			break;
		if (k == 2 && !strncmp(p, "..", 2)) {
			while (l > 1 && out[l - 1] != '/')
				l--;
			if (l > 1)
				l--;
			out[l] = 0;
		} else if (!(k == 1 && *p == '.')) {
			if (l + 1 + k >= n)
				return -1;
			if (l > 1)
				out[l++] = '/';
			memcpy(out + l, p, k);
			l += k;
			out[l] = 0;
		}
		p += k;
	}
	return 0;
}

void inspect_path(struct inspect_ctx *c, const char *path,
		  struct inspect_report *r)
{
	struct stat st;
	struct tally t = { 0 };

	report_start(r, ADDR_UNIX);
	r->path = strdup(path);
	r->address = concat("unix:", path);
	if (lstat(path, &st) < 0) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR) {
			r->state = INSPECT_MISSING;
			set(&r->note, "no such file");
			return;
		}
		/* cannot see the file: perhaps its bound name shows it */
		r->state = INSPECT_UNKNOWN;
		set(&r->note, "cannot examine the file: %s", strerror(e));
		tally_name(c, path, &t, NULL);
		char canon[PATH_MAX];
		if (!t.listener && !t.bound && !t.connected &&
		    guess_canonical(path, canon, sizeof canon) == 0 &&
		    strcmp(canon, path))
			tally_name(c, canon, &t, NULL);
		if (t.listener || t.bound || t.connected) {
			tally_apply(c, &t, r);
			set(&r->note, "seen by the name it was bound to; the file "
			    "itself cannot be examined (%s)", strerror(e));
		}
		free(t.clients);
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		r->is_link = 1;
		if (stat(path, &st) < 0) {
			r->state = INSPECT_MISSING;
			set(&r->note, "a symbolic link to nothing: %s", strerror(errno));
			return;
		}
	}
	r->st = st;
	r->has_stat = 1;
	if (!S_ISSOCK(st.st_mode)) {
		r->state = INSPECT_NOT_SOCKET;
		set(&r->note, "a %s", file_kind_name(st.st_mode));
		return;
	}
	struct perm_acl acl;
	r->has_acl = perm_acl_read(path, &acl);
	tally_file(c, r, &st, &t);
	tally_apply(c, &t, r);
	free(t.clients);
}

void inspect_abstract(struct inspect_ctx *c, const char *name,
		      struct inspect_report *r)
{
	struct tally t = { 0 };
	report_start(r, ADDR_ABSTRACT);
	set(&r->address, "@%s", name);
	tally_name(c, r->address, &t, NULL);
	if (t.listener || t.bound || t.connected || t.conns) {
		tally_apply(c, &t, r);
		if (r->state == INSPECT_STALE) /* connections, no listener */
			r->state = INSPECT_MISSING;
	} else {
		r->state = INSPECT_MISSING;
		set(&r->note, "no socket is bound to this name in this network "
		    "namespace");
	}
	free(t.clients);
}

size_t inspect_bound_below(const struct inspect_ctx *c, const char *dir,
			   char ***out)
{
	size_t n = 0, len = strlen(dir);
	char **v = NULL;
	*out = NULL;
	while (len > 1 && dir[len - 1] == '/')
		len--;
	for (size_t k = 0; k < c->nname; k++) {
		const char *name = c->ux.v[c->name_index[k]].name;
		if (strncmp(name, dir, len) || name[len] != '/' ||
		    (n && !strcmp(v[n - 1], name)))
			continue; /* sorted: a repeated name is the one before */
		char **nv = realloc(v, (n + 1) * sizeof *v);
		if (!nv)
			break; /* out of memory: what was found so far */
		v = nv;
		if (!(v[n] = strdup(name)))
			break;
		n++;
	}
	*out = v;
	return n;
}

/* ---- TCP ---- */

static void tcp_format(const struct diag_tcp *t, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	if (t->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(t->port);
		memcpy(&sin->sin_addr, t->addr, 4);
		len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(t->port);
		memcpy(&sin6->sin6_addr, t->addr, 16);
		len = sizeof *sin6;
	}
	sa_format((struct sockaddr *)&ss, len, SOCK_STREAM, buf, n);
}

static int is_any(const struct diag_tcp *t)
{
	static const uint8_t zero[16];
	return !memcmp(t->addr, zero, t->family == AF_INET ? 4 : 16);
}

/* Does the listener L take connections to SA? */
static int tcp_takes(const struct diag_tcp *l, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		if (l->family == AF_INET)
			return is_any(l) || !memcmp(l->addr, &sin->sin_addr, 4);
		return is_any(l) && !l->v6only; /* dual-stack [::] */
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	return l->family == AF_INET6 &&
	       (is_any(l) || !memcmp(l->addr, &sin6->sin6_addr, 16));
}

/* Connections to the listener L (same port, its address or any). */
static unsigned tcp_conns(const struct inspect_ctx *c, const struct diag_tcp *l)
{
	unsigned n = 0;
	for (size_t i = 0; i < c->tcp_conns.n; i++) {
		const struct diag_tcp *t = &c->tcp_conns.v[i];
		if (t->port != l->port)
			continue;
		if (is_any(l) ? (t->family == l->family ||
				 (l->family == AF_INET6 && !l->v6only)) :
		    (t->family == l->family &&
		     !memcmp(t->addr, l->addr, l->family == AF_INET ? 4 : 16)))
			n++;
	}
	return n;
}

static void tcp_report(const struct inspect_ctx *c, const struct diag_tcp *t,
		       struct inspect_report *r)
{
	char buf[ADDR_STRLEN];
	report_start(r, ADDR_TCP);
	tcp_format(t, buf, sizeof buf);
	r->address = strdup(buf);
	r->type = SOCK_STREAM;
	r->state = INSPECT_LISTENING;
	r->sock_ino = t->ino;
	r->has_queue = 1;
	r->queue = t->rqueue;
	r->backlog = t->wqueue;
	r->has_sock_uid = 1;
	r->sock_uid = t->uid;
	if (c->have_tcp_conns) {
		r->has_peers = 1;
		r->peers = tcp_conns(c, t);
	}
}

long inspect_tcp(struct inspect_ctx *c, const struct addr *a, int any_host,
		 struct inspect_report **out)
{
	unsigned port = (unsigned)atoi(a->port);
	size_t n = 0;
	struct inspect_report *v = calloc(c->tcp.n + 1, sizeof *v);
	if (!v)
		return -1;
	for (size_t i = 0; i < c->tcp.n; i++) {
		const struct diag_tcp *t = &c->tcp.v[i];
		int ok = t->port == port;
		if (ok && any_host)
			ok = !a->family || t->family == a->family ||
			     (a->family == AF_INET && is_any(t) && !t->v6only);
		else if (ok) {
			ok = 0;
			for (int k = 0; k < a->nsa && !ok; k++)
				ok = tcp_takes(t, (const struct sockaddr *)&a->sa[k]);
		}
		if (ok)
			tcp_report(c, t, &v[n++]);
	}
	if (!n) {
		char buf[ADDR_STRLEN];
		report_start(&v[0], ADDR_TCP);
		v[0].address = strdup(addr_format(a, buf, sizeof buf));
		v[0].state = INSPECT_MISSING;
		set(&v[0].note, "nothing listens on TCP port %u%s", port,
		    any_host ? "" : " at this address");
		n = 1;
	}
	*out = v;
	return (long)n;
}

/* ---- every listener ---- */

static void entry_report(const struct diag_unix *u, struct inspect_report *r)
{
	int abstract = u->name[0] == '@';
	report_start(r, abstract ? ADDR_ABSTRACT : ADDR_UNIX);
	if (!abstract)
		r->path = strdup(u->name);
	set(&r->address, "%s%s", abstract ? "" : "unix:", u->name);
	r->type = u->type;
	r->sock_ino = u->ino;
	r->state = u->state == DIAG_LISTEN ? INSPECT_LISTENING : INSPECT_BOUND;
	r->doubtful = u->doubtful;
	if (u->state == DIAG_LISTEN && u->has_rqlen) {
		r->has_queue = 1;
		r->queue = u->rqueue;
		r->backlog = u->wqueue;
	}
	if (u->has_uid) {
		r->has_sock_uid = 1;
		r->sock_uid = u->uid;
	}
	if (abstract)
		return;
	r->has_vfs = u->has_vfs;
	r->vfs_dev = u->vfs_dev;
	r->vfs_ino = u->vfs_ino;
	struct stat st;
	struct perm_acl acl;
	int plain = u->name[0] == '/' && strncmp(u->name, "/proc/", 6);
	int e = plain && lstat(u->name, &st) < 0 ? errno : 0;
	if (plain && !e && S_ISSOCK(st.st_mode) &&
	    (u->has_vfs ? diag_vfs_match(u, st.st_dev, st.st_ino) : 1)) {
		r->st = st;
		r->has_stat = 1;
		r->has_acl = perm_acl_read(u->name, &acl);
	} else if (e == EACCES || e == EPERM) {
		set(&r->note, "its file cannot be examined: %s", strerror(e));
	} else if (u->has_vfs || !plain) {
		r->unresolved = 1; /* inspect_resolve() looks further */
		set(&r->note, "bound as %s, a name that cannot be used from here",
		    u->name);
	} else {
		r->file_gone = 1;
		set(&r->note, "its file has been removed or replaced");
	}
}

long inspect_all(struct inspect_ctx *c, int tcp, struct inspect_report **out)
{
	size_t n = 0, cap = c->ux.n + (tcp ? c->tcp.n : 0) + 1;
	struct inspect_report *v = calloc(cap, sizeof *v);
	if (!v)
		return -1;
	for (size_t i = 0; i < c->ux.n; i++) {
		const struct diag_unix *u = &c->ux.v[i];
		if (u->name && (u->state == DIAG_LISTEN ||
				(u->type == SOCK_DGRAM && u->state == DIAG_CLOSE)))
			entry_report(u, &v[n++]);
	}
	for (size_t i = 0; tcp && i < c->tcp.n; i++)
		tcp_report(c, &c->tcp.v[i], &v[n++]);
	*out = v;
	return (long)n;
}

/* ---- processes ---- */

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = ((const struct inspect_proc *)a)->pid;
	pid_t y = ((const struct inspect_proc *)b)->pid;
	return x < y ? -1 : x > y;
}

/* The processes holding INO, from the scan PS and the known INFO. */
static struct inspect_proc *holders(const struct procscan *ps, uint32_t ino,
				    const struct inspect_proc *info,
				    size_t ninfo, size_t *count)
{
	size_t first, k = procscan_find(ps, ino, &first);
	*count = 0;
	if (!k || !ino)
		return NULL;
	struct inspect_proc *v = malloc(k * sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < k; i++) {
		struct inspect_proc key = { .pid = ps->v[first + i].pid };
		const struct inspect_proc *p =
			bsearch(&key, info, ninfo, sizeof *info, cmp_pid);
		if (p)
			v[(*count)++] = *p;
	}
	return v;
}

int inspect_procs(struct inspect_ctx *c, struct inspect_report *r, size_t n)
{
	size_t nwant = 0, cap = 0;
	for (size_t i = 0; i < n; i++)
		cap += 1 + r[i].nclient_inos;
	uint32_t *want = malloc((cap + 1) * sizeof *want);
	if (!want)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (r[i].sock_ino)
			want[nwant++] = r[i].sock_ino;
		for (size_t k = 0; k < r[i].nclient_inos; k++)
			want[nwant++] = r[i].client_inos[k];
	}
	struct procscan ps;
	int rc = procscan_run(&ps, want, nwant);
	free(want);
	if (rc < 0)
		return -1;
	c->procs_denied = ps.denied;

	/* the processes found, once each, sorted by pid */
	struct inspect_proc *info = malloc((ps.n + 1) * sizeof *info);
	size_t ninfo = 0;
	if (!info) {
		procscan_free(&ps);
		return -1;
	}
	for (size_t i = 0; i < ps.n; i++)
		info[ninfo++].pid = ps.v[i].pid;
	qsort(info, ninfo, sizeof *info, cmp_pid);
	size_t u = 0;
	for (size_t i = 0; i < ninfo; i++) {
		if (u && info[u - 1].pid == info[i].pid)
			continue;
		struct procscan_info pi;
		if (procscan_info(info[i].pid, &pi) < 0)
			continue;
		info[u].pid = pi.pid;
		info[u].uid = pi.uid;
		memcpy(info[u].comm, pi.comm, sizeof info[u].comm);
		u++;
	}
	ninfo = u;

	for (size_t i = 0; i < n; i++) {
		r[i].listeners = holders(&ps, r[i].sock_ino, info, ninfo,
					 &r[i].nlisteners);
		r[i].procs_partial = !r[i].nlisteners && ps.denied && r[i].sock_ino;
		for (size_t k = 0; k < r[i].nclient_inos; k++) {
			size_t m;
			struct inspect_proc *p = holders(&ps, r[i].client_inos[k],
							 info, ninfo, &m);
			if (m) {
				struct inspect_proc *nv = realloc(r[i].clients,
					(r[i].nclients + m) * sizeof *nv);
				if (nv) {
					memcpy(nv + r[i].nclients, p, m * sizeof *p);
					r[i].clients = nv;
					r[i].nclients += m;
				}
			}
			free(p);
		}
	}
	free(info);
	procscan_free(&ps);
	/* a doubtful line of /proc/net/unix counts only when a process
	 * holds the socket it names; a forged line names none */
	for (size_t i = 0; i < n; i++)
		if (r[i].doubtful && !r[i].nlisteners) {
			r[i].state = INSPECT_UNKNOWN;
			r[i].has_queue = r[i].has_peers = 0;
			free(r[i].note);
			r[i].note = strdup(DOUBTFUL_NOTE);
		}
	return 0;
}

/* ---- who may connect ---- */

/* The verdict for a report whose file permissions gave V. */
static void judge(struct inspect_report *r, const struct perm_verdict *v)
{
	r->exact = v->exact;
	switch (r->state) {
	case INSPECT_LISTENING:
	case INSPECT_BOUND:
		if (inspect_live(r)) {
			r->can_connect = v->can;
			set(&r->reason, "%s", v->reason);
		} else {
			set(&r->reason, "%s", r->note ? r->note : "not listening");
		}
		break;
	case INSPECT_NOT_SOCKET:
		set(&r->reason, "not a socket: %s", r->note ? r->note : "");
		break;
	case INSPECT_MISSING:
	case INSPECT_UNKNOWN:
		set(&r->reason, "%s", r->doubtful && r->note ? r->note : v->reason);
		break;
	case INSPECT_STALE:
		set(&r->reason, "nothing listens on it (a stale socket file)");
		break;
	default:
		set(&r->reason, "%s", r->note ? r->note : inspect_state_name(r->state));
	}
}

int inspect_perms(struct inspect_report *r, size_t n,
		  const struct perm_user *user)
{
	struct perm_verdict v;
	int self = !user || user->self ||
		   (user->uid == geteuid() && !user->gid_given);
	int as_root = !self && geteuid() == 0;
	struct perm_verdict *batch = NULL;
	const char **paths = NULL;
	size_t np = 0;

	if (as_root) {
		batch = calloc(n + 1, sizeof *batch);
		paths = calloc(n + 1, sizeof *paths);
		if (!batch || !paths)
			goto fail;
		for (size_t i = 0; i < n; i++)
			if (r[i].kind == ADDR_UNIX)
				paths[np++] = r[i].path;
		if (np && perm_check_as(user, paths, np, batch) < 0)
			goto fail;
	}
	np = 0;
	for (size_t i = 0; i < n; i++) {
		if (r[i].kind != ADDR_UNIX) {
			int live = inspect_live(&r[i]);
			r[i].can_connect = live;
			r[i].exact = 1;
			if (!live)
				set(&r[i].reason, "%s", r[i].note ? r[i].note : "not listening");
			else if (r[i].kind == ADDR_ABSTRACT)
				set(&r[i].reason, "abstract socket: no file permissions, "
				    "anyone in this network namespace may connect");
			else
				set(&r[i].reason, "TCP: no file permissions (firewall "
				    "rules are not checked)");
			continue;
		}
		if (as_root)
			v = batch[np++];
		if (r[i].file_gone || r[i].unresolved) {
			r[i].exact = !r[i].unresolved;
			set(&r[i].reason, "%s", r[i].note ? r[i].note : "no file");
			continue;
		}
		if (as_root)
			;
		else if (self)
			perm_check_self(r[i].path, &v);
		else
			perm_estimate(r[i].path, user, &v);
		judge(&r[i], &v);
	}
	free(batch);
	free(paths);
	return 0;
fail:;
	int e = errno;
	free(batch);
	free(paths);
	errno = e;
	return -1;
}

/* ---- audit ---- */

static void finding(struct inspect_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void finding(struct inspect_report *r, const char *fmt, ...)
{
	va_list ap;
	char *s;
	if (r->nfindings == INSPECT_FINDINGS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0)
		r->findings[r->nfindings++] = s;
	va_end(ap);
}

/* Is a listener of R running as root? */
static int root_listener(const struct inspect_report *r)
{
	for (size_t i = 0; i < r->nlisteners; i++)
		if (r->listeners[i].uid == 0)
			return 1;
	return !r->nlisteners && r->has_sock_uid && r->sock_uid == 0 &&
	       inspect_live(r);
}

int inspect_audit(struct inspect_report *r)
{
	char abs[PATH_MAX], bad[PATH_MAX], who[512], desc[64];
	struct perm_chain ch;

	if (r->kind != ADDR_UNIX)
		return 0;
	if (r->state == INSPECT_STALE)
		finding(r, "stale socket file: nothing listens on it");
	if (r->unresolved) {
		set(&r->audit_error, "its file cannot be found: bound as %s, "
		    "and the listener's directories cannot be examined",
		    r->bound_name ? r->bound_name : r->path);
		return -1;
	}
	if (r->file_gone)
		return 0; /* no file: nobody reaches it by a path */
	if (!r->has_stat) {
		/* the verdict names what blocks us, where there is one */
		const char *why = r->reason && strstr(r->reason, "denied on ") ?
				  r->reason : r->note;
		set(&r->audit_error, "cannot examine its file: %s",
		    why ? why : "unknown");
		return -1;
	}
	if (!S_ISSOCK(r->st.st_mode))
		return 0;
	if (!realpath(r->path, abs)) {
		set(&r->audit_error, "cannot examine %s: %s", r->path, strerror(errno));
		return -1;
	}
	bad[0] = 0;
	if (perm_chain_load(&ch, abs, bad, sizeof bad) < 0) {
		set(&r->audit_error, "cannot examine %s: %s", bad[0] ? bad : abs,
		    strerror(errno));
		return -1;
	}
	const struct perm_node *f = &ch.v[ch.n - 1];
	if (f->st.st_dev != r->st.st_dev || f->st.st_ino != r->st.st_ino) {
		set(&r->audit_error, "%s was replaced while being examined", abs);
		perm_chain_free(&ch);
		return -1;
	}
	mode_t m = f->st.st_mode & 07777;
	snprintf(desc, sizeof desc, "%04o%s", (unsigned)m, f->has_acl ? "+acl" : "");
	/* connecting: search on every directory, write on the file */
	int any = perm_who(&ch, ch.n - 1, 2, f->st.st_uid, who, sizeof who);
	if (any == 2)
		finding(r, "world-writable socket (mode %s): any local user may "
			"connect", desc);
	if (any && root_listener(r))
		finding(r, "the listener runs as root and %s may connect (mode %s, "
			"owner %s, group %s)", who, desc,
			perm_id_name(f->st.st_uid, 0), perm_id_name(f->st.st_gid, 1));
	/* replacing: write and search on a directory above it */
	for (size_t k = ch.n - 1; k-- > 0;) {
		const struct perm_node *d = &ch.v[k];
		if (!(d->st.st_mode & 0002) || (d->st.st_mode & S_ISVTX))
			continue;
		int n = perm_who(&ch, k, 3, d->st.st_uid, who, sizeof who);
		if (n)
			finding(r, "in a world-writable directory without the sticky "
				"bit: %s (mode %04o): %s may replace the socket",
				d->path, (unsigned)(d->st.st_mode & 07777),
				n == 2 ? "anyone" : who);
	}
	perm_chain_free(&ch);
	return 0;
}

/* ---- probe ---- */

void inspect_probe(struct inspect_report *r)
{
	struct addr a;
	const char *why;
	int usage;

	r->probed = 1;
	memset(&a, 0, sizeof a);
	if (r->kind == ADDR_TCP) {
		if (addr_parse(&a, r->address, 0, &why) < 0 ||
		    addr_resolve(&a, 0, &why, &usage) < 0) {
			set(&r->probe, "cannot probe %s: %s", r->address, why);
			return;
		}
		/* a wildcard listener: try it through loopback */
		if (!strcmp(a.host, "0.0.0.0") || !strcmp(a.host, "::")) {
			char lo[64];
			snprintf(lo, sizeof lo, "tcp:%s:%s",
				 strcmp(a.host, "::") ? "127.0.0.1" : "[::1]", a.port);
			if (addr_parse(&a, lo, 0, &why) < 0 ||
			    addr_resolve(&a, 0, &why, &usage) < 0) {
				set(&r->probe, "cannot probe %s: %s", lo, why);
				return;
			}
		}
	} else {
		a.kind = r->kind;
		snprintf(a.path, sizeof a.path, "%s",
			 r->kind == ADDR_UNIX ? r->path : r->address + 1);
		if (r->kind == ADDR_ABSTRACT &&
		    addr_resolve(&a, 0, &why, &usage) < 0) {
			set(&r->probe, "cannot probe: %s", why);
			return;
		}
	}
	a.type = r->type ? r->type : SOCK_STREAM;
	int fd = sock_connect(&a, now_ms() + 2000);
	if (fd < 0) {
		set(&r->probe, "connect failed: %s", strerror(errno));
		return;
	}
	pid_t pid;
	uid_t uid;
	gid_t gid;
	r->probe_ok = 1;
	if (r->kind != ADDR_TCP && a.type != SOCK_DGRAM &&
	    sock_peercred(fd, &pid, &uid, &gid) == 0)
		set(&r->probe, "connected; the listener is pid %d, uid %u, gid %u",
		    (int)pid, (unsigned)uid, (unsigned)gid);
	else
		set(&r->probe, "connected");
	close(fd);
}

void inspect_report_free(struct inspect_report *r)
{
	free(r->address);
	free(r->path);
	free(r->note);
	free(r->reason);
	free(r->probe);
	free(r->audit_error);
	free(r->bound_name);
	free(r->client_inos);
	free(r->listeners);
	free(r->clients);
	for (int i = 0; i < r->nfindings; i++)
		free(r->findings[i]);
	memset(r, 0, sizeof *r);
}

void inspect_reports_free(struct inspect_report *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		inspect_report_free(&r[i]);
	free(r);
}
