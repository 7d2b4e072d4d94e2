/* bridge.c — the engine of tcp2unix: one epoll loop accepting clients,
 * connecting each to the target without blocking, and relaying both
 * directions with half-close, backpressure and bounded memory. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge.h"
#include "loop.h"
#include "cli/cli.h"

#define TAG_MAX     64      /* epoll tags below this are not connections */
#define TAG_SIGNAL  63
#define ACCEPT_BATCH 64
#define RETRY_MS    5       /* retry a UNIX target whose backlog is full */
#define PAUSE_MS    100     /* accept pause after EMFILE and kin */

enum { C_CONNECTING, C_RETRY, C_RELAY, C_DEAD };

struct conn {
	struct conn *prev, *next;  /* in one of the engine's time lists */
	struct pump up, down;      /* client to target, target to client */
	int cfd, tfd;
	int64_t start, last;
	char *hdr;                 /* PROXY header still to send, or NULL */
	uint16_t hdr_len, hdr_off;
	uint8_t state, ai;         /* ai: which target address is tried */
	uint8_t up_want, down_want;
	uint32_t cev, tev;         /* events registered, or NOREG */
	socklen_t peerlen;
	struct sockaddr_storage peer;
};

#define NOREG 0xffffffffu

struct list {
	struct conn *head, *tail;
};

struct engine {
	struct bridge *b;
	int ep;
	struct list connecting;    /* by start: connect deadline */
	struct list retrying;
	struct list relaying;      /* by last traffic: idle deadline */
	struct list dead;          /* closed, freed after the event batch */
	struct pipe_pool pool;
	int accepting;             /* listeners registered for EPOLLIN */
	int64_t paused_until;      /* after EMFILE: accept again then */
	int stopping;
	int64_t drain_deadline;
	char target_name[ADDR_STRLEN];
	struct loop_conns loops;   /* our TCP target sockets, for loops */
};

