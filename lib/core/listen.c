/* listen.c — listening sockets: socket files with the mode in force
 * from the start, stale files replaced, live ones and other files
 * refused, and removal of what we created. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "sock.h"

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

/* Bind a UNIX socket at its path with the mode and owner in force from
 * the moment the file exists: it is created with the owner's bits only,
 * then given its owner, then its full mode.  A stale socket file is
 * replaced; anything else is refused.  Our own listeners racing for one
 * path are serialized by a lock on the directory, so exactly one wins. */
static int unix_listen(struct listener *l, const struct addr *a,
		       const struct listen_opts *o)
{
	char dir[4096];
	const char *slash = strrchr(a->path, '/');
	const char *base = slash ? slash + 1 : a->path;
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1, lockfd = -1, sl, r = -1;

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

	l->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0)
		return -1;
	sl = unix_sockaddr_at(dir, l->dirfd, base, &sun);
	if (sl < 0)
		goto fail;
	/* a directory we cannot read is simply not locked */
	lockfd = openat(l->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lockfd >= 0)
		while (flock(lockfd, LOCK_EX) < 0 && errno == EINTR)
			;

	for (int tries = 0;; tries++) {
		fd = socket(AF_UNIX, a->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			goto fail;
		mode_t um = umask(0777);
		umask(o->has_mode ? 0777 & ~(o->mode & 0700) : um);
		r = bind(fd, (struct sockaddr *)&sun, (socklen_t)sl);
		umask(um);
		if (r == 0)
			break;
		if (errno != EADDRINUSE || tries == 4)
			goto fail;
		close(fd);
		fd = -1;

		struct stat cur;
		if (fstatat(l->dirfd, base, &cur, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			goto fail;
		}
		if (!S_ISSOCK(cur.st_mode)) {
			errno = EEXIST;
			goto fail;
		}
		/* ask the kernel first: a live server never sees us */
		uint32_t sockino;
		int live = sock_file_state(&cur, &sockino);
		if (live >= 0) {
			if (live)
				l->holder_pid = sock_inode_owner(sockino);
		} else {
			live = probe_live((struct sockaddr *)&sun, (socklen_t)sl,
					  &l->holder_pid);
		}
		if (live < 0 && errno == ENOENT)
			continue;
		if (live < 0)
			goto fail;
		if (live) {
			errno = EADDRINUSE;
			goto fail;
		}
		/* stale: nothing answers on it */
		if (unlinkat(l->dirfd, base, 0) < 0 && errno != ENOENT)
			goto fail;
	}
	snprintf(l->name, sizeof l->name, "%s", base);
	if ((o->uid != (uid_t)-1 || o->gid != (gid_t)-1) &&
	    fchownat(l->dirfd, base, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail_file;
	if (o->has_mode && fchmodat(l->dirfd, base, o->mode, 0) < 0)
		goto fail_file;
	if (fstatat(l->dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail_file;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	if (a->type != SOCK_DGRAM && listen(fd, o->backlog) < 0)
		goto fail_file;
	if (lockfd >= 0)
		close(lockfd);
	l->fd = fd;
	return 0;

fail_file:;
	int e = errno;
	unlinkat(l->dirfd, base, 0);
	errno = e;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (lockfd >= 0)
		close(lockfd);
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
