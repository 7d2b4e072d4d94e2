/* relay.h — moving bytes: one direction (pump), one connection
 * (relay), and the hex dump tap. */
#ifndef USOCK_RELAY_H
#define USOCK_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include "sys.h"

/* ---- pump.c: one direction of a relay ---- */

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
	uint8_t failed_in;   /* after -1: the input side failed, else output */
	uint8_t crlf;        /* PUMP_COPY: each LF read goes out as CR LF */
	uint8_t broken;      /* OUT went away (EPIPE): the direction ended
	                        early and what it held was dropped */
};

/* Set up P to move IN to OUT, choosing splice where both ends allow. */
void pump_init(struct pump *p, int in, int out);
/* Between two sockets: copy small reads through a shared buffer and
 * splice through a pipe from POOL once reads come in bulk. */
void pump_init_adaptive(struct pump *p, int in, int out,
			struct pipe_pool *pool);
/* Move what can be moved without blocking.  Returns the interest
 * (PUMP_WANT_*) for the next turn, 0 once the direction has ended, or
 * -1 with errno on error.  An OUT that has gone away (EPIPE) ends the
 * direction with p->broken set rather than failing: the other direction
 * may still carry an answer. */
int pump_step(struct pump *p);
/* Copy through a buffer and show each chunk to TAP (hexdump). */
void pump_set_tap(struct pump *p, void (*tap)(void *, const char *, size_t),
		  void *ctx);
/* Send each LF read as CR LF (nc -C); copies through a buffer. */
void pump_set_crlf(struct pump *p);
/* OUT can take no more (peer gone): end the direction if nothing is
 * held, else -1 with errno EPIPE. */
int pump_abandon(struct pump *p);
/* Free what P holds (buffer, staging pipe), not IN and OUT. */
void pump_free(struct pump *p);
/* Deliver EOF on FD of KIND: shutdown(SHUT_WR) for a socket, or for a
 * pipe replace it with /dev/null so the reader at the other end sees EOF. */
void fd_send_eof(int fd, enum fd_kind kind);
/* Close every pipe POOL holds. */
void pipe_pool_drain(struct pipe_pool *pool);

/* ---- relay.c: a two-way relay of one connection ---- */

struct relay {
	struct pump up;      /* local input -> socket */
	struct pump down;    /* socket -> local output */
	int sigfd;           /* signalfd to watch, or -1 */
	int64_t idle_ms;     /* end after this long without traffic, or -1 */
	int end_on_down_eof; /* stop when the peer finishes (terminal input) */
	int64_t linger_ms;   /* once up has ended, end (RELAY_OK) after this
	                        long with nothing from the peer; 0: never.
	                        Set up.keep_out too, so no EOF is sent. */
	int signo;           /* set when a signal ended the relay */
};

#define RELAY_OK       0
#define RELAY_ERROR   -1  /* errno set; relay.failed says which side */
#define RELAY_TIMEOUT -2
#define RELAY_SIGNAL  -3

/* Run R until both directions have ended.  Returns a RELAY_* code;
 * on RELAY_ERROR *failed points at the pump that failed. */
int relay_run(struct relay *r, struct pump **failed);

/* ---- hexdump.c ---- */

struct hexdump {
	int fd;
	char mark;           /* '>' sent, '<' received */
	uint64_t off;
};
/* pump tap callback: CTX is a struct hexdump */
void hexdump_tap(void *ctx, const char *p, size_t n);

#endif
