/* conn.c — the connection core: how one relayed connection ends.
 * Each direction ends on its own; a failed write ends only the direction
 * that writes; a reset is passed on after what arrived before it; a side
 * whose input we stop relaying gets a lingering close; a cut connection
 * ends with a reset.  Drivers (relay.c's poll loop, the bridge's epoll
 * loop) only report readiness and watch what conn_want_*() ask. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "conn.h"
#include "dump.h"

#define DISCARD_TURNS 16    /* reads per discard call before yielding */
#define CHECK_MAX_MS  100   /* SIOCOUTQ polling backs off to this */

/* What lingering reads land in: one per thread (tcp2unix -j). */
static _Thread_local char sink[64 << 10];

/* Bytes FD has sent that its peer has not taken yet (TCP: not
 * acknowledged, FIN included; UNIX: not read), or -1. */
static int outq(int fd)
{
	int n = 0;
	return ioctl(fd, SIOCOUTQ, &n) < 0 ? -1 : n;
}

/* Read and throw away what socket FD holds.  1 once nothing more will
 * come (EOF or error), else 0; *GOT is set when something was read. */
static int discard(int fd, int *got)
{
	for (int i = 0; i < DISCARD_TURNS; i++) {
		ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
		if (n > 0) {
			*got = 1;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno != EAGAIN;
	}
	return 0;
}

/* A reset waits for what TCP socket FD still has to deliver, unless
 * there is nobody left to deliver it to (the peer reset or closed). */
static int delivering(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = 0 };
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)))
		return 0;
	return outq(fd) > 0;
}

static int is_tcp(int fd)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof ss;
	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	       (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

/* ---- the lingering close ---- */

int conn_linger_begin(struct conn_linger *l, int fd, int64_t now)
{
	memset(l, 0, sizeof *l);
	l->fd = fd;
	l->start = l->last = now;
	return conn_linger_step(l, now);
}

int conn_linger_step(struct conn_linger *l, int64_t now)
{
	int got = 0;
	if (!l->eof && discard(l->fd, &got))
		l->eof = 1;
	if (got)
		l->last = now;
	/* not sooner: a peer still sending when we close gets a reset, which
	 * for UNIX turns its coming EOF into ECONNRESET and for TCP fails
	 * the upload of a client that is about to read a whole answer */
	return l->eof || now - l->start >= CONN_LINGER_MS ||
	       now - l->last >= CONN_LINGER_IDLE_MS;
}

int64_t conn_linger_deadline(const struct conn_linger *l)
{
	int64_t d = l->start + CONN_LINGER_MS;
	if (l->last + CONN_LINGER_IDLE_MS < d)
		d = l->last + CONN_LINGER_IDLE_MS;
	return d;
}

/* ---- set-up ---- */

static void side_set(struct conn_side *s, int rfd, int wfd)
{
	memset(s, 0, sizeof *s);
	s->rfd = rfd;
	s->wfd = wfd;
}

void conn_init(struct conn *c, int rfd0, int wfd0, int rfd1, int wfd1)
{
	memset(c, 0, sizeof *c);
	pump_init(&c->dir[0], rfd0, wfd1);
	pump_init(&c->dir[1], rfd1, wfd0);
	side_set(&c->side[0], rfd0, wfd0);
	side_set(&c->side[1], rfd1, wfd1);
	for (int i = 0; i < 2; i++) {
		struct conn_side *s = &c->side[i];
		s->sock = fd_kind(s->rfd) == FD_SOCKET;
		s->wsock = fd_kind(s->wfd) == FD_SOCKET;
		s->tcp = s->wsock && is_tcp(s->wfd);
		s->local = !s->wsock;
		c->want[i] = PUMP_WANT_READ;
	}
	c->next_check = -1;
}

void conn_init_sockets(struct conn *c, int a, int b, int tcp,
		       struct pipe_pool *pool)
{
	memset(c, 0, sizeof *c);
	pump_init_adaptive(&c->dir[0], a, b, pool);
	pump_init_adaptive(&c->dir[1], b, a, pool);
	side_set(&c->side[0], a, a);
	side_set(&c->side[1], b, b);
	for (int i = 0; i < 2; i++) {
		struct conn_side *s = &c->side[i];
		s->sock = s->wsock = s->own = 1;
		s->tcp = (uint8_t)((tcp >> i) & 1);
		c->want[i] = PUMP_WANT_READ;
	}
	c->next_check = -1;
}

int conn_dump(struct conn *c, struct dump *d, const char *peer, int req)
{
	struct dump_conn *dc = dump_conn_new(d, c->id, peer);
	if (!dc)
		return -1;
	dump_conn_free(c->dump);
	c->dump = dc;
	for (int i = 0; i < 2; i++)
		pump_set_tap(&c->dir[i], dump_tap,
			     dump_conn_dir(dc, i == req ? '>' : '<'));
	return 0;
}

/* ---- the rules ---- */

static void dir_end(struct conn *c, int i, enum conn_end how, int err)
{
	c->end[i] = (uint8_t)how;
	c->err[i] = err;
	c->want[i] = 0;
	c->dir[i].done = 1;
	pump_free(&c->dir[i]);
}

/* Every open direction ends CONN_CUT and every socket side is reset. */
static void cut(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		if (!c->end[i]) {
			c->cut_open[i] = 1;
			dir_end(c, i, CONN_CUT, 0);
		}
		if (c->side[i].wsock)
			c->side[i].rst = 1;
		c->side[i].lingering = 0;
	}
	c->phase = CONN_DONE;
}

