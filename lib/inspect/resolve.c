/* resolve.c — a usable path for a listening socket whose bound name is
 * not one: a relative name, /proc/self/fd/N/NAME (how a path past the
 * 107 bytes of sun_path is bound), a name from another mount namespace,
 * a file renamed since.  The listener's /proc/PID/cwd and descriptors,
 * and as root the kernel's own record of the file (SIOCUNIXFILE), give
 * candidates; one counts only when its device and inode are those
 * sock_diag reports for the socket. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "inspect.h"

#ifndef SIOCUNIXFILE
#define SIOCUNIXFILE (SIOCPROTOPRIVATE + 0)
#endif

/* Is ST the file sock_diag names for R? */
static int same_file(const struct inspect_report *r, const struct stat *st)
{
	return S_ISSOCK(st->st_mode) && r->vfs_ino == (uint32_t)st->st_ino &&
	       diag_dev_match(r->vfs_dev, st->st_dev);
}

/* Accept CAND as R's path if it leads to R's file; its canonical form
 * (realpath) when there is one.  1 when accepted. */
static int try_path(struct inspect_report *r, const char *cand, const char *how)
{
	char canon[PATH_MAX];
	struct stat st;
	if (cand[0] != '/' || stat(cand, &st) < 0 || !same_file(r, &st))
		return 0;
	const char *p = realpath(cand, canon) && stat(canon, &st) == 0 &&
			same_file(r, &st) ? canon : cand;
	if (lstat(p, &st) < 0 || !same_file(r, &st))
		return 0; /* a symbolic link: not the file itself */
	char *np = strdup(p), *na = NULL;
	if (!np || asprintf(&na, "unix:%s", p) < 0) {
		free(np);
		return 0;
	}
	free(r->bound_name);
	r->bound_name = r->path; /* the name as bound */
	r->path = np;
	free(r->address);
	r->address = na;
	r->st = st;
	r->has_stat = 1;
	struct perm_acl acl;
	r->has_acl = perm_acl_read(p, &acl);
	r->unresolved = 0;
	r->file_gone = 0;
	free(r->note);
	if (asprintf(&r->note, "bound as %s; found through %s", r->bound_name,
		     how) < 0)
		r->note = NULL;
	return 1;
}

/* Try BASE (a /proc link to a directory) joined with REST. */
static int try_base(struct inspect_report *r, const char *base,
		    const char *rest, const char *how)
{
	char p[PATH_MAX + 64], dir[PATH_MAX], cand[2 * PATH_MAX];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", base, rest);
	if (stat(p, &st) < 0 || !same_file(r, &st))
		return 0;
	ssize_t n = readlink(base, dir, sizeof dir - 1);
	if (n <= 0)
		return 0;
	dir[n] = 0;
	snprintf(cand, sizeof cand, "%s%s%s", dir,
		 dir[n - 1] == '/' ? "" : "/", rest);
	return try_path(r, cand, how);
}

/* "/proc/self/fd/N/REST" and the like: N, and REST in *rest; or -1. */
static int proc_fd_name(const char *name, const char **rest)
{
	const char *p;
	if (!strncmp(name, "/proc/self/fd/", 14))
		p = name + 14;
	else if (!strncmp(name, "/proc/thread-self/fd/", 21))
		p = name + 21;
	else if (!strncmp(name, "/proc/", 6) && isdigit((unsigned char)name[6])) {
		p = name + 6;
		while (isdigit((unsigned char)*p))
			p++;
		if (strncmp(p, "/fd/", 4))
			return -1;
		p += 4;
	} else {
		return -1;
	}
	if (!isdigit((unsigned char)*p))
		return -1;
	char *end;
	long fd = strtol(p, &end, 10);
	if (*end != '/' || fd > INT_MAX)
		return -1;
	*rest = end + 1;
	return (int)fd;
}

/* The descriptor of PID that holds socket INO, or -1. */
static int socket_fd(pid_t pid, uint32_t ino)
{
	char path[64], link[64], want[32];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof want, "socket:[%u]", ino);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *de;
	int fd = -1;
	while (fd < 0 && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
		if (n > 0) {
			link[n] = 0;
			if (!strcmp(link, want))
				fd = atoi(de->d_name);
		}
	}
	closedir(d);
	return fd;
}

/* As root: borrow PID's descriptor of the socket (pidfd_getfd) and ask
 * the kernel which file it is bound to (SIOCUNIXFILE gives an O_PATH
 * descriptor of it).  The server sees nothing. */