static void list_add(struct list *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void list_del(struct list *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static struct list *list_of(struct engine *e, struct conn *c)
{
	return c->state == C_CONNECTING ? &e->connecting :
	       c->state == C_RETRY ? &e->retrying :
	       c->state == C_RELAY ? &e->relaying : &e->dead;
}

/* Register, change or drop the epoll interest of one fd. */
static void set_events(struct engine *e, struct conn *c, int target,
		       uint32_t ev)
{
	uint32_t *cur = target ? &c->tev : &c->cev;
	int fd = target ? c->tfd : c->cfd;
	if (fd < 0 || *cur == ev)
		return;
	struct epoll_event ee = { .events = ev,
		.data.u64 = (uint64_t)(uintptr_t)c | (uint64_t)target };
	int op = *cur == NOREG ? EPOLL_CTL_ADD : ev == NOREG ? EPOLL_CTL_DEL :
		 EPOLL_CTL_MOD;
	if (epoll_ctl(e->ep, op, fd, &ee) == 0 || op == EPOLL_CTL_DEL)
		*cur = ev;
}

static void set_accepting(struct engine *e, int on)
{
	if (e->accepting == on)
		return;
	for (int i = 0; i < e->b->nlfd; i++) {
		struct epoll_event ee = { .events = on ? EPOLLIN : 0,
					  .data.u64 = (uint64_t)i };
		epoll_ctl(e->ep, EPOLL_CTL_MOD, e->b->lfd[i], &ee);
	}
	e->accepting = on;
}

static void update_accepting(struct engine *e, int64_t now)
{
	set_accepting(e, !e->stopping && now >= e->paused_until &&
			 e->b->st.active < e->b->max_conns);
}

/* Close FD so that a TCP peer sees a reset rather than an orderly
 * (and misleadingly empty) end. */
static void close_reset(int fd)
{
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

static void conn_close(struct engine *e, struct conn *c, const char *how,
		       int err)
{
	struct bridge *b = e->b;
	char peer[ADDR_STRLEN];

	list_del(list_of(e, c), c);
	/* closing an fd takes it out of the epoll set; a client whose
	 * target never answered is reset, not given an empty answer */
	if (c->cfd >= 0 && c->state != C_RELAY)
		close_reset(c->cfd);
	else if (c->cfd >= 0)
		close(c->cfd);
	if (c->tfd >= 0) {
		loop_forget(&e->loops, c->tfd);
		close(c->tfd);
	}
	c->cfd = c->tfd = -1;
	pump_free(&c->up);
	pump_free(&c->down);
	b->st.bytes_up += c->up.bytes;
	b->st.bytes_down += c->down.bytes;
	b->st.active--;
	if (c->state == C_RELAY)
		b->st.completed++;
	if (log_level >= 2 || c->state != C_RELAY) {
		sa_format((struct sockaddr *)&c->peer, c->peerlen, SOCK_STREAM,
			  peer, sizeof peer);
		char why[160] = "";
		if (err)
			snprintf(why, sizeof why, " (%s)", usock_strerror(err));
		fprintf(stderr, "%s: %s -> %s: %s%s; %llu byte%s up, %llu down, "
			"%.3f s\n", log_prog, peer, e->target_name, how, why,
			(unsigned long long)c->up.bytes, num_s(c->up.bytes),
			(unsigned long long)c->down.bytes,
			(double)(now_ms() - c->start) / 1000.0);
	}
	free(c->hdr);
	c->hdr = NULL;
	/* events of this batch may still name C: free it afterwards */
	c->state = C_DEAD;
	list_add(&e->dead, c);
	update_accepting(e, now_ms());
}

static void free_dead(struct engine *e)
{
	struct conn *c;
	while ((c = e->dead.head)) {
		/* the head moves on before C is freed */
		list_del(&e->dead, c); // NOLINT(clang-analyzer-unix.Malloc)
		free(c);
	}
}

/* Requests and answers go out at once: the bridge adds no Nagle delay
 * of its own on top of what the endpoints chose. */
static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Open a socket and start connecting C to the target address number
 * c->ai.  Returns 1 connected (a UNIX target answers at once), 0 in
 * progress, or -1 with errno. */
static int target_start(struct engine *e, struct conn *c)
{
	const struct addr *t = &e->b->target;
	int pending;
	int fd = sock_connect_start(t, c->ai, &pending);
	if (fd < 0)
		return -1;
	if (t->kind == ADDR_TCP)
		set_nodelay(fd);
	c->tfd = fd;
	c->tev = NOREG;
	if (t->kind == ADDR_TCP)
		loop_note(&e->loops, fd, (const struct sockaddr *)&t->sa[c->ai]);
	return !pending;
}

/* Put C into L after the connections that started no later than it: a
 * retried connect keeps its first start time, so the list stays in
 * deadline order.  Retried connections are old: the walk is short. */
static void list_insert_by_start(struct list *l, struct conn *c)
{
	struct conn *at = l->head;
	while (at && at->start <= c->start)
		at = at->next;
	if (!at) {
		list_add(l, c);
		return;
	}
	c->next = at;
	c->prev = at->prev;
	if (at->prev)
		at->prev->next = c;
	else
		l->head = c;
	at->prev = c;
}

static void relay_interest(struct engine *e, struct conn *c)
{
	uint32_t cev = 0, tev = 0;
	if (c->hdr) {
		tev = EPOLLOUT;
	} else {
		if (c->up_want & PUMP_WANT_READ)
			cev |= EPOLLIN;
		if (c->up_want & PUMP_WANT_WRITE)
			tev |= EPOLLOUT;
		if (c->down_want & PUMP_WANT_READ)
			tev |= EPOLLIN;
		if (c->down_want & PUMP_WANT_WRITE)
			cev |= EPOLLOUT;
	}
	set_events(e, c, 0, cev);
	set_events(e, c, 1, tev);
}

/* Send what is left of the PROXY header: 1 sent, 0 later, -1 error. */
static int send_header(struct conn *c)
{
	while (c->hdr_off < c->hdr_len) {
		ssize_t n = send(c->tfd, c->hdr + c->hdr_off,
				 (size_t)(c->hdr_len - c->hdr_off), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		c->hdr_off += (uint16_t)n;
	}
	free(c->hdr);
	c->hdr = NULL;
	return 1;
}

static void start_relay(struct engine *e, struct conn *c, int64_t now)
{
	list_del(list_of(e, c), c);
	c->state = C_RELAY;
	c->last = now;
	list_add(&e->relaying, c);
	pump_init_adaptive(&c->up, c->cfd, c->tfd, &e->pool);
	pump_init_adaptive(&c->down, c->tfd, c->cfd, &e->pool);
	c->up_want = c->down_want = PUMP_WANT_READ;
	if (c->hdr && send_header(c) < 0) {
		conn_close(e, c, "target failed", errno);
		return;
	}
	relay_interest(e, c);
}

static void target_connect(struct engine *e, struct conn *c, int64_t now);

/* A connect failed with ERR: try the next address, wait for room in a
 * UNIX backlog, or give up on this client. */
static void connect_failed(struct engine *e, struct conn *c, int err,
			   int64_t now)
{
	set_events(e, c, 1, NOREG);
	if (c->tfd >= 0) {
		loop_forget(&e->loops, c->tfd);
		close(c->tfd);
	}
	c->tfd = -1;
	if (err == EMFILE || err == ENFILE) {
		/* out of descriptors: accept no more until some are free */
		e->paused_until = now + PAUSE_MS;
		set_accepting(e, 0);
	}
	if ((err == EAGAIN || err == EMFILE || err == ENFILE) &&
	    now - c->start < e->b->connect_ms) {
		list_del(list_of(e, c), c);
		c->state = C_RETRY;
		list_add(&e->retrying, c);
		return;
	}
	if (++c->ai < e->b->target.nsa) {
		target_connect(e, c, now);
		return;
	}
	e->b->st.failed++;
	conn_close(e, c, err == EAGAIN ? "target busy" : "target refused", err);
}

/* Connect C (in the connecting list) to the target: relay at once when
 * the target answered, else wait for it, else handle the failure. */
static void target_connect(struct engine *e, struct conn *c, int64_t now)
{
	struct bridge *b = e->b;
	if (b->resolver && c->ai == 0) {
		static char how[200];
		const char *why = NULL;
		int ok = resolve_update(b->resolver, &b->target, now, &why);
		if (ok == 0) {          /* the first lookup is under way */
			connect_failed(e, c, EAGAIN, now);
			return;
		}
		if (ok < 0) {
			b->st.failed++;
			snprintf(how, sizeof how, "target name does not resolve: %s",
				 why);
			conn_close(e, c, how, 0);
			return;
		}
	}
	int r = target_start(e, c);
	if (r < 0)
		connect_failed(e, c, errno, now);
	else if (r > 0)
		start_relay(e, c, now);
	else
		set_events(e, c, 1, EPOLLOUT);
}

/* A path past sun_path is bound through /proc/self/fd/N/NAME (see
 * sock.c): a name that means one of our own descriptors, and one of the
 * target's own to the target.  The real path does not fit the 108 bytes
 * a PROXY v2 header has for it either, so the header carries no
 * destination name rather than a wrong one. */
static void hide_internal_name(struct sockaddr_storage *ss, socklen_t *len)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
	size_t off = offsetof(struct sockaddr_un, sun_path);
	if (ss->ss_family == AF_UNIX && *len > off + 14 &&
	    !strncmp(sun->sun_path, "/proc/self/fd/", 14))
		*len = (socklen_t)off;
}

/* Accept and start one client.  Returns 0 when there is none to take
 * now, 1 otherwise. */
static int accept_one(struct engine *e, int lfd, int64_t now)
{
	struct bridge *b = e->b;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = sock_accept(lfd, &ss, &len);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* out of descriptors: pause instead of spinning */
			if (now >= e->paused_until + 1000)
				log_syserr("accept (pausing)");
			e->paused_until = now + PAUSE_MS;
			set_accepting(e, 0);
			return 0;
		}
		if (errno == EAGAIN)
			return 0;
		if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO ||
		    errno == EPERM)
			return 1;
		if (e->paused_until <= now) {
			/* anything else: say so and do not spin on it */
			log_syserr("accept");
			e->paused_until = now + PAUSE_MS;
			set_accepting(e, 0);
		}
		return 0;
	}
	b->st.accepted++;
	/* a loop that start-up could not see: a client that is one of our
	 * own connections to the target is reset, which ends that one too */
	if ((ss.ss_family == AF_UNIX) == (b->target.kind != ADDR_TCP) &&
	    loop_is_own(&e->loops, fd, (struct sockaddr *)&ss)) {
		b->st.refused++;
		log_warn("refused: a connection from this bridge itself "
			 "(the target %s leads back to it)", e->target_name);
		close_reset(fd);
		return 1;
	}
	if (ss.ss_family != AF_UNIX)
		set_nodelay(fd);
	if (b->nallow && ss.ss_family != AF_UNIX &&
	    !cidr_match(b->allow, b->nallow, (struct sockaddr *)&ss)) {
		char peer[ADDR_STRLEN];
		b->st.refused++;
		sa_format((struct sockaddr *)&ss, len, SOCK_STREAM, peer, sizeof peer);
		log_warn("%s: refused: not in --allow", peer);
		close_reset(fd);
		return 1;
	}
	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		b->st.failed++;
		close(fd);
		return 0;
	}
	c->cfd = fd;
	c->tfd = -1;
	c->cev = c->tev = NOREG;
	c->start = c->last = now;
	c->peer = ss;
	c->peerlen = len;
	c->state = C_CONNECTING;
	pump_init_adaptive(&c->up, -1, -1, NULL);
	pump_init_adaptive(&c->down, -1, -1, NULL);
	list_add(&e->connecting, c);
	b->st.active++;
	if (b->proxy) {
		struct sockaddr_storage local = { 0 };
		socklen_t llen = sizeof local;
		char h[PROXY_MAX];
		int n = -1;
		if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0) {
			hide_internal_name(&local, &llen);
			n = proxy_header(b->proxy, (struct sockaddr *)&ss, len,
					 (struct sockaddr *)&local, llen, h, sizeof h);
		}
		if (n > 0 && (c->hdr = malloc((size_t)n))) {
			memcpy(c->hdr, h, (size_t)n);
			c->hdr_len = (uint16_t)n;
		}
	}
	/* watch the client for hang-ups only until the target answers */
	set_events(e, c, 0, 0);
	target_connect(e, c, now);
	update_accepting(e, now);
	return 1;
}

