/* listen.c — listening sockets: socket files with the mode in force
 * from the start, stale files replaced, live ones and other files
 * refused, and removal of what we created. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "sock.h"
#include "sys.h"

#ifndef SIOCUNIXFILE
#define SIOCUNIXFILE (SIOCPROTOPRIVATE + 0) /* <linux/un.h>, Linux 6.1 */
#endif

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

/* Where a socket file goes: its directory, opened, and its name there. */
struct place {
	char dir[4096];          /* the directory's path */
	const char *base;        /* the final component */
	int dirfd;               /* the directory, O_PATH */
	struct sockaddr_un sun;  /* the whole path as an address */
	socklen_t sl;
};

/* Split PATH into P->dir and P->base and open the directory.  0 or -1
 * with errno (EISDIR: PATH ends in a slash; ENAMETOOLONG: the name does
 * not fit a listener's record or sun_path). */
static int place_open(struct place *p, const char *path, size_t name_max)
{
	const char *slash = strrchr(path, '/');
	p->base = slash ? slash + 1 : path;
	p->dirfd = -1;
	if (!*p->base) {
		errno = EISDIR;
		return -1;
	}
	if (strlen(p->base) >= name_max) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!slash)
		snprintf(p->dir, sizeof p->dir, ".");
	else if (slash == path)
		snprintf(p->dir, sizeof p->dir, "/");
	else
		snprintf(p->dir, sizeof p->dir, "%.*s", (int)(slash - path), path);
	p->dirfd = open(p->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0)
		return -1;
	int sl = unix_sockaddr_at(p->dir, p->dirfd, p->base, &p->sun);
	if (sl < 0) {
		int e = errno;
		close(p->dirfd);
		p->dirfd = -1;
		errno = e;
		return -1;
	}
	p->sl = (socklen_t)sl;
	return 0;
}

/* Is the socket file ST (reached at SA) live?  1 yes (*holder its pid
 * or 0), 0 stale, -1 with errno when that cannot be proven.  The
 * kernel's socket diagnostics answer without a connect, but see this
 * network namespace only; when they see no listener, a connect decides:
 * refused is stale, accepted (and closed at once) is live. */
static int file_live(const struct stat *st, const struct sockaddr *sa,
		     socklen_t sl, pid_t *holder)
{
	uint32_t sockino;
	*holder = 0;
	if (sock_file_state(st, &sockino) > 0) {
		*holder = sock_inode_owner(sockino);
		return 1;
	}
	return probe_live(sa, sl, holder);
}

/* Make room at P: 0 once the name was free or held a stale socket, now
 * removed; -1 with errno EADDRINUSE (a live socket, l->holder_pid says
 * who), EEXIST (not a socket), EAGAIN (it changed while looked at) or
 * what the look failed with (l->unproven set when the socket file could
 * not be proven stale, e.g. EACCES). */
