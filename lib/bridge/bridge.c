/* bridge.c — the engine of tcp2unix: one epoll loop accepting clients,
 * connecting each to the target without blocking, and driving each
 * connection's core (core/conn.h: half-close, resets passed on, the
 * lingering close) with backpressure and bounded memory.  It prints
 * nothing: what it has to say goes through the caller's hooks. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge.h"
#include "loop.h"
#include "core/num.h"

#define TAG_MAX     64      /* epoll tags below this are not connections */
#define TAG_SIGNAL  63
#define TAG_WAKE    62      /* another worker has news (engine.wakefd) */
#define ACCEPT_BATCH 64
#define RETRY_MS    5       /* retry a UNIX target whose backlog is full */
#define PAUSE_MS    100     /* accept pause after EMFILE and kin */

enum { C_CONNECTING, C_RETRY, C_RELAY, C_CLOSING, C_DEAD };

/* One client and its target.  Until the target answers, cfd and tfd are
 * the engine's; from then on the connection core (cc) owns them. */
struct client {
	struct client *prev, *next; /* in one of the engine's time lists */
	struct conn cc;            /* side 0 the client, side 1 the target */
	int cfd, tfd;
	int64_t start, last;
	char *hdr;                 /* PROXY header still to send, or NULL */
	uint16_t hdr_len, hdr_off;
	uint8_t state, ai;         /* ai: which target address is tried */
	uint32_t cev, tev;         /* events registered, or NOREG */
	unsigned long id;          /* the Nth accepted connection */
	uint8_t cred;              /* a UNIX client: pid and uid are known */
	uint8_t src_err;           /* the last connect failed binding to
	                              b->source */
	pid_t pid;
	uid_t uid;
	socklen_t peerlen;
	struct sockaddr_storage peer;
};

#define NOREG 0xffffffffu

struct list {
	struct client *head, *tail;
};

/* Counters are shared by the workers: updated atomically, read whole. */
#define STAT_ADD(b, f, n) __atomic_fetch_add(&(b)->st.f, (n), __ATOMIC_RELAXED)
#define STAT_GET(b, f)    __atomic_load_n(&(b)->st.f, __ATOMIC_RELAXED)

/* One event loop: a worker.  It owns the connections it accepted. */
struct engine {
	struct bridge *b;
	struct shared *sh;
	int ep;
	int wakefd;                /* eventfd: stop, or room under -c again */
	uint64_t nconn;            /* connections this worker holds */
	struct list connecting;    /* by start: connect deadline */
	struct list retrying;
	struct list relaying;      /* by last traffic: idle deadline */
	struct list closing;       /* lingering or passing a reset on */
	struct list dead;          /* closed, freed after the event batch */
	struct pipe_pool pool;
	int accepting;             /* listeners registered for EPOLLIN */
	int batch;                 /* accept4() calls per wake-up, 1..ACCEPT_BATCH */
	uint64_t turn, full_turn;  /* epoll_wait() calls; the last that took
	                              a full batch */
	int64_t paused_until;      /* after EMFILE: accept again then */
	int stopping;
	int64_t drain_deadline;
	/* this worker's copy of the target: a name's lookups (b->resolver)
	 * refresh its addresses, which the other workers may be reading */
	struct addr target;
	int target_gen;            /* the resolver's answer it holds */
	char target_name[ADDR_STRLEN];
};

/* What the workers share besides the counters. */
struct shared {
	struct engine *eng;
	int n;
	int stop_req, stop_now;    /* SIGTERM once, twice (atomic) */
	int unlistened;            /* workers that let go of the listeners */
	uint64_t left;             /* connections cut by the drain deadline */
	pthread_mutex_t loops_lock;
	struct loop_conns loops;   /* our TCP target sockets, for loops */
	pthread_mutex_t event_lock; /* one on_event call at a time */
};

/* Tell the caller's on_event EV: worker 0 reports the status, but the
 * drain may start in another worker. */
static void event(struct engine *e, enum bridge_event ev)
{
	struct bridge *b = e->b;
	if (!b->on_event)
		return;
	pthread_mutex_lock(&e->sh->event_lock);
	b->on_event(b->event_ctx, b, ev);
	pthread_mutex_unlock(&e->sh->event_lock);
}

/* Tell every worker but SELF to look at the shared state. */
static void wake_all(struct engine *self)
{
	struct shared *sh = self->sh;
	uint64_t one = 1;
	for (int i = 0; i < sh->n; i++)
		if (&sh->eng[i] != self && write(sh->eng[i].wakefd, &one, sizeof one) < 0)
			continue; /* a full counter already says "look" */
}

/* The table of our own TCP connections, shared by the workers. */
static void loops_forget(struct engine *e, int fd)
{
	if (e->b->target.kind != ADDR_TCP)
		return;
	pthread_mutex_lock(&e->sh->loops_lock);
	loop_forget(&e->sh->loops, fd);
	pthread_mutex_unlock(&e->sh->loops_lock);
}

