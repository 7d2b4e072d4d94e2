/* stdio.c — one connection relayed to standard input and output, set up
 * the same way by usock-connect and usock-listen, and what a failed
 * relay says. */
#include <unistd.h>

#include "cli.h"

void cli_stdio_relay(struct stdio_relay *s, int sock, int sigfd, int crlf)
{
	struct relay *r = &s->r;
	relay_init(r, 0, 1, sock);
	r->sigfd = sigfd;
	if (crlf)
		pump_set_crlf(relay_up(r));
	/* On a terminal there is no half-close to wait for: the session
	 * ends when the peer does. */
	r->end_on_down_eof = isatty(0);
}

void cli_relay_error(const struct relay *r, const struct pump *failed,
		     const char *peer)
{
	if (!failed)
		log_syserr("poll");
	else if (failed == relay_up(r) && failed->failed_in)
		log_syserr("read stdin");
	else if (failed == relay_down(r) && !failed->failed_in)
		log_syserr("write stdout");
	else
		log_syserr("%s %s", failed->failed_in ? "read" : "write", peer);
}
