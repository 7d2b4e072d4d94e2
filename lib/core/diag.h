/* diag.h — the kernel's socket tables: AF_UNIX and TCP sockets through
 * NETLINK_SOCK_DIAG, with /proc/net/unix as a poorer fallback. */
#ifndef USOCK_DIAG_H
#define USOCK_DIAG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
#define DIAG_ESTABLISHED 1
#define DIAG_CLOSE       7
#define DIAG_LISTEN      10

/* One AF_UNIX socket of this network namespace. */
struct diag_unix {
	uint32_t ino;        /* socket inode: socket:[INO] in /proc/PID/fd */
	uint8_t type;        /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	uint8_t state;       /* DIAG_LISTEN, DIAG_ESTABLISHED, DIAG_CLOSE, ... */
	uint8_t has_vfs, has_rqlen, has_uid;
	uint8_t doubtful;    /* from /proc/net/unix: this line may be part of
				the name before it (a name holding a newline)
				rather than a socket of its own */
	uint32_t vfs_ino;    /* the socket file's inode, cut to 32 bits */
	uint32_t vfs_dev;    /* the file's device in the kernel's encoding */
	uint32_t peer;       /* inode of the peer socket, or 0 */
	uint32_t rqueue;     /* listener: connections waiting to be accepted */
	uint32_t wqueue;     /* listener: its backlog */
	uint32_t uid;        /* creator's uid (kernels from 5.3) */
	uint32_t nicons;     /* listener: pending connections in icons */
	uint32_t *icons;     /* their inodes (server side of each) */
	char *name;          /* bound name: a path (raw bytes), "@NAME" with
				NAME escaped as usock(7) says, or NULL */
};

struct diag_unix_set {
	struct diag_unix *v;
	size_t n, cap;
	int from_proc;       /* read from /proc/net/unix: no vfs, queues, uid */
};

/* What diag_unix_dump() asks for. */
#define DIAG_LISTENERS 1 /* only listening and unconnected sockets */
#define DIAG_DETAIL    2 /* peers and pending connections too */

/* Fill S with the AF_UNIX sockets of this network namespace.  Returns 0,
 * or -1 with errno when sock_diag cannot be used (the caller may then try
 * diag_unix_proc). */
int diag_unix_dump(struct diag_unix_set *s, int flags);
/* Fill S from /proc/net/unix (no file identity, queues or uids).  Names
 * holding a newline are read whole; a line that may be forged by one is
 * marked doubtful. */
int diag_unix_proc(struct diag_unix_set *s);
void diag_unix_free(struct diag_unix_set *s);
/* Does the kernel's encoding KDEV (UNIX_DIAG_VFS) name st_dev DEV? */
int diag_dev_match(uint32_t kdev, dev_t dev);
/* Does a UNIX_DIAG_VFS identity name the file with DEV and INO? */
int diag_vfs_match(const struct diag_unix *u, dev_t dev, ino_t ino);

/* One TCP socket. */
struct diag_tcp {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t state;
	uint8_t v6only;      /* AF_INET6 listener that refuses IPv4 */
	uint16_t port;       /* local port, host order */
	uint8_t addr[16];    /* local address (4 bytes for AF_INET) */
	uint32_t ino, uid, rqueue, wqueue;
};

struct diag_tcp_set {
	struct diag_tcp *v;
	size_t n, cap;
};

/* Append the TCP sockets of FAMILY (AF_INET or AF_INET6) whose state is
 * in the bit mask STATES (1 << DIAG_LISTEN, ...) to S.  0 or -1. */
int diag_tcp_dump(struct diag_tcp_set *s, int family, uint32_t states);
void diag_tcp_free(struct diag_tcp_set *s);

#endif