static int try_kernel(struct inspect_report *r, pid_t pid)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
	int fd = socket_fd(pid, r->sock_ino);
	if (fd < 0)
		return 0;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return 0;
	int sfd = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	if (sfd < 0)
		return 0;
	int pfd = ioctl(sfd, SIOCUNIXFILE, 0);
	close(sfd);
	if (pfd < 0)
		return 0;
	char link[64], cand[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", pfd);
	ssize_t n = readlink(link, cand, sizeof cand - 1);
	close(pfd);
	if (n <= 0)
		return 0;
	cand[n] = 0;
	return try_path(r, cand, "the listening socket (SIOCUNIXFILE)");
#else
	(void)r;
	(void)pid;
	return 0;
#endif
}

/* The directories PID holds open: NAME's last component in each. */
static int try_dir_fds(struct inspect_report *r, pid_t pid, const char *name)
{
	char path[64], link[PATH_MAX], cand[PATH_MAX + 256], how[96];
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *de;
	int ok = 0;
	snprintf(how, sizeof how, "a directory process %d holds open", (int)pid);
	while (!ok && (de = readdir(d))) {
		struct stat st;
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISDIR(st.st_mode))
			continue;
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
		if (n <= 0 || link[0] != '/')
			continue;
		link[n] = 0;
		snprintf(cand, sizeof cand, "%s/%s", link, base);
		ok = try_path(r, cand, how);
	}
	closedir(d);
	return ok;
}

/* Resolve R through the process PID. */
static int resolve_via(struct inspect_report *r, pid_t pid)
{
	char base[96], how[96];
	const char *name = r->path, *rest;
	int fd;

	if (name[0] != '/') {
		snprintf(base, sizeof base, "/proc/%d/cwd", (int)pid);
		snprintf(how, sizeof how, "the working directory of process %d",
			 (int)pid);
		if (try_base(r, base, name, how))
			return 1;
	} else if ((fd = proc_fd_name(name, &rest)) >= 0) {
		snprintf(base, sizeof base, "/proc/%d/fd/%d", (int)pid, fd);
		snprintf(how, sizeof how, "descriptor %d of process %d", fd,
			 (int)pid);
		if (try_base(r, base, rest, how))
			return 1;
	} else {
		/* bound in another mount namespace or root directory */
		snprintf(base, sizeof base, "/proc/%d/root", (int)pid);
		snprintf(how, sizeof how, "the root directory of process %d",
			 (int)pid);
		if (try_base(r, base, name + 1, how))
			return 1;
	}
	return try_kernel(r, pid) || try_dir_fds(r, pid, name);
}

/* A name renamed into place from a directory below (as a socket made
 * in a private directory and moved out is): the same last component in
 * each directory above the bound one. */
static int try_above(struct inspect_report *r)
{
	char dir[PATH_MAX], cand[PATH_MAX + 256];
	const char *base = strrchr(r->path, '/');
	if (r->path[0] != '/' || !base || strlen(r->path) >= sizeof dir)
		return 0;
	snprintf(dir, sizeof dir, "%.*s", (int)(base - r->path), r->path);
	base++;
	char *slash;
	while ((slash = strrchr(dir, '/'))) {
		*slash = 0;
		snprintf(cand, sizeof cand, "%s/%s", dir, base);
		if (try_path(r, cand, "the same name in a directory above"))
			return 1;
	}
	return 0;
}

void inspect_resolve(struct inspect_report *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct inspect_report *p = &r[i];
		const char *rest;
		if (!p->unresolved || !p->has_vfs || !p->path)
			continue;
		for (size_t k = 0; k < p->nlisteners; k++)
			if (resolve_via(p, p->listeners[k].pid))
				break;
		if (!p->unresolved || try_above(p))
			continue;
		if (p->path[0] == '/' && proc_fd_name(p->path, &rest) < 0) {
			/* an ordinary name that leads nowhere now */
			p->unresolved = 0;
			p->file_gone = 1;
			free(p->note);
			p->note = strdup("its file has been removed or replaced");
		} else {
			free(p->note);
			if (asprintf(&p->note, "bound as %s, a name that only "
				     "means something to its process%s", p->path,
				     p->procs_partial ? " (run as root to find "
				     "its file)" : "") < 0)
				p->note = NULL;
		}
	}
}
