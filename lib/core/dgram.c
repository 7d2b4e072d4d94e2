/* dgram.c — UNIX datagram and seqpacket sockets: receiving whole
 * messages of any size with their sender and credentials, and the
 * lines-to-messages exchange of usock-connect and usock-listen. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dgram.h"
#include "relay.h"
#include "sys.h"

size_t dgram_limit(int fd)
{
	int v = 0;
	socklen_t sl = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &sl) < 0 ||
	    v <= DGRAM_OVERHEAD)
		return 65536;
	return (size_t)v - DGRAM_OVERHEAD;
}

int dgram_autobind(int fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	return bind(fd, (struct sockaddr *)&sun, sizeof(sa_family_t));
}

int dgram_passcred(int fd)
{
	int one = 1;
	return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
}

int dgram_from_named(const struct dgram_msg *m)
{
	return m->fromlen > offsetof(struct sockaddr_un, sun_path);
}

/* Make B hold at least N bytes (and one more, so it is never empty). */
static int buf_reserve(struct dgram_buf *b, size_t n)
{
	if (b->cap > n)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap <= n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int dgram_recv(int fd, struct dgram_buf *b, struct dgram_msg *m)
{
	/* the size of the next message, whatever room we have */
	ssize_t size;
	do
		size = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	while (size < 0 && errno == EINTR);
	if (size < 0)
		return -1;
	if (buf_reserve(b, (size_t)size) < 0)
		return -1;

	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} cm;
	struct iovec iov = { b->p, b->cap };
	struct msghdr mh = {
		.msg_name = &m->from, .msg_namelen = sizeof m->from,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cm.buf, .msg_controllen = sizeof cm.buf,
	};
	ssize_t n;
	do
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	m->data = b->p;
	m->len = (size_t)n;
	m->fromlen = mh.msg_namelen;
	m->has_cred = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;
			memcpy(&uc, CMSG_DATA(c), sizeof uc);
			m->has_cred = 1;
			m->pid = uc.pid;
			m->uid = uc.uid;
			m->gid = uc.gid;
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			/* descriptors passed to us: not ours to keep */
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int dfd;
				memcpy(&dfd, CMSG_DATA(c) + i * sizeof(int), sizeof dfd);
				close(dfd);
			}
		}
	}
	int type = 0;
	socklen_t sl = sizeof type;
	if (n == 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) == 0 &&
	    type == SOCK_SEQPACKET)
		return 1;
	return 0;
}

/* ---- the exchange ---- */

/* Bytes waiting to be written to the output. */
struct outq {
	char *p;
	size_t off, len, cap;
};

/* Make room for N more bytes in Q: 0, or -1 (out of memory). */
static int outq_reserve(struct outq *q, size_t n)
{
	if (q->off && q->off == q->len)
		q->off = q->len = 0;
	if (q->len + n <= q->cap)
		return 0;
	size_t cap = q->cap ? q->cap : 4096;
	while (cap < q->len + n)
		cap *= 2;
	char *np = realloc(q->p, cap);
	if (!np)
		return -1;
	q->p = np;
	q->cap = cap;
	return 0;
}

static int outq_add(struct outq *q, const char *p, size_t n)
{
	if (outq_reserve(q, n) < 0)
		return -1;
	memcpy(q->p + q->len, p, n);
	q->len += n;
	return 0;
}

/* Append the escaped form of P[0..N) to Q (the one escaping rule,
 * esc_bytes()), so that one message is one line on a terminal. */
static int outq_add_escaped(struct outq *q, const char *p, size_t n)
{
	if (outq_reserve(q, 4 * n + 1) < 0)
		return -1;
	q->len += esc_bytes(q->p + q->len, 4 * n + 1, p, n);
	return 0;
}

/* Write what Q holds to FD without blocking: 0, or -1 with errno. */
static int outq_flush(struct outq *q, int fd)
{
	while (q->off < q->len) {
		ssize_t w = write(fd, q->p + q->off, q->len - q->off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0)
			return -1;
		q->off += (size_t)w;
	}
	q->off = q->len = 0;
	return 0;
}

struct exch {
	struct msg_relay *r;
	struct dgram_buf rb;     /* receive buffer */
	char *ib;                /* input read, not yet sent */
	size_t ilen, icap;
	int in_eof;
	int have_msg;            /* a message is ready in ib[0..mlen) */
	size_t mlen, mskip;      /* its length, and the bytes it uses up */
	int blocked;             /* the last send met a full queue */
	int peer_eof;            /* seqpacket: the peer finished sending */
	int send_done;           /* seqpacket: we can send no more */
	int eof_sent;            /* seqpacket: half-closed */
	int64_t last;            /* last traffic, ms */
	struct sockaddr_un to;   /* listening: the last named sender */
	socklen_t tolen;
	struct outq oq;
	size_t limit;
};

