/* relay.c — drive one connection (conn.h) between local fds (stdin and
 * stdout, or a command's) and a socket with poll(), with an idle timer
 * and a signalfd. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "relay.h"

#define R_IN  1     /* pollfd role: a side's input fd */
#define R_OUT 2     /* ... its output fd */

void relay_init(struct relay *r, int rfd, int wfd, int sock)
{
	r->sigfd = -1;
	r->idle_ms = -1;
	r->end_on_down_eof = 0;
	r->linger_ms = 0;
	r->signo = 0;
	conn_init(&r->c, rfd, wfd, sock, sock);
	r->c.side[1].own = 1;
}

/* Fill PFD with what C wants watched; OWNER[k] is side << 2 | roles. */
static int watch(const struct conn *c, struct pollfd *pfd, int *owner)
{
	int n = 0;
	for (int s = 0; s < 2; s++) {
		const struct conn_side *sd = &c->side[s];
		short rd = conn_want_rd(c, s) ? POLLIN : 0;
		short wr = conn_want_wr(c, s) ? POLLOUT : 0;
		/* an open direction's output is watched even when idle, to
		 * learn that nobody will take more (poll reports POLLHUP and
		 * POLLERR whatever the events asked) */
		int out = wr || conn_watch_out(c, s);
		if (sd->rfd == sd->wfd) {
			if (rd || out) {
				pfd[n] = (struct pollfd){ sd->rfd, (short)(rd | wr), 0 };
				owner[n++] = s << 2 | R_IN | R_OUT;
			}
			continue;
		}
		if (rd) {
			pfd[n] = (struct pollfd){ sd->rfd, rd, 0 };
			owner[n++] = s << 2 | R_IN;
		}
		if (out) {
			pfd[n] = (struct pollfd){ sd->wfd, wr, 0 };
			owner[n++] = s << 2 | R_OUT;
		}
	}
	return n;
}

static unsigned events(short re, int roles)
{
	unsigned ev = 0;
	if ((roles & R_IN) && (re & (POLLIN | POLLHUP | POLLERR)))
		ev |= CONN_RD;
	if ((roles & R_OUT) && (re & POLLOUT))
		ev |= CONN_WR;
	if ((roles & R_OUT) && (re & (POLLHUP | POLLERR)))
		ev |= CONN_HUP;
	return ev;
}

/* The end of the terminal session: the peer finished, stop sending. */
static void stop_up(struct conn *c)
{
	if (c->end[0])
		return;
	fd_send_eof(c->side[1].wfd, FD_SOCKET);
	c->end[0] = CONN_EOF;
	c->dir[0].done = 1;
	pump_free(&c->dir[0]);
	c->phase = CONN_DONE;
}

/* --linger ran out: the peer had its time to answer, end as if it had
 * closed (a plain close, no EOF sent to it). */
static void stop_down(struct conn *c)
{
	if (!c->end[1]) {
		c->end[1] = CONN_EOF;
		c->dir[1].done = 1;
		pump_free(&c->dir[1]);
	}
	c->phase = CONN_DONE;
}

static int result(struct relay *r, struct pump **failed)
{
	int i = conn_failed_dir(&r->c);
	if (i < 0)
		return RELAY_OK;
	/* a reset that cut the upload short is told as the write it cut */
	if (i == 1 && r->c.end[0] == CONN_GONE && r->c.err[0])
		i = 0;
	*failed = &r->c.dir[i];
	(*failed)->failed_in = r->c.end[i] == CONN_RESET;
	errno = r->c.err[i] ? r->c.err[i] : EPIPE;
	return RELAY_ERROR;
}

/* The clock of one relay_run(): when traffic was last seen, and the
 * deadline of the wait under way. */
struct relay_clock {
	int64_t last;      /* ms: the last byte either way */
	int64_t heard;     /* --linger: the peer's last byte once up ended;
			      -1 before */
	int64_t until;     /* the wait's deadline, -1: none */
	int lingering;     /* that deadline is --linger's */
};

/* Set K's deadline for the next wait: the connection core's, the idle
 * time (idle_ms) or the lingering time (linger_ms), whichever comes
 * first.  Returns poll(2)'s timeout in ms from NOW: -1 none, at most
 * 60 s. */
