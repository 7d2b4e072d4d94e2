/* sock.c — connecting sockets: connect with a deadline, accept, and the
 * peer's credentials.  Listening is in listen.c. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "num.h"
#include "relay.h"
#include "sock.h"
#include "sys.h"

/* Fill SUN for PATH.  A path past sun_path is reached through its
 * directory, opened into *dirfd (the caller closes it).  Returns the
 * address length, or -1 with errno. */
static int unix_sockaddr(const char *path, struct sockaddr_un *sun,
			 int *dirfd)
{
	size_t len = strlen(path);
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	*dirfd = -1;
	if (len <= (size_t)UNIX_PATH_LIMIT) {
		memcpy(sun->sun_path, path, len);
		return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	const char *slash = strrchr(path, '/');
	if (!slash || strlen(slash + 1) > (size_t)UNIX_NAME_LIMIT) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char dir[4096];
	size_t dlen = (size_t)(slash - path);
	memcpy(dir, path, dlen ? dlen : 1);
	dir[dlen ? dlen : 1] = 0;
	*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return -1;
	int n = snprintf(sun->sun_path, sizeof sun->sun_path,
			 "/proc/self/fd/%d/%s", *dirfd, slash + 1);
	if (n < 0 || n > UNIX_PATH_LIMIT) {
		close(*dirfd);
		*dirfd = -1;
		errno = ENAMETOOLONG;
		return -1;
	}
	return (int)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
}

/* Pauses between tries while waiting for an endpoint: the first one is
 * short (a server that is just starting), then they double up to a cap
 * so that a long wait costs little. */
#define RETRY_FIRST_MS 5
#define RETRY_MAX_MS   50

/* Milliseconds from now to DEADLINE for poll(): -1 for no deadline, 0
 * once it has passed. */
static int ms_left(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > 86400000 ? 86400000 : (int)left;
}

/* Wait up to MS milliseconds (-1: for ever) for FD (-1: none) to be
 * writable or a signal to arrive on w->sigfd.  Returns 1 when FD is
 * ready, 0 when the time is up, or -1 with errno (EINTR: a signal,
 * w->signo says which). */
static int wait_event(int fd, int ms, struct sock_wait *w)
{
	struct pollfd pfd[2];
	nfds_t n = 0;
	if (fd >= 0)
		pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (w->sigfd >= 0)
		pfd[n++] = (struct pollfd){ .fd = w->sigfd, .events = POLLIN };
	int64_t until = ms < 0 ? -1 : now_ms() + ms;
	for (;;) {
		int r = poll(pfd, n, ms);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && w->sigfd >= 0 && pfd[n - 1].revents) {
			int s = sig_read(w->sigfd);
			if (s) {
				w->signo = s;
				errno = EINTR;
				return -1;
			}
		}
		if (r > 0 && fd >= 0 && pfd[0].revents)
			return 1;
		if (r == 0)
			return 0;
		/* EINTR from a handled signal, or a spurious wake-up */
		ms = ms_left(until);
		if (ms == 0)
			return 0;
	}
}

int sock_source_fits(const struct addr *src, const struct sockaddr *sa)
{
	if (src->kind != ADDR_TCP)
		return sa->sa_family == AF_UNIX;
	for (int i = 0; i < src->nsa; i++)
		if (src->sa[i].ss_family == sa->sa_family)
			return 1;
	return 0;
}

/* The port of a TCP address SA, host order. */
static unsigned sa_port(const struct sockaddr_storage *sa)
{
	return sa->ss_family == AF_INET ?
		ntohs(((const struct sockaddr_in *)sa)->sin_port) :
		ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

int sock_source_bind(int fd, int family, const struct addr *src,
		     struct sock_bound *b)
{
	int one = 1;
	b->made = 0;
	if (src->kind == ADDR_TCP) {
		for (int i = 0; i < src->nsa; i++) {
			if (src->sa[i].ss_family != family)
				continue;
			/* port 0: leave the port to connect(2), which can
			 * share it among different destinations */
			if (sa_port(&src->sa[i]) == 0)
				setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
					   &one, sizeof one);
			else
				setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
					   sizeof one);
			return bind(fd, (const struct sockaddr *)&src->sa[i],
				    src->salen[i]);
		}
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (family != AF_UNIX) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (src->kind == ADDR_ABSTRACT)
		return bind(fd, (const struct sockaddr *)&src->sa[0],
			    src->salen[0]);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(src->path);
	if (len > (size_t)UNIX_PATH_LIMIT) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, src->path, len);
	if (bind(fd, (struct sockaddr *)&sun,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1)) < 0)
		return -1;
	struct stat st;
	if (lstat(src->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		b->made = 1;
		b->dev = st.st_dev;
		b->ino = st.st_ino;
	}
	return 0;
}

