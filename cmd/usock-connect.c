/* usock-connect — connect to one address and relay it to stdin/stdout. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "usock.h"

enum { OPT_NO_INTERACTIVE = 0x100 };

static const char usage_text[] =
	"Usage: usock-connect [OPTIONS] ADDRESS\n"
	"Connect to ADDRESS and relay it to standard input and output.\n"
	"\n"
	"  -w, --wait SECONDS      retry while ADDRESS is missing or refusing\n"
	"  -z, --probe             connect, close, exit 0 if something accepted\n"
	"  -t, --timeout SECONDS   give up after SECONDS without traffic\n"
	"  -i, --interactive       line editing (default on a terminal)\n"
	"      --no-interactive    never use line editing\n"
	"  -x, --hexdump           dump both directions to stderr\n"
	"  -v, --verbose           say more (repeatable)\n"
	"  -q, --quiet             say only what fails\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"ADDRESS: unix:PATH, ./PATH, @NAME, HOST:PORT, [IPV6]:PORT, PORT (see usock(7)).\n"
	"Exit status: 0 ok, 1 failed, 2 usage, 124 deadline passed.\n";

static const struct option longopts[] = {
	{ "wait", required_argument, NULL, 'w' },
	{ "probe", no_argument, NULL, 'z' },
	{ "timeout", required_argument, NULL, 't' },
	{ "interactive", no_argument, NULL, 'i' },
	{ "no-interactive", no_argument, NULL, OPT_NO_INTERACTIVE },
	{ "hexdump", no_argument, NULL, 'x' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

struct args {
	struct addr addr;
	const char *addr_arg;
	int64_t wait_ms;     /* -1: do not wait */
	int64_t timeout_ms;  /* -1: none */
	int probe;
	int interactive;     /* -1: decide from the terminal */
	int hexdump;
};

static void parse_argv(int argc, char **argv, struct args *a)
{
	int c;

	*a = (struct args){ .wait_ms = -1, .timeout_ms = -1, .interactive = -1 };
	while ((c = getopt_long(argc, argv, "+w:zt:ixvqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'w': a->wait_ms = opt_duration("--wait", optarg); break;
		case 'z': a->probe = 1; break;
		case 't': a->timeout_ms = opt_duration("--timeout", optarg); break;
		case 'i': a->interactive = 1; break;
		case OPT_NO_INTERACTIVE: a->interactive = 0; break;
		case 'x': a->hexdump = 1; break;
		case 'v': log_level++; break;
		case 'q': log_level = 0; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'V': print_version(); exit(0);
		default:
			fprintf(stderr, "Try 'usock-connect --help'.\n");
			exit(EXIT_USAGE);
		}
	}
	if (optind >= argc)
		die(EXIT_USAGE, "missing ADDRESS (try --help)");
	if (optind + 1 < argc)
		die(EXIT_USAGE, "unexpected argument '%s' (one ADDRESS only)",
		    argv[optind + 1]);
	if (a->probe && a->interactive == 1)
		die(EXIT_USAGE, "cannot use --probe with --interactive");
	if (a->probe && a->hexdump)
		die(EXIT_USAGE, "cannot use --probe with --hexdump");
	if (a->interactive == 1)
		die(EXIT_USAGE, "--interactive: line editing is not available in "
		    "this build");
	a->addr_arg = argv[optind];
	opt_addr(&a->addr, a->addr_arg, 0);
	if (a->addr.type != SOCK_STREAM)
		die(EXIT_USAGE, "address '%s': only stream sockets are supported",
		    a->addr_arg);
}

/* Connect, retrying until the --wait deadline while the endpoint is
 * missing or refusing.  Exits on failure. */
static int open_connection(const struct args *a, const char *name)
{
	int64_t start = now_ms();
	int64_t deadline = a->wait_ms >= 0 ? start + a->wait_ms :
			   a->timeout_ms >= 0 ? start + a->timeout_ms : -1;
	int64_t pause = 10;

	for (;;) {
		int fd = sock_connect(&a->addr, deadline);
		if (fd >= 0)
			return fd;
		int e = errno;
		if (e == ETIMEDOUT && deadline >= 0 && now_ms() >= deadline)
			die(EXIT_TIMEOUT, "connect %s: no answer within the deadline",
			    name);
		if (a->wait_ms < 0 || !sock_retryable(e)) {
			errno = e;
			die_sys(1, "connect %s", name);
		}
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			errno = e;
			die_sys(EXIT_TIMEOUT, "connect %s: gave up waiting", name);
		}
		struct timespec ts = { 0, 0 };
		int64_t nap = pause < left ? pause : left;
		ts.tv_sec = nap / 1000;
		ts.tv_nsec = (long)(nap % 1000) * 1000000;
		nanosleep(&ts, NULL);
		if (pause < 100)
			pause *= 2;
	}
}

