/* pump.c — one direction of a relay: move bytes from IN to OUT without
 * blocking, by splice() where the kernel allows and a buffer otherwise,
 * and deliver EOF on OUT once IN has ended and everything is written. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pump.h"

#define SPLICE_CHUNK (1 << 20)
#define SCRATCH      (64 << 10)
#define BULK_READ    (16 << 10) /* a read this big: switch to splice */
#define SMALL_READ   (4 << 10)  /* splices this small ... */
#define SMALL_RUN    4          /* ... this many times: back to copying */
#define STEP_TURNS   16         /* calls per step before yielding */

/* Reads land here first; only what OUT does not take at once is copied
 * into the pump's own buffer.  One per thread (tcp2unix -j). */
static _Thread_local char scratch[SCRATCH];

static int is_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && !(fl & O_NONBLOCK);
}

static void init_common(struct pump *p, int in, int out)
{
	memset(p, 0, sizeof *p);
	p->in = in;
	p->out = out;
	p->pipe[0] = p->pipe[1] = -1;
	p->mode = PUMP_COPY;
}

void pump_init(struct pump *p, int in, int out)
{
	enum fd_kind ki = fd_kind(in), ko = fd_kind(out);

	init_common(p, in, out);
	p->in_block = is_blocking(in);
	p->out_block = is_blocking(out);
	p->out_kind = (uint8_t)ko;
	p->in_kind = (uint8_t)ki;
	/* FD_OTHER (a character device such as /dev/null) may splice; if
	 * it refuses, the first step falls back to copying */
	int in_ok = ki == FD_PIPE || ki == FD_SOCKET || ki == FD_FILE;
	int out_ok = ko == FD_PIPE || ko == FD_SOCKET || ko == FD_FILE ||
		     ko == FD_OTHER;
	if (!in_ok || !out_ok)
		return;
	if (ki == FD_PIPE || ko == FD_PIPE) {
		/* a blocking pipe end is fine: SPLICE_F_NONBLOCK covers it */
		int other_block = ki == FD_PIPE ? p->out_block : p->in_block;
		if (!other_block || (ki == FD_PIPE && ko == FD_PIPE))
			p->mode = PUMP_SPLICE;
	} else if (!p->in_block && !p->out_block &&
		   (ko == FD_SOCKET || ki == FD_SOCKET)) {
		p->mode = PUMP_SPLICE_PIPE;
	}
}

void pump_init_adaptive(struct pump *p, int in, int out,
			struct pipe_pool *pool)
{
	init_common(p, in, out);
	p->out_kind = p->in_kind = FD_SOCKET;
	p->adaptive = 1;
	p->pool = pool;
}

void pump_set_tap(struct pump *p, void (*tap)(void *, const char *, size_t),
		  void *ctx)
{
	p->tap = tap;
	p->tap_ctx = ctx;
	p->mode = PUMP_COPY;
	p->adaptive = 0;
}

void pump_set_crlf(struct pump *p)
{
	p->crlf = 1;
	p->mode = PUMP_COPY;
	p->adaptive = 0;
}

/* Expand each LF of the N bytes at BUF (which has room for 2 N) to
 * CR LF, in place; returns the new length. */
static size_t crlf_expand(char *buf, size_t n)
{
	size_t lf = 0;
	for (size_t i = 0; i < n; i++)
		lf += buf[i] == '\n';
	size_t j = n + lf;
	for (size_t i = n; i-- > 0;) {
		buf[--j] = buf[i];
		if (buf[i] == '\n')
			buf[--j] = '\r';
	}
	return n + lf;
}

static void pipe_close(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
	fds[0] = fds[1] = -1;
}

