/* addr.h — the address grammar shared by every tool (usock(7)):
 * parsing, resolving and the canonical printer. */
#ifndef USOCK_ADDR_H
#define USOCK_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The longest path a sockaddr_un holds, without its terminating NUL. */
#define UNIX_PATH_LIMIT ((int)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* A final path component must fit after "/proc/self/fd/NNNNNNNNNN/". */
#define UNIX_NAME_LIMIT (UNIX_PATH_LIMIT - 25)

/* ---- addr.c: the address grammar ---- */

enum addr_kind { ADDR_UNIX = 1, ADDR_ABSTRACT, ADDR_TCP };

/* addr_parse() flags */
#define ADDR_LISTEN 1 /* a bare PORT means 127.0.0.1, not localhost */

struct addr {
	enum addr_kind kind;
	int type;          /* SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET */
	int family;        /* TCP: AF_UNSPEC, AF_INET or AF_INET6 */
	int wildcard;      /* TCP: every interface (*:PORT) */
	int passive;       /* parsed for listening (ADDR_LISTEN) */
	char host[256];    /* TCP: name or literal, without brackets */
	char port[8];      /* TCP: decimal 0..65535 */
	char path[4096];   /* UNIX path, or abstract name without '@' */
	/* filled by addr_resolve(): where to connect or bind */
	int nsa;
	struct sockaddr_storage sa[8];
	socklen_t salen[8];
};

/* Parse S into A.  Returns 0, or -1 with *why set to a static reason. */
int addr_parse(struct addr *a, const char *s, int flags, const char **why);
/* Resolve a TCP or abstract address into a->sa (UNIX paths need
 * nothing).  Returns 0, or -1 with *why set and *usage telling whether
 * it is the address's fault (unknown host) rather than the resolver's. */
int addr_resolve(struct addr *a, int flags, const char **why, int *usage);
/* Canonical form of A into BUF (truncated to N); returns BUF. */
char *addr_format(const struct addr *a, char *buf, size_t n);
/* Canonical form of a kernel socket address; type is the socket type. */
char *sa_format(const struct sockaddr *sa, socklen_t len, int type,
		char *buf, size_t n);
/* Room for any canonical address. */
#define ADDR_STRLEN 4200

#endif
