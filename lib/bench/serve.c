/* serve.c — the echo and sink servers of usock-bench: one level-triggered
 * epoll loop, non-blocking sockets, one shared scratch buffer.  An echo
 * connection keeps a buffer only while the client is not reading what it
 * sent back, and is not read from meanwhile (backpressure); a sink
 * discards through splice() into /dev/null where the kernel allows. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "serve.h"
#include "core/sock.h"
#include "core/sys.h"

#define SCRATCH      (256 << 10)
#define READ_TURNS   8       /* reads per event before serving others */
#define ACCEPT_PAUSE 100     /* ms without accepting after EMFILE */

enum { C_LISTEN, C_SIGNAL, C_CONN };

struct sconn {
	int fd;
	int role;
	char *buf;               /* echo: what the client has not taken yet */
	size_t off, len;
	struct sconn *prev, *next;
};

struct server {
	int ep;
	enum serve_kind kind;
	char *scratch;
	int null_fd, pipe[2];    /* sink: splice path, or -1 */
	struct sconn *conns;     /* every open connection */
	struct sconn *lst;       /* the listeners, an array */
	int nlst;
	int64_t paused_until;    /* accepting paused until then (ms), or 0 */
};

int serve_kind_parse(const char *s, enum serve_kind *k)
{
	if (!strcmp(s, "echo"))
		*k = SERVE_ECHO;
	else if (!strcmp(s, "sink"))
		*k = SERVE_SINK;
	else
		return -1;
	return 0;
}

const char *serve_kind_name(enum serve_kind k)
{
	return k == SERVE_ECHO ? "echo" : "sink";
}

static int watch(struct server *s, int op, struct sconn *c, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	return epoll_ctl(s->ep, op, c->fd, &ev);
}

static void conn_close(struct server *s, struct sconn *c)
{
	close(c->fd);
	free(c->buf);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next) // NOLINT(clang-analyzer-unix.Malloc): C is freed below
		c->next->prev = c->prev;
	free(c);
}

static void set_listening(struct server *s, unsigned events)
{
	for (int i = 0; i < s->nlst; i++)
		watch(s, EPOLL_CTL_MOD, &s->lst[i], events);
}

/* Take every pending connection on L. */
static void accept_all(struct server *s, struct sconn *l)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len;
		int fd = sock_accept(l->fd, &ss, &len);
		if (fd < 0) {
			if (sock_accept_starved(errno)) {
				/* out of descriptors: let connections end first */
				set_listening(s, 0);
				s->paused_until = now_ms() + ACCEPT_PAUSE;
			}
			return;
		}
		sock_nodelay(fd, ss.ss_family);
		struct sconn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->role = C_CONN;
		if (watch(s, EPOLL_CTL_ADD, c, EPOLLIN) < 0) {
			close(fd);
			free(c);
			return;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
	}
}

/* Write what C holds.  Returns 0 when all is written, 1 when some is
 * left (the socket is full), -1 on error. */
static int echo_flush(struct sconn *c)
{
	while (c->len) {
		ssize_t n = write(c->fd, c->buf + c->off, c->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 1 : -1;
		}
		c->off += (size_t)n;
		c->len -= (size_t)n;
	}
	free(c->buf);
	c->buf = NULL;
	c->off = 0;
	return 0;
}

/* Read from C and send it back.  Returns 0 to keep C, -1 to close it. */
static int echo_in(struct server *s, struct sconn *c)
{
	for (int turn = 0; turn < READ_TURNS; turn++) {
		ssize_t n = read(c->fd, s->scratch, SCRATCH);
		if (n < 0)
			return errno == EINTR ? 0 : errno == EAGAIN ? 0 : -1;
		if (n == 0)
			return -1; /* the client is done and has every byte back */
		size_t done = 0;
		while (done < (size_t)n) {
			ssize_t w = write(c->fd, s->scratch + done, (size_t)n - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno != EAGAIN)
				return -1;
			if (w < 0)
				break;
			done += (size_t)w;
		}
		if (done < (size_t)n) {
			/* the client is not reading: keep the rest, stop
			 * reading until it is gone */
			c->len = (size_t)n - done;
			c->buf = malloc(c->len);
			if (!c->buf)
				return -1;
			memcpy(c->buf, s->scratch + done, c->len);
			c->off = 0;
			return watch(s, EPOLL_CTL_MOD, c, EPOLLOUT);
		}
		if ((size_t)n < SCRATCH)
			return 0;
	}
	return 0;
}

static int echo_out(struct server *s, struct sconn *c)
{
	int r = echo_flush(c);
	if (r != 0)
		return r < 0 ? -1 : 0;
	return watch(s, EPOLL_CTL_MOD, c, EPOLLIN);
}

