/* ready.c — readiness: a line on a descriptor, and the systemd
 * notification datagram (protocol: sd_notify(3), "NOTIFY_SOCKET"). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ready.h"

int ready_fd_write(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;
	int rc = 0;

	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { fd, POLLOUT, 0 };
			poll(&p, 1, -1);
			continue;
		}
		rc = -1;
		break;
	}
	int e = errno;
	if (fd <= 2) {
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (nul >= 0) {
			dup2(nul, fd);
			close(nul);
		}
	} else {
		close(fd);
	}
	errno = e;
	return rc;
}

int notify_open(struct notify *n)
{
	const char *s = getenv("NOTIFY_SOCKET");
	size_t len;

	n->fd = -1;
	if (!s || !*s)
		return 0;
	len = strlen(s);
	memset(&n->sa, 0, sizeof n->sa);
	n->sa.sun_family = AF_UNIX;
	if (s[0] != '/' && s[0] != '@') {
		unsetenv("NOTIFY_SOCKET");
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (len > sizeof n->sa.sun_path || (s[0] == '/' && len == sizeof n->sa.sun_path)) {
		unsetenv("NOTIFY_SOCKET");
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(n->sa.sun_path, s, len);
	if (s[0] == '@')
		n->sa.sun_path[0] = 0;        /* abstract: no terminating NUL */
	else
		len++;                        /* a path: count its NUL */
	n->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	unsetenv("NOTIFY_SOCKET");
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		return -1;
	struct timeval tv = { 1, 0 };
	setsockopt(n->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return 1;
}

int notify_send(struct notify *n, const char *state, int wait)
{
	if (n->fd < 0)
		return 0;
	ssize_t w;
	do
		w = sendto(n->fd, state, strlen(state),
			   MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT),
			   (struct sockaddr *)&n->sa, n->len);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -1 : 0;
}

void notify_close(struct notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
