/* bench.c — the load generators of usock-bench.  One epoll loop drives
 * every connection as a small state machine: throughput writers, echo
 * round trips (latency, connect-rate, hold), asynchronous TCP connects.
 * Each connection has a deadline that moves with its progress, so no
 * wait is longer than the timeout. */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define SCRATCH       (256 << 10)
#define TICK_MS       50      /* deadline scan, clock checks */
#define PROGRESS_MS   250
#define WRITE_TURNS   16      /* writes per event before serving others */
#define READ_TURNS    8
#define HOLD_INFLIGHT 256     /* hold: connections opened but not checked */
#define PAT_SLACK     256     /* messages start at offsets 0..250 */

enum cstate { S_IDLE, S_CONNECTING, S_SEND, S_RECV, S_EOF, S_HELD, S_DONE };

struct bconn {
	int fd;
	enum cstate st;
	unsigned events;        /* epoll interest */
	size_t sent, got;       /* of the current message */
	size_t off;             /* where the current message starts in pat */
	uint32_t seq;           /* messages begun on this connection */
	int counted;            /* the current message or connection counts */
	int final;              /* hold: the closing check */
	uint64_t t0;            /* ns: start of the round trip or connection */
	int64_t last;           /* ms: last progress */
};

/* Log-linear histogram of nanoseconds: exact below 64, then 64 steps
 * per power of two (within 1.6%). */
#define H_SUB     64
#define H_BUCKETS (H_SUB * 59)

struct hist {
	uint64_t n, min, max;
	double sum;
	uint64_t b[H_BUCKETS];
};

struct bench {
	const struct bench_opts *o;
	struct bench_result *r;
	int ep;
	struct bconn *c;
	unsigned long nc;
	struct sockaddr_storage peer;  /* TCP: where the first connect went */
	socklen_t peerlen;
	char *pat;                     /* what is sent: size + PAT_SLACK bytes */
	char *scratch;
	struct hist *h;
	int counting, stopping;
	uint64_t t_start;              /* ns: counting began */
	int64_t warm_end, stop_at;     /* ms, or -1 */
	uint64_t started, finished;    /* counted units begun, ended */
	unsigned long active;          /* connections (workers) not done */
	unsigned long opened, pending, held; /* hold */
	int phase;                     /* hold: 0 opening, 1 holding, 2 closing */
	int64_t hold_until;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned hist_index(uint64_t v)
{
	if (v < H_SUB)
		return (unsigned)v;
	int e = 63 - __builtin_clzll(v);
	return (unsigned)(e - 5) * H_SUB + (unsigned)((v >> (e - 6)) - H_SUB);
}

/* Midpoint of bucket I. */
static double hist_value(unsigned i)
{
	if (i < H_SUB)
		return i;
	int e = (int)(i / H_SUB) + 5;
	double lo = (double)((uint64_t)(H_SUB + i % H_SUB) << (e - 6));
	return lo + (double)(1ull << (e - 6)) / 2;
}

static void hist_add(struct hist *h, uint64_t v)
{
	if (!h->n || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->n++;
	h->sum += (double)v;
	h->b[hist_index(v)]++;
}

/* The value at quantile Q (0..1), in ns. */
static double hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)ceil(q * (double)h->n), seen = 0;
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			double v = hist_value(i);
			if (v < (double)h->min)
				v = (double)h->min;
			if (v > (double)h->max)
				v = (double)h->max;
			return v;
		}
	}
	return (double)h->max;
}

static int fail(struct bench *b, struct bconn *c, const char *what,
		const char *why, int e)
{
	b->r->what = what;
	b->r->why = why;
	b->r->conn = c ? (unsigned long)(c - b->c) : 0;
	errno = e;
	return -1;
}

static int watch(struct bench *b, struct bconn *c, unsigned events)
{
	if (c->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = c };
	int op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(b->ep, op, c->fd, &ev) < 0)
		return fail(b, c, "epoll_ctl", NULL, errno);
	c->events = events;
	return 0;
}

static void conn_close(struct bconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->events = 0;
}

/* C is finished for good. */
static void conn_end(struct bench *b, struct bconn *c)
{
	conn_close(c);
	c->st = S_DONE;
	b->active--;
}

static int unit_begin(struct bench *b, struct bconn *c);

/* Is there another counted unit to begin? */
static int more_units(struct bench *b)
{
	return !b->stopping &&
	       !(b->counting && b->o->count && b->started >= b->o->count);
}