static void conn_event(struct engine *e, struct conn *c, int target,
		       uint32_t ev, int64_t now)
{
	if (c->state == C_CONNECTING) {
		if (!target) {
			/* the client left before the target answered */
			if (ev & (EPOLLHUP | EPOLLERR))
				conn_close(e, c, "client left", 0);
			return;
		}
		int err = 0;
		socklen_t sl = sizeof err;
		getsockopt(c->tfd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err)
			connect_failed(e, c, err, now);
		else
			start_relay(e, c, now);
		return;
	}
	if (c->state != C_RELAY)
		return;
	if (c->hdr) {
		if (!target)
			return;
		int r = send_header(c);
		if (r < 0)
			conn_close(e, c, "target failed", errno);
		else if (r > 0)
			relay_interest(e, c);
		return;
	}

	uint64_t before = c->up.bytes + c->down.bytes;
	struct pump *in_side = target ? &c->down : &c->up;   /* reads this fd */
	struct pump *out_side = target ? &c->up : &c->down;  /* writes this fd */
	uint8_t *in_want = target ? &c->down_want : &c->up_want;
	uint8_t *out_want = target ? &c->up_want : &c->down_want;
	int r;

	if (!out_side->done && (ev & EPOLLOUT || ev & EPOLLERR) &&
	    (*out_want & PUMP_WANT_WRITE)) {
		r = pump_step(out_side);
		if (r < 0)
			goto failed;
		*out_want = (uint8_t)r;
	} else if (!out_side->done && (ev & (EPOLLHUP | EPOLLERR)) &&
		   !(*out_want & PUMP_WANT_WRITE)) {
		/* this side can take no more: end that direction */
		if (pump_abandon(out_side) < 0)
			goto failed;
		*out_want = 0;
	}
	if (!in_side->done && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    (*in_want & PUMP_WANT_READ)) {
		r = pump_step(in_side);
		if (r < 0) {
			out_side = in_side;
			goto failed;
		}
		*in_want = (uint8_t)r;
	}
	/* a step that freed room may let the other direction go on */
	if (c->up.done && c->down.done) {
		conn_close(e, c, c->up.broken ? "closed, target stopped reading" :
			   c->down.broken ? "closed, client stopped reading" :
			   "closed", 0);
		return;
	}
	if (c->up.bytes + c->down.bytes != before) {
		c->last = now;
		list_del(&e->relaying, c);
		list_add(&e->relaying, c);
	}
	relay_interest(e, c);
	if ((ev & (EPOLLHUP | EPOLLERR)) && !(target ? c->tev : c->cev))
		set_events(e, c, target, NOREG); /* nothing more to learn here */
	return;

failed:;
	int err = errno;
	int client_side = (out_side == &c->up) == !!out_side->failed_in;
	conn_close(e, c, client_side ? "client failed" : "target failed", err);
}

