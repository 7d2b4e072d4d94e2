/* log.c — one-line messages on stderr in the form "PROG: what: why". */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "core/sys.h"

const char *log_prog = "usock";
int log_level = 1;

void log_init(const char *prog)
{
	log_prog = prog;
}

const char *log_esc_n(const char *s, size_t len)
{
	/* room for a 4095-byte path, every byte escaped, in a sentence */
	static char ring[8][ADDR_STRLEN + 4096];
	static unsigned next;
	char *b = ring[next++ % 8];
	esc_bytes(b, sizeof ring[0], s, len);
	return b;
}

const char *log_esc(const char *s)
{
	return s ? log_esc_n(s, strlen(s)) : "-";
}

const char *usock_strerror(int e)
{
	if (e == ENAMETOOLONG)
		return "name too long for a UNIX socket (sun_path holds 107 bytes)";
	return strerror(e);
}

/* The signalfd made by cli_signals(), or -1: while it exists, SIGINT and
 * SIGTERM are blocked and reach the tool only through it. */
static int log_sig_fd = -1;

/* Write TEXT to stderr ourselves (no queue: a short-lived tool, or no
 * writer thread).  A stderr nobody reads (a full pipe, a terminal held
 * by ^S) would block the write for ever, and with the signals blocked
 * nothing could end it; so with a signalfd, wait for room and for
 * SIGINT, SIGTERM or SIGHUP together, and on one of those exit 128+N at
 * once, as the tool would have.  Once poll says there is room, a pipe
 * takes PIPE_BUF bytes without blocking. */
static void direct_write(const char *text, size_t len)
{
	while (len) {
		if (log_sig_fd >= 0) {
			struct pollfd p[2] = { { .fd = 2, .events = POLLOUT },
					       { .fd = log_sig_fd, .events = POLLIN } };
			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				return;
			}
			struct signalfd_siginfo si;
			if ((p[1].revents & POLLIN) &&
			    read(log_sig_fd, &si, sizeof si) == sizeof si &&
			    (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM ||
			     si.ssi_signo == SIGHUP))
				_exit(128 + (int)si.ssi_signo);
			if (!p[0].revents)
				continue;
		}
		ssize_t w = write(2, text, len < PIPE_BUF ? len : PIPE_BUF);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		text += w;
		len -= (size_t)w;
	}
}

/* Format "PROG: FMT[: strerror(E)]\n" in one write so lines from
 * several processes do not interleave. */
static void vlog(int e, const char *fmt, va_list ap)
{
	char buf[2 * ADDR_STRLEN];
	int n = snprintf(buf, sizeof buf, "%s: ", log_prog);
	if (n < 0)
		return;
	int m = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	if (m > 0)
		n += m;
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	if (e >= 0)
		n += snprintf(buf + n, sizeof buf - n, ": %s", usock_strerror(e));
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	fflush(stdout);
	if (!cli_log_write(buf, (size_t)n))
		direct_write(buf, (size_t)n);
}

void log_print(const char *fmt, ...)
{
	char buf[2 * ADDR_STRLEN];
	va_list ap;
	int e = errno;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		log_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	errno = e;
}

void log_write(const char *text, size_t len)
{
	if (!cli_log_write(text, len))
		direct_write(text, len);
}

/* The last line of die(): with queued lines it joins the queue, which
 * then gets its bounded flush; else the dump is flushed first, so that
 * the line comes after the last record. */
static void last_line(int e, const char *fmt, va_list ap)
{
	if (cli_log_queued()) {
		vlog(e, fmt, ap);
		cli_dump_finish();
	} else {
		cli_dump_finish();
		vlog(e, fmt, ap);
	}
}

/* The body of the loggers: format and print when log_level reaches
 * LEVEL, with strerror(errno) when WITH_ERRNO; errno is kept. */
#define LOG_BODY(level, with_errno) do { \
	int e_ = errno; \
	if (log_level >= (level)) { \
		va_list ap; \
		va_start(ap, fmt); \
		vlog((with_errno) ? e_ : -1, fmt, ap); \
		va_end(ap); \
	} \
	errno = e_; \
} while (0)

void log_err(const char *fmt, ...)
{
	LOG_BODY(0, 0);
}

void log_syserr(const char *fmt, ...)
{
	LOG_BODY(0, 1);
}

void log_verbose(const char *fmt, ...)
{
	LOG_BODY(2, 0);
}

void log_warn(const char *fmt, ...)
{
	LOG_BODY(1, 0);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	last_line(-1, fmt, ap);
	va_end(ap);
	exit(code);
}

void die_sys(int code, const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	last_line(e, fmt, ap);
	va_end(ap);
	exit(code);
}

void print_version(void)
{
	printf("%s (usock) %s\n", log_prog, USOCK_VERSION);
}

void die_listen(const struct listener *l, const char *name)
{
	char comm[64];
	if (errno == EADDRINUSE && l->holder_pid > 0)
		die(1, "listen %s: address in use by a live listener (pid %d, %s)",
		    name, (int)l->holder_pid,
		    proc_comm(l->holder_pid, comm, sizeof comm) ? log_esc(comm) : "?");
	if (errno == EADDRINUSE && l->addr.kind != ADDR_TCP)
		die(1, "listen %s: address in use by a live listener", name);
	if (errno == EEXIST)
		die(1, "listen %s: the path exists and is not a socket; "
		    "refusing to replace it", name);
	if (l->unproven)
		die(1, "listen %s: a socket file is there and whether anything "
		    "listens on it cannot be checked (%s); refusing to replace it",
		    name, strerror(errno));
	die_sys(1, "listen %s", name);
}

int cli_signals(int fd, const int *signos)
{
	int sfd = sig_fd_of(fd, signos);
	if (sfd < 0)
		die_sys(1, "signalfd");
	log_sig_fd = sfd;
	return sfd;
}