static int clear_stale(const struct place *p, struct listener *l)
{
	struct stat st, now;
	if (fstatat(p->dirfd, p->base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	int live = file_live(&st, (const struct sockaddr *)&p->sun, p->sl,
			     &l->holder_pid);
	if (live < 0 && errno == ENOENT)
		return 0;
	if (live < 0) {
		l->unproven = 1;
		return -1;
	}
	if (live) {
		errno = EADDRINUSE;
		return -1;
	}
	/* remove the very file found stale, not one put there since */
	if (fstatat(p->dirfd, p->base, &now, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
		errno = EAGAIN;
		return -1;
	}
	if (unlinkat(p->dirfd, p->base, 0) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* bind() FD to SA with the process umask set to MASK meanwhile. */
static int bind_umask(int fd, const struct sockaddr_un *sun, socklen_t sl,
		      mode_t mask)
{
	mode_t old = umask(mask);
	int r = bind(fd, (const struct sockaddr *)sun, sl);
	int e = errno;
	umask(old);
	errno = e;
	return r;
}

/* Remove NAME in DIRFD if it is still the socket file ST describes. */
static void unlink_same(int dirfd, const char *name, const struct stat *st)
{
	struct stat cur;
	int e = errno;
	if (fstatat(dirfd, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(cur.st_mode) && cur.st_dev == st->st_dev &&
	    cur.st_ino == st->st_ino)
		unlinkat(dirfd, name, 0);
	errno = e;
}

/* close(FD) if open, keeping errno; returns -1 for the caller's error. */
static int close_keep_errno(int fd)
{
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return -1;
}

/* Bind a new socket of TYPE at P itself, created with the permissions
 * 0777 & ~MASK, replacing a stale socket file.  Returns the bound fd
 * (its file's identity in *st), or -1 with errno as clear_stale(). */
static int bind_in_place(const struct place *p, int type, mode_t mask,
			 struct listener *l, struct stat *st)
{
	for (int tries = 0;; tries++) {
		int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -1;
		if (bind_umask(fd, &p->sun, p->sl, mask) == 0) {
			/* a file we cannot identify is left, not removed */
			if (fstatat(p->dirfd, p->base, st, AT_SYMLINK_NOFOLLOW) < 0)
				return close_keep_errno(fd);
			return fd;
		}
		close_keep_errno(fd);
		if (errno != EADDRINUSE || tries == 4)
			return -1;
		if (clear_stale(p, l) < 0 && errno != EAGAIN)
			return -1;
	}
}

/* Whether the kernel hands out a socket's own file (SIOCUNIXFILE, Linux
 * 6.1, with CAP_NET_ADMIN): asked of an unbound socket, which has none. */
static int unixfile_supported(int type)
{
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = ioctl(fd, SIOCUNIXFILE, 0) < 0 && errno == ENOENT;
	close(fd);
	return ok;
}

/* Bind a new socket of TYPE at P, created with its owner's bits of MODE
 * only, then give that very file (reached through the descriptor the
 * kernel returns for the socket, never by path) O's owner and the whole
 * MODE.  Returns the bound fd (its file's identity in *st), or -1 with
 * errno as clear_stale(). */
static int bind_owned(const struct place *p, int type, mode_t mode,
		      const struct listen_opts *o, struct listener *l,
		      struct stat *st)
{
	char proc[32];
	int fd = bind_in_place(p, type, 0777 & ~(mode & 0700), l, st);
	if (fd < 0)
		return -1;
	int ofd = ioctl(fd, SIOCUNIXFILE, 0);
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", ofd);
	if (ofd < 0 || fstat(ofd, st) < 0 ||
	    fchownat(ofd, "", o->uid, o->gid, AT_EMPTY_PATH) < 0 ||
	    chmod(proc, mode) < 0) {
		unlink_same(p->dirfd, p->base, st);
		close_keep_errno(ofd);
		return close_keep_errno(fd);
	}
	close(ofd);
	return fd;
}

/* A private directory made next to the socket file: mode 0700, ours. */
struct stage {
	char name[32];           /* its name in the socket file's directory */
	int fd;                  /* the directory, O_PATH */
	struct stat st;          /* its identity */
};

/* Make and open a private directory S inside P's directory.  0 or -1. */
static int stage_open(const struct place *p, struct stage *s)
{
	for (int tries = 0; tries < 16; tries++) {
		unsigned char rnd[6];
		if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
			uint64_t t = (uint64_t)now_ms() * 2654435761u ^
				     (uint64_t)getpid() << 20 ^ (uint64_t)tries;
			memcpy(rnd, &t, sizeof rnd);
		}
		snprintf(s->name, sizeof s->name, ".usock-%02x%02x%02x%02x%02x%02x",
			 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
		if (mkdirat(p->dirfd, s->name, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			return -1;
		}
		s->fd = openat(p->dirfd, s->name,
			       O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s->fd >= 0 && fstat(s->fd, &s->st) == 0 &&
		    s->st.st_uid == geteuid() && !(s->st.st_mode & 077))
			return 0;
		/* what we opened is not the directory we made */
		close_keep_errno(s->fd);
		s->fd = -1;
		errno = EEXIST;
		return -1;
	}
	errno = EEXIST;
	return -1;
}

/* Empty and remove the private directory S (only if P still names it). */
static void stage_close(const struct place *p, struct stage *s, const char *base)
{
	struct stat cur;
	int e = errno;
	unlinkat(s->fd, base, 0);
	if (fstatat(p->dirfd, s->name, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
	    cur.st_dev == s->st.st_dev && cur.st_ino == s->st.st_ino)
		unlinkat(p->dirfd, s->name, AT_REMOVEDIR);
	close(s->fd);
	s->fd = -1;
	errno = e;
}

/* Move the socket file BASE from S to P without ever replacing what is
 * there: 0, or -1 with errno (EEXIST: the name is taken). */
static int stage_move(const struct place *p, const struct stage *s)
{
	if (renameat2(s->fd, p->base, p->dirfd, p->base, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* a file system without RENAME_NOREPLACE: a hard link refuses too */
	if (linkat(s->fd, p->base, p->dirfd, p->base, 0) < 0)
		return -1;
	unlinkat(s->fd, p->base, 0);
	return 0;
}

/* Bind a new socket of TYPE inside a private directory, give the file
 * O's owner there (created 0777 & ~MASK), listen, and only then move it
 * to P, never over anything but a stale socket file removed first.  No
 * other process can reach the file before it has its owner and mode,
 * nor swap anything in under our chown.  Returns the listening fd (its
 * file's identity in *st), or -1 with errno as clear_stale(). */
static int bind_staged(const struct place *p, int type, mode_t mask,
		       const struct listen_opts *o, struct listener *l,
		       struct stat *st)
{
	struct stage s;
	struct sockaddr_un sun;
	char spath[sizeof p->dir + sizeof s.name + 1];
	int fd = -1, sl;

	if (stage_open(p, &s) < 0)
		return -1;
	snprintf(spath, sizeof spath, "%s/%s", p->dir, s.name);
	sl = unix_sockaddr_at(spath, s.fd, p->base, &sun);
	if (sl < 0)
		goto fail;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind_umask(fd, &sun, (socklen_t)sl, mask) < 0 ||
	    fchownat(s.fd, p->base, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(s.fd, p->base, st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (type != SOCK_DGRAM && listen(fd, o->backlog) < 0))
		goto fail;
	for (int tries = 0;; tries++) {
		if (clear_stale(p, l) < 0 && errno != EAGAIN)
			goto fail;
		if (stage_move(p, &s) == 0)
			break;
		if (errno != EEXIST || tries == 4) {
			if (errno == EEXIST)
				errno = EADDRINUSE;
			goto fail;
		}
	}
	stage_close(p, &s, p->base);
	return fd;
fail:
	stage_close(p, &s, p->base);
	return close_keep_errno(fd);
}

/* Listen on a UNIX path with the mode and owner in force from the moment
 * the file is visible, and nothing changed by path once it is: the mode
 * comes from the umask around bind(); an owner is given through the
 * socket's own file descriptor (bind_owned) or, where the kernel has
 * none to give, in a private directory before the file is moved into
 * place (bind_staged).  A stale socket file is replaced; anything else
 * is refused.  Our own listeners racing for one path are serialized by
 * a lock on the directory, so exactly one wins. */
static int unix_listen(struct listener *l, const struct addr *a,
		       const struct listen_opts *o)
{
	struct place p;
	struct stat st;
	int fd, lockfd;

	if (place_open(&p, a->path, sizeof l->name) < 0)
		return -1;
	/* a directory we cannot read is simply not locked */
	lockfd = openat(p.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lockfd >= 0)
		while (flock(lockfd, LOCK_EX) < 0 && errno == EINTR)
			;
	mode_t um = umask(0777);
	umask(um);
	mode_t mode = o->has_mode ? o->mode : 0777 & ~um;
	int owned = o->uid != (uid_t)-1 || o->gid != (gid_t)-1;
	int staged = owned && !unixfile_supported(a->type);
	if (staged)
		fd = bind_staged(&p, a->type, 0777 & ~mode, o, l, &st);
	else if (owned)
		fd = bind_owned(&p, a->type, mode, o, l, &st);
	else
		fd = bind_in_place(&p, a->type, 0777 & ~mode, l, &st);
	if (fd >= 0 && !staged && a->type != SOCK_DGRAM &&
	    listen(fd, o->backlog) < 0) {
		unlink_same(p.dirfd, p.base, &st);
		fd = close_keep_errno(fd);
	}
	close_keep_errno(lockfd);
	if (fd < 0)
		return close_keep_errno(p.dirfd);
	l->fd = fd;
	l->dirfd = p.dirfd;
	snprintf(l->name, sizeof l->name, "%s", p.base);
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	return 0;
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
	struct stat st = { .st_dev = l->dev, .st_ino = l->ino };
	if (l->dirfd < 0 || !l->name[0])
		return;
	unlink_same(l->dirfd, l->name, &st);
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