/* Take a staging pipe from the pool, or make one. */
static int pipe_take(struct pump *p)
{
	struct pipe_pool *pool = p->pool;
	if (pool && pool->n > 0) {
		pool->n--;
		p->pipe[0] = pool->fds[pool->n][0];
		p->pipe[1] = pool->fds[pool->n][1];
		return 0;
	}
	if (pipe2(p->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	fcntl(p->pipe[0], F_SETPIPE_SZ, pool && pool->size ? pool->size : 256 << 10);
	return 0;
}

/* Give an empty staging pipe back to the pool (or close it). */
static void pipe_give(struct pump *p)
{
	struct pipe_pool *pool = p->pool;
	if (p->pipe[0] < 0)
		return;
	if (!p->inpipe && pool && pool->n < pool->max) {
		if (!pool->fds)
			pool->fds = malloc(sizeof *pool->fds * (size_t)pool->max);
		if (pool->fds) {
			pool->fds[pool->n][0] = p->pipe[0];
			pool->fds[pool->n][1] = p->pipe[1];
			pool->n++;
			p->pipe[0] = p->pipe[1] = -1;
			return;
		}
	}
	/* a pipe still holding bytes is never reused */
	pipe_close(p->pipe);
	p->inpipe = 0;
}

void pipe_pool_drain(struct pipe_pool *pool)
{
	for (int i = 0; i < pool->n; i++) {
		close(pool->fds[i][0]);
		close(pool->fds[i][1]);
	}
	pool->n = 0;
	free(pool->fds);
	pool->fds = NULL;
}

void pump_free(struct pump *p)
{
	free(p->buf);
	p->buf = NULL;
	p->len = p->off = 0;
	pipe_give(p);
}

void fd_send_eof(int fd, enum fd_kind k)
{
	if (k == FD_SOCKET) {
		shutdown(fd, SHUT_WR);
	} else if (k == FD_PIPE) {
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (nul >= 0) {
			dup2(nul, fd);
			close(nul);
		}
	}
}

static int finish(struct pump *p)
{
	if (!p->keep_out)
		fd_send_eof(p->out, (enum fd_kind)p->out_kind);
	p->done = 1;
	pump_free(p);
	return 0;
}

static int fail(struct pump *p, int in_side)
{
	p->failed_in = (uint8_t)in_side;
	return -1;
}

/* After EAGAIN from a splice: is OUT the side that would block? */
static int out_blocked(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	return poll(&pfd, 1, 0) == 0;
}

/* Write what the pump holds.  1 when all is written, 0 when OUT would
 * block, -1 on error. */
static int flush_held(struct pump *p)
{
	while (p->len) {
		ssize_t n = write(p->out, p->buf + p->off, p->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		if (p->tap)
			p->tap(p->tap_ctx, p->buf + p->off, (size_t)n);
		p->off += (uint32_t)n;
		p->len -= (uint32_t)n;
		p->bytes += (uint64_t)n;
		if (p->out_block && p->len)
			return 0;
	}
	free(p->buf);
	p->buf = NULL;
	p->off = 0;
	return 1;
}

static int step_splice_pipe(struct pump *p);

static int step_copy(struct pump *p)
{
	for (int turn = 0; turn < STEP_TURNS; turn++) {
		int r = flush_held(p);
		if (r < 0)
			return fail(p, 0);
		if (r == 0)
			return PUMP_WANT_WRITE;
		if (p->eof)
			return finish(p);
		if (turn && p->in_block)
			return PUMP_WANT_READ;
		ssize_t n = read(p->in, scratch,
				 p->crlf ? sizeof scratch / 2 : sizeof scratch);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return PUMP_WANT_READ;
			return fail(p, 1);
		}
		if (n == 0) {
			p->eof = 1;
			continue;
		}
		if (p->crlf)
			n = (ssize_t)crlf_expand(scratch, (size_t)n);
		size_t done = 0;
		while (done < (size_t)n) {
			ssize_t w = write(p->out, scratch + done, (size_t)n - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno != EAGAIN)
				return fail(p, 0);
			if (w < 0 || (p->out_block && w == 0))
				break;
			if (p->tap)
				p->tap(p->tap_ctx, scratch + done, (size_t)w);
			done += (size_t)w;
			p->bytes += (uint64_t)w;
			if (p->out_block)
				break;
		}
		if (done < (size_t)n) {
			/* OUT is full: keep the rest, stop reading until it drains */
			p->len = (uint32_t)((size_t)n - done);
			p->buf = malloc(p->len);
			if (!p->buf)
				return fail(p, 1);
			memcpy(p->buf, scratch + done, p->len);
			p->off = 0;
			return PUMP_WANT_WRITE;
		}
		if (p->adaptive && n >= BULK_READ) {
			p->mode = PUMP_SPLICE_PIPE;
			return step_splice_pipe(p);
		}
		/* a short read emptied IN: reading again would only fetch
		 * EAGAIN; readiness is level-triggered, so wait for it */
		if ((size_t)n < sizeof scratch)
			return PUMP_WANT_READ;
	}
	return PUMP_WANT_READ;
}

static int step_splice(struct pump *p)
{
	for (int turn = 0; turn < STEP_TURNS; turn++) {
		if (p->eof)
			return finish(p);
		ssize_t n = splice(p->in, NULL, p->out, NULL, SPLICE_CHUNK,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			p->bytes += (uint64_t)n;
			continue;
		}
		if (n == 0) {
			p->eof = 1;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return out_blocked(p->out) ? PUMP_WANT_WRITE : PUMP_WANT_READ;
		if (errno == EINVAL) {
			/* this pair refuses splice: nothing was moved, copy */
			p->mode = PUMP_COPY;
			return step_copy(p);
		}
		/* which side failed: EPIPE is the output's; a connection's
		 * errors are the socket end's; others the non-socket end's */
		int e = errno;
		int conn_err = e == ECONNRESET || e == ENOTCONN || e == ETIMEDOUT ||
			       e == ECONNABORTED || e == EHOSTUNREACH ||
			       e == ENETUNREACH;
		int in_side = e == EPIPE ? 0 :
			      p->in_kind == FD_SOCKET ? conn_err :
			      p->out_kind == FD_SOCKET ? !conn_err : 1;
		return fail(p, in_side);
	}
	return PUMP_WANT_READ;
}

static int step_splice_pipe(struct pump *p)
{
	if (p->pipe[0] < 0 && pipe_take(p) < 0) {
		if (!p->adaptive)
			return fail(p, 1);
		/* out of descriptors: go on copying (nothing is held) */
		p->mode = PUMP_COPY;
		return PUMP_WANT_READ;
	}
	for (int turn = 0; turn < STEP_TURNS; turn++) {
		ssize_t n;
		if (p->inpipe) {
			n = splice(p->pipe[0], NULL, p->out, NULL, p->inpipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				p->inpipe -= (uint32_t)n;
				p->bytes += (uint64_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return PUMP_WANT_WRITE;
			if (n == 0)
				errno = EPIPE;
			return fail(p, 0);
		}
		if (p->eof)
			return finish(p);
		if (p->mode != PUMP_SPLICE_PIPE)
			return PUMP_WANT_READ; /* pump_step goes on copying */
		n = splice(p->in, NULL, p->pipe[1], NULL, SPLICE_CHUNK,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			p->inpipe = (uint32_t)n;
			/* several small reads in a row: back to copying,
			 * after this flush (one is just the tail of a burst) */
			p->small = n < SMALL_READ ? (uint8_t)(p->small + 1) : 0;
			if (p->adaptive && p->small >= SMALL_RUN) {
				p->mode = PUMP_COPY;
				p->small = 0;
			}
			continue;
		}
		if (n == 0) {
			p->eof = 1;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* idle: an idle connection holds no pipe */
			if (p->pool)
				pipe_give(p);
			return PUMP_WANT_READ;
		}
		if (errno == EINVAL) {
			p->mode = PUMP_COPY;
			p->adaptive = 0;
			pipe_give(p);
			return step_copy(p);
		}
		return fail(p, 1);
	}
	if (p->mode == PUMP_COPY && !p->inpipe)
		pipe_give(p);
	return p->inpipe ? PUMP_WANT_WRITE : PUMP_WANT_READ;
}

static int step(struct pump *p);

int pump_step(struct pump *p)
{
	return p->done ? 0 : step(p);
}

static int step(struct pump *p)
{
	if (p->mode == PUMP_SPLICE_PIPE || p->inpipe) {
		/* a pump switching back to copying first empties its pipe */
		int r = step_splice_pipe(p);
		if (r != PUMP_WANT_READ || p->mode == PUMP_SPLICE_PIPE || p->inpipe)
			return r;
		if (p->pool)
			pipe_give(p);
		return step_copy(p);
	}
	if (p->mode == PUMP_SPLICE)
		return step_splice(p);
	return step_copy(p);
}
