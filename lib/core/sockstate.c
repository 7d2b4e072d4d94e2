/* sockstate.c — is anything listening on a socket file?  Asked of the
 * kernel's socket diagnostics by inode, without connecting, so that a
 * live server never sees a probe. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "diag.h"
#include "procscan.h"

int sock_file_state(const struct stat *st, uint32_t *sockino)
{
	struct diag_unix_set s = { 0 };
	int state = 0;

	*sockino = 0;
	if (diag_unix_dump(&s, DIAG_LISTENERS) < 0)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		const struct diag_unix *u = &s.v[i];
		if (!diag_vfs_match(u, st->st_dev, st->st_ino))
			continue;
		int v = u->state == DIAG_LISTEN ? 2 :
			u->state == DIAG_CLOSE && u->type == SOCK_DGRAM ? 2 :
			u->state == DIAG_CLOSE ? 1 : 0;
		if (v > state) {
			state = v;
			*sockino = u->ino;
		}
	}
	diag_unix_free(&s);
	return state;
}

pid_t sock_inode_owner(uint32_t sockino)
{
	struct procscan ps = { 0 };
	pid_t pid = 0;
	size_t first;

	if (procscan_run(&ps, &sockino, 1) == 0 &&
	    procscan_find(&ps, sockino, &first))
		pid = ps.v[first].pid;
	procscan_free(&ps);
	return pid;
}
