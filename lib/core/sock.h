/* sock.h — opening sockets: connecting, listening on socket files,
 * and whether a socket file is live. */
#ifndef USOCK_SOCK_H
#define USOCK_SOCK_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "addr.h"

/* ---- listen.c: listening sockets ---- */

struct listener {
	int fd;
	struct addr addr;  /* as asked; for TCP port 0 updated to the real port */
	int dirfd;         /* UNIX path: its directory, for removal at exit */
	char name[256];    /* UNIX path: final component */
	dev_t dev;         /* UNIX path: identity of the file we created */
	ino_t ino;
	pid_t holder_pid;  /* after EADDRINUSE: pid of the live listener, or 0 */
	int unproven;      /* after an error: a socket file is at the path that
			    * could not be proven stale (errno says why) */
};

struct listen_opts {
	int backlog;
	int has_mode;
	mode_t mode;
	uid_t uid;         /* (uid_t)-1: leave */
	gid_t gid;         /* (gid_t)-1: leave */
};
/* Listen options with backlog BACKLOG (1..65535, listen(2)) and the
 * socket file's mode and owner left as the kernel makes them. */
#define LISTEN_OPTS(backlog_) ((struct listen_opts){ .backlog = (backlog_), \
	.uid = (uid_t)-1, .gid = (gid_t)-1 })

/* Listen on A.  Returns 0 or -1 with errno set (EADDRINUSE: a live
 * listener holds the path, l->holder_pid says who; EEXIST: something
 * that is not a socket is there; ENAMETOOLONG: past sun_path). */
int sock_listen(struct listener *l, const struct addr *a,
		const struct listen_opts *o);
/* Close L and remove its socket file if the path still holds it. */
void sock_unlisten(struct listener *l);
/* Remove L's socket file (if still ours) but keep nothing else. */
void sock_unlink(struct listener *l);
/* Canonical form of the address L listens on (the real port). */
char *sock_local_format(const struct listener *l, char *buf, size_t n);

/* ---- sock.c: connecting sockets ---- */

/* Give a UNIX path address A one entry in a->sa (nsa 1), for use with
 * sock_connect_start().  The path is still looked up at each connect,
 * so a directory recreated meanwhile is found.  0 or -1 with errno. */
int sock_prepare(struct addr *a);
/* ---- sock.c: the source address of a connecting socket (--source,
 * socat's bind=) ----
 * A source is a struct addr parsed by addr_parse_source(): ADDR_TCP,
 * resolved by addr_resolve(ADDR_LISTEN) (its wildcard flag: any address
 * of the target's family, with its port), or ADDR_UNIX (a path of at
 * most UNIX_PATH_LIMIT bytes) or ADDR_ABSTRACT (resolved). */

/* What binding a source created: a socket file, to remove once it is no
 * longer needed, and only while the path still holds it. */
struct sock_bound {
	int made;          /* 1: we created the socket file at the path */
	dev_t dev;
	ino_t ino;
};

/* Bind FD, a new socket of FAMILY (AF_INET, AF_INET6 or AF_UNIX), to
 * SRC before it connects: the first of SRC's addresses of that family
 * (TCP port 0: the port is chosen at connect, IP_BIND_ADDRESS_NO_PORT;
 * a fixed port may be taken over from a connection in TIME-WAIT,
 * SO_REUSEADDR).  A UNIX path is created by bind(2), which fails with
 * EADDRINUSE if anything is there: nothing is ever replaced; *B records
 * the file made.  Returns 0, or -1 with errno: EAFNOSUPPORT (no address
 * of FAMILY in SRC), EADDRNOTAVAIL (not an address of this host),
 * EADDRINUSE, EACCES (a port below 1024, or the directory), or another
 * error of bind(2). */
int sock_source_bind(int fd, int family, const struct addr *src,
		     struct sock_bound *b);
/* Remove the socket file B made for SRC if the path still holds that
 * file (same device and inode); B is cleared.  Errors are ignored: at
 * worst a socket file nobody listens on stays. */
void sock_source_unlink(const struct addr *src, struct sock_bound *b);
/* 1 when SRC has an address of the family of target address SA (always
 * for a UNIX source and a UNIX SA), else 0. */
int sock_source_fits(const struct addr *src, const struct sockaddr *sa);

