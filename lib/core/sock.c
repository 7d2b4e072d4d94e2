/* sock.c — connecting sockets: connect with a deadline, accept, and the
 * peer's credentials.  Listening is in listen.c. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Wait until FD is writable (a connect finished) or DEADLINE passes. */
static int wait_connect(int fd, int64_t deadline)
{
	for (;;) {
		int timeout = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			timeout = (int)left;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int n = poll(&pfd, 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		int err = 0;
		socklen_t sl = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			return -1;
		if (err) {
			errno = err;
			return -1;
		}
		return 0;
	}
}

/* Connect a new socket of FAMILY/TYPE to SA.  A full UNIX backlog
 * makes the connect wait (as a blocking connect would) until DEADLINE. */
static int connect_sa(int family, int type, const struct sockaddr *sa,
		      socklen_t len, int64_t deadline)
{
	int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	for (;;) {
		if (connect(fd, sa, len) == 0)
			return fd;
		if (errno == EINTR)
			continue;
		if (errno == EINPROGRESS) {
			if (wait_connect(fd, deadline) == 0)
				return fd;
			break;
		}
		if (errno == EAGAIN && family == AF_UNIX) {
			/* listener's backlog is full: wait for room */
			if (deadline >= 0 && now_ms() >= deadline) {
				errno = ETIMEDOUT;
				break;
			}
			struct timespec ts = { 0, 5 * 1000 * 1000 };
			nanosleep(&ts, NULL);
			continue;
		}
		break;
	}
	int e = errno;
	close(fd);
	errno = e;
	return -1;
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

int sock_connect_start(const struct addr *a, int i, int *pending)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->sa[i];
	socklen_t len = a->salen[i];
	struct sockaddr_un sun;
	int dirfd = -1;

	if (a->kind == ADDR_UNIX) {
		int n = unix_sockaddr(a->path, &sun, &dirfd);
		if (n < 0)
			return -1;
		sa = (const struct sockaddr *)&sun;
		len = (socklen_t)n;
	}
	int fd = socket(sa->sa_family, a->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int r = fd < 0 ? -1 : connect(fd, sa, len);
	int e = errno;
	if (dirfd >= 0)
		close(dirfd);
	if (r < 0 && fd >= 0 && e != EINPROGRESS) {
		close(fd);
		fd = -1;
	}
	*pending = r < 0;
	errno = e;
	return fd;
}

int sock_connect(const struct addr *a, int64_t deadline)
{
	if (a->kind == ADDR_UNIX) {
		struct sockaddr_un sun;
		int dirfd;
		int len = unix_sockaddr(a->path, &sun, &dirfd);
		if (len < 0)
			return -1;
		int fd = connect_sa(AF_UNIX, a->type, (struct sockaddr *)&sun,
				    (socklen_t)len, deadline);
		if (dirfd >= 0) {
			int e = errno;
			close(dirfd);
			errno = e;
		}
		return fd;
	}
	int fd = -1, e = EADDRNOTAVAIL;
	for (int i = 0; i < a->nsa && fd < 0; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&a->sa[i];
		fd = connect_sa(sa->sa_family, a->type, sa, a->salen[i], deadline);
		if (fd < 0)
			e = errno;
	}
	if (fd < 0)
		errno = e;
	return fd;
}

int sock_retryable(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == EAGAIN ||
	       e == ENETUNREACH || e == EHOSTUNREACH || e == EADDRNOTAVAIL;
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