void sock_source_unlink(const struct addr *src, struct sock_bound *b)
{
	struct stat st;
	if (b->made && src->kind == ADDR_UNIX && lstat(src->path, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == b->dev && st.st_ino == b->ino)
		unlink(src->path);
	b->made = 0;
}

/* A new socket of FAMILY/TYPE, non-blocking and CLOEXEC, bound to SRC
 * (or NULL).  -1 with errno, *SRC_FAILED 1 when the bind failed. */
static int new_socket(int family, int type, const struct addr *src,
		      struct sock_bound *b, int *src_failed)
{
	*src_failed = 0;
	b->made = 0;
	int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || !src)
		return fd;
	if (sock_source_bind(fd, family, src, b) < 0) {
		int e = errno;
		close(fd);
		*src_failed = 1;
		errno = e;
		return -1;
	}
	return fd;
}

/* After connect(2) returned: a stream or seqpacket socket keeps the
 * name it was bound to, so the file made for it can go (a datagram
 * socket's file stays: answers are sent to it). */
static void source_connected(int type, const struct addr *src,
			     struct sock_bound *b)
{
	if (b->made && type != SOCK_DGRAM)
		sock_source_unlink(src, b);
}

/* One connect of a new socket of FAMILY/TYPE to SA, waiting for a TCP
 * handshake until w->deadline.  Returns a non-blocking CLOEXEC fd, or -1
 * with errno: EAGAIN a full UNIX backlog, EINTR a signal, ETIMEDOUT with
 * w->expired set when the deadline passed first, else the error of the
 * connect. */
static int connect_once(int family, int type, const struct sockaddr *sa,
			socklen_t len, struct sock_wait *w)
{
	int fd = new_socket(family, type, w->source, &w->bound,
			    &w->source_failed);
	if (fd < 0)
		return -1;
	w->tries++;
	int r = connect(fd, sa, len);
	source_connected(type, w->source, &w->bound);
	if (r == 0)
		return fd;
	if (errno == EINPROGRESS || errno == EINTR) {
		/* the handshake goes on in the kernel: wait for its answer */
		r = wait_event(fd, ms_left(w->deadline), w);
		if (r > 0) {
			int err = 0;
			socklen_t sl = sizeof err;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
				err = errno;
			if (!err)
				return fd;
			errno = err;
		} else if (r == 0) {
			w->expired = 1;
			w->last_err = 0; /* no answer at all */
			errno = ETIMEDOUT;
		}
	}
	int e = errno;
	sock_source_unlink(w->source, &w->bound);
	close(fd);
	errno = e;
	return -1;
}

/* The kind of file at a UNIX socket address SUN that refused a connect:
 * sets w->mode and returns 1 when it is there and is not a socket. */
static int not_a_socket(const struct sockaddr_un *sun, struct sock_wait *w)
{
	struct stat st;
	if (sun->sun_path[0] == 0 || stat(sun->sun_path, &st) < 0 ||
	    S_ISSOCK(st.st_mode))
		return 0;
	w->mode = st.st_mode;
	return 1;
}

/* Every address of A once.  Returns an fd, or -1 with errno (the error
 * of the last address tried, as connect_once() gives it; ENOTSOCK for a
 * path that is not a socket). */
static int connect_round(const struct addr *a, struct sock_wait *w)
{
	if (a->kind == ADDR_UNIX) {
		struct sockaddr_un sun;
		int dirfd;
		int len = unix_sockaddr(a->path, &sun, &dirfd);
		if (len < 0)
			return -1;
		int fd = connect_once(AF_UNIX, a->type, (struct sockaddr *)&sun,
				      (socklen_t)len, w);
		int e = errno;
		if (fd < 0 && e == ECONNREFUSED && not_a_socket(&sun, w))
			e = ENOTSOCK;
		if (dirfd >= 0)
			close(dirfd);
		errno = e;
		return fd;
	}
	int e = EADDRNOTAVAIL;
	for (int i = 0; i < a->nsa; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&a->sa[i];
		if (w->source && !sock_source_fits(w->source, sa)) {
			e = EAFNOSUPPORT;   /* an address the source cannot reach */
			continue;
		}
		int fd = connect_once(sa->sa_family, a->type, sa, a->salen[i], w);
		if (fd >= 0)
			return fd;
		e = errno;
		if (e == EINTR || w->expired || w->source_failed)
			break;
	}
	errno = e;
	return -1;
}

