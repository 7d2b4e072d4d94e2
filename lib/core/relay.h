/* relay.h — moving bytes: one direction (pump.h), the connection core
 * (conn.h), one connection relayed to stdio (relay); traffic
 * dumps are dump.h. */
#ifndef USOCK_RELAY_H
#define USOCK_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include "sys.h"
#include "pump.h"
#include "conn.h"

/* ---- relay.c: one connection relayed to local fds, with poll() ---- */

struct relay {
	struct conn c;       /* side 0: local (stdin/stdout), side 1: socket */
	int sigfd;           /* signalfd to watch, or -1 */
	int64_t idle_ms;     /* end after this long without traffic, or -1 */
	int end_on_down_eof; /* stop when the peer finishes (terminal input) */
	int64_t linger_ms;   /* once up has ended, end (RELAY_OK) after this
	                        long with nothing from the peer; 0: never.
	                        Set up.keep_out too, so no EOF is sent. */
	int signo;           /* set when a signal ended the relay */
};

#define RELAY_OK       0
#define RELAY_ERROR   -1  /* errno set; *failed says which direction */
#define RELAY_TIMEOUT -2
#define RELAY_SIGNAL  -3

/* Set R up to relay local input RFD and output WFD with socket SOCK
 * (closed by relay_run; RFD and WFD are left open). */
void relay_init(struct relay *r, int rfd, int wfd, int sock);
/* The direction from the local input to the socket, and back. */
#define relay_up(r)   (&(r)->c.dir[0])
#define relay_down(r) (&(r)->c.dir[1])
/* Run R until the connection has ended (conn.h: both directions, then
 * the lingering close), and close the socket.  Returns a RELAY_* code;
 * a timeout or a signal cuts the connection (the peer sees a reset).
 * On RELAY_ERROR *failed points at the direction that failed, its
 * failed_in set when its input failed (a reset, read after everything
 * before it was delivered), else its output; errno says why.  The
 * pumps' byte counts are what was written to each output. */
int relay_run(struct relay *r, struct pump **failed);

#endif