static int wait_ms(struct relay *r, struct relay_clock *k, int64_t now)
{
	struct conn *c = &r->c;
	k->until = conn_deadline(c);
	if (r->idle_ms >= 0 && c->phase == CONN_RELAYING &&
	    (k->until < 0 || k->last + r->idle_ms < k->until))
		k->until = k->last + r->idle_ms;
	k->lingering = 0;
	if (r->linger_ms > 0 && c->end[0] && c->phase == CONN_RELAYING) {
		if (k->heard < 0)
			k->heard = now;
		if (k->until < 0 || k->heard + r->linger_ms <= k->until) {
			k->until = k->heard + r->linger_ms;
			k->lingering = 1;
		}
	}
	return k->until < 0 ? -1 : k->until <= now ? 0 :
	       k->until - now > 60000 ? 60000 : (int)(k->until - now);
}

/* Nothing came before the deadline: the lingering time ran out (the
 * relay ends as if the peer had closed), or the idle time did (cut:
 * RELAY_TIMEOUT), or one of the core's own timers.  0 or RELAY_TIMEOUT. */
static int on_timeout(struct relay *r, const struct relay_clock *k,
		      int64_t now)
{
	struct conn *c = &r->c;
	int rc = 0;
	if (k->lingering && now >= k->until) {
		stop_down(c);
		return 0;
	}
	if (r->idle_ms >= 0 && c->phase == CONN_RELAYING &&
	    now - k->last >= r->idle_ms) {
		conn_abort(c);
		rc = RELAY_TIMEOUT;
	}
	conn_tick(c, now);
	return rc;
}

/* Act on the NFD descriptors of PFD poll(2) found ready (OWNER: the
 * conn side and role of each, -1 the signalfd), and note traffic in K.
 * 0, or RELAY_SIGNAL (SIGINT or SIGTERM: the connection is cut). */
static int on_ready(struct relay *r, struct relay_clock *k,
		    const struct pollfd *pfd, const int *owner, int nfd,
		    int64_t now)
{
	struct conn *c = &r->c;
	uint64_t before = c->dir[0].bytes + c->dir[1].bytes;
	for (int i = 0; i < nfd; i++) {
		if (!pfd[i].revents)
			continue;
		if (owner[i] < 0) {
			int s = sig_read(r->sigfd);
			if (s == SIGINT || s == SIGTERM) {
				r->signo = s;
				conn_abort(c);
				return RELAY_SIGNAL;
			}
			continue;
		}
		conn_io(c, owner[i] >> 2, events(pfd[i].revents, owner[i] & 3), now);
	}
	if (c->dir[0].bytes + c->dir[1].bytes != before) {
		k->last = now;
		if (k->heard >= 0)
			k->heard = now;
	}
	return 0;
}

int relay_run(struct relay *r, struct pump **failed)
{
	struct conn *c = &r->c;
	struct relay_clock k = { .last = now_ms(), .heard = -1, .until = -1 };
	int rc = 0;

	r->signo = 0;
	*failed = NULL;
	conn_start(c, k.last);
	while (!rc && c->phase != CONN_DONE) {
		if (r->end_on_down_eof && c->end[1]) {
			stop_up(c);
			break;
		}
		struct pollfd pfd[5];
		int owner[5];
		int nfd = watch(c, pfd, owner);
		if (r->sigfd >= 0) {
			pfd[nfd] = (struct pollfd){ r->sigfd, POLLIN, 0 };
			owner[nfd++] = -1;
		}
		int n = poll(pfd, (nfds_t)nfd, wait_ms(r, &k, now_ms()));
		if (n < 0 && errno != EINTR) {
			conn_abort(c);
			rc = RELAY_ERROR;
			break;
		}
		int64_t now = now_ms();
		rc = n <= 0 ? on_timeout(r, &k, now) :
		     on_ready(r, &k, pfd, owner, nfd, now);
	}
	conn_close(c);
	conn_free(c);
	if (rc == RELAY_ERROR) {
		int e = errno;
		*failed = NULL;
		errno = e;
		return rc;
	}
	return rc ? rc : result(r, failed);
}
