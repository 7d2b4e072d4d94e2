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

#include "usock.h"

#define SPLICE_CHUNK (1 << 20)
#define COPY_CAP     (64 << 10)
#define STAGE_PIPE   (256 << 10)
#define STEP_TURNS   16     /* calls per step before yielding to others */

static int is_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && !(fl & O_NONBLOCK);
}

void pump_init(struct pump *p, int in, int out)
{
	enum fd_kind ki = fd_kind(in), ko = fd_kind(out);

	memset(p, 0, sizeof *p);
	p->in = in;
	p->out = out;
	p->pipe[0] = p->pipe[1] = -1;
	p->in_block = is_blocking(in);
	p->out_block = is_blocking(out);
	p->mode = PUMP_COPY;
	/* FD_OTHER (a character device such as /dev/null) may splice; if
	 * it refuses, the first step falls back to copying */
	int in_ok = ki == FD_PIPE || ki == FD_SOCKET || ki == FD_FILE;
	int out_ok = ko == FD_PIPE || ko == FD_SOCKET || ko == FD_FILE ||
		     ko == FD_OTHER;
	if (in_ok && out_ok && !p->in_block && !p->out_block) {
		if (ki == FD_PIPE || ko == FD_PIPE)
			p->mode = PUMP_SPLICE;
		else if (ko == FD_SOCKET || ki == FD_SOCKET)
			p->mode = PUMP_SPLICE_PIPE;
	} else if (in_ok && out_ok && (ki == FD_PIPE || ko == FD_PIPE)) {
		/* a blocking pipe end is fine: SPLICE_F_NONBLOCK covers it */
		int other_block = ki == FD_PIPE ? p->out_block : p->in_block;
		if (!other_block)
			p->mode = PUMP_SPLICE;
	}
}

void pump_set_tap(struct pump *p, void (*tap)(void *, const char *, size_t),
		  void *ctx)
{
	p->tap = tap;
	p->tap_ctx = ctx;
	p->mode = PUMP_COPY;
}

void pump_free(struct pump *p)
{
	free(p->buf);
	p->buf = NULL;
	if (p->pipe[0] >= 0) {
		close(p->pipe[0]);
		close(p->pipe[1]);
		p->pipe[0] = p->pipe[1] = -1;
	}
}

void fd_send_eof(int fd)
{
	enum fd_kind k = fd_kind(fd);
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
		fd_send_eof(p->out);
	p->done = 1;
	pump_free(p);
	return 0;
}

static int fail(struct pump *p, int in_side)
{
	p->failed_in = in_side;
	return -1;
}

/* After EAGAIN from a splice: is OUT the side that would block? */
static int out_blocked(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	return poll(&pfd, 1, 0) == 0;
}

static int step_copy(struct pump *p)
{
	for (int turn = 0; turn < STEP_TURNS; turn++) {
		if (p->len) {
			ssize_t n = write(p->out, p->buf + p->off, p->len);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					return PUMP_WANT_WRITE;
				return fail(p, 0);
			}
			p->off += (size_t)n;
			p->len -= (size_t)n;
			p->bytes += (uint64_t)n;
			if (p->out_block && p->len)
				return PUMP_WANT_WRITE;
			continue;
		}
		if (p->eof)
			return finish(p);
		if (turn && p->in_block)
			return PUMP_WANT_READ;
		if (!p->buf) {
			p->buf = malloc(COPY_CAP);
			if (!p->buf)
				return fail(p, 1);
			p->cap = COPY_CAP;
		}
		ssize_t n = read(p->in, p->buf, p->cap);
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
		if (p->tap)
			p->tap(p->tap_ctx, p->buf, (size_t)n);
		p->off = 0;
		p->len = (size_t)n;
	}
	return p->len ? PUMP_WANT_WRITE : PUMP_WANT_READ;
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
		/* which side failed: ask the output */
		int e = errno;
		int so = 0;
		socklen_t sl = sizeof so;
		int in_side = !(e == EPIPE ||
				(getsockopt(p->out, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so));
		if (so)
			e = so;
		errno = e;
		return fail(p, in_side);
	}
	return PUMP_WANT_READ;
}

static int step_splice_pipe(struct pump *p)
{
	if (p->pipe[0] < 0) {
		if (pipe2(p->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
			return fail(p, 1);
		fcntl(p->pipe[0], F_SETPIPE_SZ, STAGE_PIPE);
	}
	for (int turn = 0; turn < STEP_TURNS; turn++) {
		ssize_t n;
		if (p->inpipe) {
			n = splice(p->pipe[0], NULL, p->out, NULL, p->inpipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				p->inpipe -= (size_t)n;
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
		n = splice(p->in, NULL, p->pipe[1], NULL, SPLICE_CHUNK,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			p->inpipe = (size_t)n;
			continue;
		}
		if (n == 0) {
			p->eof = 1;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return PUMP_WANT_READ;
		if (errno == EINVAL) {
			p->mode = PUMP_COPY;
			close(p->pipe[0]);
			close(p->pipe[1]);
			p->pipe[0] = p->pipe[1] = -1;
			return step_copy(p);
		}
		return fail(p, 1);
	}
	return p->inpipe ? PUMP_WANT_WRITE : PUMP_WANT_READ;
}

int pump_step(struct pump *p)
{
	if (p->done)
		return 0;
	switch (p->mode) {
	case PUMP_SPLICE:
		return step_splice(p);
	case PUMP_SPLICE_PIPE:
		return step_splice_pipe(p);
	default:
		return step_copy(p);
	}
}

int pump_abandon(struct pump *p)
{
	if (p->len || p->inpipe) {
		errno = EPIPE;
		return fail(p, 0);
	}
	p->done = 1;
	pump_free(p);
	return 0;
}