/* Expire connects, retry busy targets, close idle connections.
 * Returns the ms until the next deadline, or -1. */
static int64_t timers(struct engine *e, int64_t now)
{
	struct bridge *b = e->b;
	int64_t next = -1;
#define SOONER(t) do { int64_t d_ = (t) - now; if (d_ < 0) d_ = 0; \
		if (next < 0 || d_ < next) next = d_; } while (0)

	struct conn *c;
	while ((c = e->connecting.head) && now - c->start >= b->connect_ms) {
		b->st.failed++;
		conn_close(e, c, "connect timeout", 0);
	}
	if (e->connecting.head)
		SOONER(e->connecting.head->start + b->connect_ms);

	/* take the whole list first: a retry that fails again rejoins it */
	struct list pending = e->retrying;
	e->retrying.head = e->retrying.tail = NULL;
	while ((c = pending.head)) {
		list_del(&pending, c);
		c->state = C_CONNECTING;
		list_insert_by_start(&e->connecting, c);
		if (now - c->start >= b->connect_ms) {
			b->st.failed++;
			if (b->resolver && !b->target.nsa)
				conn_close(e, c, "target name lookup timed out", 0);
			else
				conn_close(e, c, "target busy", EAGAIN);
		} else {
			target_connect(e, c, now);
		}
	}
	if (e->retrying.head)
		SOONER(now + RETRY_MS);

	if (b->idle_ms >= 0) {
		while (e->relaying.head &&
		       now - e->relaying.head->last >= b->idle_ms)
			conn_close(e, e->relaying.head, "idle timeout", 0);
		if (e->relaying.head)
			SOONER(e->relaying.head->last + b->idle_ms);
	}
	if (e->paused_until > now)
		SOONER(e->paused_until);
	if (e->stopping)
		SOONER(e->drain_deadline);
	return next;
