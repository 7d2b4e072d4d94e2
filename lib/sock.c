/* sock.c — opening sockets: connect with a deadline, listen with the
 * socket-file rules (mode in force from the start, stale files replaced,
 * live ones and other files refused), and removal of what we created. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "usock.h"

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

/* Address of NAME inside the directory DIRFD whose path is DIR. */
static int unix_sockaddr_at(const char *dir, int dirfd, const char *name,
			    struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	int n = snprintf(sun->sun_path, sizeof sun->sun_path, "%s/%s", dir, name);
	if (n < 0 || n > UNIX_PATH_LIMIT)
		n = snprintf(sun->sun_path, sizeof sun->sun_path,
			     "/proc/self/fd/%d/%s", dirfd, name);
	if (n < 0 || n > UNIX_PATH_LIMIT) {
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

/* Is something listening at SA?  1 live (and *pid its owner, if known),
 * 0 stale (refused), -1 with errno when it cannot tell. */
static int probe_live(const struct sockaddr *sa, socklen_t len, pid_t *pid)
{
	*pid = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int r;
	if (connect(fd, sa, len) == 0) {
		uid_t u;
		gid_t g;
		if (sock_peercred(fd, pid, &u, &g) < 0)
			*pid = 0;
		r = 1;
	} else if (errno == ECONNREFUSED) {
		r = 0;
	} else if (errno == EAGAIN || errno == EPROTOTYPE) {
		r = 1; /* full backlog, or a socket of another type: live */
	} else {
		r = -1;
	}
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static void tmp_name(char *buf, size_t n, const char *tag)
{
	static unsigned seq;
	unsigned r = (unsigned)now_ms() ^ ((unsigned)getpid() << 12) ^ (seq++ * 2654435761u);
	snprintf(buf, n, ".usock.%d.%08x%s", (int)getpid(), r, tag);
}

/* Bind a UNIX socket at a temporary name, give it its mode and owner,
 * then move it to its final name so it never exists there with a wider
 * mode; replace a stale socket; refuse anything else. */
static int unix_listen(struct listener *l, const struct addr *a,
		       const struct listen_opts *o)
{
	char dir[4096], tmp[64], old[64];
	const char *slash = strrchr(a->path, '/');
	const char *base = slash ? slash + 1 : a->path;
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1, sl, r;

	if (!*base) {
		errno = EISDIR;
		return -1;
	}
	if (strlen(base) >= sizeof l->name) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == a->path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - a->path), a->path);
	snprintf(l->name, sizeof l->name, "%s", base);

	l->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0)
		return -1;
	fd = socket(AF_UNIX, a->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	tmp_name(tmp, sizeof tmp, "");
	sl = unix_sockaddr_at(dir, l->dirfd, tmp, &sun);
	if (sl < 0)
		goto fail;
	mode_t um = umask(0777);
	r = bind(fd, (struct sockaddr *)&sun, (socklen_t)sl);
	umask(um);
	if (r < 0)
		goto fail;
	mode_t mode = o->has_mode ? o->mode : (0777 & ~um);
	if (fchmodat(l->dirfd, tmp, mode, 0) < 0)
		goto fail_tmp;
	if ((o->uid != (uid_t)-1 || o->gid != (gid_t)-1) &&
	    fchownat(l->dirfd, tmp, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail_tmp;
	if (fstatat(l->dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail_tmp;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	if (a->type != SOCK_DGRAM && listen(fd, o->backlog) < 0)
		goto fail_tmp;

	for (int tries = 0;; tries++) {
		if (tries == 8) {
			errno = EADDRINUSE;
			goto fail_tmp;
		}
		r = renameat2(l->dirfd, tmp, l->dirfd, base, RENAME_NOREPLACE);
		if (r < 0 && errno == EINVAL) {
			/* no RENAME_NOREPLACE here: link() is as atomic */
			r = linkat(l->dirfd, tmp, l->dirfd, base, 0);
			if (r == 0)
				unlinkat(l->dirfd, tmp, 0);
		}
		if (r == 0)
			break;
		if (errno != EEXIST)
			goto fail_tmp;

		struct stat cur;
		if (fstatat(l->dirfd, base, &cur, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			goto fail_tmp;
		}
		if (!S_ISSOCK(cur.st_mode)) {
			errno = EEXIST;
			goto fail_tmp;
		}
		struct sockaddr_un psun;
		int pl = unix_sockaddr_at(dir, l->dirfd, base, &psun);
		if (pl < 0)
			goto fail_tmp;
		int live = probe_live((struct sockaddr *)&psun, (socklen_t)pl,
				      &l->holder_pid);
		if (live < 0) {
			if (errno == ENOENT)
				continue;
			goto fail_tmp;
		}
		if (live) {
			errno = EADDRINUSE;
			goto fail_tmp;
		}
		/* Stale.  Move it aside first, then make sure what we moved
		 * is the file we probed: another listener may have won. */
		tmp_name(old, sizeof old, ".old");
		if (renameat(l->dirfd, base, l->dirfd, old) < 0) {
			if (errno == ENOENT)
				continue;
			goto fail_tmp;
		}
		struct stat moved;
		if (fstatat(l->dirfd, old, &moved, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (moved.st_dev != cur.st_dev || moved.st_ino != cur.st_ino))
			linkat(l->dirfd, old, l->dirfd, base, 0); /* put it back */
		unlinkat(l->dirfd, old, 0);
	}
	l->fd = fd;
	return 0;

fail_tmp:;
	int e = errno;
	unlinkat(l->dirfd, tmp, 0);
	errno = e;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	close(l->dirfd);
	l->dirfd = -1;
	l->name[0] = 0;
	errno = e;
	return -1;
}

static int inet_listen(struct listener *l, const struct addr *a,
		       const struct listen_opts *o)
{
	int e = EADDRNOTAVAIL;
	for (int i = 0; i < a->nsa; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&a->sa[i];
		int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1, v6only = !a->wildcard;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (sa->sa_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
		if (bind(fd, sa, a->salen[i]) == 0 && listen(fd, o->backlog) == 0) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof ss;
			l->fd = fd;
			if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
				memcpy(&l->addr.sa[0], &ss, len);
				l->addr.salen[0] = len;
				l->addr.nsa = 1;
			}
			return 0;
		}
		e = errno;
		close(fd);
	}
	errno = e;
	return -1;
}

static int abstract_listen(struct listener *l, const struct addr *a,
			   const struct listen_opts *o)
{
	int fd = socket(AF_UNIX, a->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (const struct sockaddr *)&a->sa[0], a->salen[0]) < 0 ||
	    (a->type != SOCK_DGRAM && listen(fd, o->backlog) < 0)) {
		int e = errno;
		if (e == EADDRINUSE) {
			pid_t pid;
			if (probe_live((const struct sockaddr *)&a->sa[0],
				       a->salen[0], &pid) == 1)
				l->holder_pid = pid;
		}
		close(fd);
		errno = e;
		return -1;
	}
	l->fd = fd;
	return 0;
}

int sock_listen(struct listener *l, const struct addr *a,
		const struct listen_opts *o)
{
	memset(l, 0, sizeof *l);
	l->fd = -1;
	l->dirfd = -1;
	l->addr = *a;
	if (a->kind == ADDR_UNIX)
		return unix_listen(l, a, o);
	if (a->kind == ADDR_ABSTRACT)
		return abstract_listen(l, a, o);
	return inet_listen(l, a, o);
}

void sock_unlink(struct listener *l)
{
	struct stat st;
	if (l->dirfd < 0 || !l->name[0])
		return;
	if (fstatat(l->dirfd, l->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == l->dev && st.st_ino == l->ino)
		unlinkat(l->dirfd, l->name, 0);
	l->name[0] = 0;
	close(l->dirfd);
	l->dirfd = -1;
}

void sock_unlisten(struct listener *l)
{
	sock_unlink(l);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

char *sock_local_format(const struct listener *l, char *buf, size_t n)
{
	if (l->addr.kind == ADDR_TCP && l->addr.nsa)
		return sa_format((const struct sockaddr *)&l->addr.sa[0],
				 l->addr.salen[0], SOCK_STREAM, buf, n);
	return addr_format(&l->addr, buf, n);
}
