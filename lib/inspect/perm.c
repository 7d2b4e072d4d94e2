/* perm.c — may a user connect to a UNIX socket file, and why (not)?
 * The kernel answers for the caller (faccessat AT_EACCESS) and, as root,
 * for another user in a child that becomes that user; otherwise the
 * answer is worked out from the mode bits and POSIX ACLs. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "perm.h"

/* Set V's reason. */
static void because(struct perm_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void because(struct perm_verdict *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof v->reason, fmt, ap);
	va_end(ap);
}

const char *perm_id_name(unsigned id, int group)
{
	static struct { unsigned id; int group, used; char name[64]; } cache[512];
	static char spare[64];
	unsigned h = (id * 2654435761u + (unsigned)group) % 512;
	for (unsigned i = 0; i < 512 && cache[h].used; i++, h = (h + 1) % 512)
		if (cache[h].id == id && cache[h].group == group)
			return cache[h].name;
	char *name = cache[h].used ? spare : cache[h].name; /* full: no caching */
	const char *found = NULL;
	if (group) {
		struct group *g = getgrgid((gid_t)id);
		found = g ? g->gr_name : NULL;
	} else {
		struct passwd *p = getpwuid((uid_t)id);
		found = p ? p->pw_name : NULL;
	}
	if (found)
		snprintf(name, 64, "%s", found);
	else
		snprintf(name, 64, "%u", id);
	if (name != spare) {
		cache[h].used = 1;
		cache[h].id = id;
		cache[h].group = group;
	}
	return name;
}

static const char *user_name(uid_t uid, char *buf, size_t n)
{
	snprintf(buf, n, "%s", perm_id_name((unsigned)uid, 0));
	return buf;
}

static const char *group_name(gid_t gid, char *buf, size_t n)
{
	snprintf(buf, n, "%s", perm_id_name((unsigned)gid, 1));
	return buf;
}

/* U's groups from the group database for NAME with primary group
 * U->gid: as many as there are (the buffer grows until getgrouplist(3)
 * says they fit).  0, or -1 with errno ENOMEM. */
static int fill_groups(struct perm_user *u, const char *name)
{
	int cap = 64;
	for (;;) {
		gid_t *g = realloc(u->groups, (size_t)cap * sizeof *g);
		if (!g)
			return -1;
		u->groups = g;
		int ng = cap;
		if (getgrouplist(name, u->gid, u->groups, &ng) >= 0) {
			u->ngroups = ng;
			return 0;
		}
		/* glibc sets ng to the number needed; others may not */
		if (ng <= cap)
			ng = cap * 2;
		if (ng > 1 << 20) {
			errno = ENOMEM;
			return -1;
		}
		cap = ng;
	}
}

/* A decimal id into *ID: 0, or -1 when S is not one (or is -1). */
static int parse_id(const char *s, unsigned *id)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno || v >= UINT_MAX)
		return -1;
	*id = (unsigned)v;
	return 0;
}