#undef SOONER
}

static void print_stats(const struct bridge *b)
{
	fprintf(stderr, "%s: accepted %llu, active %llu, refused %llu, "
		"failed %llu, completed %llu, bytes up %llu, down %llu\n",
		log_prog, (unsigned long long)b->st.accepted,
		(unsigned long long)b->st.active,
		(unsigned long long)b->st.refused,
		(unsigned long long)b->st.failed,
		(unsigned long long)b->st.completed,
		(unsigned long long)b->st.bytes_up,
		(unsigned long long)b->st.bytes_down);
}

static void stop(struct engine *e, int64_t now)
{
	struct bridge *b = e->b;
	set_accepting(e, 0);
	for (int i = 0; i < b->nlfd; i++) {
		epoll_ctl(e->ep, EPOLL_CTL_DEL, b->lfd[i], NULL);
		close(b->lfd[i]);
	}
	b->nlfd = 0;
	if (b->own) {
		sock_unlink(b->own);
		b->own->fd = -1;
	}
	e->stopping = 1;
	e->drain_deadline = now + b->drain_ms;
	log_verbose("stopping: %llu connection%s to drain",
		    (unsigned long long)b->st.active, num_s(b->st.active));
	if (b->on_event)
		b->on_event(b->event_ctx, b, BRIDGE_STOPPING);
}

/* A client waits in a listening socket's queue. */
static int queued(const struct bridge *b)
{
	struct pollfd p[16];
	for (int i = 0; i < b->nlfd; i++)
		p[i] = (struct pollfd){ b->lfd[i], POLLIN, 0 };
	return poll(p, (nfds_t)b->nlfd, 0) > 0;
}

/* Counters as last reported through on_event. */
static int stats_changed(const struct bridge_stats *a,
			 const struct bridge_stats *b)
{
	return a->accepted != b->accepted || a->active != b->active ||
	       a->failed != b->failed || a->refused != b->refused;
}

