/* relay.c — relay one connection both ways with poll(): each direction
 * ends on its own, and the relay ends when both have ended. */
#include <errno.h>
#include <poll.h>
#include <signal.h>

#include "relay.h"

int relay_run(struct relay *r, struct pump **failed)
{
	struct pump *pp[2] = { &r->up, &r->down };
	int want[2] = { PUMP_WANT_READ, PUMP_WANT_READ };
	int64_t last = now_ms();
	int64_t heard = -1;  /* linger: last byte from the peer after up ended */

	r->signo = 0;
	for (int i = 0; i < 2; i++)
		if (pp[i]->eof && !pp[i]->done)
			want[i] = pump_step(pp[i]);
	for (;;) {
		if ((pp[0]->done && pp[1]->done) ||
		    (r->end_on_down_eof && pp[1]->done)) {
			for (int i = 0; i < 2; i++)
				if (pp[i]->broken) {
					/* an answer got through, but not all was sent */
					*failed = pp[i];
					errno = EPIPE;
					return RELAY_ERROR;
				}
			return RELAY_OK;
		}

		struct pollfd pfd[5];
		int owner[5], nfd = 0;
		for (int i = 0; i < 2; i++) {
			if (pp[i]->done)
				continue;
			if (want[i] & PUMP_WANT_READ) {
				pfd[nfd] = (struct pollfd){ pp[i]->in, POLLIN, 0 };
				owner[nfd++] = i;
			}
			/* the output is watched even when idle, to learn that
			 * the peer can take no more */
			pfd[nfd] = (struct pollfd){ pp[i]->out,
				(short)(want[i] & PUMP_WANT_WRITE ? POLLOUT : 0), 0 };
			owner[nfd++] = i | 2;
		}
		if (r->sigfd >= 0) {
			pfd[nfd] = (struct pollfd){ r->sigfd, POLLIN, 0 };
			owner[nfd++] = -1;
		}
		int timeout = -1, lingering = 0;
		int64_t now = now_ms();
		if (r->idle_ms >= 0) {
			int64_t left = last + r->idle_ms - now;
			timeout = left < 0 ? 0 : (int)left;
		}
		if (r->linger_ms > 0 && pp[0]->done) {
			if (heard < 0)
				heard = now;
			int64_t left = heard + r->linger_ms - now;
			if (left < 0)
				left = 0;
			if (timeout < 0 || left <= timeout) {
				timeout = (int)left;
				lingering = 1;
			}
		}
		int n = poll(pfd, (nfds_t)nfd, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*failed = NULL;
			return RELAY_ERROR;
		}
		if (n == 0)
			return lingering ? RELAY_OK : RELAY_TIMEOUT;
		int ready[2] = { 0, 0 };
		for (int k = 0; k < nfd; k++) {
			if (!pfd[k].revents)
				continue;
			if (owner[k] < 0) {
				int s = sig_read(r->sigfd);
				if (s == SIGINT || s == SIGTERM) {
					r->signo = s;
					return RELAY_SIGNAL;
				}
				continue;
			}
			int i = owner[k] & 1;
			int is_out = owner[k] & 2;
			if (is_out && !(pfd[k].revents & POLLOUT) &&
			    (pfd[k].revents & (POLLHUP | POLLERR)) &&
			    !(want[i] & PUMP_WANT_WRITE)) {
				/* idle output hung up: nobody will read more */
				if (pp[i]->out_kind == FD_SOCKET ||
				    (pfd[k].revents & POLLERR)) {
					if (pump_abandon(pp[i]) < 0) {
						*failed = pp[i];
						return RELAY_ERROR;
					}
					continue;
				}
			}
			ready[i] = 1;
		}
		for (int i = 0; i < 2; i++) {
			if (!ready[i] || pp[i]->done)
				continue;
			uint64_t before = pp[i]->bytes;
			want[i] = pump_step(pp[i]);
			if (want[i] < 0) {
				*failed = pp[i];
				return RELAY_ERROR;
			}
			if (pp[i]->bytes != before) {
				last = now_ms();
				if (i == 1 && heard >= 0)
					heard = last;
			}
		}
	}
}
