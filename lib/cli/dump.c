/* dump.c — --dump=hex|text and -x: the format option, and the one dump
 * of a process, on stderr, finished before the last words. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/dump.h"
#include "core/relay.h"

/* How long the last records may take to leave at exit (ms): a stderr
 * nobody reads costs this much, once. */
#define DUMP_EXIT_MS 1000

static struct dump *current;

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

static void finish_at_exit(void)
{
	cli_dump_finish();
}

struct dump *cli_dump_open(int fmt, int flags)
{
	if (current)
		return current;
	current = dump_open(2, (enum dump_format)fmt, 0, flags);
	if (!current)
		die_sys(1, "--dump: start the writer");
	atexit(finish_at_exit);
	return current;
}

void cli_dump_finish(void)
{
	if (!current)
		return;
	int e = errno;
	dump_close(current, DUMP_EXIT_MS);
	current = NULL;
	errno = e;
}

void cli_conn_dump(struct conn *c, int fmt, unsigned long id,
		   const char *peer, int req)
{
	c->id = id;
	if (fmt && conn_dump(c, cli_dump_open(fmt, 0), peer, req) < 0)
		die_sys(1, "--dump");
}
