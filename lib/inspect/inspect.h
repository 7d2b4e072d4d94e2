/* inspect.h — what a socket address is: the file, the kernel's socket
 * behind it, the processes holding it, who may connect, what is risky.
 * Built on diag (socket tables), procscan (/proc) and perm (access). */
#ifndef USOCK_INSPECT_H
#define USOCK_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/diag.h"
#include "perm.h"
#include "core/procscan.h"
#include "core/addr.h"
#include "core/relay.h"
#include "core/sock.h"
#include "core/sys.h"

enum inspect_state {
	INSPECT_LISTENING,   /* a stream/seqpacket listener is there */
	INSPECT_BOUND,       /* a datagram socket is bound there (or a stream
				socket bound but not listening) */
	INSPECT_CONNECTED,   /* only a connected datagram socket is there */
	INSPECT_STALE,       /* a socket file nothing is bound to */
	INSPECT_NOT_SOCKET,  /* the path is some other kind of file */
	INSPECT_MISSING,     /* nothing at the path, name or port */
	INSPECT_UNKNOWN,     /* the path cannot be looked up (permissions) */
};

struct inspect_proc {
	pid_t pid;
	uid_t uid;           /* (uid_t)-1 when unknown */
	char comm[64];
};

#define INSPECT_FINDINGS 6

struct inspect_report {
	enum addr_kind kind;
	char *address;       /* canonical: unix:PATH, @NAME, tcp:HOST:PORT */
	char *path;          /* UNIX: the path, as given or as bound */
	int type;            /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, or 0 */
	enum inspect_state state;
	char *note;          /* what the state means here, or NULL */

	int has_stat;        /* st is the file at path (symlinks followed) */
	struct stat st;
	int is_link;         /* path itself is a symbolic link */
	int has_acl;
	int file_gone;       /* bound name no longer leads to this socket */
	int doubtful;        /* its only evidence is a line of /proc/net/unix
				that a name holding a newline may have forged
				(diag.h); kept only if a process holds it */
	int unresolved;      /* bound name not usable from here (relative,
				/proc/self/fd/N/..., another mount
				namespace) and not resolved yet */
	char *bound_name;    /* the name as bound, when path differs */
	int has_vfs;         /* sock_diag gave the file's identity: */
	uint32_t vfs_dev, vfs_ino;

	uint32_t sock_ino;   /* the listening (or bound) socket, or 0 */
	int has_queue;
	uint32_t queue, backlog;
	int has_peers;
	unsigned peers;      /* connections on it (accepted or waiting) */
	uint32_t *client_inos; /* the clients' sockets, when known */
	size_t nclient_inos;
	int has_sock_uid;
	uid_t sock_uid;      /* uid that created the socket (sock_diag) */

	struct inspect_proc *listeners;
	size_t nlisteners;
	struct inspect_proc *clients;
	size_t nclients;
	int procs_partial;   /* no listener found, and /proc was not all
				readable */

	int can_connect;
	int exact;           /* can_connect is the kernel's answer */
	char *reason;

	int nfindings;       /* --audit */
	char *findings[INSPECT_FINDINGS];
	char *audit_error;   /* why the socket could not be audited */

	int probed;          /* --probe */
	int probe_ok;
	char *probe;
};

struct inspect_ctx {
	struct diag_unix_set ux;
	int have_ux;
	int ux_errno;        /* sock_diag failed with this; ux from /proc
				(0 when USOCK_DIAG=proc asked for it) */
	size_t *vfs_index;   /* indices of ux.v sorted by vfs_ino */
	size_t nvfs;
	size_t *name_index;  /* indices of named sockets sorted by name */
	size_t nname;
	struct diag_tcp_set tcp;
	int have_tcp;
	struct diag_tcp_set tcp_conns; /* established, to count peers */
	int have_tcp_conns;
	unsigned procs_denied;
};

void inspect_init(struct inspect_ctx *c);
void inspect_free(struct inspect_ctx *c);
/* Read the AF_UNIX table (DIAG_LISTENERS or DIAG_DETAIL), falling back
 * to /proc/net/unix; c->ux_errno tells when it had to.  0 or -1. */
int inspect_load_unix(struct inspect_ctx *c, int flags);
/* Read the TCP listeners (and, with CONNS, established connections). */
int inspect_load_tcp(struct inspect_ctx *c, int conns);

/* Fill R for the UNIX socket path PATH. */
void inspect_path(struct inspect_ctx *c, const char *path,
		  struct inspect_report *r);
/* Fill R for the abstract name NAME (without '@'). */
void inspect_abstract(struct inspect_ctx *c, const char *name,
		      struct inspect_report *r);
/* The names of the sockets bound below the absolute directory DIR, from
 * the kernel's table (for a directory that cannot be read): a malloc'd
 * array of malloc'd strings in *out, its length returned. */
size_t inspect_bound_below(const struct inspect_ctx *c, const char *dir,
			   char ***out);
/* The TCP listeners matching A (port, and address unless A has none):
 * a malloc'd array in *out, its length returned; one "missing" report
 * when nothing listens.  -1 with errno on failure. */
long inspect_tcp(struct inspect_ctx *c, const struct addr *a,
		 int any_host, struct inspect_report **out);
/* Every listening UNIX socket (and bound datagram socket), and with TCP
 * every TCP listener: a malloc'd array in *out, its length returned. */
long inspect_all(struct inspect_ctx *c, int tcp, struct inspect_report **out);

/* Fill the listener and client processes of the N reports with one
 * pass over /proc.  0 or -1. */
int inspect_procs(struct inspect_ctx *c, struct inspect_report *r, size_t n);
/* Find a usable path for each report whose bound name is not one
 * (r->unresolved): through the listener's working directory and open
 * descriptors, and as root the kernel's record of the file; a candidate
 * counts only with the device and inode sock_diag gave.  Needs the
 * listeners (inspect_procs).  What stays unresolved says so in its note;
 * an ordinary path that leads nowhere becomes file_gone. */
void inspect_resolve(struct inspect_report *r, size_t n);
/* Decide can_connect and reason for each report, for the caller or for
 * USER (NULL: the caller).  0 or -1. */
int inspect_perms(struct inspect_report *r, size_t n,
		  const struct perm_user *user);
/* Fill r->findings with what --audit reports: who may connect (search
 * permission on every directory down to the socket, write permission on
 * it), who may replace it.  0, or -1 when the socket cannot be audited
 * (r->audit_error says why: a directory that cannot be read, ...). */
int inspect_audit(struct inspect_report *r);
/* Connect to R's socket and record the outcome (--probe). */
void inspect_probe(struct inspect_report *r);
/* Free what a report holds (not the report). */
void inspect_report_free(struct inspect_report *r);
/* Free N reports and the array. */
void inspect_reports_free(struct inspect_report *r, size_t n);

/* "listening", "stale", ... */
const char *inspect_state_name(enum inspect_state s);
/* "stream", "dgram", "seqpacket", or NULL. */
const char *inspect_type_name(int type);
/* Is R something a client can reach now (listener or bound dgram)? */
int inspect_live(const struct inspect_report *r);

#endif
