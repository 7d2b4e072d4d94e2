/* ready.h — telling whoever started us that we are ready: a line on a
 * file descriptor (--ready-fd, as s6's notification-fd), and systemd's
 * notification protocol (sd_notify(3): datagrams to $NOTIFY_SOCKET). */
#ifndef USOCK_READY_H
#define USOCK_READY_H

#include <sys/socket.h>
#include <sys/un.h>

/* Write TEXT (lines, each ending in "\n") to FD in full, then close
 * FD; 1 and 2 are pointed at /dev/null instead, so that they stay
 * open.  Waits for a full pipe.  0, or -1 with errno (EPIPE: nobody
 * reads FD; EBADF: FD is not open); FD is closed either way. */
int ready_fd_write(int fd, const char *text);

/* The supervisor's notification socket. */
struct notify {
	int fd;                  /* -1: not notifying */
	struct sockaddr_un sa;
	socklen_t len;
};

/* Take $NOTIFY_SOCKET (a path starting with '/', or '@' for the
 * abstract namespace) into N, and remove it from the environment so
 * that commands we start do not notify in our name.  Returns 1 when it
 * is set, 0 when it is not (n->fd -1), -1 with errno when it is unusable
 * (EAFNOSUPPORT: another form, such as vsock:; ENAMETOOLONG: past the
 * 108 bytes of sun_path; or socket()'s errno). */
int notify_open(struct notify *n);
/* Send STATE, newline-separated assignments such as "READY=1" or
 * "STATUS=...", as one datagram.  With WAIT 0 it never blocks (a full
 * queue drops it: EAGAIN); else it waits at most one second.  A no-op
 * (0) when N is not notifying.  0, or -1 with errno. */
int notify_send(struct notify *n, const char *state, int wait);
/* Close N's socket. */
void notify_close(struct notify *n);

#endif
