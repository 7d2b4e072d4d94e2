/* perm.h — who may connect to a UNIX socket file: write permission on
 * the file and search permission on every directory above it, by owner,
 * group, supplementary groups, others and POSIX ACLs. */
#ifndef USOCK_PERM_H
#define USOCK_PERM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct perm_user {
	uid_t uid;
	gid_t gid;
	int ngroups;         /* supplementary groups (gid may be among them) */
	gid_t *groups;       /* malloc'd by perm_user_lookup/perm_user_self */
	char name[64];
	int self;            /* the effective credentials of this process */
	int gid_given;       /* USER:GROUP named the group */
	int gid_assumed;     /* a uid with no passwd entry and no :GROUP:
				gid is the uid, and verdicts are estimates */
};

struct perm_verdict {
	int can;             /* the file permissions let the user connect */
	int exact;           /* the kernel said so (else: from the mode bits) */
	char reason[768];
};

/* The credentials of SPEC: USER or USER:GROUP, each a name or a number.
 * USER with a passwd entry gets its primary group (or GROUP) and every
 * group the group database gives it (getgrouplist(3), however many:
 * what initgroups(3) gives a login).  A number with no passwd entry gets
 * GROUP, or the gid equal to the uid (gid_assumed), and no supplementary
 * groups.  0, or -1 with errno (ENOENT: no such user, ESRCH: no such
 * group, ENOMEM) and *why saying which. */
int perm_user_lookup(struct perm_user *u, const char *spec, const char **why);
/* The effective credentials of this process (all its groups).  0, or -1
 * with errno ENOMEM. */
int perm_user_self(struct perm_user *u);
/* Free what perm_user_lookup or perm_user_self allocated. */
void perm_user_free(struct perm_user *u);
/* The name of user (GROUP 0) or group ID, or the number; remembered, as
 * a listing may ask for the same ones thousands of times. */
const char *perm_id_name(unsigned id, int group);

/* May the calling process connect to PATH?  The kernel decides
 * (faccessat with AT_EACCESS); the reason names the permission bit and
 * the path component that decide.  Returns 0 (verdict in V) or -1. */
int perm_check_self(const char *path, struct perm_verdict *v);
/* May U connect to PATH?  Worked out from the mode bits and ACLs as far
 * as this process can see them (an estimate: v->exact is 0). */
int perm_estimate(const char *path, const struct perm_user *u,
		  struct perm_verdict *v);
/* As root: the kernel's answer for U on each of the N PATHS, from one
 * child that takes U's uid, gid and groups.  0, or -1 with errno. */
int perm_check_as(const struct perm_user *u, const char *const *paths,
		  size_t n, struct perm_verdict *v);

/* Mark V, worked out for U whose gid was assumed, as an estimate and
 * say so in its reason. */
void perm_gid_assumed(const struct perm_user *u, struct perm_verdict *v);

/* POSIX ACLs as Linux stores them in "system.posix_acl_access". */
#define PERM_ACL_USER_OBJ  0x01
#define PERM_ACL_USER      0x02
#define PERM_ACL_GROUP_OBJ 0x04
#define PERM_ACL_GROUP     0x08
#define PERM_ACL_MASK      0x10
#define PERM_ACL_OTHER     0x20
#define PERM_ACL_MAX 64

struct perm_acl {
	int n;
	struct { uint16_t tag, perm; uint32_t id; } e[PERM_ACL_MAX];
};
/* Parse the xattr value BUF of LEN bytes.  0, or -1 with errno EINVAL. */
int perm_acl_parse(struct perm_acl *acl, const void *buf, size_t len);
/* The access ACL of PATH: 1 when it has one (in ACL), 0 when not. */
int perm_acl_read(const char *path, struct perm_acl *acl);

/* Does U get the WANT bits (4 r, 2 w, 1 x) on a file of MODE, UID, GID
 * and ACL (or NULL)?  1 or 0; *why describes the class that decides
 * ("others", "group www-data", "its owner", "the ACL entry for user
 * bob ..."). */
int perm_eval(const struct perm_user *u, mode_t mode, uid_t uid, gid_t gid,
	      const struct perm_acl *acl, int want, char *why, size_t n);

/* The file system objects on the way to a file: "/", each directory,
 * the file itself (lstat: the path must hold no symbolic links). */
struct perm_node {
	char *path;
	struct stat st;
	int has_acl;
	struct perm_acl acl;
};
struct perm_chain {
	struct perm_node *v; /* v[0] is "/", v[n - 1] the file */
	size_t n;
};
/* Load the chain of ABS (absolute, resolved: realpath(3)).  0, or -1
 * with errno (EACCES, ENOENT, ELOOP for a symbolic link on the way, ...)
 * and the path that failed in BAD. */
int perm_chain_load(struct perm_chain *ch, const char *abs, char *bad,
		    size_t nbad);
void perm_chain_free(struct perm_chain *ch);
/* May U search v[0..UPTO) and have WANT (4 r, 2 w, 1 x) on v[UPTO]?
 * 1 or 0, from the mode bits and ACLs. */
int perm_chain_allows(const struct perm_chain *ch, size_t upto, int want,
		      const struct perm_user *u);
/* Who besides root and EXCLUDE may do that: 2 "any local user" (a user
 * who owns nothing and is in no group named on the way); 1 and a list
 * in BUF of the groups, pairs of groups and users named on the way that
 * may ("group docker, user alice"); 0 nobody. */
int perm_who(const struct perm_chain *ch, size_t upto, int want,
	     uid_t exclude, char *buf, size_t n);

#endif