static int loops_is_own(struct engine *e, int fd, const struct sockaddr *peer)
{
	if (peer->sa_family == AF_UNIX)
		return loop_is_own(&e->sh->loops, fd, peer);
	pthread_mutex_lock(&e->sh->loops_lock);
	int r = loop_is_own(&e->sh->loops, fd, peer);
	pthread_mutex_unlock(&e->sh->loops_lock);
	return r;
}

static void list_add(struct list *l, struct client *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void list_del(struct list *l, struct client *c)
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

static struct list *list_of(struct engine *e, struct client *c)
{
	return c->state == C_CONNECTING ? &e->connecting :
	       c->state == C_RETRY ? &e->retrying :
	       c->state == C_RELAY ? &e->relaying :
	       c->state == C_CLOSING ? &e->closing : &e->dead;
}

/* Register, change or drop the epoll interest of one fd. */
static void set_events(struct engine *e, struct client *c, int target,
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

/* Watch the listeners or not.  Every worker watches them with
 * EPOLLEXCLUSIVE: a new client wakes one waiting worker, not all (an
 * exclusive registration cannot be modified: it is added and removed). */
static void set_accepting(struct engine *e, int on)
{
	if (e->accepting == on)
		return;
	for (int i = 0; i < e->b->nlfd; i++) {
		struct epoll_event ee = { .events = EPOLLIN | EPOLLEXCLUSIVE,
					  .data.u64 = (uint64_t)i };
		epoll_ctl(e->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
			  e->b->lfd[i], &ee);
	}
	e->accepting = on;
}

static void update_accepting(struct engine *e, int64_t now)
{
	set_accepting(e, !e->stopping && now >= e->paused_until &&
			 STAT_GET(e->b, active) < e->b->max_conns);
}

/* Take a place under -c for a client about to be accepted: 1 taken,
 * 0 the process is full. */
static int reserve(struct bridge *b)
{
	if (STAT_ADD(b, active, 1) < b->max_conns)
		return 1;
	STAT_ADD(b, active, (uint64_t)-1);
	return 0;
}

/* Give a place back; when the process was full, the other workers may
 * accept again.  The last connection's end starts --exit-idle-time,
 * which worker 0 keeps. */
static void release(struct engine *e)
{
	uint64_t was = STAT_ADD(e->b, active, (uint64_t)-1);
	if (e->sh->n == 1)
		return;
	uint64_t one = 1;
	if (was >= e->b->max_conns)
		wake_all(e);
	else if (was == 1 && e->b->exit_idle_ms > 0 && e != &e->sh->eng[0] &&
		 write(e->sh->eng[0].wakefd, &one, sizeof one) < 0)
		return; /* a full counter already says "look" */
}

/* Close FD so that a TCP peer sees a reset rather than an orderly
 * (and misleadingly empty) end. */
static void close_reset(int fd)
{
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

static void notice(struct engine *e, int verbose, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Tell the caller something (a formatted message, an errno or 0). */
static void notice(struct engine *e, int verbose, int err, const char *fmt, ...)
{
	struct bridge *b = e->b;
	char msg[512];
	va_list ap;
	if (!b->on_notice)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	b->on_notice(b->hook_ctx, verbose, err, msg);
}

/* How a relayed connection ended, for the log; *ERR gets the errno. */
static const char *ending(const struct conn *cc, int *err)
{
	*err = 0;
	if (cc->end[1] == CONN_RESET || cc->end[0] == CONN_RESET) {
		int i = cc->end[1] == CONN_RESET ? 1 : 0;
		*err = cc->err[i];
		return i ? "target failed" : "client failed";
	}
	if (cc->end[0] == CONN_GONE && cc->err[0])
		return "closed, target stopped reading";
	if (cc->end[1] == CONN_GONE && cc->err[1])
		return "closed, client stopped reading";
	return "closed";
}

/* "idle timeout" becomes "idle timeout, reset (cut: down open)": a cut
 * connection says which directions were still moving. */
static const char *cut_how(const struct client *c, const char *how,
			   char *buf, size_t n)
{
	const uint8_t *o = c->cc.cut_open;
	snprintf(buf, n, "%s, reset (cut: %s)", how,
		 o[0] && o[1] ? "up and down open" : o[0] ? "up open" :
		 o[1] ? "down open" : "lingering close");
	return buf;
}

/* Who C is, for the caller's hooks. */
static struct bridge_end who(const struct client *c)
{
	return (struct bridge_end){
		.id = c->id, .peer = (const struct sockaddr *)&c->peer,
		.peerlen = c->peerlen, .cred = c->cred, .pid = c->pid,
		.uid = c->uid,
	};
}

/* End C: close what it holds and report it.  HOW NULL: the connection
 * core ended it and says how; else C is cut (relaying) or failed
 * (before relaying) for reason HOW, errno ERR. */
static void client_close(struct engine *e, struct client *c, const char *how,
			 int err)
{
	struct bridge *b = e->b;
	char buf[96];
	int relayed = c->state == C_RELAY || c->state == C_CLOSING;

	list_del(list_of(e, c), c);
	if (relayed) {
		if (!how) {
			how = ending(&c->cc, &err);
		} else {
			conn_abort(&c->cc);
			how = cut_how(c, how, buf, sizeof buf);
		}
		loops_forget(e, c->cc.side[1].wfd);
		/* closing an fd takes it out of the epoll set */
		conn_close(&c->cc);
		conn_free(&c->cc);
		STAT_ADD(b, completed, 1);
	} else {
		/* a client whose target never answered is reset, not given
		 * an empty answer */
		if (c->cfd >= 0)
			close_reset(c->cfd);
		if (c->tfd >= 0) {
			loops_forget(e, c->tfd);
			close(c->tfd);
		}
	}
	c->cfd = c->tfd = -1;
	uint64_t up = relayed ? c->cc.dir[0].bytes : 0;
	uint64_t down = relayed ? c->cc.dir[1].bytes : 0;
	STAT_ADD(b, bytes_up, up);
	STAT_ADD(b, bytes_down, down);
	e->nconn--;
	release(e);
	if (b->on_end) {
		struct bridge_end be = who(c);
		be.how = how;
		be.err = err;
		be.relayed = relayed;
		be.up = up;
		be.down = down;
		be.ms = now_ms() - c->start;
		b->on_end(b->hook_ctx, &be);
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
	struct client *c;
	while ((c = e->dead.head)) {
		/* the head moves on before C is freed */
		list_del(&e->dead, c); // NOLINT(clang-analyzer-unix.Malloc)
		free(c);
	}
}

/* Open a socket and start connecting C to the target address number
 * c->ai.  Returns 1 connected (a UNIX target answers at once), 0 in
 * progress, or -1 with errno. */
static int target_start(struct engine *e, struct client *c)
{
	const struct addr *t = &e->target;
	int pending, tcp = t->kind == ADDR_TCP;
	/* a connection that leads back to us may be accepted by another
	 * worker as soon as connect() has sent it: it is in the table of
	 * our own before that worker can look it up */
	if (tcp)
		pthread_mutex_lock(&e->sh->loops_lock);
	int fd = sock_connect_start(t, c->ai, e->b->source, &pending);
	if (tcp && fd >= 0)
		loop_note(&e->sh->loops, fd, (const struct sockaddr *)&t->sa[c->ai]);
	if (tcp)
		pthread_mutex_unlock(&e->sh->loops_lock);
	/* a fixed TCP source port already joined to this target address:
	 * connect() says so at once (EADDRNOTAVAIL), a source failure */
	c->src_err = fd < 0 && (pending < 0 ||
		(e->b->source && e->b->source->kind == ADDR_TCP &&
		 (errno == EADDRNOTAVAIL || errno == EADDRINUSE)));
	if (fd < 0)
		return -1;
	/* requests and answers go out at once: the bridge adds no Nagle
	 * delay of its own on top of what the endpoints chose */
	if (t->kind == ADDR_TCP)
		sock_nodelay(fd, t->sa[c->ai].ss_family);
	if (t->kind == ADDR_TCP && e->b->keepalive)
		sock_keepalive(fd, e->b->keepalive > 0 ? e->b->keepalive : 0);
	c->tfd = fd;
	c->tev = NOREG;
	return !pending;
}

/* Put C into L after the connections that started no later than it: a
 * retried connect keeps its first start time, so the list stays in
 * deadline order.  Retried connections are old: the walk is short. */
static void list_insert_by_start(struct list *l, struct client *c)
{
	struct client *at = l->head;
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

/* Watch what the connection core asks for on both fds. */
static void relay_interest(struct engine *e, struct client *c)
{
	uint32_t cev = 0, tev = 0;
	if (c->hdr) {
		tev = EPOLLOUT;
	} else {
		if (conn_want_rd(&c->cc, 0))
			cev |= EPOLLIN;
		if (conn_want_wr(&c->cc, 0))
			cev |= EPOLLOUT;
		if (conn_want_rd(&c->cc, 1))
			tev |= EPOLLIN;
		if (conn_want_wr(&c->cc, 1))
			tev |= EPOLLOUT;
	}
	set_events(e, c, 0, cev);
	set_events(e, c, 1, tev);
}

/* Send what is left of the PROXY header: 1 sent, 0 later, -1 error. */
static int send_header(struct client *c)
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

static void client_event(struct engine *e, struct client *c, int target,
			 uint32_t ev, int64_t now);

/* --dump: C's records name its client, whose bytes are the requests. */
static void dump_start(struct engine *e, struct client *c)
{
	char peer[ADDR_STRLEN];
	sa_format((const struct sockaddr *)&c->peer, c->peerlen, SOCK_STREAM,
		  peer, sizeof peer);
	if (conn_dump(&c->cc, e->b->dump, peer, 0) < 0)
		notice(e, 0, errno, "#%lu: not dumped", c->id);
}

static void start_relay(struct engine *e, struct client *c, int64_t now)
{
	if (c->hdr && send_header(c) < 0) {
		STAT_ADD(e->b, failed, 1);
		client_close(e, c, "target failed", errno);
		return;
	}
	list_del(list_of(e, c), c);
	c->state = C_RELAY;
	c->last = now;
	list_add(&e->relaying, c);
	int tcp = (c->peer.ss_family != AF_UNIX) |
		  (e->target.sa[c->ai].ss_family != AF_UNIX) << 1;
	conn_init_sockets(&c->cc, c->cfd, c->tfd, tcp, &e->pool);
	c->cc.id = c->id;
	if (e->b->dump)
		dump_start(e, c);
	relay_interest(e, c);
	/* most clients speak first, and by now their request is usually
	 * here: relay it without waiting for the next turn of the loop */
	if (!c->hdr)
		client_event(e, c, 0, EPOLLIN, now);
}

static void target_connect(struct engine *e, struct client *c, int64_t now);

/* A connect failed with ERR: try the next address, wait for room in a
 * UNIX backlog, or give up on this client. */
static void connect_failed(struct engine *e, struct client *c, int err,
			   int64_t now)
{
	set_events(e, c, 1, NOREG);
	if (c->tfd >= 0) {
		loops_forget(e, c->tfd);
		close(c->tfd);
	}
	c->tfd = -1;
	if (err == EMFILE || err == ENFILE) {
		/* out of descriptors: accept no more until some are free */
		e->paused_until = now + PAUSE_MS;
		set_accepting(e, 0);
	}
	/* a UNIX source is held by another connection (a path for the
	 * moment between its bind and its connect, an abstract name while
	 * it is open): wait for it as for a full backlog */
	int busy_source = c->src_err && err == EADDRINUSE &&
			  e->b->source->kind != ADDR_TCP;
	if ((err == EAGAIN || err == EMFILE || err == ENFILE || busy_source) &&
	    now - c->start < e->b->connect_ms) {
		list_del(list_of(e, c), c);
		c->state = C_RETRY;
		list_add(&e->retrying, c);
		return;
	}
	if (++c->ai < e->target.nsa) {
		target_connect(e, c, now);
		return;
	}
	STAT_ADD(e->b, failed, 1);
	client_close(e, c, c->src_err ? "source address failed" :
		     err == EAGAIN ? "target busy" : "target refused", err);
}

/* Connect C (in the connecting list) to the target: relay at once when
 * the target answered, else wait for it, else handle the failure. */
static void target_connect(struct engine *e, struct client *c, int64_t now)
{
	struct bridge *b = e->b;
	if (b->resolver && c->ai == 0) {
		char how[200];
		const char *why = NULL;
		int ok = resolve_update(b->resolver, &e->target_gen, &e->target,
					now, &why);
		if (ok == 0) {          /* the first lookup is under way */
			connect_failed(e, c, EAGAIN, now);
			return;
		}
		if (ok < 0) {
			STAT_ADD(b, failed, 1);
			snprintf(how, sizeof how, "target name does not resolve: %s",
				 why);
			client_close(e, c, how, 0);
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

/* sock_accept() on E's listener failed with errno: for a lack of
 * resources, pause accepting (said at most once a second); after a
 * failure that concerns only that client, go on; after any other, say
 * so and pause.  Returns what accept_one() returns. */
static int accept_failed(struct engine *e, int64_t now)
{
	release(e);
	if (sock_accept_starved(errno)) {
		/* out of descriptors: pause instead of spinning */
		if (now >= e->paused_until + 1000)
			notice(e, 0, errno, "accept (pausing)");
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
		notice(e, 0, errno, "accept");
		e->paused_until = now + PAUSE_MS;
		set_accepting(e, 0);
	}
	return 0;
}

/* May the client FD from SS (LEN bytes), connection number ID, be
 * served?  One of our own connections to the target (a loop start-up
 * could not see) and a TCP client outside --allow are refused: counted,
 * said, and reset.  A TCP client gets TCP_NODELAY and --keepalive.
 * 1 admitted, 0 refused (FD closed). */
static int admit(struct engine *e, int fd, const struct sockaddr_storage *ss,
		 socklen_t len, unsigned long id)
{
	struct bridge *b = e->b;
	/* resetting one of our own connections ends that one too */
	if ((ss->ss_family == AF_UNIX) == (b->target.kind != ADDR_TCP) &&
	    loops_is_own(e, fd, (const struct sockaddr *)ss)) {
		STAT_ADD(b, refused, 1);
		release(e);
		notice(e, 0, 0, "#%lu refused: a connection from this bridge "
		       "itself (the target %s leads back to it)", id,
		       e->target_name);
		close_reset(fd);
		return 0;
	}
	if (ss->ss_family == AF_UNIX)
		return 1;
	sock_nodelay(fd, ss->ss_family);
	if (b->keepalive)
		sock_keepalive(fd, b->keepalive > 0 ? b->keepalive : 0);
	if (b->nallow && !cidr_match(b->allow, b->nallow,
				     (const struct sockaddr *)ss)) {
		char peer[ADDR_STRLEN];
		STAT_ADD(b, refused, 1);
		release(e);
		sa_format((const struct sockaddr *)ss, len, SOCK_STREAM, peer,
			  sizeof peer);
		notice(e, 0, 0, "#%lu %s: refused: not in --allow", id, peer);
		close_reset(fd);
		return 0;
	}
	return 1;
}

/* --proxy-protocol: the header that tells the target about C's client
 * (its address and the one it reached), kept in c->hdr until sent; none
 * when the local address cannot be read or memory is short. */
static void proxy_prepare(struct engine *e, struct client *c)
{
	struct sockaddr_storage local = { 0 };
	socklen_t llen = sizeof local;
	char h[PROXY_MAX];
	int n = -1;
	if (getsockname(c->cfd, (struct sockaddr *)&local, &llen) == 0) {
		hide_internal_name(&local, &llen);
		n = proxy_header(e->b->proxy, (struct sockaddr *)&c->peer,
				 c->peerlen, (struct sockaddr *)&local, llen, h,
				 sizeof h);
	}
	if (n > 0 && (c->hdr = malloc((size_t)n))) {
		memcpy(c->hdr, h, (size_t)n);
		c->hdr_len = (uint16_t)n;
	}
}

/* A new client for the accepted FD from SS (LEN bytes), connection
 * number ID, connecting, on E's list; NULL (FD closed, counted as
 * failed) when memory is short. */
static struct client *client_new(struct engine *e, int fd,
				 const struct sockaddr_storage *ss,
				 socklen_t len, unsigned long id, int64_t now)
{
	struct client *c = calloc(1, sizeof *c);
	if (!c) {
		STAT_ADD(e->b, failed, 1);
		release(e);
		close(fd);
		return NULL;
	}
	c->cfd = fd;
	c->tfd = -1;
	c->cev = c->tev = NOREG;
	c->start = c->last = now;
	c->peer = *ss;
	c->peerlen = len;
	c->id = id;
	if (ss->ss_family == AF_UNIX) {
		gid_t gid;
		c->cred = sock_peercred(fd, &c->pid, &c->uid, &gid) == 0;
	}
	c->state = C_CONNECTING;
	list_add(&e->connecting, c);
	e->nconn++;
	return c;
}

/* Accept and start one client.  Returns 0 when there is none to take
 * now (or accepting is paused), 1 otherwise. */
static int accept_one(struct engine *e, int lfd, int64_t now)
{
	struct bridge *b = e->b;
	struct sockaddr_storage ss;
	socklen_t len;
	if (!reserve(b)) {
		set_accepting(e, 0);  /* until a connection ends */
		return 0;
	}
	int fd = sock_accept(lfd, &ss, &len);
	if (fd < 0)
		return accept_failed(e, now);
	/* the connection's number: the accepted counter, which is shared
	 * by every event loop of the process */
	unsigned long id = (unsigned long)STAT_ADD(b, accepted, 1) + 1;
	if (!admit(e, fd, &ss, len, id))
		return 1;
	struct client *c = client_new(e, fd, &ss, len, id, now);
	if (!c)
		return 0;
	if (b->on_start) {
		struct bridge_end be = who(c);
		b->on_start(b->hook_ctx, &be);
	}
	if (b->proxy)
		proxy_prepare(e, c);
	target_connect(e, c, now);
	/* until the target answers, watch the client only for leaving (a
	 * UNIX target usually answered at once: then it is relaying) */
	if (c->state == C_CONNECTING || c->state == C_RETRY)
		set_events(e, c, 0, EPOLLRDHUP);
	update_accepting(e, now);
	return 1;
}

/* Accept what LFD has queued, up to e->batch clients.  A batch that
 * ends in EAGAIN shrinks to what was there, so that a listener with one
 * client per wake-up costs no failing accept4(); a full batch with the
 * listener still ready at the next wake-up doubles it.  Readiness is
 * level-triggered: whatever is left is reported again. */
static void accept_some(struct engine *e, int lfd, int64_t now)
{
	int k = 0;
	while (k < e->batch && e->accepting && accept_one(e, lfd, now))
		k++;
	if (k < e->batch) {
		e->batch = k > 1 ? k : 1;
		return;
	}
	if (e->full_turn + 1 == e->turn && e->batch < ACCEPT_BATCH)
		e->batch *= 2;
	e->full_turn = e->turn;
}

/* The client of a pending connect hung up, or sent its last byte: a
 * client that half-closed with a request queued waits for its answer,
 * one that sent nothing and closed (or reset) has left. */
static int client_left(struct client *c, uint32_t ev)
{
	char b;
	if (ev & (EPOLLHUP | EPOLLERR))
		return 1;
	return recv(c->cfd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* A connection's move to the closing phase, or out of the core. */
static void after_io(struct engine *e, struct client *c, int64_t now,
		     uint64_t before)
{
	if (c->cc.phase == CONN_DONE) {
		client_close(e, c, NULL, 0);
		return;
	}
	if (c->cc.phase == CONN_CLOSING && c->state == C_RELAY) {
		list_del(&e->relaying, c);
		c->state = C_CLOSING;
		list_add(&e->closing, c);
	} else if (c->state == C_RELAY &&
		   c->cc.dir[0].bytes + c->cc.dir[1].bytes != before) {
		c->last = now;
		list_del(&e->relaying, c);
		list_add(&e->relaying, c);
	}
	relay_interest(e, c);
}

static void client_event(struct engine *e, struct client *c, int target,
			 uint32_t ev, int64_t now)
{
	if (c->state == C_CONNECTING || c->state == C_RETRY) {
		if (!target) {
			if (client_left(c, ev)) {
				STAT_ADD(e->b, failed, 1);
				client_close(e, c, "client left", 0);
			} else {
				set_events(e, c, 0, 0); /* a half-close: wait */
			}
			return;
		}
		if (c->state == C_RETRY)
			return;
		int err = 0;
		socklen_t sl = sizeof err;
		getsockopt(c->tfd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err)
			connect_failed(e, c, err, now);
		else
			start_relay(e, c, now);
		return;
	}
	if (c->state != C_RELAY && c->state != C_CLOSING)
		return;
	if (c->hdr) {
		if (!target)
			return;
		int r = send_header(c);
		if (r < 0)
			client_close(e, c, "target failed", errno);
		else if (r > 0)
			relay_interest(e, c);
		return;
	}
	unsigned cev = 0;
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		cev |= CONN_RD;
	if (ev & EPOLLOUT)
		cev |= CONN_WR;
	if (ev & (EPOLLHUP | EPOLLERR))
		cev |= CONN_HUP;
	uint64_t before = c->cc.dir[0].bytes + c->cc.dir[1].bytes;
	conn_io(&c->cc, target, cev, now);
	if (c->state == C_DEAD)
		return;
	after_io(e, c, now, before);
	if (c->state != C_DEAD && (ev & (EPOLLHUP | EPOLLERR)) &&
	    !(target ? c->tev : c->cev))
		set_events(e, c, target, NOREG); /* nothing more to learn here */
}

/* Expire connects, retry busy targets, close idle connections.
 * Returns the ms until the next deadline, or -1. */
static int64_t timers(struct engine *e, int64_t now)
{
	struct bridge *b = e->b;
	int64_t next = -1;
#define SOONER(t) do { int64_t d_ = (t) - now; if (d_ < 0) d_ = 0; \
		if (next < 0 || d_ < next) next = d_; } while (0)

	struct client *c;
	while ((c = e->connecting.head) && now - c->start >= b->connect_ms) {
		STAT_ADD(b, failed, 1);
		client_close(e, c, "connect timeout", 0);
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
			STAT_ADD(b, failed, 1);
			if (b->resolver && !e->target.nsa)
				client_close(e, c, "target name lookup timed out", 0);
			else if (c->src_err)
				client_close(e, c, "source address failed", EADDRINUSE);
			else
				client_close(e, c, "target busy", EAGAIN);
		} else {
			target_connect(e, c, now);
		}
	}
	if (e->retrying.head)
		SOONER(now + RETRY_MS);

	if (b->idle_ms >= 0) {
		while (e->relaying.head &&
		       now - e->relaying.head->last >= b->idle_ms)
			client_close(e, e->relaying.head, "idle timeout", 0);
		if (e->relaying.head)
			SOONER(e->relaying.head->last + b->idle_ms);
	}
	/* the closing phase: lingering closes, resets waiting to go */
	struct client *nx;
	for (c = e->closing.head; c; c = nx) {
		nx = c->next;
		int64_t d = conn_deadline(&c->cc);
		if (d >= 0 && d <= now) {
			conn_tick(&c->cc, now);
			if (c->cc.phase == CONN_DONE) {
				client_close(e, c, NULL, 0);
				continue;
			}
			relay_interest(e, c);
			d = conn_deadline(&c->cc);
		}
		if (d >= 0)
			SOONER(d);
	}
	if (e->paused_until > now)
		SOONER(e->paused_until);
	if (e->stopping)
		SOONER(e->drain_deadline);
	return next;
#undef SOONER
}

/* Stop accepting and start the drain.  The last worker to let go of
 * the listeners closes them (and removes our socket file): until then
 * another worker may be in accept4() on them. */
static void stop(struct engine *e, int64_t now)
{
	struct bridge *b = e->b;
	if (e->stopping)
		return;
	set_accepting(e, 0);
	e->stopping = 1;
	e->drain_deadline = now + b->drain_ms;
	if (__atomic_add_fetch(&e->sh->unlistened, 1, __ATOMIC_ACQ_REL) < e->sh->n)
		return;
	for (int i = 0; i < b->nlfd; i++)
		close(b->lfd[i]);
	b->nlfd = 0;
	if (b->own) {
		sock_unlink(b->own);
		b->own->fd = -1;
	}
	notice(e, 1, 0, "stopping: %llu connection%s to drain",
	       (unsigned long long)STAT_GET(b, active),
	       num_s(STAT_GET(b, active)));
	event(e, BRIDGE_STOPPING);
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
		client_close(e, l->head, how, 0);
}

/* SIGINT or SIGTERM (worker 0 reads the signals): the first starts the
 * drain in every worker, the second ends it. */
static void on_stop_signal(struct engine *e, int64_t now)
{
	if (!__atomic_exchange_n(&e->sh->stop_req, 1, __ATOMIC_ACQ_REL)) {
		stop(e, now);
	} else {
		__atomic_store_n(&e->sh->stop_now, 1, __ATOMIC_RELEASE);
		e->drain_deadline = now;
	}
	wake_all(e);
}

/* Another worker woke us: the drain, or room under -c again. */
static void on_wake(struct engine *e, int64_t now)
{
	uint64_t v;
	if (read(e->wakefd, &v, sizeof v) < 0 && errno != EAGAIN)
		return;
	if (__atomic_load_n(&e->sh->stop_req, __ATOMIC_ACQUIRE))
		stop(e, now);
	if (__atomic_load_n(&e->sh->stop_now, __ATOMIC_ACQUIRE))
		e->drain_deadline = now;
	if (!e->stopping)
		update_accepting(e, now);
}

void bridge_snapshot(const struct bridge *b, struct bridge_stats *st)
{
	st->accepted = STAT_GET(b, accepted);
	st->refused = STAT_GET(b, refused);
	st->failed = STAT_GET(b, failed);
	st->completed = STAT_GET(b, completed);
	st->active = STAT_GET(b, active);
	st->bytes_up = STAT_GET(b, bytes_up);
	st->bytes_down = STAT_GET(b, bytes_down);
}

/* Worker 0 watches the whole process: the counters reported through
 * on_event (at most once a second), and --exit-idle-time.  *WAIT is
 * shortened to when it must look again.  1: it stopped the bridge. */
static int watch_process(struct engine *e, int64_t now, int64_t *wait,
			 struct bridge_stats *told, int64_t *told_at,
			 int64_t *idle_since, uint64_t *seen)
{
	struct bridge *b = e->b;
	struct bridge_stats st;
	bridge_snapshot(b, &st);
	if (b->on_event && stats_changed(told, &st)) {
		if (now - *told_at >= 1000) {
			*told = st;
			*told_at = now;
			event(e, BRIDGE_STATUS);
		} else if (*wait < 0 || *told_at + 1000 - now < *wait) {
			*wait = *told_at + 1000 - now;
		}
	}
	/* the other workers change the counters without waking this one */
	if (b->on_event && e->sh->n > 1 && (*wait < 0 || *wait > 1000))
		*wait = 1000;
	/* idle: since the last connection began or ended */
	uint64_t ends = st.completed + st.failed + st.refused;
	if (st.active || st.accepted + ends != *seen) {
		*idle_since = now;
		*seen = st.accepted + ends;
	}
	if (b->exit_idle_ms > 0 && !e->stopping && !st.active) {
		if (now - *idle_since >= b->exit_idle_ms && !queued(b)) {
			notice(e, 1, 0, "no connection for %lld ms: exiting",
			       (long long)b->exit_idle_ms);
			event(e, BRIDGE_IDLE_EXIT);
			on_stop_signal(e, now);
			return 1;
		}
		int64_t left = *idle_since + b->exit_idle_ms - now;
		if (left < 1)
			left = 1;
		if (*wait < 0 || left < *wait)
			*wait = left;
	}
	return 0;
}

/* One worker's event loop, until its part of the drain is over. */
static int engine_run(struct engine *e)
{
	struct bridge *b = e->b;
	struct epoll_event ev[128];
	struct bridge_stats told;            /* as last reported */
	int64_t told_at = 0, idle_since = now_ms();
	uint64_t seen = 0;                   /* connections begun and ended,
	                                        for exit_idle_ms */

	bridge_snapshot(b, &told);
	update_accepting(e, now_ms());
	for (;;) {
		int64_t now = now_ms();
		if (!e->accepting && !e->stopping && now >= e->paused_until)
			update_accepting(e, now);
		int64_t wait = timers(e, now);
		/* the drain ends with the last connection, however it ended */
		if (e->stopping && (!e->nconn || now >= e->drain_deadline))
			break;
		if (e == &e->sh->eng[0] &&
		    watch_process(e, now, &wait, &told, &told_at, &idle_since, &seen))
			continue;
		int n = epoll_wait(e->ep, ev, 128, wait < 0 ? -1 :
				   wait > 60000 ? 60000 : (int)wait);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		now = now_ms();
		e->turn++;
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			if (tag == TAG_SIGNAL) {
				int s = sig_read(b->sigfd);
				if (s == SIGUSR1 && b->on_stats) {
					struct bridge_stats st;
					bridge_snapshot(b, &st);
					b->on_stats(b->hook_ctx, &st);
				} else if (s == SIGINT || s == SIGTERM) {
					on_stop_signal(e, now);
				}
			} else if (tag == TAG_WAKE) {
				on_wake(e, now);
			} else if (tag < TAG_MAX) {
				if (e->stopping || (int)tag >= b->nlfd)
					continue;
				accept_some(e, b->lfd[tag], now);
			} else {
				struct client *c = (struct client *)(uintptr_t)(tag & ~(uint64_t)1);
				if (c->state != C_DEAD)
					client_event(e, c, (int)(tag & 1), ev[i].events, now);
			}
		}
		free_dead(e);
	}
	uint64_t left = e->nconn;
	close_all(e, &e->connecting, "drain deadline");
	close_all(e, &e->retrying, "drain deadline");
	close_all(e, &e->relaying, "drain deadline");
	close_all(e, &e->closing, "drain deadline");
	free_dead(e);
	__atomic_fetch_add(&e->sh->left, left, __ATOMIC_RELAXED);
	return 0;
}

static void *engine_thread(void *arg)
{
	struct engine *e = arg;
	/* a worker that fails stops the others: the process ends */
	if (engine_run(e) < 0)
		on_stop_signal(e, now_ms());
	return NULL;
}

static int engine_init(struct engine *e, struct bridge *b, struct shared *sh,
		       int first)
{
	e->b = b;
	e->sh = sh;
	/* spare pipes kept for splicing: 64 in all, at least 8 a worker */
	e->pool.max = sh->n > 8 ? 8 : 64 / sh->n;
	e->batch = 1;
	e->target = b->target;
	addr_format(&e->target, e->target_name, sizeof e->target_name);
	e->ep = epoll_create1(EPOLL_CLOEXEC);
	e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->ep < 0 || e->wakefd < 0)
		return -1;
	struct epoll_event we = { .events = EPOLLIN, .data.u64 = TAG_WAKE };
	if (epoll_ctl(e->ep, EPOLL_CTL_ADD, e->wakefd, &we) < 0)
		return -1;
	struct epoll_event se = { .events = EPOLLIN, .data.u64 = TAG_SIGNAL };
	if (first && epoll_ctl(e->ep, EPOLL_CTL_ADD, b->sigfd, &se) < 0)
		return -1;
	return 0;
}

static void engine_free(struct engine *e)
{
	pipe_pool_drain(&e->pool);
	if (e->ep >= 0)
		close(e->ep);
	if (e->wakefd >= 0)
		close(e->wakefd);
}

int bridge_run(struct bridge *b)
{
	struct shared sh = { .n = b->workers > 1 ? b->workers : 1 };
	int rc = 0, started = 1, err = 0;

	sh.eng = calloc((size_t)sh.n, sizeof *sh.eng);
	if (!sh.eng)
		return -1;
	pthread_mutex_init(&sh.loops_lock, NULL);
	pthread_mutex_init(&sh.event_lock, NULL);
	for (int i = 0; i < sh.n; i++)
		sh.eng[i].ep = sh.eng[i].wakefd = -1;
	for (int i = 0; i < sh.n && !rc; i++)
		rc = engine_init(&sh.eng[i], b, &sh, i == 0);
	/* without the table, a run-time TCP loop is bounded by -c only */
	if (!rc && b->target.kind == ADDR_TCP && loop_conns_init(&sh.loops) < 0)
		notice(&sh.eng[0], 0, 0, "no memory to watch for connection loops");
	pthread_t *th = rc ? NULL : calloc((size_t)sh.n, sizeof *th);
	if (!rc && !th)
		rc = -1;
	for (; !rc && started < sh.n; started++) {
		int e = pthread_create(&th[started], NULL, engine_thread,
				       &sh.eng[started]);
		if (e) {
			errno = e;
			rc = -1;
			break;
		}
	}
	if (rc) {
		err = errno;
		/* the workers already running stop at once */
		sh.stop_req = sh.stop_now = 1;
		if (started > 1)
			wake_all(&sh.eng[0]);
	} else {
		rc = engine_run(&sh.eng[0]);
		err = errno;
		if (rc < 0)
			on_stop_signal(&sh.eng[0], now_ms());
	}
	for (int i = 1; i < started; i++)
		pthread_join(th[i], NULL);
	if (sh.left)
		notice(&sh.eng[0], 0, 0, "drain deadline: closed %llu connection%s",
		       (unsigned long long)sh.left, num_s(sh.left));
	for (int i = 0; i < sh.n; i++)
		engine_free(&sh.eng[i]);
	loop_conns_free(&sh.loops);
	pthread_mutex_destroy(&sh.loops_lock);
	pthread_mutex_destroy(&sh.event_lock);
	free(th);
	free(sh.eng);
	errno = err;
	return rc;
}
