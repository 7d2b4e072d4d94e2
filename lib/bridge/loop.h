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

/* A client accepted on FD that is one of our own connections: for a
 * UNIX socket, SO_PEERCRED names this process; for TCP, PEER is the
 * local address of an outgoing connection of ours, which the caller
 * checks with loop_ports (below).  Returns 1 for a UNIX client of our
 * own, else 0. */
int loop_unix_peer_is_self(int fd);

/* The local ports of our outgoing TCP connections, counted, so that an
 * accepted TCP client can be checked against them without a walk over
 * every connection (a walk is needed only when its port is in use by
 * one of ours).  Sized for every port: 128 KiB. */
struct loop_ports {
	uint16_t *n;       /* NULL until loop_ports_init() */
};

/* 0, or -1 with errno ENOMEM. */
int loop_ports_init(struct loop_ports *p);
void loop_ports_free(struct loop_ports *p);
/* The local address of outgoing socket FD into SS (for loop_same_sa);
 * counts its port.  Returns 0, or -1 (not TCP, or getsockname failed). */
int loop_ports_add(struct loop_ports *p, int fd, struct sockaddr_storage *ss);
/* Uncount the port of SS (as filled by a successful loop_ports_add). */
void loop_ports_del(struct loop_ports *p, const struct sockaddr_storage *ss);
/* 1 when PEER's port is the local port of one of our outgoing TCP
 * connections. */
int loop_ports_has(const struct loop_ports *p, const struct sockaddr *peer);
/* Same family, address and port (IPv4-mapped IPv6 as IPv4). */
int loop_same_sa(const struct sockaddr *a, const struct sockaddr *b);

#endif