/* Open C: for TCP a non-blocking connect whose end shows as EPOLLOUT;
 * a UNIX connect ends at once. */
static int conn_open(struct bench *b, struct bconn *c)
{
	c->last = now_ms();
	c->events = 0;
	if (b->o->mode == BENCH_CONNECT_RATE) {
		if (!more_units(b)) {
			c->st = S_DONE;
			b->active--;
			return 0;
		}
		c->counted = b->counting;
		b->started += (uint64_t)c->counted;
		c->t0 = now_ns();
	}
	if (b->peerlen) {
		int fam = b->peer.ss_family;
		c->fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			return fail(b, c, "socket", NULL, errno);
		sock_nodelay(c->fd, fam);
		struct sock_bound bd;
		if (b->o->source && sock_source_bind(c->fd, fam, b->o->source, &bd) < 0)
			return fail(b, c, "bind --source", NULL, errno);
		if (connect(c->fd, (struct sockaddr *)&b->peer, b->peerlen) < 0 &&
		    errno != EINPROGRESS)
			return fail(b, c, "connect", NULL, errno);
		c->st = S_CONNECTING;
		return watch(b, c, EPOLLOUT);
	}
	struct sock_wait w = { .deadline = now_ms() + b->o->timeout_ms,
			       .sigfd = -1, .source = b->o->source };
	c->fd = sock_connect_wait(b->o->addr, &w);
	if (c->fd < 0 && errno == ENOTSOCK)
		errno = ECONNREFUSED; /* what connect(2) itself says */
	if (c->fd < 0)
		return fail(b, c, w.source_failed ? "bind --source" : "connect",
			    NULL, errno);
	return unit_begin(b, c);
}

static int conn_connected(struct bench *b, struct bconn *c)
{
	int err = 0;
	socklen_t sl = sizeof err;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
		err = errno;
	if (err)
		return fail(b, c, "connect", NULL, err);
	return unit_begin(b, c);
}

/* The first connection, retried while the endpoint is missing or
 * refusing for up to o->wait_ms, else given o->timeout_ms to answer.
 * Remembers a TCP peer's address so that later connections go to the
 * same one without blocking. */
static int first_connect(struct bench *b)
{
	const struct bench_opts *o = b->o;
	struct bconn *c = &b->c[0];
	int64_t span = o->wait_ms >= 0 ? o->wait_ms : o->timeout_ms;
	struct sock_wait w = { .deadline = now_ms() + span,
			       .retry = o->wait_ms >= 0, .sigfd = -1,
			       .source = o->source };
	c->fd = sock_connect_wait(o->addr, &w);
	if (c->fd < 0 && w.source_failed)
		return fail(b, c, "bind --source", NULL, errno);
	if (c->fd < 0 && errno == ENOTSOCK)
		return fail(b, c, "connect", "not a socket", ENOTSOCK);
	if (c->fd < 0)
		return fail(b, c, "connect", NULL, errno);
	if (o->addr->kind == ADDR_TCP) {
		b->peerlen = sizeof b->peer;
		if (getpeername(c->fd, (struct sockaddr *)&b->peer, &b->peerlen) < 0)
			b->peerlen = 0;
		sock_nodelay(c->fd, b->peer.ss_family);
	}
	c->last = now_ms();
	c->t0 = now_ns();
	return 0;
}

/* ---- messages: send SIZE bytes, read them back, compare ---- */

/* C's last message came back: send EOF and wait for the peer's, so that
 * bytes the peer sends beyond its echo fail the run instead of going
 * unseen (check_in), then go on with AFTER. */
static int check_close(struct bench *b, struct bconn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->st = S_EOF;
	c->last = now_ms();
	return watch(b, c, EPOLLIN);
}

static int msg_begin(struct bench *b, struct bconn *c);
static int conn_open(struct bench *b, struct bconn *c);

/* After check_close: the peer must close without another byte. */
static int check_in(struct bench *b, struct bconn *c)
{
	ssize_t n = read(c->fd, b->scratch, SCRATCH);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return fail(b, c, "wait for the peer to close", NULL, errno);
	if (n > 0)
		return fail(b, c, "read the echo",
			    "the peer sent more than it was sent", EPROTO);
	if (b->o->mode == BENCH_CONNECT_RATE) {
		conn_close(c);
		return conn_open(b, c);
	}
	conn_end(b, c);
	return 0;
}