static int saved_fl[2] = { -1, -1 };

static void restore_stdio(void)
{
	for (int i = 0; i < 2; i++)
		if (saved_fl[i] >= 0)
			fcntl(i, F_SETFL, saved_fl[i]);
}

/* Pipes and sockets on stdio go non-blocking for the relay; their flags
 * are put back at exit, since the open file may be shared. */
static void prepare_stdio(void)
{
	for (int i = 0; i < 2; i++) {
		enum fd_kind k = fd_kind(i);
		if (k == FD_PIPE || k == FD_SOCKET) {
			saved_fl[i] = fcntl(i, F_GETFL);
			fd_nonblock(i, 1);
			if (k == FD_PIPE)
				fd_grow_pipe(i);
		}
	}
	atexit(restore_stdio);
}

int main(int argc, char **argv)
{
	struct args a;
	char name[ADDR_STRLEN];

	log_init("usock-connect");
	parse_argv(argc, argv, &a);
	addr_format(&a.addr, name, sizeof name);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	int sigfd = sig_fd(&set);
	if (sigfd < 0)
		die_sys(1, "signalfd");

	int fd = open_connection(&a, name);
	log_verbose("connected to %s", name);
	if (a.probe) {
		close(fd);
		return 0;
	}

	if (fcntl(0, F_GETFL) < 0 && open("/dev/null", O_RDONLY) != 0)
		die_sys(1, "open /dev/null");
	if (fcntl(1, F_GETFL) < 0)
		die(1, "standard output is closed");
	prepare_stdio();

	struct relay r = { .sigfd = sigfd, .idle_ms = a.timeout_ms };
	struct hexdump hx_up = { 2, '>', 0 }, hx_down = { 2, '<', 0 };
	pump_init(&r.up, 0, fd);
	pump_init(&r.down, fd, 1);
	if (a.hexdump) {
		pump_set_tap(&r.up, hexdump_tap, &hx_up);
		pump_set_tap(&r.down, hexdump_tap, &hx_down);
	}
	/* On a terminal there is no half-close to wait for: the session
	 * ends when the peer does. */
	r.end_on_down_eof = isatty(0);

	struct pump *failed = NULL;
	int rc = relay_run(&r, &failed);
	pump_free(&r.up);
	pump_free(&r.down);
	switch (rc) {
	case RELAY_OK:
		log_verbose("closed: %llu bytes sent, %llu received",
			    (unsigned long long)r.up.bytes,
			    (unsigned long long)r.down.bytes);
		return 0;
	case RELAY_TIMEOUT:
		die(EXIT_TIMEOUT, "%s: no traffic for %lld ms", name,
		    (long long)a.timeout_ms);
	case RELAY_SIGNAL:
		return 128 + r.signo;
	default:
		if (!failed)
			die_sys(1, "poll");
		if (failed == &r.up && failed->failed_in)
			die_sys(1, "read stdin");
		if (failed == &r.down && !failed->failed_in)
			die_sys(1, "write stdout");
		die_sys(1, "%s %s", failed->failed_in ? "read" : "write", name);
	}
}
