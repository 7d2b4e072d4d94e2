/* loop.h — a bridge pointed at itself: the loops that can be seen at
 * start (the target is the listening socket), and the ones that show up
 * only when a connection comes back to us. */
#ifndef USOCK_LOOP_H
#define USOCK_LOOP_H

#include <stdint.h>
#include <sys/socket.h>

#include "core/addr.h"

/* Does a connection to TARGET (resolved, or a prepared UNIX path) reach
 * the listening socket LFD?  That is: the same socket file (any
 * spelling of its path, a symbolic or hard link: compared by the socket
 * bound to it, as sock_diag says), the same abstract name, or the same
 * TCP address and port, where a wildcard listener (0.0.0.0, ::) is
 * reached through every local address (loopback, an interface's, the
 * unspecified address) and a dual-stack one through IPv4 too.  Returns
 * the index in target->sa of the first address that loops (0 for a
 * UNIX path), or -1 when none does or it cannot tell. */
int loop_target_is_listener(int lfd, const struct addr *target);

/* Our own outgoing TCP connections, by local port, so that an accepted
 * client can be recognised as one of them (a loop that shows up at run
 * time: a name that resolves to us, a destination NAT rule, a link made
 * later) without a walk over every connection. */
struct loop_ent {
	struct sockaddr_storage local, remote;
	int next, prev;    /* fds with the same local port; -1 ends */
	int used;
};

struct loop_conns {
	int *head;         /* by local port: the first fd, or -1 */
	struct loop_ent *v;  /* by fd */
	int nv;
};

/* 0, or -1 with errno ENOMEM (the table of ports: 256 KiB). */
int loop_conns_init(struct loop_conns *t);
void loop_conns_free(struct loop_conns *t);
/* FD is an outgoing socket whose connect to SA has started: remember its
 * local address (TCP only; anything else is ignored). */
void loop_note(struct loop_conns *t, int fd, const struct sockaddr *sa);
/* FD is about to be closed: forget it (harmless if never noted). */
void loop_forget(struct loop_conns *t, int fd);
/* The client accepted on FD, whose address is PEER, is one of our own
 * connections: for UNIX, its peer credentials (SO_PEERCRED) name this
 * process; for TCP, PEER and the address it reached are the local and
 * remote address of a socket noted above.  1 yes, 0 no. */
int loop_is_own(const struct loop_conns *t, int fd,
		const struct sockaddr *peer);

#endif