static void close_all(struct engine *e, struct list *l, const char *how)
{
	while (l->head)
		conn_close(e, l->head, how, 0);
}

int bridge_run(struct bridge *b)
{
	struct engine e = { .b = b };
	struct epoll_event ev[128];

	e.pool.max = 64;
	addr_format(&b->target, e.target_name, sizeof e.target_name);
	/* without the table, a run-time TCP loop is bounded by -c only */
	if (b->target.kind == ADDR_TCP && loop_conns_init(&e.loops) < 0)
		log_warn("no memory to watch for connection loops");
	e.ep = epoll_create1(EPOLL_CLOEXEC);
	if (e.ep < 0)
		return -1;
	for (int i = 0; i < b->nlfd; i++) {
		struct epoll_event ee = { .events = 0, .data.u64 = (uint64_t)i };
		if (epoll_ctl(e.ep, EPOLL_CTL_ADD, b->lfd[i], &ee) < 0)
			return -1;
	}
	struct epoll_event se = { .events = EPOLLIN, .data.u64 = TAG_SIGNAL };
	if (epoll_ctl(e.ep, EPOLL_CTL_ADD, b->sigfd, &se) < 0)
		return -1;
	update_accepting(&e, now_ms());
	struct bridge_stats told = b->st;   /* as last reported */
	int64_t told_at = 0, idle_since = now_ms();
	uint64_t seen = 0;                  /* accepted, for exit_idle_ms */

	for (;;) {
		int64_t now = now_ms();
		if (e.stopping && (!b->st.active || now >= e.drain_deadline))
			break;
		if (!e.accepting && !e.stopping && now >= e.paused_until)
			update_accepting(&e, now);
		int64_t wait = timers(&e, now);
		if (b->on_event && stats_changed(&told, &b->st)) {
			if (now - told_at >= 1000) {
				told = b->st;
				told_at = now;
				b->on_event(b->event_ctx, b, BRIDGE_STATUS);
			} else if (wait < 0 || told_at + 1000 - now < wait) {
				wait = told_at + 1000 - now;
			}
		}
		if (b->st.active || b->st.accepted != seen) {
			idle_since = now;
			seen = b->st.accepted;
		}
		if (b->exit_idle_ms > 0 && !e.stopping && !b->st.active) {
			if (now - idle_since >= b->exit_idle_ms && !queued(b)) {
				log_verbose("no connection for %lld ms: exiting",
					    (long long)b->exit_idle_ms);
				if (b->on_event)
					b->on_event(b->event_ctx, b, BRIDGE_IDLE_EXIT);
				stop(&e, now);
				continue;
			}
			int64_t left = idle_since + b->exit_idle_ms - now;
			if (left < 1)
				left = 1;
			if (wait < 0 || left < wait)
				wait = left;
		}
		int n = epoll_wait(e.ep, ev, 128, wait < 0 ? -1 :
				   wait > 60000 ? 60000 : (int)wait);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		now = now_ms();
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			if (tag == TAG_SIGNAL) {
				int s = sig_read(b->sigfd);
				if (s == SIGUSR1)
					print_stats(b);
				else if ((s == SIGINT || s == SIGTERM) && !e.stopping)
					stop(&e, now);
				else if (s == SIGINT || s == SIGTERM)
					e.drain_deadline = now; /* asked twice */
			} else if (tag < TAG_MAX) {
				if (e.stopping || (int)tag >= b->nlfd)
					continue;
				for (int k = 0; k < ACCEPT_BATCH && e.accepting; k++)
					if (!accept_one(&e, b->lfd[tag], now))
						break;
			} else {
				struct conn *c = (struct conn *)(uintptr_t)(tag & ~(uint64_t)1);
				if (c->state != C_DEAD)
					conn_event(&e, c, (int)(tag & 1), ev[i].events, now);
			}
		}
		free_dead(&e);
	}
	int left = (int)b->st.active;
	close_all(&e, &e.connecting, "drain deadline");
	close_all(&e, &e.retrying, "drain deadline");
	close_all(&e, &e.relaying, "drain deadline");
	free_dead(&e);
	if (left)
		log_warn("drain deadline: closed %d connections", left);
	pipe_pool_drain(&e.pool);
	loop_conns_free(&e.loops);
	close(e.ep);
	return 0;
}
