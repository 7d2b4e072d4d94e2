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
	*failed = &r->c.dir[i];
	(*failed)->failed_in = r->c.end[i] == CONN_RESET;
	errno = r->c.err[i] ? r->c.err[i] : EPIPE;
	return RELAY_ERROR;
}

int relay_run(struct relay *r, struct pump **failed)
{
	struct conn *c = &r->c;
	int64_t last = now_ms();
	int64_t heard = -1;  /* --linger: the peer's last byte once up ended */
	int rc = 0;

	r->signo = 0;
	*failed = NULL;
	conn_start(c, last);
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
		int64_t now = now_ms(), until = conn_deadline(c);
		if (r->idle_ms >= 0 && c->phase == CONN_RELAYING &&
		    (until < 0 || last + r->idle_ms < until))
			until = last + r->idle_ms;
		int lingering = 0;
		if (r->linger_ms > 0 && c->end[0] && c->phase == CONN_RELAYING) {
			if (heard < 0)
				heard = now;
			if (until < 0 || heard + r->linger_ms <= until) {
				until = heard + r->linger_ms;
				lingering = 1;
			}
		}
		int timeout = until < 0 ? -1 : until <= now ? 0 :
			      until - now > 60000 ? 60000 : (int)(until - now);
		int n = poll(pfd, (nfds_t)nfd, timeout);
		if (n < 0 && errno != EINTR) {
			conn_abort(c);
			rc = RELAY_ERROR;
			break;
		}
		now = now_ms();
		if (n <= 0) {
			if (lingering && now >= until) {
				stop_down(c);
				continue;
			}
			if (r->idle_ms >= 0 && c->phase == CONN_RELAYING &&
			    now - last >= r->idle_ms) {
				conn_abort(c);
				rc = RELAY_TIMEOUT;
			}
			conn_tick(c, now);
			continue;
		}
		uint64_t before = c->dir[0].bytes + c->dir[1].bytes;
		for (int k = 0; k < nfd && !rc; k++) {
			if (!pfd[k].revents)
				continue;
			if (owner[k] < 0) {
				int s = sig_read(r->sigfd);
				if (s == SIGINT || s == SIGTERM) {
					r->signo = s;
					conn_abort(c);
					rc = RELAY_SIGNAL;
				}
				continue;
			}
			conn_io(c, owner[k] >> 2, events(pfd[k].revents, owner[k] & 3), now);
		}
		if (c->dir[0].bytes + c->dir[1].bytes != before) {
			last = now;
			if (heard >= 0)
				heard = now;
		}
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
