/* bridge.h — the many-connection bridge behind tcp2unix: the epoll
 * engine, --allow lists and PROXY protocol headers. */
#ifndef USOCK_BRIDGE_H
#define USOCK_BRIDGE_H

#include <stdint.h>
#include <sys/socket.h>

#include "core/addr.h"
#include "core/dump.h"
#include "core/relay.h"
#include "core/resolve.h"
#include "core/sock.h"
#include "core/sys.h"

#include "cidr.h"
#include "proxy.h"

/* ---- bridge.c ---- */

struct bridge_stats {
	uint64_t accepted, refused, failed, completed;
	uint64_t active;
	uint64_t bytes_up, bytes_down;  /* client to target, and back */
};

/* What bridge.on_event is told. */
enum bridge_event {
	BRIDGE_STATUS,    /* the counters changed (at most once a second) */
	BRIDGE_STOPPING,  /* the drain starts: no more accepting */
	BRIDGE_IDLE_EXIT, /* exit_idle_ms passed without a connection */
};

/* One connection's end, for the caller's log; also its start (on_start:
 * HOW is NULL and the counts are 0). */
struct bridge_end {
	unsigned long id;          /* the Nth accepted connection, from 1 */
	const struct sockaddr *peer;
	socklen_t peerlen;
	int cred;                  /* a UNIX client: PID and UID are its
	                              SO_PEERCRED (at connect time) */
	pid_t pid;
	uid_t uid;
	const char *how;           /* "closed", "target refused", "idle
	                              timeout, reset (cut: down open)", ... */
	int err;                   /* errno behind HOW, or 0 */
	int relayed;               /* 0: it failed before relaying */
	uint64_t up, down;         /* bytes written to the target, and to
	                              the client (less what a reset lost) */
	int64_t ms;                /* how long it lasted */
};

#define BRIDGE_WORKERS_MAX 256

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
	struct resolver *resolver; /* target's host is a name, looked up
	                              again per connection; or NULL */
	const struct addr *source; /* bind each target socket to it first
	                              (sock_source_bind()), or NULL */
	int keepalive;             /* TCP keepalive on the TCP sockets of
	                              both legs: 0 off, -1 with the kernel's
	                              idle time, else the idle time in s */
	int64_t exit_idle_ms;      /* stop after this long with no
	                              connection (and none queued); 0: never */
	void (*on_event)(void *ctx, const struct bridge *b,
			 enum bridge_event ev);  /* or NULL; from any worker,
						    one call at a time */
	void *event_ctx;
	int workers;               /* event loops (threads) sharing the
	                              listeners, 1..BRIDGE_WORKERS_MAX; 0 is 1 */
	/* hooks (each may be NULL): the engine prints nothing itself */
	void (*on_start)(void *ctx, const struct bridge_end *be); /* accepted */
	void (*on_end)(void *ctx, const struct bridge_end *be);
	void (*on_stats)(void *ctx, const struct bridge_stats *st); /* SIGUSR1 */
	/* an event worth a line: VERBOSE 1 only under -v; ERR an errno or 0 */
	void (*on_notice)(void *ctx, int verbose, int err, const char *msg);
	void *hook_ctx;
	struct dump *dump;         /* --dump: what each connection relays
	                              (its client's bytes '>'), or NULL;
	                              such connections copy, never splice */
	/* kept by the engine */
	struct bridge_stats st;    /* updated atomically by the workers */
};

/* Serve until SIGINT/SIGTERM and the drain that follows, in b->workers
 * event loops (the caller's thread and b->workers - 1 more): each
 * accepts from every listener and owns what it accepted; counters,
 * max_conns, SIGUSR1 and the drain are the whole process's.  The hooks
 * may be called from any of those threads, one call at a time per
 * thread.  Signals must be blocked in the caller (sigfd) before.  Returns 0,
 * or -1 with errno if the engine itself failed. */
int bridge_run(struct bridge *b);

/* The counters of B now, read while the workers may be counting (each
 * one whole; they are not one consistent instant). */
void bridge_snapshot(const struct bridge *b, struct bridge_stats *st);

#endif
