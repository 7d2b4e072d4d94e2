/* resolve.h — a TCP host name looked up again while a long-running tool
 * serves: in a thread of its own, so that a slow resolver never stalls
 * an event loop, with a short cache. */
#ifndef USOCK_RESOLVE_H
#define USOCK_RESOLVE_H

#include <pthread.h>
#include <stdint.h>
#include "addr.h"

/* How long a lookup's answer is used before it is looked up again. */
#define RESOLVE_TTL_MS 1000

struct resolver {
	struct addr want;        /* the address as parsed (host, port, family) */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started;
	int ask;                 /* the thread should look up now */
	int quit;
	/* the thread's last answer, under mu */
	int gen;                 /* answers so far */
	int nsa;
	struct sockaddr_storage sa[8];
	socklen_t salen[8];
	const char *why;         /* nsa 0: why (a static string) */
	int64_t asked_at;        /* when the last lookup was asked for */
	int busy;                /* a lookup is under way */
};

/* Is A a TCP address whose host is a name (not a literal, not empty)? */
int resolve_is_name(const struct addr *a);
/* Start R's thread for A (parsed, not resolved).  0, or -1 with errno. */
int resolve_start(struct resolver *r, const struct addr *a);
/* Bring A (the same address the caller connects to) up to date at NOW
 * (ms): take an answer the thread has found, and ask for a new lookup
 * when the last is older than RESOLVE_TTL_MS.  Several threads may share
 * R, each with its own A and *SEEN (the answer A holds: 0 at first).  A failed lookup that says
 * the name does not exist empties a->sa; a temporary failure keeps the
 * last addresses.  Returns 1 when a->sa holds addresses, 0 while the
 * first lookup is under way, -1 when the last answer was that the name
 * does not resolve (*why says why; a new lookup may be under way). */
int resolve_update(struct resolver *r, int *seen, struct addr *a,
		   int64_t now, const char **why);
/* Stop the thread (waits for a lookup under way to end). */
void resolve_stop(struct resolver *r);

#endif
