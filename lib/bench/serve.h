/* serve.h — the echo and sink servers of usock-bench: one epoll loop over
 * any number of listening sockets, non-blocking, no threads. */
#ifndef USOCK_SERVE_H
#define USOCK_SERVE_H

enum serve_kind {
	SERVE_ECHO = 1,  /* send every byte back; a client that does not
			    read is not read from (bounded buffer) */
	SERVE_SINK       /* read and discard; never send */
};

/* Parse "echo" or "sink"; 0 or -1. */
int serve_kind_parse(const char *s, enum serve_kind *k);
/* "echo" or "sink" */
const char *serve_kind_name(enum serve_kind k);

/* Serve KIND on the N listening sockets LFDS (non-blocking) until a
 * signal arrives on SIGFD (a signalfd, or -1 for none).  Returns the
 * signal number, or -1 with errno when the loop itself fails.  Errors
 * on single connections close that connection and nothing else. */
int serve_run(const int *lfds, int n, enum serve_kind kind, int sigfd);

#endif