static int msg_out(struct bench *b, struct bconn *c)
{
	size_t size = b->o->size;
	while (c->sent < size) {
		ssize_t n = write(c->fd, b->pat + c->off + c->sent, size - c->sent);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return watch(b, c, EPOLLIN | EPOLLOUT);
			return fail(b, c, "send", NULL, errno);
		}
		c->sent += (size_t)n;
		c->last = now_ms();
	}
	c->st = S_RECV;
	return watch(b, c, EPOLLIN);
}

static int msg_begin(struct bench *b, struct bconn *c)
{
	c->off = b->o->request ? 0 :
		 ((size_t)(c - b->c) * 7 + (size_t)c->seq * 13) % 251;
	c->seq++;
	c->sent = c->got = 0;
	c->st = S_SEND;
	if (b->o->mode == BENCH_LATENCY) {
		if (!more_units(b))
			return check_close(b, c);
		c->counted = b->counting;
		b->started += (uint64_t)c->counted;
		c->t0 = now_ns();
	}
	return msg_out(b, c);
}

static int hold_fill(struct bench *b);

/* C's message came back whole. */
static int msg_done(struct bench *b, struct bconn *c)
{
	uint64_t t = now_ns();
	switch (b->o->mode) {
	case BENCH_LATENCY:
		if (c->counted) {
			hist_add(b->h, t - c->t0);
			b->finished++;
		}
		return msg_begin(b, c);
	case BENCH_CONNECT_RATE:
		if (c->counted) {
			hist_add(b->h, t - c->t0);
			b->finished++;
		}
		return check_close(b, c);
	default: /* hold */
		if (c->final) {
			b->r->count++;
			return check_close(b, c);
		}
		b->r->count++;
		c->st = S_HELD;
		b->held++;
		b->pending--;
		if (b->held == b->nc) {
			b->r->seconds = (double)(t - b->t_start) / 1e9;
			b->phase = 1;
			b->hold_until = now_ms() + b->o->duration_ms;
			if (b->o->held)
				b->o->held(b->o->ctx, b->nc);
		}
		return hold_fill(b);
	}
}

/* A request's answer: anything, until the peer closes. */
static int answer_in(struct bench *b, struct bconn *c)
{
	for (int turn = 0; turn < READ_TURNS; turn++) {
		ssize_t n = read(c->fd, b->scratch, SCRATCH);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (n < 0)
			return fail(b, c, "read the answer", NULL, errno);
		if (n == 0 && (!c->got || c->sent < b->o->size))
			return fail(b, c, "read the answer", "the peer closed the "
				    "connection without answering", EPROTO);
		if (n == 0)
			return msg_done(b, c);
		c->got += (size_t)n;
		b->r->received += (uint64_t)n;
		c->last = now_ms();
	}
	return 0;
}

static int msg_in(struct bench *b, struct bconn *c)
{
	size_t size = b->o->size;
	if (b->o->request)
		return answer_in(b, c);
	for (int turn = 0; turn < READ_TURNS; turn++) {
		size_t want = size - c->got;
		if (want == 0 || want > SCRATCH)
			want = SCRATCH;
		ssize_t n = read(c->fd, b->scratch, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return fail(b, c, "read the echo", NULL, errno);
		}
		if (n == 0)
			return fail(b, c, "read the echo", c->got || c->sent ?
				    "the peer closed the connection before echoing "
				    "all it was sent" :
				    "the peer closed the connection", EPROTO);
		if (c->got + (size_t)n > c->sent)
			return fail(b, c, "read the echo",
				    "the peer sent more than it was sent", EPROTO);
		if (memcmp(b->scratch, b->pat + c->off + c->got, (size_t)n))
			return fail(b, c, "read the echo",
				    "the echo differs from what was sent", EPROTO);
		c->got += (size_t)n;
		c->last = now_ms();
		if (c->got == size)
			return msg_done(b, c);
	}
	return 0;
}