/* Empty the sink's pipe (N bytes) at once: it is shared.  Into
 * /dev/null by splice, or, should that fail, by reading it; 0 or -1. */
static int sink_empty_pipe(struct server *s, size_t n)
{
	while (n > 0) {
		ssize_t m = splice(s->pipe[0], NULL, s->null_fd, NULL, n,
				   SPLICE_F_MOVE);
		if (m < 0 && errno != EINTR)
			m = read(s->pipe[0], s->scratch, n < SCRATCH ? n : SCRATCH);
		if (m < 0 && errno != EINTR)
			return -1;
		if (m == 0) {
			errno = EIO;
			return -1;
		}
		if (m > 0)
			n -= (size_t)m;
	}
	return 0;
}

/* Discard what C has sent.  Returns 0 to keep C, -1 to close it. */
static int sink_in(struct server *s, struct sconn *c)
{
	for (int turn = 0; turn < READ_TURNS; turn++) {
		ssize_t n;
		if (s->pipe[0] >= 0) {
			n = splice(c->fd, NULL, s->pipe[1], NULL, SCRATCH,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				if (sink_empty_pipe(s, (size_t)n) < 0)
					return -1;
				continue;
			}
			if (n < 0 && errno == EINVAL) {
				/* this socket refuses splice: read from now on */
				close(s->pipe[0]);
				close(s->pipe[1]);
				s->pipe[0] = s->pipe[1] = -1;
				turn--;
				continue;
			}
		} else {
			n = read(c->fd, s->scratch, SCRATCH);
			if (n > 0)
				continue;
		}
		if (n == 0)
			return -1;
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	}
	return 0;
}

static void server_free(struct server *s)
{
	while (s->conns)
		conn_close(s, s->conns);
	free(s->lst);
	free(s->scratch);
	if (s->pipe[0] >= 0) {
		close(s->pipe[0]);
		close(s->pipe[1]);
	}
	if (s->null_fd >= 0)
		close(s->null_fd);
	if (s->ep >= 0)
		close(s->ep);
}

static int server_init(struct server *s, const int *lfds, int n,
		       enum serve_kind kind, int sigfd, struct sconn *sig)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->null_fd = s->pipe[0] = s->pipe[1] = -1;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->scratch = malloc(SCRATCH);
	s->lst = calloc((size_t)n, sizeof *s->lst);
	if (s->ep < 0 || !s->scratch || !s->lst)
		return -1;
	s->nlst = n;
	for (int i = 0; i < n; i++) {
		s->lst[i] = (struct sconn){ .fd = lfds[i], .role = C_LISTEN };
		if (watch(s, EPOLL_CTL_ADD, &s->lst[i], EPOLLIN) < 0)
			return -1;
	}
	*sig = (struct sconn){ .fd = sigfd, .role = C_SIGNAL };
	if (sigfd >= 0 && watch(s, EPOLL_CTL_ADD, sig, EPOLLIN) < 0)
		return -1;
	if (kind == SERVE_SINK) {
		s->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (s->null_fd >= 0 && pipe2(s->pipe, O_CLOEXEC | O_NONBLOCK) == 0)
			fcntl(s->pipe[1], F_SETPIPE_SZ, SCRATCH);
	}
	return 0;
}

int serve_run(const int *lfds, int n, enum serve_kind kind, int sigfd)
{
	struct server s;
	struct sconn sig;
	struct epoll_event ev[256];
	int ret = -1;

	if (server_init(&s, lfds, n, kind, sigfd, &sig) < 0)
		goto out;
	for (;;) {
		int timeout = -1;
		if (s.paused_until) {
			int64_t left = s.paused_until - now_ms();
			if (left <= 0) {
				set_listening(&s, EPOLLIN);
				s.paused_until = 0;
			} else {
				timeout = (int)left;
			}
		}
		int k = epoll_wait(s.ep, ev, 256, timeout);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto out;
		for (int i = 0; i < k; i++) {
			struct sconn *c = ev[i].data.ptr;
			if (c->role == C_SIGNAL) {
				ret = sig_read(sigfd);
				if (ret > 0)
					goto out;
				continue;
			}
			if (c->role == C_LISTEN) {
				if (!s.paused_until)
					accept_all(&s, c);
				continue;
			}
			int r;
			if (kind == SERVE_SINK)
				r = sink_in(&s, c);
			else if (c->len)
				r = echo_out(&s, c);
			else
				r = echo_in(&s, c);
			if (r < 0)
				conn_close(&s, c);
		}
	}
out:;
	int e = errno;
	server_free(&s);
	errno = e;
	return ret;
}
