/* fuzz_acl.c — sockinfo's "may this user connect?" from a file's POSIX
 * ACL: perm_acl_parse() on any xattr value, then perm_eval() against the
 * kernel's posix_acl_permission() rewritten here, for every ACL the
 * kernel would store (posix_acl_valid(), also rewritten here).
 *
 * Input: 16 bytes of who asks and about what (uid, gid, two more groups,
 * the file's owner and group chosen among a few ids, the mode, the access
 * wanted, the reason buffer's size), then the xattr value. */
#include <sys/stat.h>

#include "fuzz.h"
#include "inspect/perm.h"

static const uint32_t ids[8] = { 0, 1, 1000, 1001, 1002, 65534, 4242, 7 };

/* posix_acl_valid(): permissions in rwx, tags in order, one USER_OBJ,
 * GROUP_OBJ and OTHER, and a MASK when there are named entries. */
static int ref_valid(const struct perm_acl *a)
{
	int state = PERM_ACL_USER_OBJ, needs_mask = 0;
	for (int i = 0; i < a->n; i++) {
		if (a->e[i].perm & ~7u)
			return 0;
		switch (a->e[i].tag) {
		case PERM_ACL_USER_OBJ:
			if (state != PERM_ACL_USER_OBJ)
				return 0;
			state = PERM_ACL_USER;
			break;
		case PERM_ACL_USER:
			if (state != PERM_ACL_USER)
				return 0;
			needs_mask = 1;
			break;
		case PERM_ACL_GROUP_OBJ:
			if (state != PERM_ACL_USER)
				return 0;
			state = PERM_ACL_GROUP;
			break;
		case PERM_ACL_GROUP:
			if (state != PERM_ACL_GROUP)
				return 0;
			needs_mask = 1;
			break;
		case PERM_ACL_MASK:
			if (state != PERM_ACL_GROUP)
				return 0;
			state = PERM_ACL_OTHER;
			break;
		case PERM_ACL_OTHER:
			if (state != PERM_ACL_OTHER && (state != PERM_ACL_GROUP || needs_mask))
				return 0;
			state = 0;
			break;
		default:
			return 0;
		}
	}
	return state == 0;
}

/* U's groups hold its primary group too (as perm_user_self fills them). */
static int in_groups(const struct perm_user *u, uint32_t g)
{
	const gid_t *end = u->groups + u->ngroups;
	for (const gid_t *p = u->groups; p < end; p++)
		if (*p == g)
			return 1;
	return 0;
}

/* posix_acl_permission(), for a valid ACL: 1 granted, 0 denied. */
static int ref_acl(const struct perm_user *u, uint32_t fuid, uint32_t fgid,
		   const struct perm_acl *a, unsigned want)
{
	int found = 0, i;
	for (i = 0; i < a->n; i++) {
		unsigned perm = a->e[i].perm;
		switch (a->e[i].tag) {
		case PERM_ACL_USER_OBJ:
			if (u->uid == fuid)
				return (perm & want) == want;
			break;
		case PERM_ACL_USER:
			if (a->e[i].id == u->uid)
				goto mask;
			break;
		case PERM_ACL_GROUP_OBJ:
		case PERM_ACL_GROUP:
			if (in_groups(u, a->e[i].tag == PERM_ACL_GROUP ? a->e[i].id : fgid)) {
				found = 1;
				if ((perm & want) == want)
					goto mask;
			}
			break;
		case PERM_ACL_OTHER:
			return found ? 0 : (perm & want) == want;
		}
	}
	return 0;
mask:
	for (int k = i + 1; k < a->n; k++)
		if (a->e[k].tag == PERM_ACL_MASK)
			return (a->e[i].perm & a->e[k].perm & want) == want;
	return (a->e[i].perm & want) == want;
}

/* The mode bits alone. */
static int ref_mode(const struct perm_user *u, uint32_t fuid, uint32_t fgid,
		    mode_t mode, unsigned want)
{
	unsigned bits = u->uid == fuid ? mode >> 6 : in_groups(u, fgid) ? mode >> 3 : mode;
	return (bits & 7 & want) == want;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct perm_user u;
	static struct perm_acl acl;
	static gid_t groups[3];

	if (size < 16)
		return 0;
	memset(&u, 0, sizeof u);
	u.groups = groups;
	u.uid = ids[data[0] & 7];
	u.gid = ids[data[1] & 7];
	u.groups[u.ngroups++] = ids[data[2] & 7];
	u.groups[u.ngroups++] = ids[data[3] & 7];
	u.groups[u.ngroups++] = u.gid;
	uint32_t fuid = ids[data[4] & 7], fgid = ids[data[5] & 7];
	mode_t mode = (mode_t)((data[6] | data[7] << 8) & 07777);
	unsigned want = data[8] & 7;
	size_t n = 1 + data[9] % 128;

	int r = perm_acl_parse(&acl, data + 16, size - 16);
	if (r < 0) {
		FUZZ_CHECK(acl.n == 0 || acl.n <= PERM_ACL_MAX, "%d entries", acl.n);
		return 0;
	}
	FUZZ_CHECK(acl.n == (int)((size - 20) / 8), "%d entries from %zu bytes",
		   acl.n, size - 16);
	char *why = malloc(n);
	int got = perm_eval(&u, mode, fuid, fgid, &acl, (int)want, why, n);
	FUZZ_CHECK(strlen(why) < n, "reason not terminated");
	/* acl_permission_check: the ACL only when the group bits grant some */
	int want_r = u.uid == 0 ? 1 : acl.n && (mode & 0070) ?
		     ref_acl(&u, fuid, fgid, &acl, want) :
		     ref_mode(&u, fuid, fgid, mode, want);
	/* the kernel stores only valid ACLs: judge perm_eval on those */
	if (!acl.n || ref_valid(&acl))
		FUZZ_CHECK(got == want_r, "uid %u: perm_eval says %d, the kernel %d (%s)",
			   (unsigned)u.uid, got, want_r, why);
	free(why);
	return 0;
}
