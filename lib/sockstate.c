/* sockstate.c — is anything listening on a socket file?  Asked of the
 * kernel's socket diagnostics by inode, without connecting, so that a
 * live server never sees a probe. */
#include <dirent.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "usock.h"

/* The kernel reports a device as MAJOR << 20 | MINOR. */
static dev_t kdev_to_dev(uint32_t kdev)
{
	return makedev(kdev >> 20, kdev & 0xfffff);
}

/* Walk one sock_diag answer buffer; updates *state and *sockino. */
static int scan_replies(const char *buf, ssize_t len, const struct stat *st,
			int *state, uint32_t *sockino)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	for (; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *err = NLMSG_DATA(h);
			errno = -err->error;
			return -1;
		}
		const struct unix_diag_msg *m = NLMSG_DATA(h);
		const struct rtattr *rta = (const struct rtattr *)(m + 1);
		int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
		for (; RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
			if (rta->rta_type != UNIX_DIAG_VFS)
				continue;
			const struct unix_diag_vfs *v = RTA_DATA(rta);
			if (v->udiag_vfs_ino != (uint32_t)st->st_ino ||
			    kdev_to_dev(v->udiag_vfs_dev) != st->st_dev)
				continue;
			int s = m->udiag_state == TCP_LISTEN ? 2 :
				m->udiag_state == TCP_CLOSE ? 1 : 0;
			if (s > *state) {
				*state = s;
				*sockino = m->udiag_ino;
			}
		}
	}
	return 0;
}

int sock_file_state(const struct stat *st, uint32_t *sockino)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} req = {
		.nlh = { .nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_UNIX,
		       .udiag_states = (1 << TCP_LISTEN) | (1 << TCP_CLOSE),
		       .udiag_show = UDIAG_SHOW_VFS },
	};
	int state = 0, r = 0;
	*sockino = 0;
	if (send(fd, &req, sizeof req, 0) < 0)
		r = -1;
	static char buf[32768];
	while (r == 0) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = -1;
			break;
		}
		r = scan_replies(buf, n, st, &state, sockino);
	}
	int e = errno;
	close(fd);
	errno = e;
	return r < 0 ? -1 : state;
}

pid_t sock_inode_owner(uint32_t sockino)
{
	char want[32], path[600], link[64];
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!d)
		return 0;
	snprintf(want, sizeof want, "socket:[%u]", sockino);
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/fd", de->d_name);
		DIR *fds = opendir(path);
		if (!fds)
			continue;
		struct dirent *fe;
		while ((fe = readdir(fds))) {
			snprintf(path, sizeof path, "/proc/%s/fd/%s", de->d_name, fe->d_name);
			ssize_t n = readlink(path, link, sizeof link - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			if (!strcmp(link, want)) {
				found = (pid_t)atoi(de->d_name);
				break;
			}
		}
		closedir(fds);
	}
	closedir(d);
	return found;
}