/* Find the next message in the input: a whole line (or the last,
 * unterminated one at EOF), or in per_read mode what one read gave. */
static void next_msg(struct exch *x)
{
	if (x->have_msg || !x->ilen)
		return;
	if (x->r->per_read) {
		x->have_msg = 1;
		x->mlen = x->mskip = x->ilen;
		return;
	}
	char *nl = memchr(x->ib, '\n', x->ilen);
	if (nl) {
		x->have_msg = 1;
		x->mlen = (size_t)(nl - x->ib);
		x->mskip = x->mlen + 1;
	} else if (x->in_eof) {
		x->have_msg = 1;
		x->mlen = x->mskip = x->ilen;
	}
}

static void drop_msg(struct exch *x)
{
	memmove(x->ib, x->ib + x->mskip, x->ilen - x->mskip);
	x->ilen -= x->mskip;
	x->have_msg = 0;
}

/* Send the ready message.  1 sent (or skipped), 0 would block or has
 * nowhere to go yet, -1 failed. */
static int send_msg(struct exch *x)
{
	struct msg_relay *r = x->r;
	if (x->send_done) {
		drop_msg(x);
		return 1;
	}
	if (r->type == SOCK_SEQPACKET && x->mlen == 0) {
		/* a zero-length record reads as end of file to the peer */
		r->skipped++;
		drop_msg(x);
		return 1;
	}
	if (r->listening && !x->tolen)
		return 0;
	ssize_t n;
	do
		n = sendto(r->fd, x->ib, x->mlen, MSG_DONTWAIT | MSG_NOSIGNAL,
			   r->listening ? (struct sockaddr *)&x->to : NULL,
			   r->listening ? x->tolen : 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			x->blocked = 1;
			return 0;
		}
		if (errno == EPIPE && r->type == SOCK_SEQPACKET) {
			/* the peer is gone: like a stream, this direction ends
			 * and what is left is dropped */
			x->send_done = 1;
			drop_msg(x);
			return 1;
		}
		if (r->listening && errno != EMSGSIZE) {
			/* the sender went away: what was meant for it is
			 * dropped, the server goes on */
			r->undelivered++;
			x->tolen = 0;
			drop_msg(x);
			return 1;
		}
		if (errno == EMSGSIZE) {
			r->too_long = x->mlen;
			r->limit = x->limit;
		}
		r->failed = "send";
		return -1;
	}
	x->blocked = 0;
	if (r->tap)
		r->tap(r->tap_ctx, '>', x->ib, x->mlen);
	r->sent++;
	x->last = now_ms();
	drop_msg(x);
	return 1;
}