int sock_connect_wait(const struct addr *a, struct sock_wait *w)
{
	int64_t pause = RETRY_FIRST_MS;

	w->signo = 0;
	w->last_err = 0;
	w->expired = 0;
	w->tries = 0;
	w->mode = 0;
	for (;;) {
		int fd = connect_round(a, w);
		if (fd >= 0)
			return fd;
		int e = errno;
		if (e == EINTR || w->expired || w->source_failed)
			return -1;
		w->last_err = e;
		/* a full backlog is waited for as a blocking connect would;
		 * a missing or refusing endpoint only when asked to */
		int busy = e == EAGAIN && a->kind != ADDR_TCP;
		if (!busy && !(w->retry && sock_retryable(e)))
			return -1;
		int ms = ms_left(w->deadline);
		if (ms == 0) {
			w->expired = 1;
			errno = ETIMEDOUT;
			return -1;
		}
		if (ms < 0 || ms > pause)
			ms = (int)pause;
		if (wait_event(-1, ms, w) < 0)
			return -1;
		if (pause < RETRY_MAX_MS)
			pause *= 2;
	}
}

int sock_prepare(struct addr *a)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa[0];
	a->nsa = 1;
	if (strlen(a->path) <= (size_t)UNIX_PATH_LIMIT) {
		int dirfd, len = unix_sockaddr(a->path, sun, &dirfd);
		if (len < 0)
			return -1;
		a->salen[0] = (socklen_t)len;
		return 0;
	}
	/* past sun_path: looked up through its directory at each connect */
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	a->salen[0] = sizeof sun->sun_family;
	return 0;
}

int sock_connect_start(const struct addr *a, int i, const struct addr *src,
		       int *pending)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->sa[i];
	socklen_t len = a->salen[i];
	struct sockaddr_un sun;
	int dirfd = -1;

	*pending = 0;   /* also when the path cannot be reached at all */
	if (a->kind == ADDR_UNIX) {
		int n = unix_sockaddr(a->path, &sun, &dirfd);
		if (n < 0)
			return -1;
		sa = (const struct sockaddr *)&sun;
		len = (socklen_t)n;
	}
	struct sock_bound b;
	int src_failed;
	int fd = new_socket(sa->sa_family, a->type, src, &b, &src_failed);
	int r = fd < 0 ? -1 : connect(fd, sa, len);
	int e = errno;
	if (fd >= 0 && src)
		sock_source_unlink(src, &b);  /* the socket keeps the name */
	if (dirfd >= 0)
		close(dirfd);
	if (r < 0 && fd >= 0 && e != EINPROGRESS) {
		close(fd);
		fd = -1;
	}
	*pending = src_failed ? -1 : r < 0;
	errno = e;
	return fd;
}

int sock_connect(const struct addr *a, int64_t deadline)
{
	struct sock_wait w = { .deadline = deadline, .sigfd = -1 };
	int fd = sock_connect_wait(a, &w);
	if (fd < 0 && errno == ENOTSOCK)
		errno = ECONNREFUSED; /* what connect(2) itself says */
	return fd;
}

int sock_keepalive(int fd, int idle_s)
{
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) < 0)
		return -1;
	if (idle_s > 0 &&
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s) < 0)
		return -1;
	return 0;
}

int sock_retryable(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == EAGAIN ||
	       e == ENETUNREACH || e == EHOSTUNREACH || e == EADDRNOTAVAIL;
}

int sock_accept_starved(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

int sock_nodelay(int fd, int family)
{
	int one = 1;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int sock_accept(int lfd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof *ss;
	return accept4(lfd, (struct sockaddr *)ss, len, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

int sock_peercred(int fd, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred uc;
	socklen_t sl = sizeof uc;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0)
		return -1;
	*pid = uc.pid;
	*uid = uc.uid;
	*gid = uc.gid;
	return 0;
}
