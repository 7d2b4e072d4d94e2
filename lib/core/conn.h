/* conn.h — the connection core: one relayed connection between two
 * sides, a pump each way, and the rules for how it ends.  Every tool's
 * connections go through it (usock(7), ENDINGS). */
#ifndef USOCK_CONN_H
#define USOCK_CONN_H

#include <stdint.h>
#include "pump.h"

struct dump;
struct dump_conn;

/* Lingering close (after nginx's lingering_time and lingering_timeout):
 * a side whose input we stopped relaying while its peer may still send
 * is read and discarded for at most CONN_LINGER_MS after the exchange
 * ended, and given up after CONN_LINGER_IDLE_MS with nothing read. */
#define CONN_LINGER_MS      30000
#define CONN_LINGER_IDLE_MS 5000

/* Readiness a driver reports for a side, and the interest it watches. */
#define CONN_RD  1   /* input fd readable (or at EOF, hung up, in error) */
#define CONN_WR  2   /* output fd writable */
#define CONN_HUP 4   /* output fd hung up or in error */

/* How one direction ended. */
enum conn_end {
	CONN_OPEN = 0,  /* still moving */
	CONN_EOF,       /* input ended; all of it delivered, then EOF */
	CONN_GONE,      /* output took no more (EPIPE, ECONNRESET): this
	                   direction stopped, its input is discarded */
	CONN_RESET,     /* input failed (peer reset): what arrived before
	                   was delivered, then a reset passed on */
	CONN_CUT,       /* aborted by conn_abort(): a timer, a signal, the
	                   other side failing, or a local output gone */
};

/* Lingering close of one socket: after our last byte, read and discard
 * what the peer still sends, so that the kernel never answers unread
 * input with a reset that destroys what was delivered. */
struct conn_linger {
	int fd;
	uint8_t eof;         /* the peer's input ended (EOF or error) */
	int64_t start, last; /* when it began, when a byte last came */
};

/* Start lingering on socket FD at NOW (ms).  Returns 1 when FD may be
 * closed at once (nothing more to wait for), 0 to wait: then watch FD
 * for input and call conn_linger_step() on input or at conn_linger_deadline(). */
int conn_linger_begin(struct conn_linger *l, int fd, int64_t now);
/* Discard what FD holds and check the end conditions: the peer's EOF
 * (or an error), nothing read for CONN_LINGER_IDLE_MS, or CONN_LINGER_MS
 * in all.  1: close now. */
int conn_linger_step(struct conn_linger *l, int64_t now);
/* When conn_linger_step() must next run (ms, monotonic). */
int64_t conn_linger_deadline(const struct conn_linger *l);

struct conn_side {
	int rfd, wfd;        /* the same fd for a socket */
	uint8_t sock;        /* rfd is a socket: it can be lingered on */
	uint8_t wsock;       /* wfd is a socket: EOF by shutdown, resets */
	uint8_t tcp;         /* wfd is a TCP socket */
	uint8_t local;       /* wfd is a local output (pipe, terminal,
	                        file): when it fails the exchange ends */
	uint8_t own;         /* conn_close() closes rfd and wfd */
	uint8_t discard;     /* input no longer relayed: read, thrown away */
	uint8_t rd_end;      /* input ended (EOF or error) */
	uint8_t was_reset;   /* a TCP write saw ECONNRESET: its EOF is one */
	uint8_t rst;         /* close wfd with a reset (SO_LINGER 0) */
	uint8_t lingering;   /* in the closing phase, LG is running */
	struct conn_linger lg;
};

enum conn_phase { CONN_RELAYING, CONN_CLOSING, CONN_DONE };

struct conn {
	unsigned long id;    /* the connection's number in its process: the
	                        engine's Nth accepted connection, from 1
	                        (usock-connect: 1).  conn_init() zeroes it:
	                        the driver sets it afterwards. */
	struct pump dir[2];  /* dir[i]: side i's input to side 1-i's output */
	struct conn_side side[2];
	uint8_t want[2];     /* PUMP_WANT_* of dir[i] */
	uint8_t end[2];      /* enum conn_end of dir[i] */
	uint8_t phase;       /* enum conn_phase */
	uint8_t cut_open[2]; /* conn_abort: dir[i] was still open */
	int err[2];          /* errno behind end[i], or 0 */
	int64_t reset_until; /* closing: give up waiting for outq to drain */
	int64_t next_check;  /* closing: next SIOCOUTQ check, or -1 */
	int check_ms;
	struct dump_conn *dump; /* conn_dump(): its records, or NULL */
};

/* Set up C between side 0 (input RFD0, output WFD0) and side 1, each
 * direction on the fastest path both fds allow (pump_init).  Nothing is
 * owned: set c->side[i].own for conn_close() to close a side. */
void conn_init(struct conn *c, int rfd0, int wfd0, int rfd1, int wfd1);
/* Between two non-blocking sockets A (side 0) and B (side 1): copy small
 * reads, splice bulk through pipes from POOL (pump_init_adaptive).  Both
 * are owned.  TCP says which are TCP: bit 0 for A, bit 1 for B. */
void conn_init_sockets(struct conn *c, int a, int b, int tcp,
		       struct pipe_pool *pool);
/* Dump what C relays to D (dump.h): each direction copies (no splice,
 * whose bytes cannot be seen) and shows D exactly the bytes it writes,
 * in records naming c->id (set it first) and PEER (canonical text).
 * REQ is the direction that carries requests (from the side that
 * connected to the side that accepted), marked '>'; the other is '<'.
 * conn_free() frees the records' state.  0, or -1 with errno ENOMEM. */
int conn_dump(struct conn *c, struct dump *d, const char *peer, int req);
/* Run the directions that are ready: EV (CONN_*) happened on side S.
 * NOW is the monotonic clock in ms.  Afterwards c->phase says whether
 * the connection is still relaying, closing or done. */
void conn_io(struct conn *c, int s, unsigned ev, int64_t now);
/* Start what can start without an event (a direction whose input is
 * already at EOF).  Call once before the first wait. */
void conn_start(struct conn *c, int64_t now);
/* What to watch on side S's input fd (CONN_RD or 0) and output fd
 * (CONN_WR or 0).  A driver also watches the output of an open
 * direction for hang-ups (conn_watch_out). */
unsigned conn_want_rd(const struct conn *c, int s);
unsigned conn_want_wr(const struct conn *c, int s);
int conn_watch_out(const struct conn *c, int s);
/* When conn_tick() must run next (ms), or -1. */
int64_t conn_deadline(const struct conn *c);
/* Timers of the closing phase: the lingering close, and waiting for
 * delivered data to leave before a reset is passed on. */
void conn_tick(struct conn *c, int64_t now);
/* Cut the connection (a timer, a signal, a drain deadline): every open
 * direction ends CONN_CUT and every socket side will be reset, so that
 * no peer takes a cut exchange for a whole one.  c->cut_open[] records
 * which directions were cut. */
void conn_abort(struct conn *c);
/* Close the owned fds: with a reset where one is due (see conn_abort),
 * else plainly.  The pumps' byte counts then say what each peer got. */
void conn_close(struct conn *c);
/* Free what the pumps hold (buffers, staging pipes) and the dump's
 * state. */
void conn_free(struct conn *c);

/* The direction whose ending explains C's end best (a failure over a
 * clean EOF, the answer over the request), or -1 when both ended with
 * EOF. */
int conn_failed_dir(const struct conn *c);

#endif