/* Read from the input.  0, or -1 failed. */
static int read_input(struct exch *x)
{
	struct msg_relay *r = x->r;
	/* a line may use the whole limit, plus its newline */
	size_t want = r->per_read ? x->limit : x->limit + 2;
	if (x->icap < want) {
		char *p = realloc(x->ib, want);
		if (!p) {
			r->failed = "read";
			return -1;
		}
		x->ib = p;
		x->icap = want;
	}
	size_t room = r->per_read ? x->icap : x->icap - x->ilen;
	if (r->per_read && x->ilen)
		return 0;
	ssize_t n = read(r->in, x->ib + x->ilen, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0) {
		r->failed = "read";
		return -1;
	}
	if (n == 0) {
		x->in_eof = 1;
		return 0;
	}
	x->ilen += (size_t)n;
	if (!r->per_read && x->ilen > x->limit &&
	    !memchr(x->ib, '\n', x->limit + 1)) {
		/* a line longer than any message can be: say so now rather
		 * than hold it all */
		r->too_long = x->ilen;
		r->too_long_more = 1;
		r->limit = x->limit;
		r->failed = "send";
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Receive what is queued.  0, or -1 failed. */
static int receive(struct exch *x)
{
	struct msg_relay *r = x->r;
	for (int i = 0; i < 64 && x->oq.off == x->oq.len; i++) {
		struct dgram_msg m;
		int got = dgram_recv(r->fd, &x->rb, &m);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (got < 0) {
			r->failed = "receive";
			return -1;
		}
		x->last = now_ms();
		if (got == 1) {
			x->peer_eof = 1;
			return 0;
		}
		if (r->listening && dgram_from_named(&m)) {
			memcpy(&x->to, &m.from, m.fromlen);
			x->tolen = m.fromlen;
		}
		if (r->tap)
			r->tap(r->tap_ctx, '<', m.data, m.len);
		r->received++;
		if ((r->escape ? outq_add_escaped(&x->oq, m.data, m.len) :
		     outq_add(&x->oq, m.data, m.len)) < 0 ||
		    outq_add(&x->oq, "\n", 1) < 0) {
			r->failed = "receive";
			return -1;
		}
		if (outq_flush(&x->oq, r->out) < 0) {
			r->failed = "write";
			return -1;
		}
	}
	return 0;
}

/* Send what input holds, reading more while there is room.  0, or -1
 * failed. */
static int send_pending(struct exch *x)
{
	for (;;) {
		next_msg(x);
		if (!x->have_msg)
			return 0;
		int s = send_msg(x);
		if (s < 0)
			return -1;
		if (s != 1)
			return 0;
	}
}

/* Whether the exchange has ended (a seqpacket peer is told once the
 * input has), and how long the next wait may last: 1 go on, waiting at
 * most *TIMEOUT ms (-1: no limit), else a RELAY_* code to return. */
static int turn_deadline(struct exch *x, int64_t *timeout)
{
	struct msg_relay *r = x->r;
	int connected = !r->listening;
	int input_done = x->in_eof && !x->ilen && !x->have_msg;

	*timeout = -1;
	if (r->type == SOCK_SEQPACKET && input_done && r->linger_ms < 0 &&
	    !x->eof_sent) {
		shutdown(r->fd, SHUT_WR);
		x->eof_sent = 1;
	}
	if (x->peer_eof && x->oq.off == x->oq.len &&
	    (input_done || x->send_done || r->end_on_peer_eof))
		return RELAY_OK;
	if (x->peer_eof && x->send_done)
		return RELAY_OK;

	int64_t now = now_ms();
	if (connected && input_done && x->oq.off == x->oq.len &&
	    (r->type == SOCK_DGRAM || r->linger_ms >= 0)) {
		if (r->linger_ms < 0)
			return RELAY_OK;
		int64_t left = x->last + r->linger_ms - now;
		if (left <= 0)
			return RELAY_OK;
		*timeout = left;
	} else if (r->idle_ms >= 0 && (connected || x->blocked)) {
		int64_t left = x->last + r->idle_ms - now;
		if (left <= 0) {
			r->queue_full = x->blocked;
			return RELAY_TIMEOUT;
		}
		*timeout = left;
	}
	return 1;
}

/* Wait up to TIMEOUT ms (-1: no limit) for the socket, the input, the
 * output and the signalfd, and act on what is ready: 1 go on, else a
 * RELAY_* code to return. */
static int turn_wait(struct exch *x, int64_t timeout)
{
	struct msg_relay *r = x->r;
	int connected = !r->listening;
	struct pollfd p[4];
	int np = 0, isock = -1, iin = -1, iout = -1, isig = -1;
	short sev = 0;
	if (!x->peer_eof && x->oq.off == x->oq.len)
		sev |= POLLIN;
	if (x->have_msg && x->blocked && connected)
		sev |= POLLOUT;
	if (x->have_msg && x->blocked && !connected &&
	    (timeout < 0 || timeout > 10))
		timeout = 10; /* an unconnected socket's POLLOUT does not wait
				 for one receiver's queue: look again soon */
	if (sev) {
		isock = np;
		p[np++] = (struct pollfd){ r->fd, sev, 0 };
	}
	if (r->in >= 0 && !x->in_eof && !x->have_msg &&
	    (r->per_read ? !x->ilen : x->ilen < x->icap || !x->icap)) {
		iin = np;
		p[np++] = (struct pollfd){ r->in, POLLIN, 0 };
	}
	if (x->oq.off < x->oq.len) {
		iout = np;
		p[np++] = (struct pollfd){ r->out, POLLOUT, 0 };
	}
	if (r->sigfd >= 0) {
		isig = np;
		p[np++] = (struct pollfd){ r->sigfd, POLLIN, 0 };
	}
	int n = poll(p, (nfds_t)np, (int)timeout);
	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0) {
		r->failed = NULL;
		return RELAY_ERROR;
	}
	if (isig >= 0 && p[isig].revents) {
		int s = sig_read(r->sigfd);
		if (s == SIGINT || s == SIGTERM) {
			r->signo = s;
			return RELAY_SIGNAL;
		}
	}
	if (iout >= 0 && p[iout].revents && outq_flush(&x->oq, r->out) < 0) {
		r->failed = "write";
		return RELAY_ERROR;
	}
	if (isock >= 0 && (p[isock].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    !x->peer_eof && receive(x) < 0)
		return RELAY_ERROR;
	if (isock >= 0 && (p[isock].revents & POLLOUT))
		x->blocked = 0;
	if (iin >= 0 && p[iin].revents) {
		if (read_input(x) < 0)
			return RELAY_ERROR;
		if (x->in_eof && !r->listening)
			x->last = now_ms();
	}
	return 1;
}

/* One turn of the exchange: 1 go on, else a RELAY_* code to return. */
static int turn(struct exch *x)
{
	int64_t timeout;
	if (send_pending(x) < 0)
		return RELAY_ERROR;
	int rc = turn_deadline(x, &timeout);
	return rc == 1 ? turn_wait(x, timeout) : rc;
}

int msg_relay_run(struct msg_relay *r)
{
	struct exch x = { .r = r, .last = now_ms(), .limit = dgram_limit(r->fd) };
	int rc;
	if (r->in < 0)
		x.in_eof = 1;
	while ((rc = turn(&x)) == 1)
		;
	int e = errno;
	free(x.rb.p);
	free(x.ib);
	free(x.oq.p);
	errno = e;
	return rc;
}

/* Write what is left of the message P (N bytes, *OFF written so far),
 * then a newline, to *TOCHILD, closing it (-1) once all is written or
 * COMMAND does not read (EPIPE). */
static void feed_child(int *tochild, const char *p, size_t n, size_t *off)
{
	/* the message, then a newline: COMMAND reads one line */
	ssize_t w = *off < n ? write(*tochild, p + *off, n - *off) :
		    write(*tochild, "\n", 1);
	int nl_done = w > 0 && *off >= n;
	if (w > 0 && *off < n)
		*off += (size_t)w;
	if ((w < 0 && errno != EAGAIN && errno != EINTR) || nl_done) {
		close(*tochild);
		*tochild = -1;
	}
}

/* Read what COMMAND wrote on FROMCHILD into B after the ANS->len bytes
 * there, keeping at most MAX (the rest counted in ans->more).  0, or -1
 * with errno. */
static int read_answer(int fromchild, struct dgram_buf *b, size_t max,
		       struct dgram_answer *ans)
{
	if (buf_reserve(b, ans->len + 65536) < 0)
		return -1;
	ssize_t r = read(fromchild, b->p + ans->len, 65536);
	if (r < 0 && errno != EAGAIN && errno != EINTR)
		return -1;
	if (r == 0)
		ans->out_eof = 1;
	if (r > 0) {
		ans->len += (size_t)r;
		ans->any = 1;
		if (ans->len > max) {
			/* past what one datagram holds: count, keep no more */
			ans->more += ans->len - max;
			ans->len = max;
		}
	}
	return 0;
}

int dgram_command_exchange(int tochild, int fromchild, const char *p,
			   size_t n, struct dgram_buf *b, size_t max,
			   struct dgram_answer *ans, int sigfd)
{
	size_t off = 0;
	*ans = (struct dgram_answer){ 0 };
	fd_nonblock(tochild, 1);
	fd_nonblock(fromchild, 1);
	while (!ans->out_eof) {
		struct pollfd pf[3];
		int np = 0, iin = -1, iout, isig = -1;
		if (tochild >= 0) {
			iin = np;
			pf[np++] = (struct pollfd){ tochild, POLLOUT, 0 };
		}
		iout = np;
		pf[np++] = (struct pollfd){ fromchild, POLLIN, 0 };
		if (sigfd >= 0) {
			isig = np;
			pf[np++] = (struct pollfd){ sigfd, POLLIN, 0 };
		}
		if (poll(pf, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (isig >= 0 && pf[isig].revents) {
			int s = sig_read(sigfd);
			if (s == SIGINT || s == SIGTERM) {
				ans->signo = s;
				break;
			}
		}
		if (iin >= 0 && pf[iin].revents)
			feed_child(&tochild, p, n, &off);
		if (pf[iout].revents && read_answer(fromchild, b, max, ans) < 0)
			goto fail;
	}
	if (tochild >= 0)
		close(tochild);
	/* the answer is the output without its final newline */
	if (!ans->more && ans->len && b->p[ans->len - 1] == '\n')
		ans->len--;
	return 0;
fail:;
	int e = errno;
	if (tochild >= 0)
		close(tochild);
	errno = e;
	return -1;
}