/* Start connecting a new non-blocking CLOEXEC socket of a->type to
 * address number I of A (a UNIX path looked up now; one past sun_path
 * through its directory, opened for this connect only), bound first to
 * SRC unless it is NULL (a socket file made for it is removed once
 * connect(2) has returned: the socket keeps the name, which the server
 * sees as its peer's; for streams and seqpacket only).  Returns the fd with
 * *pending 1 while the connect is in progress (EINPROGRESS: wait for
 * POLLOUT, then read SO_ERROR) or 0 when connected; or -1 with errno
 * (EAGAIN: a full UNIX backlog), *pending -1 when it was binding to SRC
 * that failed (sock_source_bind()'s errors). */
int sock_connect_start(const struct addr *a, int i, const struct addr *src,
		       int *pending);
/* How sock_connect_wait() waits, and what ended the wait. */
struct sock_wait {
	int64_t deadline;  /* ms on the monotonic clock (now_ms()), -1: none */
	int retry;         /* 1: a missing or refusing endpoint (see
			      sock_retryable()) is tried again until the
			      deadline */
	int sigfd;         /* a signalfd: any signal read from it ends the
			      wait; -1: none (signals act as they are set) */
	const struct addr *source; /* bind to it first (sock_connect_start);
			      or NULL.  A failed bind is not retried. */
	struct sock_bound bound;   /* set: the socket file made for a
			      datagram socket's source, kept for answers
			      to reach it until sock_source_unlink() */
	int source_failed; /* set: 1 when the bind to SOURCE failed */
	/* set by sock_connect_wait() */
	int signo;         /* the signal that ended the wait (errno EINTR) */
	int expired;       /* 1: the deadline passed (errno ETIMEDOUT) */
	int last_err;      /* the errno of the last try that failed; after
			      the deadline, 0 when that try had no answer
			      yet (a TCP handshake nobody answered) */
	int tries;         /* connect() calls made */
	mode_t mode;       /* ENOTSOCK: st_mode of the file in the way */
};

/* Connect to A, waiting until w->deadline for a TCP handshake to be
 * answered and for room in a UNIX listener's full backlog (EAGAIN: tried
 * again after a pause, as a blocking connect(2) would wait), and with
 * w->retry for a missing or refusing endpoint to appear.  Every pause
 * and every wait also watches w->sigfd.  Each try goes through A's
 * addresses in order.  Returns a non-blocking CLOEXEC fd, or -1 with
 * errno: EINTR (w->signo), ETIMEDOUT with w->expired (w->last_err says
 * what the tries got), ENOTSOCK when a UNIX path exists and is not a
 * socket (w->mode; never retried: it will not become one), or the error
 * of the last try.  Pauses start at 5 ms and double up to 50 ms. */
int sock_connect_wait(const struct addr *a, struct sock_wait *w);
/* sock_connect_wait() without retries and without a signalfd, giving up
 * at DEADLINE (ms on the monotonic clock, -1: none); a path that is not
 * a socket fails with ECONNREFUSED, as connect(2) says. */
int sock_connect(const struct addr *a, int64_t deadline);
/* Accept one connection: non-blocking CLOEXEC fd or -1 with errno. */
int sock_accept(int lfd, struct sockaddr_storage *ss, socklen_t *len);
/* 1 when accept(2) failed with E for lack of resources (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM): the connection waits in the backlog, and accepting
 * again at once would fail the same way, so the caller pauses
 * accepting until connections end (the 100 ms of the callers). */
int sock_accept_starved(int e);
/* Send what is written on FD at once (TCP_NODELAY: no Nagle delay)
 * when FAMILY is AF_INET or AF_INET6; other families are left alone.
 * 0, or -1 with errno from setsockopt(2). */
int sock_nodelay(int fd, int family);
/* SO_PEERCRED of a UNIX socket; 0 or -1. */
int sock_peercred(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/* Turn TCP keepalive on for FD; IDLE_S > 0 also sets the idle time
 * before the first probe (TCP_KEEPIDLE, seconds), else the kernel's
 * default (net.ipv4.tcp_keepalive_time) stays.  0 or -1 with errno. */
int sock_keepalive(int fd, int idle_s);
/* errno is worth retrying while waiting for an endpoint to appear */
int sock_retryable(int e);

/* ---- sockstate.c ---- */

struct stat;
/* What is bound to the socket file ST describes, in this network
 * namespace: 2 a listener (or bound datagram socket), 1 bound but not
 * listening, 0 nothing (stale); -1 with errno if the kernel cannot say.
 * *sockino is the socket's inode. */
int sock_file_state(const struct stat *st, uint32_t *sockino);
/* A process holding socket inode SOCKINO open, or 0 (a partial scan
 * without privileges). */
pid_t sock_inode_owner(uint32_t sockino);

#endif
