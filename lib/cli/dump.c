/* dump.c — --dump=hex|text and -x: the format option, and the one dump
 * of a process, on stderr, finished before the last words. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/dump.h"
#include "core/relay.h"

/* How long the last records may take to leave at exit (ms): a stderr
 * nobody reads costs this much, once. */
#define DUMP_EXIT_MS 1000

static struct dump *current;
/* Log lines go through CURRENT (cli_log_queue()) in the process OWNER;
 * a forked child, which has no writer thread, writes its own. */
static int lines;
static pid_t owner;
/* The flush at exit timed out: stderr is stuck, later lines are lost. */
static int stuck;
/* Held while a line is handed over and while CURRENT is closed, so that
 * a line of another thread never meets a closed queue. */
static pthread_mutex_t cur_mu = PTHREAD_MUTEX_INITIALIZER;

int opt_dump(const char *opt, const char *s)
{
	int f = dump_parse_format(s);
	if (f < 0)
		die(EXIT_USAGE, "%s: '%s' is not a dump format (hex or text)", opt,
		    log_esc(s));
	return f;
}

void opt_dump_set(int *fmt, int f)
{
	if (*fmt && *fmt != f)
		die(EXIT_USAGE, "cannot use --dump=hex (-x) with --dump=text");
	*fmt = f;
}

/* $USOCK_STDERR_QUEUE: bytes that may wait for stderr (usock(7)), 0
 * for the default; exits 2 when it is set but not 4096..1073741824. */
static size_t queue_max(void)
{
	const char *s = getenv("USOCK_STDERR_QUEUE");
	if (!s || !*s)
		return 0;
	return opt_ulong("USOCK_STDERR_QUEUE", s, DUMP_RECORD_MAX, 1ul << 30);
}

static void finish_at_exit(void)
{
	cli_dump_finish();
}

struct dump *cli_dump_open(int fmt, int flags)
{
	static int fmt_set;
	if (current) {
		/* the log lines' queue, opened first, gets its format once,
		 * before any connection is dumped */
		if (!fmt_set && fmt)
			dump_set_format(current, (enum dump_format)fmt);
		fmt_set = 1;
		return current;
	}
	fmt_set = 1;
	current = dump_open(2, (enum dump_format)fmt, queue_max(), flags);
	if (!current)
		die_sys(1, "--dump: start the writer");
	atexit(finish_at_exit);
	return current;
}

void cli_log_queue(void)
{
	if (lines)
		return;
	if (!current) {
		current = dump_open(2, (enum dump_format)0, queue_max(), 0);
		if (!current)
			die_sys(1, "start the log writer");
		atexit(finish_at_exit);
	}
	dump_set_prog(current, log_prog);
	owner = getpid();
	lines = 1;
}

int cli_log_queued(void)
{
	return lines && getpid() == owner;
}

int cli_log_write(const char *text, size_t len)
{
	if (!cli_log_queued())
		return 0;
	pthread_mutex_lock(&cur_mu);
	int done = 1;
	if (current)
		dump_line(current, text, len);
	else if (!stuck)
		done = 0;  /* after a flush that worked: write it */
	pthread_mutex_unlock(&cur_mu);
	return done;
}

void cli_dump_finish(void)
{
	int e = errno;
	int mine = lines && getpid() == owner;
	if (mine)
		pthread_mutex_lock(&cur_mu);
	if (current) {
		if (dump_close(current, DUMP_EXIT_MS) < 0 && errno == ETIMEDOUT)
			stuck = 1;
		current = NULL;
	}
	if (mine)
		pthread_mutex_unlock(&cur_mu);
	errno = e;
}

void cli_conn_dump(struct conn *c, int fmt, unsigned long id,
		   const char *peer, int req)
{
	c->id = id;
	if (fmt && conn_dump(c, cli_dump_open(fmt, 0), peer, req) < 0)
		die_sys(1, "--dump");
}