/* Side I's input failed (its peer reset, or a read error): what was read
 * is already written; the peer of the other side gets a reset once that
 * has left (conn_close), and nothing more goes toward side I. */
static void input_failed(struct conn *c, int i, int err)
{
	c->side[i].rd_end = 1;
	dir_end(c, i, CONN_RESET, err);
	if (!c->end[1 - i])
		dir_end(c, 1 - i, CONN_CUT, err);
	c->side[1 - i].discard = 0;
	if (c->side[1 - i].wsock)
		c->side[1 - i].rst = 1;
}

/* Side S, whose input had already ended, failed afterwards (a TCP reset
 * after its FIN, a socket error after its EOF): that end was no clean
 * one.  Direction S is marked reset (ERR), the direction toward S ends
 * with ERR, and the other side gets the reset, after what it is owed
 * (conn_close), instead of a lingering close that would make a clean end
 * of it.  A TCP socket we never shut down reports the reset of a peer
 * that had sent its FIN as EPIPE (Linux, state CLOSE_WAIT): it is a
 * reset all the same. */
static void side_reset(struct conn *c, int s, int err)
{
	int o = 1 - s;
	if (err == EPIPE && c->side[s].tcp)
		err = ECONNRESET;
	c->side[s].rd_end = 1;
	c->side[s].discard = 0;
	c->end[s] = CONN_RESET;
	c->err[s] = err;
	if (!c->end[o])
		dir_end(c, o, CONN_GONE, err);
	c->side[o].discard = 0;
	c->side[o].lingering = 0;
	if (c->side[o].wsock)
		c->side[o].rst = 1;
}

/* The error side S's socket reports (SO_ERROR, which reading clears),
 * once it hung up or failed; a TCP socket that hangs up while we still
 * write to it was reset even when the error was taken already.  0: a
 * plain hang-up (a UNIX peer that closed having read all). */
