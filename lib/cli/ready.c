/* ready.c — the command-line side of readiness: --ready-fd values,
 * $NOTIFY_SOCKET, and the warnings when a supervisor cannot be told. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"

int opt_ready_fd(const char *opt, const char *s)
{
	int fd = (int)opt_ulong(opt, s, 1, INT_MAX);
	if (fd == 2)
		die(EXIT_USAGE, "%s: 2 is standard error, where messages go "
		    "(use --print-address)", opt);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		die(EXIT_USAGE, "%s: descriptor %d is not open", opt, fd);
	if ((fl & O_ACCMODE) == O_RDONLY)
		die(EXIT_USAGE, "%s: descriptor %d is open for reading only",
		    opt, fd);
	/* socket activation passes listeners from fd 3 up: writing the
	 * line into one and closing it would leave a tool serving nothing */
	int on = 0;
	socklen_t len = sizeof on;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on)
		die(EXIT_USAGE, "%s: descriptor %d is a listening socket", opt,
		    fd);
	return fd;
}

void cli_notify_open(struct notify *n)
{
	if (notify_open(n) < 0)
		log_warn("NOTIFY_SOCKET: %s; not notifying",
			 errno == EAFNOSUPPORT ? "not a path or @name" :
			 usock_strerror(errno));
}

void cli_notify(struct notify *n, const char *state, int wait)
{
	if (notify_send(n, state, wait) < 0 && (wait || errno != EAGAIN)) {
		log_warn("NOTIFY_SOCKET: %s", usock_strerror(errno));
		if (errno != EAGAIN && errno != ETIMEDOUT)
			notify_close(n); /* gone: say it once */
	}
}

void cli_ready(int *ready_fd, struct notify *n, const char *lines,
	       const char *status)
{
	if (*ready_fd >= 0) {
		if (ready_fd_write(*ready_fd, lines) < 0)
			log_warn("--ready-fd %d: %s", *ready_fd,
				 usock_strerror(errno));
		*ready_fd = -1;
	}
	if (n->fd >= 0) {
		char msg[1024];
		snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
		cli_notify(n, msg, 1);
	}
}
