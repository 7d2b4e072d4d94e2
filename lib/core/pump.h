/* pump.h — one direction of a relay: move bytes from IN to OUT without
 * blocking (splice where the kernel allows), then deliver EOF. */
#ifndef USOCK_PUMP_H
#define USOCK_PUMP_H

#include <stddef.h>
#include <stdint.h>
#include "sys.h"

enum pump_mode { PUMP_COPY, PUMP_SPLICE, PUMP_SPLICE_PIPE };
#define PUMP_WANT_READ  1
#define PUMP_WANT_WRITE 2

/* Staging pipes shared by many pumps: taken when data flows, given back
 * when a direction goes idle, so idle connections hold no pipe. */
struct pipe_pool {
	int (*fds)[2];
	int n, max;
	int size;            /* F_SETPIPE_SZ for new pipes, or 0 */
};

struct pump {
	int in, out;
	int pipe[2];         /* PUMP_SPLICE_PIPE: staging pipe, or -1 */
	uint32_t inpipe;     /* bytes held in the staging pipe */
	uint32_t off, len;   /* PUMP_COPY: bytes held in buf */
	char *buf;           /* PUMP_COPY: what OUT has not taken yet */
	uint64_t bytes;      /* bytes delivered */
	struct pipe_pool *pool; /* where staging pipes come from, or NULL */
	void (*tap)(void *ctx, const char *p, size_t n);
	void *tap_ctx;
	uint8_t mode;        /* enum pump_mode */
	uint8_t adaptive;    /* copy small reads, splice bulk */
	uint8_t small;       /* adaptive: small splices in a row */
	uint8_t eof;         /* input reached end of file */
	uint8_t done;        /* EOF delivered: the direction has ended */
	uint8_t keep_out;    /* at the end, leave OUT open (no EOF sent) */
	uint8_t in_block, out_block; /* blocking fds: one call per step */
	uint8_t out_kind;    /* enum fd_kind of OUT, for delivering EOF */
	uint8_t in_kind;     /* enum fd_kind of IN */
	uint8_t failed_in;   /* after -1: the input side failed, else output */
	uint8_t crlf;        /* PUMP_COPY: each LF read goes out as CR LF */
};

/* Set up P to move IN to OUT, choosing splice where both ends allow. */
void pump_init(struct pump *p, int in, int out);
/* Between two sockets: copy small reads through a shared buffer and
 * splice through a pipe from POOL once reads come in bulk. */
void pump_init_adaptive(struct pump *p, int in, int out,
			struct pipe_pool *pool);
/* Move what can be moved without blocking.  Returns the interest
 * (PUMP_WANT_*) for the next turn, 0 once the direction has ended, or
 * -1 with errno on error (p->failed_in says which side failed).  What
 * follows a failure is the connection core's business (conn.h). */
int pump_step(struct pump *p);
/* Copy through a buffer (never splice: spliced bytes cannot be seen)
 * and show TAP exactly the bytes written to OUT, as they are written
 * (a traffic dump, dump.h). */
void pump_set_tap(struct pump *p, void (*tap)(void *, const char *, size_t),
		  void *ctx);
/* Send each LF read as CR LF (nc -C); copies through a buffer. */
void pump_set_crlf(struct pump *p);
/* Free what P holds (buffer, staging pipe), not IN and OUT. */
void pump_free(struct pump *p);
/* Deliver EOF on FD of KIND: shutdown(SHUT_WR) for a socket, or for a
 * pipe replace it with /dev/null so the reader at the other end sees EOF. */
void fd_send_eof(int fd, enum fd_kind kind);
/* Close every pipe POOL holds. */
void pipe_pool_drain(struct pipe_pool *pool);

#endif
