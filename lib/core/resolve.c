/* resolve.c — looking a target host name up again in a thread of its
 * own (getaddrinfo(3) blocks, an event loop must not). */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "resolve.h"

int resolve_is_name(const struct addr *a)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *res;
	if (a->kind != ADDR_TCP || !a->host[0])
		return 0;
	if (getaddrinfo(a->host, NULL, &hints, &res) == 0) {
		freeaddrinfo(res);
		return 0;
	}
	return 1;
}

static void *resolve_main(void *arg)
{
	struct resolver *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->ask && !r->quit)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->quit)
			break;
		r->ask = 0;
		pthread_mutex_unlock(&r->mu);

		struct addr a = r->want;
		const char *why = NULL;
		int usage = 0;
		int rc = addr_resolve(&a, 0, &why, &usage);

		pthread_mutex_lock(&r->mu);
		if (rc == 0) {
			r->nsa = a.nsa;
			memcpy(r->sa, a.sa, sizeof r->sa);
			memcpy(r->salen, a.salen, sizeof r->salen);
			r->why = NULL;
		} else if (usage) {
			r->nsa = 0;          /* the name is gone */
			r->why = why;
		} else if (!r->nsa) {
			r->why = why;        /* nothing to fall back on */
		}
		r->gen++;
		r->busy = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int resolve_start(struct resolver *r, const struct addr *a)
{
	memset(r, 0, sizeof *r);
	r->want = *a;
	r->asked_at = -RESOLVE_TTL_MS;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	int e = pthread_create(&r->thread, NULL, resolve_main, r);
	if (e) {
		errno = e;
		return -1;
	}
	r->started = 1;
	return 0;
}

int resolve_update(struct resolver *r, int *seen, struct addr *a,
		   int64_t now, const char **why)
{
	pthread_mutex_lock(&r->mu);
	if (r->gen != *seen) {
		*seen = r->gen;
		a->nsa = r->nsa;
		memcpy(a->sa, r->sa, sizeof a->sa);
		memcpy(a->salen, r->salen, sizeof a->salen);
	}
	if (!r->busy && now - r->asked_at >= RESOLVE_TTL_MS) {
		r->ask = 1;
		r->busy = 1;
		r->asked_at = now;
		pthread_cond_signal(&r->cv);
	}
	int answered = r->gen > 0;
	const char *last = r->why;
	pthread_mutex_unlock(&r->mu);
	if (a->nsa)
		return 1;
	if (!answered || !last)
		return 0;       /* the first answer is still to come */
	*why = last;            /* the last answer said no */
	return -1;
}

void resolve_stop(struct resolver *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->mu);
	r->quit = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->started = 0;
}