/* An event on a held connection: the peer closed it or spoke. */
static int held_event(struct bench *b, struct bconn *c)
{
	ssize_t n = read(c->fd, b->scratch, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return fail(b, c, "hold", NULL, errno);
	return fail(b, c, "hold", n ? "the peer sent bytes nobody asked for" :
		    "the peer closed a held connection", EPROTO);
}

/* ---- throughput: write SIZE blocks until the count or the time is
 * reached, then send EOF and wait for the peer's ---- */

static int tp_eof(struct bench *b, struct bconn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->st = S_EOF;
	c->last = now_ms();
	return watch(b, c, EPOLLIN);
}

static int tp_stop(struct bench *b)
{
	b->stopping = 1;
	for (unsigned long i = 0; i < b->nc; i++)
		if (b->c[i].st == S_SEND && tp_eof(b, &b->c[i]) < 0)
			return -1;
	return 0;
}

static int tp_out(struct bench *b, struct bconn *c)
{
	for (int turn = 0; turn < WRITE_TURNS; turn++) {
		size_t len = b->o->size;
		if (b->counting && b->o->count) {
			uint64_t left = b->o->count - b->r->bytes;
			if (left == 0)
				return tp_stop(b);
			if (left < len)
				len = (size_t)left;
		}
		ssize_t n = write(c->fd, b->pat, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return fail(b, c, "send", NULL, errno);
		}
		c->last = now_ms();
		if (b->counting)
			b->r->bytes += (uint64_t)n;
		if ((size_t)n < len)
			return 0; /* full: the next write would fail; wait */
	}
	return 0;
}

static int tp_in(struct bench *b, struct bconn *c)
{
	for (int turn = 0; turn < READ_TURNS; turn++) {
		ssize_t n = read(c->fd, b->scratch, SCRATCH);
		if (n > 0) {
			if (b->counting)
				b->r->received += (uint64_t)n;
			c->last = now_ms();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return fail(b, c, "read", NULL, errno);
		if (c->st != S_EOF)
			return fail(b, c, "send", "the peer closed the connection "
				    "before the end of the data", EPROTO);
		conn_end(b, c);
		return 0;
	}
	return 0;
}

/* ---- hold: open N connections, check each, hold, check again ---- */

static int hold_fill(struct bench *b)
{
	while (b->opened < b->nc && b->pending < HOLD_INFLIGHT) {
		struct bconn *c = &b->c[b->opened++];
		b->pending++;
		if (conn_open(b, c) < 0)
			return -1;
	}
	return 0;
}

static int hold_close(struct bench *b)
{
	b->phase = 2;
	b->r->held = (double)(now_ms() - (b->hold_until - b->o->duration_ms)) / 1e3;
	for (unsigned long i = 0; i < b->nc; i++) {
		b->c[i].final = 1;
		b->c[i].last = now_ms();
		if (msg_begin(b, &b->c[i]) < 0)
			return -1;
	}
	return 0;
}

/* ---- the loop ---- */

/* C is connected: start its first unit of work. */
static int unit_begin(struct bench *b, struct bconn *c)
{
	c->last = now_ms();
	switch (b->o->mode) {
	case BENCH_THROUGHPUT:
		c->st = S_SEND;
		return watch(b, c, EPOLLIN | EPOLLOUT);
	default:
		return msg_begin(b, c);
	}
}

static int handle(struct bench *b, struct bconn *c, unsigned ev)
{
	if (c->st == S_CONNECTING)
		return conn_connected(b, c);
	if (c->st == S_HELD)
		return held_event(b, c);
	if (b->o->mode == BENCH_THROUGHPUT) {
		if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && tp_in(b, c) < 0)
			return -1;
		if (c->st == S_SEND && (ev & EPOLLOUT))
			return tp_out(b, c);
		return 0;
	}
	if (c->st == S_EOF)
		return check_in(b, c);
	if (c->st == S_SEND && (ev & (EPOLLOUT | EPOLLERR)) && msg_out(b, c) < 0)
		return -1;
	if ((c->st == S_SEND || c->st == S_RECV) &&
	    (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return msg_in(b, c);
	return 0;
}

static void start_counting(struct bench *b)
{
	b->counting = 1;
	b->t_start = now_ns();
	b->r->bytes = b->r->received = 0;
	if (b->o->duration_ms >= 0)
		b->stop_at = now_ms() + b->o->duration_ms;
}

/* The clock's part: warm-up over, time up, hold over, a step overdue. */
static int clock_checks(struct bench *b, int64_t now, int scan)
{
	if (!b->counting && now >= b->warm_end)
		start_counting(b);
	if (b->o->mode == BENCH_HOLD) {
		if (b->phase == 1 && now >= b->hold_until && hold_close(b) < 0)
			return -1;
	} else if (b->counting && !b->stopping && b->stop_at >= 0 &&
		   now >= b->stop_at) {
		if (b->o->mode == BENCH_THROUGHPUT)
			return tp_stop(b);
		b->stopping = 1;
	}
	if (!scan)
		return 0;
	for (unsigned long i = 0; i < b->nc; i++) {
		struct bconn *c = &b->c[i];
		if (c->fd < 0 || c->st == S_HELD || c->st == S_DONE ||
		    now - c->last < b->o->timeout_ms)
			continue;
		static const char *const step[] = {
			[S_CONNECTING] = "connect", [S_SEND] = "send",
			[S_RECV] = "wait for the echo", [S_IDLE] = "wait",
			[S_EOF] = "wait for the peer to close",
		};
		const char *what = step[c->st];
		if (b->o->mode == BENCH_THROUGHPUT && c->st == S_SEND)
			what = "send (the peer stopped reading)";
		return fail(b, c, what, NULL, ETIMEDOUT);
	}
	return 0;
}

static void fill_result(struct bench *b, uint64_t t_end)
{
	struct bench_result *r = b->r;
	double secs = (double)(t_end - b->t_start) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	if (b->o->mode == BENCH_HOLD) {
		if (r->seconds > 0)
			r->rate = (double)b->nc / r->seconds;
	} else {
		r->seconds = secs;
	}
	if (b->o->mode == BENCH_THROUGHPUT)
		r->rate = (double)r->bytes / secs;
	else if (b->o->mode != BENCH_HOLD) {
		r->count = b->finished;
		r->rate = (double)b->finished / secs;
	}
	if (b->h->n) {
		r->min = (double)b->h->min / 1e3;
		r->max = (double)b->h->max / 1e3;
		r->mean = b->h->sum / (double)b->h->n / 1e3;
		r->p50 = hist_quantile(b->h, 0.50) / 1e3;
		r->p90 = hist_quantile(b->h, 0.90) / 1e3;
		r->p99 = hist_quantile(b->h, 0.99) / 1e3;
	}
}

static int run_loop(struct bench *b)
{
	struct epoll_event ev[256];
	int64_t next_scan = now_ms() + TICK_MS, next_progress = -1;

	while (b->active) {
		int64_t now = now_ms();
		int timeout = next_scan > now ? (int)(next_scan - now) : 0;
		int k = epoll_wait(b->ep, ev, 256, timeout);
		if (k < 0 && errno != EINTR)
			return fail(b, NULL, "epoll_wait", NULL, errno);
		for (int i = 0; i < k; i++) {
			struct bconn *c = ev[i].data.ptr;
			if (c->fd >= 0 && handle(b, c, ev[i].events) < 0)
				return -1;
		}
		now = now_ms();
		int scan = now >= next_scan;
		if (clock_checks(b, now, scan) < 0)
			return -1;
		if (scan)
			next_scan = now + TICK_MS;
		if (b->counting && b->o->progress && now >= next_progress) {
			if (next_progress >= 0) {
				fill_result(b, now_ns());
				b->o->progress(b->o->ctx, b->r, b->r->seconds);
			}
			next_progress = now + PROGRESS_MS;
		}
	}
	fill_result(b, now_ns());
	return 0;
}

static int bench_setup(struct bench *b)
{
	const struct bench_opts *o = b->o;
	b->nc = o->conns;
	b->ep = epoll_create1(EPOLL_CLOEXEC);
	b->c = calloc(b->nc, sizeof *b->c);
	b->pat = malloc(o->size + PAT_SLACK);
	if (b->pat && o->request)
		memcpy(b->pat, o->request, o->size);
	b->scratch = malloc(SCRATCH);
	b->h = calloc(1, sizeof *b->h);
	if (b->ep < 0 || !b->c || !b->pat || !b->scratch || !b->h)
		return fail(b, NULL, "set up", NULL, errno ? errno : ENOMEM);
	for (unsigned long i = 0; i < b->nc; i++)
		b->c[i].fd = -1;
	uint32_t x = 2463534242u;
	for (size_t i = o->request ? o->size : 0; i < o->size + PAT_SLACK; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b->pat[i] = (char)(x >> 24);
	}
	b->warm_end = now_ms() + (o->mode == BENCH_HOLD ? 0 : o->warmup_ms);
	b->stop_at = -1;
	b->active = b->nc;
	return 0;
}

int bench_run(const struct bench_opts *o, struct bench_result *r)
{
	struct bench b = { .o = o, .r = r, .ep = -1 };
	int rc = -1;

	memset(r, 0, sizeof *r);
	r->mode = o->mode;
	if (!o->conns || !o->size || o->timeout_ms <= 0) {
		errno = EINVAL;
		return fail(&b, NULL, "set up", NULL, EINVAL);
	}
	if (bench_setup(&b) < 0 || first_connect(&b) < 0)
		goto out;
	if (o->mode == BENCH_HOLD) {
		b.t_start = now_ns();
		b.counting = 1;
		b.opened = b.pending = 1;
		if (unit_begin(&b, &b.c[0]) < 0 || hold_fill(&b) < 0)
			goto out;
	} else {
		if (b.warm_end <= now_ms())
			start_counting(&b);
		if (o->mode == BENCH_CONNECT_RATE) {
			b.c[0].counted = b.counting;
			b.started += (uint64_t)b.counting;
			if (msg_begin(&b, &b.c[0]) < 0)
				goto out;
		} else if (unit_begin(&b, &b.c[0]) < 0) {
			goto out;
		}
		for (unsigned long i = 1; i < b.nc; i++)
			if (conn_open(&b, &b.c[i]) < 0)
				goto out;
	}
	rc = run_loop(&b);
out:;
	int e = errno;
	if (b.c)
		for (unsigned long i = 0; i < b.nc; i++)
			conn_close(&b.c[i]);
	if (b.ep >= 0)
		close(b.ep);
	free(b.c);
	free(b.pat);
	free(b.scratch);
	free(b.h);
	errno = e;
	return rc;
}

/* ---- names, numbers ---- */

static const char *const mode_names[] = {
	[BENCH_THROUGHPUT] = "throughput", [BENCH_LATENCY] = "latency",
	[BENCH_CONNECT_RATE] = "connect-rate", [BENCH_HOLD] = "hold",
};

int bench_mode_parse(const char *s, enum bench_mode *m)
{
	for (int i = BENCH_THROUGHPUT; i <= BENCH_HOLD; i++)
		if (!strcmp(s, mode_names[i])) {
			*m = (enum bench_mode)i;
			return 0;
		}
	return -1;
}

const char *bench_mode_name(enum bench_mode m)
{
	return m >= BENCH_THROUGHPUT && m <= BENCH_HOLD ? mode_names[m] : "?";
}

int bench_parse_size(const char *s, uint64_t *out, const char **why)
{
	static const char units[] = "KMGT";
	static const char *const bad = "not a size (use e.g. 64, 128K, 1.5M, 4G)";
	size_t digits = strspn(s, "0123456789."), frac = strcspn(s, ".");
	const char *u = s + digits;
	int shift = 0;

	if (*s < '0' || *s > '9' || memchr(s, '.', digits) != memrchr(s, '.', digits)) {
		*why = bad;
		return -1;
	}
	if (*u) {
		const char *k = strchr(units, *u & ~0x20);
		if (!k || !*k || (u[1] && strcasecmp(u + 1, "iB") && strcasecmp(u + 1, "B"))) {
			*why = bad;
			return -1;
		}
		shift = 10 * (int)(k - units + 1);
	}
	errno = 0;
	if (frac >= digits) {
		/* a whole number: exact to the last byte */
		uint64_t v = strtoull(s, NULL, 10);
		if (errno == ERANGE || (shift && v > (UINT64_MAX >> shift))) {
			*why = "out of range";
			return -1;
		}
		*out = v << shift;
		return 0;
	}
	double v = ldexp(strtod(s, NULL), shift);
	if (!(v < 18446744073709551616.0)) {
		*why = "out of range";
		return -1;
	}
	if (v != floor(v)) {
		*why = "not a whole number of bytes";
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

char *bench_format_bytes(double v, char *buf, size_t n)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	if (v < 1024) {
		snprintf(buf, n, "%.0f B", v);
		return buf;
	}
	int i = 0;
	for (v /= 1024; v >= 1024 && i < 3; i++)
		v /= 1024;
	snprintf(buf, n, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s",
		 v, unit[i]);
	return buf;
}

char *bench_format_us(double us, char *buf, size_t n)
{
	if (us < 10)
		snprintf(buf, n, "%.2fus", us);
	else if (us < 1000)
		snprintf(buf, n, "%.1fus", us);
	else if (us < 1e6)
		snprintf(buf, n, "%.2fms", us / 1e3);
	else
		snprintf(buf, n, "%.2fs", us / 1e6);
	return buf;
}

char *bench_format_rate(double v, int bytes, char *buf, size_t n)
{
	if (bytes) {
		bench_format_bytes(v, buf, n);
		size_t len = strlen(buf);
		snprintf(buf + len, n - len, "/s");
	} else if (v >= 1e6) {
		snprintf(buf, n, "%.2fM/s", v / 1e6);
	} else if (v >= 1e4) {
		snprintf(buf, n, "%.1fk/s", v / 1e3);
	} else {
		snprintf(buf, n, "%.0f/s", v);
	}
	return buf;
}