int perm_user_lookup(struct perm_user *u, const char *spec, const char **why)
{
	char user[256];
	const char *colon = strchr(spec, ':');
	size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
	unsigned id;

	memset(u, 0, sizeof *u);
	*why = "no such user";
	if (!ulen || ulen >= sizeof user) {
		errno = ENOENT;
		return -1;
	}
	memcpy(user, spec, ulen);
	user[ulen] = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw && parse_id(user, &id) == 0)
		pw = getpwuid((uid_t)id);
	if (pw) {
		u->uid = pw->pw_uid;
		u->gid = pw->pw_gid;
		snprintf(u->name, sizeof u->name, "%s", pw->pw_name);
	} else if (parse_id(user, &id) == 0) {
		u->uid = (uid_t)id;
		u->gid = (gid_t)id; /* the user-private-group convention */
		u->gid_assumed = 1;
		snprintf(u->name, sizeof u->name, "%u", id);
	} else {
		errno = ENOENT;
		return -1;
	}
	if (colon) {
		struct group *gr = colon[1] ? getgrnam(colon + 1) : NULL;
		*why = colon[1] ? "no such group" : "no group after the colon";
		if (gr)
			u->gid = gr->gr_gid;
		else if (parse_id(colon + 1, &id) == 0)
			u->gid = (gid_t)id;
		else {
			errno = colon[1] ? ESRCH : ENOENT;
			return -1;
		}
		u->gid_given = 1;
		u->gid_assumed = 0;
	}
	if (pw && fill_groups(u, u->name) < 0) {
		*why = strerror(errno);
		perm_user_free(u);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int perm_user_self(struct perm_user *u)
{
	memset(u, 0, sizeof *u);
	u->uid = geteuid();
	u->gid = getegid();
	u->self = 1;
	user_name(u->uid, u->name, sizeof u->name);
	for (;;) {
		int n = getgroups(0, NULL);
		if (n < 0)
			n = 0;
		gid_t *g = realloc(u->groups, ((size_t)n + 1) * sizeof *g);
		if (!g) {
			perm_user_free(u);
			errno = ENOMEM;
			return -1;
		}
		u->groups = g;
		int got = n ? getgroups(n, u->groups) : 0;
		if (got >= 0) {
			u->ngroups = got;
			break;
		}
		if (errno != EINVAL) /* EINVAL: they grew meanwhile */
			break;
	}
	u->groups[u->ngroups++] = u->gid;
	return 0;
}

void perm_user_free(struct perm_user *u)
{
	free(u->groups);
	u->groups = NULL;
	u->ngroups = 0;
}

static int in_group(const struct perm_user *u, gid_t g)
{
	if (u->gid == g)
		return 1;
	for (int i = 0; i < u->ngroups; i++)
		if (u->groups[i] == g)
			return 1;
	return 0;
}

int perm_acl_parse(struct perm_acl *acl, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	acl->n = 0;
	/* little-endian: u32 version 2, then {u16 tag, u16 perm, u32 id} */
	if (len < 4 || (len - 4) % 8 || p[0] != 2 || p[1] || p[2] || p[3]) {
		errno = EINVAL;
		return -1;
	}
	for (size_t off = 4; off < len; off += 8) {
		if (acl->n == PERM_ACL_MAX) {
			errno = EINVAL;
			return -1;
		}
		acl->e[acl->n].tag = (uint16_t)(p[off] | p[off + 1] << 8);
		acl->e[acl->n].perm = (uint16_t)(p[off + 2] | p[off + 3] << 8);
		acl->e[acl->n].id = (uint32_t)p[off + 4] | (uint32_t)p[off + 5] << 8 |
				    (uint32_t)p[off + 6] << 16 | (uint32_t)p[off + 7] << 24;
		acl->n++;
	}
	return 0;
}

int perm_acl_read(const char *path, struct perm_acl *acl)
{
	unsigned char buf[4 + 8 * PERM_ACL_MAX];
	ssize_t n = getxattr(path, "system.posix_acl_access", buf, sizeof buf);
	if (n <= 0 || perm_acl_parse(acl, buf, (size_t)n) < 0) {
		acl->n = 0;
		return 0;
	}
	return 1;
}

static const char *bits_str(unsigned b, char *s)
{
	s[0] = b & 4 ? 'r' : '-';
	s[1] = b & 2 ? 'w' : '-';
	s[2] = b & 1 ? 'x' : '-';
	s[3] = 0;
	return s;
}

/* The kernel's posix_acl_permission(), explaining itself in WHY. */
static int acl_eval(const struct perm_user *u, uid_t fuid, gid_t fgid,
		    const struct perm_acl *acl, int want, char *why, size_t n)
{
	unsigned mask = 7;
	int found = 0, hit = -1;
	char name[64], b[4];
	const char *first_group = NULL;
	char gbuf[64];

	for (int i = 0; i < acl->n; i++)
		if (acl->e[i].tag == PERM_ACL_MASK)
			mask = acl->e[i].perm & 7;
	for (int i = 0; i < acl->n && hit < 0; i++) {
		unsigned perm = acl->e[i].perm & 7;
		switch (acl->e[i].tag) {
		case PERM_ACL_USER_OBJ:
			if (u->uid == fuid) {
				snprintf(why, n, "its owner %s",
					 user_name(fuid, name, sizeof name));
				return (perm & (unsigned)want) == (unsigned)want;
			}
			break;
		case PERM_ACL_USER:
			if (acl->e[i].id == u->uid)
				hit = i;
			break;
		case PERM_ACL_GROUP_OBJ:
		case PERM_ACL_GROUP: {
			gid_t g = acl->e[i].tag == PERM_ACL_GROUP ?
				  (gid_t)acl->e[i].id : fgid;
			if (!in_group(u, g))
				break;
			if (!found)
				first_group = group_name(g, gbuf, sizeof gbuf);
			found = 1;
			if ((perm & (unsigned)want) == (unsigned)want)
				hit = i;
			break;
		}
		case PERM_ACL_OTHER:
			if (found) {
				snprintf(why, n, "group %s (ACL)", first_group);
				return 0;
			}
			snprintf(why, n, "others");
			return (perm & (unsigned)want) == (unsigned)want;
		}
	}
	if (hit < 0) {
		snprintf(why, n, "others (ACL)");
		return 0;
	}
	unsigned perm = acl->e[hit].perm & 7;
	if (acl->e[hit].tag == PERM_ACL_USER)
		snprintf(why, n, "the ACL entry for user %s",
			 user_name(u->uid, name, sizeof name));
	else
		snprintf(why, n, "group %s (ACL)",
			 acl->e[hit].tag == PERM_ACL_GROUP ?
			 group_name((gid_t)acl->e[hit].id, gbuf, sizeof gbuf) :
			 group_name(fgid, gbuf, sizeof gbuf));
	if ((perm & mask & (unsigned)want) == (unsigned)want)
		return 1;
	if ((perm & (unsigned)want) == (unsigned)want) {
		size_t l = strlen(why);
		snprintf(why + l, n - l, ", cut by the ACL mask %s",
			 bits_str(mask, b));
	}
	return 0;
}

int perm_eval(const struct perm_user *u, mode_t mode, uid_t uid, gid_t gid,
	      const struct perm_acl *acl, int want, char *why, size_t n)
{
	char name[64];
	unsigned bits;

	if (u->uid == 0) {
		snprintf(why, n, "root");
		return 1;
	}
	/* the kernel consults an ACL only when the group class (the mask)
	 * grants something: with mask ---, named entries count for nothing
	 * and the mode bits decide (acl_permission_check) */
	if (acl && acl->n && (mode & 0070))
		return acl_eval(u, uid, gid, acl, want, why, n);
	if (u->uid == uid) {
		bits = (mode >> 6) & 7;
		snprintf(why, n, "its owner %s", user_name(uid, name, sizeof name));
	} else if (in_group(u, gid)) {
		bits = (mode >> 3) & 7;
		snprintf(why, n, "group %s", group_name(gid, name, sizeof name));
	} else {
		bits = mode & 7;
		snprintf(why, n, "others");
	}
	return (bits & (unsigned)want) == (unsigned)want;
}

/* PATH made absolute (not resolved: symlinks stay) into OUT. */
static int absolute(const char *path, char *out, size_t n)
{
	if (path[0] == '/') {
		if (strlen(path) >= n) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(out, path, strlen(path) + 1);
		return 0;
	}
	if (!getcwd(out, n))
		return -1;
	size_t l = strlen(out);
	int r = snprintf(out + l, n - l, "%s%s", l > 1 ? "/" : "", path);
	if (r < 0 || (size_t)r >= n - l) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The directories above ABS, one at a time: "/", "/run", "/run/app".
 * *pos starts at 0; returns 0 when the next prefix is in DIR, -1 at the
 * end (DIR then holds ABS itself). */
static int next_dir(const char *abs, size_t *pos, char *dir, size_t n)
{
	size_t p = *pos;
	if (p == 0) {
		*pos = 1;
		snprintf(dir, n, "/");
		return 0;
	}
	while (abs[p] == '/')
		p++;
	const char *slash = strchr(abs + p, '/');
	size_t end = slash ? (size_t)(slash - abs) : strlen(abs);
	const char *rest = abs + end;
	while (*rest == '/')
		rest++;
	snprintf(dir, n, "%.*s", (int)end, abs);
	*pos = end;
	return slash && *rest ? 0 : -1;
}

/* "(mode 0660, owner root, group www-data)" for ST. */
static void describe(const struct stat *st, int has_acl, char *buf, size_t n)
{
	char u[64], g[64];
	snprintf(buf, n, "(mode %04o%s, owner %s, group %s)",
		 (unsigned)(st->st_mode & 07777), has_acl ? "+acl" : "",
		 user_name(st->st_uid, u, sizeof u),
		 group_name(st->st_gid, g, sizeof g));
}

/* Set V's reason for the directory DIR that U may not search. */
static void deny_dir(const struct perm_user *u, const char *dir,
		     struct perm_verdict *v)
{
	struct stat st;
	struct perm_acl acl;
	char who[256], desc[256];
	if (stat(dir, &st) < 0) {
		because(v,
			 "search permission denied on %s", dir);
		return;
	}
	int has = perm_acl_read(dir, &acl);
	perm_eval(u, st.st_mode, st.st_uid, st.st_gid, has ? &acl : NULL, 1,
		  who, sizeof who);
	describe(&st, has, desc, sizeof desc);
	because(v,
		 "search permission denied on %s for %s %s", dir, who, desc);
}

/* Set V's reason from the socket file itself (write permission). */
static void judge_file(const struct perm_user *u, const char *abs,
		       const struct stat *st, struct perm_verdict *v)
{
	struct perm_acl acl;
	char who[256], desc[256];
	int has = perm_acl_read(abs, &acl);
	int ok = perm_eval(u, st->st_mode, st->st_uid, st->st_gid,
			   has ? &acl : NULL, 2, who, sizeof who);
	describe(st, has, desc, sizeof desc);
	if (u->uid == 0)
		because(v,
			 "root may connect whatever the file permissions %s", desc);
	else if (ok == v->can)
		because(v, ok ?
			 "write permission on %s granted to %s %s" :
			 "no write permission on %s for %s %s", abs, who, desc);
	else
		because(v,
			 "the kernel %s write access to %s %s", v->can ? "allows" : "denies",
			 abs, desc);
}

/* Explain why PATH (absolute) cannot be looked up: a missing component. */
static void missing(const char *abs, int e, struct perm_verdict *v)
{
	char dir[PATH_MAX];
	size_t pos = 0;
	struct stat st;
	int more;
	do {
		more = next_dir(abs, &pos, dir, sizeof dir) == 0;
		if (!more)
			snprintf(dir, sizeof dir, "%s", abs);
		if (stat(dir, &st) < 0) {
			if (errno == ENOENT)
				because(v, "%s does not exist", dir);
			else
				because(v, "%s: %s", dir,
					 strerror(errno));
			return;
		}
		if (more && !S_ISDIR(st.st_mode)) {
			because(v, "%s is not a directory", dir);
			return;
		}
	} while (more);
	because(v, "%s: %s", abs, strerror(e));
}

/* perm_check_self for ABS (absolute) as SELF. */
static int check_self(const char *abs, const struct perm_user *self,
		      struct perm_verdict *v)
{
	char dir[PATH_MAX];
	struct stat st;
	if (faccessat(AT_FDCWD, abs, W_OK, AT_EACCESS) == 0) {
		v->can = 1;
		if (stat(abs, &st) == 0)
			judge_file(self, abs, &st, v);
		else
			because(v, "write access to %s", abs);
		return 0;
	}
	int e = errno;
	if (e != EACCES && e != EPERM) {
		missing(abs, e, v);
		return 0;
	}
	size_t pos = 0;
	while (next_dir(abs, &pos, dir, sizeof dir) == 0) {
		if (faccessat(AT_FDCWD, dir, X_OK, AT_EACCESS) < 0 &&
		    (errno == EACCES || errno == EPERM)) {
			deny_dir(self, dir, v);
			return 0;
		}
	}
	if (stat(abs, &st) == 0)
		judge_file(self, abs, &st, v);
	else
		because(v, "no write permission on %s", abs);
	return 0;
}

int perm_check_self(const char *path, struct perm_verdict *v)
{
	char abs[PATH_MAX];
	struct perm_user self;

	memset(v, 0, sizeof *v);
	v->exact = 1;
	if (absolute(path, abs, sizeof abs) < 0 || perm_user_self(&self) < 0)
		return -1;
	int r = check_self(abs, &self, v);
	perm_user_free(&self);
	return r;
}

int perm_estimate(const char *path, const struct perm_user *u,
		  struct perm_verdict *v)
{
	char abs[PATH_MAX], dir[PATH_MAX], who[256];
	struct stat st;
	struct perm_acl acl;
	size_t pos = 0;

	memset(v, 0, sizeof *v);
	if (absolute(path, abs, sizeof abs) < 0)
		return -1;
	while (next_dir(abs, &pos, dir, sizeof dir) == 0) {
		if (stat(dir, &st) < 0) {
			if (errno == EACCES)
				because(v,
					 "cannot tell: %s cannot be searched by the caller", dir);
			else
				missing(abs, errno, v);
			return 0;
		}
		int has = perm_acl_read(dir, &acl);
		if (!perm_eval(u, st.st_mode, st.st_uid, st.st_gid,
			       has ? &acl : NULL, 1, who, sizeof who)) {
			deny_dir(u, dir, v);
			goto estimate;
		}
	}
	if (stat(abs, &st) < 0) {
		missing(abs, errno, v);
		return 0;
	}
	int has = perm_acl_read(abs, &acl);
	v->can = perm_eval(u, st.st_mode, st.st_uid, st.st_gid,
			   has ? &acl : NULL, 2, who, sizeof who);
	judge_file(u, abs, &st, v);
estimate:;
	size_t l = strlen(v->reason);
	snprintf(v->reason + l, sizeof v->reason - l,
		 "; estimated from the mode bits (run as root for an exact answer)");
	if (u->gid_assumed)
		perm_gid_assumed(u, v);
	return 0;
}

/* In the child: become U, judge each path, write the verdicts to FD. */
static _Noreturn void check_child(const struct perm_user *u,
				  const char *const *paths, size_t n, int fd)
{
	struct perm_verdict v;
	int bad = setgroups((size_t)u->ngroups, u->groups) < 0 ||
		  setgid(u->gid) < 0 || setuid(u->uid) < 0;
	int e = errno;
	for (size_t i = 0; i < n; i++) {
		if (bad) {
			memset(&v, 0, sizeof v);
			because(&v, "cannot become %s: %s",
				 u->name, strerror(e));
		} else if (perm_check_self(paths[i], &v) < 0) {
			memset(&v, 0, sizeof v);
			because(&v, "%s: %s", paths[i],
				 strerror(errno));
		}
		const char *p = (const char *)&v;
		size_t left = sizeof v;
		while (left) {
			ssize_t w = write(fd, p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(1);
			p += w;
			left -= (size_t)w;
		}
	}
	_exit(0);
}

int perm_check_as(const struct perm_user *u, const char *const *paths,
		  size_t n, struct perm_verdict *v)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		check_child(u, paths, n, pfd[1]);
	}
	close(pfd[1]);
	char *p = (char *)v;
	size_t left = n * sizeof *v;
	int r = 0, e = 0;
	while (left) {
		ssize_t got = read(pfd[0], p, left);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			e = got < 0 ? errno : EPIPE;
			r = -1;
			break;
		}
		p += got;
		left -= (size_t)got;
	}
	close(pfd[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	for (size_t i = 0; r == 0 && u->gid_assumed && i < n; i++)
		perm_gid_assumed(u, &v[i]);
	errno = e;
	return r;
}

void perm_gid_assumed(const struct perm_user *u, struct perm_verdict *v)
{
	size_t l = strlen(v->reason);
	v->exact = 0;
	snprintf(v->reason + l, sizeof v->reason - l,
		 "; uid %u has no passwd entry: checked as gid %u with no "
		 "supplementary groups (name one with -u %u:GROUP)",
		 (unsigned)u->uid, (unsigned)u->gid, (unsigned)u->uid);
}

/* ---- who may reach a file ---- */

void perm_chain_free(struct perm_chain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		free(ch->v[i].path);
	free(ch->v);
	ch->v = NULL;
	ch->n = 0;
}

int perm_chain_load(struct perm_chain *ch, const char *abs, char *bad,
		    size_t nbad)
{
	char dir[PATH_MAX];
	size_t pos = 0, cap = 8;
	int more;

	ch->n = 0;
	ch->v = malloc(cap * sizeof *ch->v);
	if (!ch->v)
		return -1;
	if (abs[0] != '/') {
		snprintf(bad, nbad, "%s", abs);
		errno = EINVAL;
		goto fail;
	}
	do {
		more = next_dir(abs, &pos, dir, sizeof dir) == 0;
		if (!more)
			snprintf(dir, sizeof dir, "%s", abs);
		if (ch->n == cap) {
			struct perm_node *v = realloc(ch->v, 2 * cap * sizeof *v);
			if (!v)
				goto fail;
			ch->v = v;
			cap *= 2;
		}
		struct perm_node *nd = &ch->v[ch->n];
		if (lstat(dir, &nd->st) < 0 || !(nd->path = strdup(dir))) {
			snprintf(bad, nbad, "%s", dir);
			goto fail;
		}
		ch->n++;
		if (more && !S_ISDIR(nd->st.st_mode)) {
			snprintf(bad, nbad, "%s", dir);
			errno = S_ISLNK(nd->st.st_mode) ? ELOOP : ENOTDIR;
			goto fail;
		}
		nd->has_acl = perm_acl_read(dir, &nd->acl);
	} while (more);
	return 0;
fail:;
	int e = errno;
	perm_chain_free(ch);
	errno = e;
	return -1;
}

int perm_chain_allows(const struct perm_chain *ch, size_t upto, int want,
		      const struct perm_user *u)
{
	char why[256];
	for (size_t i = 0; i <= upto && i < ch->n; i++) {
		const struct perm_node *nd = &ch->v[i];
		if (!perm_eval(u, nd->st.st_mode, nd->st.st_uid, nd->st.st_gid,
			       nd->has_acl ? &nd->acl : NULL, i < upto ? 1 : want,
			       why, sizeof why))
			return 0;
	}
	return 1;
}

/* Append ", TEXT" (or TEXT) to BUF of N bytes holding *L of them. */
static void add_who(char *buf, size_t n, size_t *l, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add_who(char *buf, size_t n, size_t *l, const char *fmt, ...)
{
	va_list ap;
	if (*l >= n)
		return;
	if (*l) {
		int r = snprintf(buf + *l, n - *l, ", ");
		*l += r > 0 ? (size_t)r : 0;
		if (*l >= n)
			return;
	}
	va_start(ap, fmt);
	int r = vsnprintf(buf + *l, n - *l, fmt, ap);
	va_end(ap);
	*l += r > 0 ? (size_t)r : 0;
}

/* Add ID to the set V of *N (at most MAX) if it is not there. */
static void add_id(unsigned *v, size_t *n, size_t max, unsigned id)
{
	for (size_t i = 0; i < *n; i++)
		if (v[i] == id)
			return;
	if (*n < max)
		v[(*n)++] = id;
}

#define WHO_MAX 32

int perm_who(const struct perm_chain *ch, size_t upto, int want,
	     uid_t exclude, char *buf, size_t n)
{
	unsigned gids[WHO_MAX], uids[WHO_MAX];
	size_t ng = 0, nu = 0, l = 0;
	int reached[WHO_MAX] = { 0 };
	gid_t two[2];
	/* a user that owns nothing and is in no group named on the way */
	struct perm_user u = { .uid = (uid_t)-2, .gid = (gid_t)-2,
			       .groups = two };

	buf[0] = 0;
	if (perm_chain_allows(ch, upto, want, &u)) {
		snprintf(buf, n, "any local user");
		return 2;
	}
	for (size_t i = 0; i <= upto && i < ch->n; i++) {
		const struct perm_node *nd = &ch->v[i];
		if (nd->st.st_gid)
			add_id(gids, &ng, WHO_MAX, (unsigned)nd->st.st_gid);
		add_id(uids, &nu, WHO_MAX, (unsigned)nd->st.st_uid);
		for (int k = 0; nd->has_acl && k < nd->acl.n; k++) {
			if (nd->acl.e[k].tag == PERM_ACL_GROUP && nd->acl.e[k].id)
				add_id(gids, &ng, WHO_MAX, nd->acl.e[k].id);
			if (nd->acl.e[k].tag == PERM_ACL_USER)
				add_id(uids, &nu, WHO_MAX, nd->acl.e[k].id);
		}
	}
	/* a member of one group named on the way, then of two */
	u.ngroups = 1;
	for (size_t i = 0; i < ng; i++) {
		two[0] = (gid_t)gids[i];
		if ((reached[i] = perm_chain_allows(ch, upto, want, &u)))
			add_who(buf, n, &l, "group %s", perm_id_name(gids[i], 1));
	}
	u.ngroups = 2;
	for (size_t i = 0; i < ng; i++)
		for (size_t k = i + 1; k < ng; k++) {
			if (reached[i] || reached[k])
				continue;
			two[0] = (gid_t)gids[i];
			two[1] = (gid_t)gids[k];
			if (perm_chain_allows(ch, upto, want, &u)) {
				char a[64];
				snprintf(a, sizeof a, "%s", perm_id_name(gids[i], 1));
				add_who(buf, n, &l, "members of both groups %s and %s",
					a, perm_id_name(gids[k], 1));
			}
		}
	/* the users named on the way, with their own groups */
	for (size_t i = 0; i < nu; i++) {
		struct perm_user who = { .uid = (uid_t)uids[i] };
		struct passwd *pw;
		if (!uids[i] || uids[i] == (unsigned)exclude)
			continue;
		pw = getpwuid(who.uid);
		who.gid = pw ? pw->pw_gid : (gid_t)-2;
		if (pw && fill_groups(&who, pw->pw_name) < 0)
			who.ngroups = 0;
		int ok = perm_chain_allows(ch, upto, want, &who);
		for (size_t k = 0; ok && k < ng; k++)
			if (reached[k] && in_group(&who, (gid_t)gids[k]))
				ok = 0; /* said already: "group X" */
		if (ok)
			add_who(buf, n, &l, "user %s", perm_id_name(uids[i], 0));
		perm_user_free(&who);
	}
	return l > 0;
}