static int hup_error(const struct conn *c, int s)
{
	const struct conn_side *sd = &c->side[s];
	int err = 0;
	socklen_t len = sizeof err;
	if (!sd->wsock)
		return 0;
	if (getsockopt(sd->wfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = 0;
	if (!err && sd->tcp && !c->end[1 - s])
		err = ECONNRESET;
	return err;
}

/* Direction I's output took no more (ERR 0: it hung up while idle). */
static void output_failed(struct conn *c, int i, int err)
{
	struct conn_side *o = &c->side[1 - i];

	/* we never shut down a TCP socket we still write to: EPIPE there is
	 * a reset that came after the peer's FIN (Linux, CLOSE_WAIT) */
	if (err == EPIPE && o->tcp)
		err = ECONNRESET;
	if (err && o->wsock && !o->local && c->end[1 - i] == CONN_EOF) {
		/* the peer's output had ended, now it takes no more: a TCP
		 * reset after its FIN, a UNIX peer gone with our bytes unread.
		 * Its peer, connected directly, would see its writes fail: it
		 * gets the reset, once what it was owed has left */
		side_reset(c, 1 - i, err);
		return;
	}

	if (o->local && !err)
		err = EPIPE;  /* even idle, the exchange is cut short */
	dir_end(c, i, CONN_GONE, err);
	if (o->local) {
		/* a local output gone (stdout's reader left): nothing the
		 * exchange brings can be delivered, so it ends */
		cut(c);
		return;
	}
	if (err == ECONNRESET && o->tcp) {
		/* our write took the reset: the reads that follow see EOF,
		 * which is passed on as the reset it is; if they are over,
		 * the reset goes on now */
		o->was_reset = 1;
		c->dir[1 - i].keep_out = 1;
		if (c->end[1 - i]) {
			c->side[i].discard = 0;
			c->side[i].rst = c->side[i].wsock;
			return;
		}
	}
	/* keep the peer of side I from blocking on a full buffer: read and
	 * discard what it sends, until the lingering close ends */
	if (c->side[i].sock && !c->side[i].rd_end)
		c->side[i].discard = 1;
}

static void dir_run(struct conn *c, int i)
{
	struct pump *p = &c->dir[i];
	if (c->end[i])
		return;
	/* the other direction is over: once this one ends too, the output
	 * is closed at once (nothing to linger on, no reset to wait for),
	 * and that close is the EOF; a shutdown() first would add nothing */
	struct conn_side *o = &c->side[1 - i];
	if (c->end[1 - i] == CONN_EOF && o->own && o->wsock && !o->rst &&
	    !c->side[i].discard)
		p->keep_out = 1;
	int r = pump_step(p);
	if (r < 0) {
		int e = errno;
		if (p->failed_in)
			input_failed(c, i, e);
		else
			output_failed(c, i, e);
		return;
	}
	c->want[i] = (uint8_t)r;
	if (!p->done)
		return;
	c->side[i].rd_end = 1;
	if (c->side[i].was_reset)
		input_failed(c, i, ECONNRESET);
	else
		dir_end(c, i, CONN_EOF, 0);
}

/* Both directions ended: what is left before the fds can be closed. */
static void closing_step(struct conn *c, int64_t now)
{
	int waiting = 0;
	for (int s = 0; s < 2; s++) {
		struct conn_side *sd = &c->side[s];
		if (sd->lingering && conn_linger_step(&sd->lg, now))
			sd->lingering = 0;
		waiting |= sd->lingering;
	}
	c->next_check = -1;
	for (int s = 0; s < 2; s++) {
		struct conn_side *sd = &c->side[s];
		/* a reset passed on to TCP destroys what is still in the send
		 * queue: let what arrived before the reset leave first */
		if (!sd->rst || !sd->tcp || now >= c->reset_until)
			continue;
		if (!delivering(sd->wfd))
			continue;
		waiting = 1;
		c->next_check = now + c->check_ms;
		if (c->check_ms < CHECK_MAX_MS)
			c->check_ms *= 2;
	}
	if (!waiting)
		c->phase = CONN_DONE;
}

static void enter_closing(struct conn *c, int64_t now)
{
	c->phase = CONN_CLOSING;
	c->reset_until = now + CONN_LINGER_MS;
	c->check_ms = 1;
	for (int s = 0; s < 2; s++) {
		struct conn_side *sd = &c->side[s];
		if (sd->discard && !sd->rd_end && !sd->rst)
			sd->lingering = (uint8_t)!conn_linger_begin(&sd->lg, sd->rfd, now);
	}
	closing_step(c, now);
}

void conn_start(struct conn *c, int64_t now)
{
	for (int i = 0; i < 2; i++)
		if (c->dir[i].eof && !c->end[i])
			dir_run(c, i);
	if (c->phase == CONN_RELAYING && c->end[0] && c->end[1])
		enter_closing(c, now);
}

void conn_io(struct conn *c, int s, unsigned ev, int64_t now)
{
	struct conn_side *sd = &c->side[s];

	if (c->phase == CONN_DONE)
		return;
	if (c->phase == CONN_CLOSING) {
		if (ev & (CONN_RD | CONN_HUP))
			closing_step(c, now);
		return;
	}
	/* a waiting write first, as a direct peer's blocked writer would:
	 * when side S went away it takes the error (a UNIX peer that closed
	 * on unread input then reads as EOF, as it does to that peer; a TCP
	 * reset is remembered in was_reset), and what S sent before is
	 * still read below */
	int o = 1 - s;  /* the direction writing side S */
	if (!c->end[o] && (c->want[o] & PUMP_WANT_WRITE) &&
	    (ev & (CONN_WR | CONN_HUP)))
		dir_run(c, o);
	if (ev & (CONN_RD | CONN_HUP)) {
		if (!c->end[s]) {
			dir_run(c, s);
		} else if (sd->discard && !sd->rd_end) {
			int got = 0;
			if (discard(sd->rfd, &got))
				sd->rd_end = 1;
		}
	}
	/* side S's input ended before, and now it hangs up or fails: an
	 * error there (a reset after its FIN) is its reset, not an end */
	if (c->phase == CONN_RELAYING && (ev & CONN_HUP) &&
	    c->end[s] == CONN_EOF && (!c->end[o] || c->end[o] == CONN_EOF)) {
		int e = hup_error(c, s);
		if (e)
			side_reset(c, s, e);
	}
	/* an idle output that hung up: nothing was lost, nobody takes more */
	if (c->phase == CONN_RELAYING && !c->end[o] && (ev & CONN_HUP) &&
	    !(c->want[o] & PUMP_WANT_WRITE))
		output_failed(c, o, 0);
	if (c->phase == CONN_RELAYING && c->end[0] && c->end[1])
		enter_closing(c, now);
}

unsigned conn_want_rd(const struct conn *c, int s)
{
	const struct conn_side *sd = &c->side[s];
	if (c->phase == CONN_RELAYING && !c->end[s])
		return c->want[s] & PUMP_WANT_READ ? CONN_RD : 0;
	if (c->phase == CONN_RELAYING)
		return sd->discard && !sd->rd_end ? CONN_RD : 0;
	return c->phase == CONN_CLOSING && sd->lingering ? CONN_RD : 0;
}

unsigned conn_want_wr(const struct conn *c, int s)
{
	return c->phase == CONN_RELAYING && !c->end[1 - s] &&
	       (c->want[1 - s] & PUMP_WANT_WRITE) ? CONN_WR : 0;
}

int conn_watch_out(const struct conn *c, int s)
{
	return c->phase == CONN_RELAYING && !c->end[1 - s];
}

int64_t conn_deadline(const struct conn *c)
{
	if (c->phase != CONN_CLOSING)
		return -1;
	int64_t d = c->next_check;
	for (int s = 0; s < 2; s++) {
		if (!c->side[s].lingering)
			continue;
		int64_t t = conn_linger_deadline(&c->side[s].lg);
		if (d < 0 || t < d)
			d = t;
	}
	return d;
}

void conn_tick(struct conn *c, int64_t now)
{
	if (c->phase == CONN_CLOSING)
		closing_step(c, now);
}

void conn_abort(struct conn *c)
{
	cut(c);
}

void conn_close(struct conn *c)
{
	for (int s = 0; s < 2; s++) {
		struct conn_side *sd = &c->side[s];
		if (sd->wfd < 0)
			continue;
		if (!sd->own) {
			/* a socket on stdio (usock-listen's COMMAND): the reset
			 * happens at its last close, ours or the lender's */
			if (sd->rst && sd->wsock) {
				struct linger lg = { 1, 0 };
				setsockopt(sd->wfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			}
			continue;
		}
		if (sd->rst && sd->wsock) {
			/* what TCP had not delivered is lost with the reset:
			 * count only what the peer got */
			int q = sd->tcp ? outq(sd->wfd) : 0;
			struct pump *p = &c->dir[1 - s];
			if (q > 0)
				p->bytes = p->bytes > (uint64_t)q ? p->bytes - (uint64_t)q : 0;
			struct linger lg = { 1, 0 };
			setsockopt(sd->wfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		}
		if (sd->rfd != sd->wfd && sd->rfd >= 0)
			close(sd->rfd);
		close(sd->wfd);
		sd->rfd = sd->wfd = -1;
	}
}

void conn_free(struct conn *c)
{
	pump_free(&c->dir[0]);
	pump_free(&c->dir[1]);
	dump_conn_free(c->dump);
	c->dump = NULL;
}

int conn_failed_dir(const struct conn *c)
{
	static const int weight[] = {
		[CONN_OPEN] = 0, [CONN_EOF] = 0, [CONN_CUT] = 1,
		[CONN_GONE] = 2, [CONN_RESET] = 3,
	};
	int w0 = weight[c->end[0]], w1 = weight[c->end[1]];
	/* a hang-up that lost nothing is no failure */
	if (c->end[0] == CONN_GONE && !c->err[0])
		w0 = 0;
	if (c->end[1] == CONN_GONE && !c->err[1])
		w1 = 0;
	if (!w0 && !w1)
		return -1;
	return w1 >= w0 ? 1 : 0;
}
