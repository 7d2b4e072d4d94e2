/* bridge.h — the many-connection bridge behind tcp2unix: the epoll
 * engine, --allow lists and PROXY protocol headers. */
#ifndef USOCK_BRIDGE_H
#define USOCK_BRIDGE_H

#include <stdint.h>
#include <sys/socket.h>

#include "usock.h"

/* ---- cidr.c ---- */

struct cidr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

/* Parse "ADDR" or "ADDR/BITS" (IPv4 or IPv6).  0, or -1 with *why. */
int cidr_parse(struct cidr *c, const char *s, const char **why);
/* Does SA (AF_INET, AF_INET6, v4-mapped IPv6 too) fall in one of the N
 * ranges of LIST? */
int cidr_match(const struct cidr *list, int n, const struct sockaddr *sa);

/* ---- proxy.c: HAProxy PROXY protocol ---- */

#define PROXY_MAX 240  /* room for any v1 or v2 header we build */

/* Build a PROXY VERSION (1 or 2) header telling that SRC connected to
 * DST.  UNIX clients give "UNKNOWN" (v1) or an AF_UNIX block (v2).
 * Returns its length, or -1 if BUF is too small. */
int proxy_header(int version, const struct sockaddr *src, socklen_t srclen,
		 const struct sockaddr *dst, socklen_t dstlen,
		 char *buf, size_t n);

/* ---- bridge.c ---- */

struct bridge_stats {
	uint64_t accepted, refused, failed, completed;
	uint64_t active;
	uint64_t bytes_up, bytes_down;  /* client to target, and back */
};

struct bridge {
	/* set by the caller */
	struct addr target;
	int lfd[16];
	int nlfd;
	struct listener *own;      /* socket file to remove at stop, or NULL */
	int sigfd;
	unsigned long max_conns;
	const struct cidr *allow;
	int nallow;
	int64_t idle_ms;           /* -1: none */
	int64_t connect_ms;
	int64_t drain_ms;
	int proxy;                 /* 0, 1 or 2 */
	/* kept by the engine */
	struct bridge_stats st;
};

/* Serve until SIGINT/SIGTERM and the drain that follows.  Returns 0,
 * or -1 with errno if the engine itself failed. */
int bridge_run(struct bridge *b);

#endif
