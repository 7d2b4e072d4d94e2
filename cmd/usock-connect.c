/* usock-connect — connect to one address and relay it to stdin/stdout. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "interactive/interactive.h"
#include "cli/cli.h"
#include "core/dgram.h"
#include "core/dump.h"
#include "core/relay.h"
#include "core/sys.h"

enum {
	OPT_NO_INTERACTIVE = 0x100, OPT_PROMPT, OPT_HISTORY, OPT_NO_HISTORY,
	OPT_CRLF, OPT_RAW, OPT_LINGER, OPT_READ_BOUNDARIES, OPT_KEEPALIVE,
	OPT_DUMP, OPT_SOURCE
};

static const char usage_text[] =
	"Usage: usock-connect [OPTIONS] ADDRESS\n"
	"Connect to ADDRESS and relay it to standard input and output.\n"
	"\n"
	"  -w, --wait SECONDS      retry while ADDRESS is missing or refusing\n"
	"  -z, --probe             connect, close, exit 0 if something accepted\n"
	"  -t, --timeout SECONDS   give up after SECONDS without traffic\n"
	"  -i, --interactive       line editing and history (default on a terminal)\n"
	"      --no-interactive    never use line editing\n"
	"      --prompt STRING     interactive prompt (default: 'ADDRESS> ')\n"
	"      --history FILE      history file (default: one per ADDRESS in\n"
	"                          $XDG_STATE_HOME/usock/history.d)\n"
	"      --no-history        keep no history file\n"
	"      --crlf              send each LF as CR LF (typed lines or a pipe)\n"
	"      --raw               show the peer's bytes as they are, unescaped\n"
	"  -x, --hexdump           dump both directions to stderr (--dump=hex)\n"
	"      --dump=FORMAT       dump both directions to stderr, FORMAT hex\n"
	"                          or text (socat -v's view)\n"
	"  -4, -6                  TCP: use IPv4 (IPv6) only, as tcp4: (tcp6:)\n"
	"      --keepalive[=SECONDS]\n"
	"                          TCP keepalive (idle time SECONDS, else the kernel's)\n"
	"      --source ADDR       bind to ADDR before connecting: an IP address\n"
	"                          [with :PORT], or a UNIX path or @NAME\n"
	"      --linger SECONDS    at input EOF send no EOF; print what arrives\n"
	"                          until the peer closes or SECONDS pass silent\n"
	"      --read-boundaries   unix-dgram:, unix-seqpacket: send one message per\n"
	"                          read of stdin (binary data), not one per line\n"
	OPT_COMMON_HELP
	"\n"
	OPT_ADDRESS_HELP
	"Exit status: 0 ok, 1 failed, 2 usage, 124 deadline passed.\n";

static const struct option longopts[] = {
	{ "wait", required_argument, NULL, 'w' },
	{ "probe", no_argument, NULL, 'z' },
	{ "timeout", required_argument, NULL, 't' },
	{ "interactive", no_argument, NULL, 'i' },
	{ "no-interactive", no_argument, NULL, OPT_NO_INTERACTIVE },
	{ "prompt", required_argument, NULL, OPT_PROMPT },
	{ "history", required_argument, NULL, OPT_HISTORY },
	{ "no-history", no_argument, NULL, OPT_NO_HISTORY },
	{ "crlf", no_argument, NULL, OPT_CRLF },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "hexdump", no_argument, NULL, 'x' },
	{ "dump", required_argument, NULL, OPT_DUMP },
	{ "linger", required_argument, NULL, OPT_LINGER },
	{ "keepalive", optional_argument, NULL, OPT_KEEPALIVE },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "read-boundaries", no_argument, NULL, OPT_READ_BOUNDARIES },
	OPT_COMMON_LONG,
	{ NULL, 0, NULL, 0 }
};

struct args {
	struct addr addr;
	const char *addr_arg;
	int64_t wait_ms;     /* -1: do not wait */
	int64_t timeout_ms;  /* -1: none */
	int keepalive;       /* --keepalive: 0 off, -1 kernel's idle time, or s */
	int family;          /* -4/-6: AF_INET or AF_INET6, or 0 */
	const char *source_arg; /* --source, or NULL */
	struct addr source;
	int64_t linger_ms;   /* --linger, or 0: half-close at input EOF */
	int probe;
	int interactive;     /* -1: decide from the terminal */
	int dump;            /* DUMP_HEX, DUMP_TEXT, or 0 */
	const char *dump_opt; /* the option that asked for it */
	const char *prompt;  /* NULL: "ADDRESS> " */
	const char *history; /* NULL: the default file */
	int no_history;
	int crlf;
	int raw;
	int per_read;        /* --read-boundaries */
};

/* Interactive or not: -i needs readline and a terminal on stdin; by
 * default both stdin and stdout must be terminals.  Options of the
 * interactive mode are refused where they would be ignored. */
static void choose_mode(struct args *a)
{
	int asked = a->interactive;

	if (asked == 1 && !interactive_available())
		die(EXIT_USAGE, "--interactive: line editing is not available in "
		    "this build (built without readline)");
	if (asked == 1 && !isatty(0))
		die(EXIT_USAGE, "--interactive: standard input is not a terminal");
	if (asked == -1)
		a->interactive = !a->probe && interactive_available() &&
				 isatty(0) && isatty(1);
	if (a->crlf && a->probe)
		die(EXIT_USAGE, "cannot use --probe with --crlf");
	const char *only = a->raw ? "--raw" : a->prompt ? "--prompt" : NULL;
	if (only && !a->interactive)
		die(EXIT_USAGE, "%s: works only in interactive mode (%s)", only,
		    asked == 0 ? "--no-interactive was given" :
		    !interactive_available() ? "not available in this build" :
		    !isatty(0) ? "standard input is not a terminal" :
		    "standard output is not a terminal; -i forces it");
}

/* Datagram and seqpacket addresses: no line editing (lines are the
 * messages already), so -i is refused and the default is off. */
static void check_messages(struct args *a)
{
	if (a->crlf)
		die(EXIT_USAGE, "cannot use --crlf with %s addresses (lines are "
		    "sent without their newline)",
		    a->addr.type == SOCK_DGRAM ? "unix-dgram:" : "unix-seqpacket:");
	if (a->interactive == 1)
		die(EXIT_USAGE, "cannot use --interactive with %s addresses "
		    "(each line is already one message)",
		    a->addr.type == SOCK_DGRAM ? "unix-dgram:" : "unix-seqpacket:");
	a->interactive = 0;
}

/* ADDRESS, with what -4, -6 and --keepalive ask of it (a TCP address,
 * of that family), --source, and what a datagram or seqpacket address
 * refuses. */
static void parse_address(struct args *a)
{
	if (a->family || a->keepalive) {
		/* TCP options: the address must be TCP, and -4/-6 narrow it */
		const char *why;
		if (addr_parse(&a->addr, a->addr_arg, 0, &why) < 0)
			die(EXIT_USAGE, "address '%s': %s", log_esc(a->addr_arg), why);
		if (a->addr.kind != ADDR_TCP)
			die(EXIT_USAGE, "%s: only for TCP addresses, not '%s'",
			    a->family ? (a->family == AF_INET ? "-4" : "-6") :
			    "--keepalive", log_esc(a->addr_arg));
		opt_narrow(&a->addr, "", a->addr_arg, a->family);
		int usage;
		if (addr_resolve(&a->addr, 0, &why, &usage) < 0)
			die(usage ? EXIT_USAGE : 1, "address '%s': %s",
			    log_esc(a->addr_arg), why);
	} else {
		opt_addr(&a->addr, a->addr_arg, 0);
	}
	if (a->source_arg) {
		opt_source(&a->source, a->source_arg, a->family);
		opt_source_check(&a->source, a->source_arg, &a->addr,
				 a->addr_arg);
	}
	if (a->addr.type != SOCK_STREAM)
		check_messages(a);
	else if (a->per_read)
		die(EXIT_USAGE, "--read-boundaries: only for unix-dgram: and "
		    "unix-seqpacket: addresses (a stream has no boundaries)");
}

static void parse_argv(int argc, char **argv, struct args *a)
{
	int c, said_i = 0, said_no_i = 0;

	*a = (struct args){ .wait_ms = -1, .timeout_ms = -1, .interactive = -1 };
	opterr = 0;
	struct opt_iter it = OPT_ITER(argc, argv, 0);
	while ((c = opt_next(&it, "+:w:zt:ix46vqhV", longopts)) != -1) {
		switch (c) {
		case 'w': a->wait_ms = opt_duration("--wait", optarg); break;
		case 'z': a->probe = 1; break;
		case 't': a->timeout_ms = opt_duration("--timeout", optarg); break;
		case 'i': a->interactive = 1; said_i = 1; break;
		case OPT_NO_INTERACTIVE: a->interactive = 0; said_no_i = 1; break;
		case OPT_PROMPT: a->prompt = optarg; break;
		case OPT_HISTORY: a->history = optarg; break;
		case OPT_NO_HISTORY: a->no_history = 1; break;
		case OPT_CRLF: a->crlf = 1; break;
		case OPT_RAW: a->raw = 1; break;
		case 'x':
			opt_dump_set(&a->dump, DUMP_HEX);
			a->dump_opt = "--hexdump";
			break;
		case OPT_DUMP:
			opt_dump_set(&a->dump, opt_dump("--dump", optarg));
			a->dump_opt = "--dump";
			break;
		case OPT_LINGER: a->linger_ms = opt_duration("--linger", optarg); break;
		case OPT_KEEPALIVE: a->keepalive = opt_keepalive(optarg); break;
		case '4': case '6': opt_family(&a->family, c); break;
		case OPT_READ_BOUNDARIES: a->per_read = 1; break;
		case OPT_SOURCE: a->source_arg = optarg; break;
		default: opt_common(c, usage_text, argv);
		}
	}
	if (optind >= argc)
		die(EXIT_USAGE, "missing ADDRESS (try --help)");
	if (optind + 1 < argc)
		die(EXIT_USAGE, "unexpected argument '%s' (one ADDRESS only)",
		    log_esc(argv[optind + 1]));
	if (said_i && said_no_i)
		die(EXIT_USAGE, "cannot use --interactive with --no-interactive");
	if (a->history && a->no_history)
		die(EXIT_USAGE, "cannot use --history with --no-history");
	if (a->probe && a->interactive == 1)
		die(EXIT_USAGE, "cannot use --probe with --interactive");
	if (a->probe && a->dump)
		die(EXIT_USAGE, "cannot use --probe with %s", a->dump_opt);
	if (a->probe && a->linger_ms)
		die(EXIT_USAGE, "cannot use --probe with --linger");
	if (a->linger_ms && a->interactive == 1)
		die(EXIT_USAGE, "cannot use --linger with --interactive");
	if (a->linger_ms)
		a->interactive = 0; /* a script's option: no line editing */
	a->addr_arg = argv[optind];
	parse_address(a);
	choose_mode(a);
}

/* What a failed connect means for a datagram or seqpacket address. */
static const char *connect_hint(const struct args *a, int e)
{
	if (a->addr.type == SOCK_STREAM)
		return "";
	if (e == EPROTOTYPE)
		return a->addr.type == SOCK_DGRAM ?
			" (the socket there is not a datagram socket)" :
			" (the socket there is not a seqpacket socket)";
	if (e == ECONNREFUSED && a->addr.type == SOCK_DGRAM)
		return " (no socket is bound there: nothing would read)";
	return "";
}

/* How long -z waits for an answer when neither -w nor -t says. */
#define PROBE_DEFAULT_MS 5000
/* How long connecting waits for an answer (a TCP handshake, room in a
 * full backlog) when nothing else says: about what the kernel gives a
 * TCP handshake with its default SYN retries. */
#define CONNECT_DEFAULT_MS 120000

/* MS as "0.5 s", "5 s" or "2 min", into BUF. */
static const char *span(int64_t ms, char *buf, size_t n)
{
	if (ms >= 60000 && ms % 60000 == 0)
		snprintf(buf, n, "%lld min", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, n, "%lld s", (long long)(ms / 1000));
	else
		snprintf(buf, n, "%.3g s", (double)ms / 1000);
	return buf;
}

/* The socket file a datagram socket's --source made: removed at exit
 * (if the path still holds it), so that answers reach us until then. */
static struct sock_bound source_made;
static const struct addr *source_addr;

static void source_cleanup(void)
{
	sock_source_unlink(source_addr, &source_made);
}

/* Connect, waiting until the deadline of -w (retrying while the
 * endpoint is missing or refusing), of -t, of -z by default, or
 * CONNECT_DEFAULT_MS; SIGINT or SIGTERM on SIGFD ends the wait at once
 * with status 128 + the signal.  Exits on failure: 124 when a deadline
 * given with -w or -t passed, else 1. */
static int open_connection(const struct args *a, const char *name, int sigfd)
{
	int given = a->wait_ms >= 0 || a->timeout_ms >= 0;
	int64_t span_ms = a->wait_ms >= 0 ? a->wait_ms :
			  a->timeout_ms >= 0 ? a->timeout_ms :
			  a->probe ? PROBE_DEFAULT_MS : CONNECT_DEFAULT_MS;
	struct sock_wait w = { .deadline = now_ms() + span_ms,
			       .retry = a->wait_ms >= 0, .sigfd = sigfd,
			       .source = a->source_arg ? &a->source : NULL };
	char t[32];

	int fd = sock_connect_wait(&a->addr, &w);
	source_made = w.bound;
	if (fd >= 0)
		return fd;
	if (errno == EINTR && w.signo)
		exit(128 + w.signo);
	if (w.source_failed)
		die(1, "bind --source %s: %s", log_esc(a->source_arg),
		    usock_strerror(errno));
	if (errno == ENOTSOCK)
		die(1, "connect %s: not a socket: %s", name,
		    file_kind_name(w.mode));
	if (!w.expired && *connect_hint(a, errno))
		die(1, "connect %s: %s%s", name, usock_strerror(errno),
		    connect_hint(a, errno));
	if (!w.expired)
		die_sys(1, "connect %s", name);
	/* the deadline passed: say what the tries got */
	int code = given ? EXIT_TIMEOUT : 1;
	span(span_ms, t, sizeof t);
	if (w.last_err == 0)
		die(code, "connect %s: no answer within %s", name, t);
	if (w.last_err == EAGAIN)
		die(code, "connect %s: its listen backlog stayed full for %s "
		    "(the server is not accepting)", name, t);
	die(code, "connect %s: %s (tried for %s, %d %s)", name,
	    usock_strerror(w.last_err), t, w.tries,
	    w.tries == 1 ? "time" : "times");
}

/* The dump of our one connection (number 1), or NULL without --dump. */
static struct dump_conn *dump_of(const struct args *a, const char *name,
				 int flags)
{
	if (!a->dump)
		return NULL;
	struct dump_conn *dc = dump_conn_new(cli_dump_open(a->dump, flags), 1,
					     name);
	if (!dc)
		die_sys(1, "--dump");
	return dc;
}

static void say(void *ctx, enum interactive_notice what)
{
	const char *name = ctx;
	if (what == INTERACTIVE_EOF_SENT)
		log_warn("end of file sent to %s; waiting for it to close "
			 "(Ctrl-C quits)", name);
	else
		log_warn("Ctrl-C again within a second quits; Ctrl-D at an "
			 "empty line sends end of file");
}

/* NO_COLOR set and not empty, or a dumb terminal: no reverse video. */
static int want_color(void)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
	return isatty(1) && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);
}

/* The line-editing session: history, prompt, then interactive_run(). */
static int run_interactive(const struct args *a, int fd, int sigfd,
			   const char *name)
{
	char path[PATH_MAX], prompt[ADDR_STRLEN + 2];
	const char *hist = NULL;

	setlocale(LC_CTYPE, "");
	if (!a->no_history) {
		int dirs = 0;
		if (a->history && strlen(a->history) < sizeof path) {
			memcpy(path, a->history, strlen(a->history) + 1);
			hist = path;
		} else if (a->history) {
			errno = ENAMETOOLONG;
			log_warn("history %s: %s; lines are not saved",
				 log_esc(a->history), strerror(errno));
		} else if (interactive_history_default(path, sizeof path, name) == 0) {
			hist = path;
			dirs = 2;       /* usock/history.d/ */
		} else if (path[0]) {
			log_warn("history directory %s: %s; lines are not saved",
				 log_esc(path), strerror(errno));
		} else {
			log_warn("history: no home directory; lines are not saved");
		}
		const char *why = NULL;
		int hfd = hist ? interactive_history_fd(path, dirs, &why) : -1;
		if (hist && (hfd < 0 || interactive_history_open(hfd) < 0)) {
			log_warn("history %s: %s; lines are not saved", log_esc(path),
				 why ? why : strerror(errno));
			hist = NULL;
		}
	}
	snprintf(prompt, sizeof prompt, "%s> ", name);

	/* resizes and Ctrl-Z come through the signalfd too */
	cli_signals(sigfd, (const int[]){ SIGINT, SIGTERM, SIGWINCH, SIGTSTP, 0 });

	struct dump_conn *dc = dump_of(a, name, DUMP_SYNC);
	struct interactive s = {
		.fd = fd, .sigfd = sigfd, .idle_ms = a->timeout_ms,
		.prompt = a->prompt ? a->prompt : prompt,
		.crlf = a->crlf, .raw = a->raw, .color = !a->raw && want_color(),
		.tap = dc ? dump_tap_mark : NULL, .tap_ctx = dc,
		.notice = say, .notice_ctx = (void *)name,
	};
	int rc = interactive_run(&s);
	dump_conn_free(dc);
	if (s.history_errno)
		log_warn("history %s: %s; later lines were not saved", log_esc(hist),
			 strerror(s.history_errno));
	switch (rc) {
	case RELAY_OK:
		log_warn("%s closed the connection", name);
		log_verbose("%llu byte%s sent, %llu received",
			    (unsigned long long)s.sent, num_s(s.sent),
			    (unsigned long long)s.received);
		return 0;
	case RELAY_TIMEOUT:
	{
		char d[32];
		die(EXIT_TIMEOUT, "%s: nothing happened for %s", name,
		    num_format_duration(a->timeout_ms, d, sizeof d));
	}
	case RELAY_SIGNAL:
		return 128 + s.signo;
	default:
		if (!s.failed)
			die_sys(1, "poll");
		if (strcmp(s.failed, "stdout") == 0)
			die_sys(1, "write stdout");
		die_sys(1, "%s %s", s.failed, name);
	}
}

static const char *msg_kind(const struct args *a)
{
	return a->addr.type == SOCK_DGRAM ? "datagram" : "record";
}

/* A datagram or seqpacket exchange: one message per line (or read) of
 * stdin, one line of stdout per message received. */
static int run_messages(const struct args *a, int fd, int sigfd,
			const char *name)
{
	/* a datagram socket needs a name for answers to reach it */
	if (a->addr.type == SOCK_DGRAM && !a->source_arg && dgram_autobind(fd) < 0)
		die_sys(1, "bind an address for answers");
	if (fcntl(0, F_GETFL) < 0 && open("/dev/null", O_RDONLY) != 0)
		die_sys(1, "open /dev/null");
	if (fcntl(1, F_GETFL) < 0)
		die(1, "standard output is closed");
	stdio_prepare();

	struct dump_conn *dc = dump_of(a, name, 0);
	struct msg_relay r = {
		.fd = fd, .type = a->addr.type, .in = 0, .out = 1,
		.sigfd = sigfd, .per_read = a->per_read,
		.escape = !a->raw && isatty(1), .end_on_peer_eof = isatty(0),
		.idle_ms = a->timeout_ms,
		/* the answer window after stdin EOF: --linger, else for
		 * datagrams -t, else none */
		.linger_ms = a->linger_ms ? a->linger_ms :
			     a->addr.type == SOCK_DGRAM ? a->timeout_ms : -1,
		.tap = dc ? dump_tap_mark : NULL, .tap_ctx = dc,
	};
	int rc = msg_relay_run(&r);
	dump_conn_free(dc);
	if (r.skipped)
		log_warn("%llu empty line(s) not sent: an empty record reads "
			 "as end of file on %s", (unsigned long long)r.skipped,
			 name);
	switch (rc) {
	case RELAY_OK:
		log_verbose("%llu messages sent, %llu received",
			    (unsigned long long)r.sent,
			    (unsigned long long)r.received);
		return 0;
	case RELAY_TIMEOUT:
		if (r.queue_full)
			die(EXIT_TIMEOUT, "send %s: the receiver's queue stayed "
			    "full for %lld ms (it is not reading)", name,
			    (long long)a->timeout_ms);
		die(EXIT_TIMEOUT, "%s: no traffic for %lld ms", name,
		    (long long)a->timeout_ms);
	case RELAY_SIGNAL:
		return 128 + r.signo;
	default:
		if (!r.failed)
			die_sys(1, "poll");
		if (!strcmp(r.failed, "read"))
			die_sys(1, "read stdin");
		if (!strcmp(r.failed, "write"))
			die_sys(1, "write stdout");
		if (errno == EMSGSIZE && r.too_long_more)
			die(1, "send %s: a line of more than %zu bytes is over the "
			    "%zu-byte limit of one %s (SO_SNDBUF less 32 bytes)",
			    name, r.limit, r.limit, msg_kind(a));
		if (errno == EMSGSIZE)
			die(1, "send %s: a %zu-byte %s is over the %zu-byte limit "
			    "(SO_SNDBUF less 32 bytes)", name, r.too_long,
			    msg_kind(a), r.limit);
		if (errno == ECONNREFUSED || errno == ENOTCONN)
			die(1, "send %s: %s (nothing is reading there any more)",
			    name, strerror(errno));
		die_sys(1, "%s %s", r.failed, name);
	}
}

int main(int argc, char **argv)
{
	struct args a;
	char name[ADDR_STRLEN];

	log_init("usock-connect");
	/* Lines are written directly, not queued (cli_log_queue()): one
	 * exchange, whose end is the user's, and an interactive session's
	 * records and lines must reach the screen before the prompt is
	 * redrawn (DUMP_SYNC). */
	if (stdio_guard() < 0)
		die_sys(1, "open /dev/null");
	parse_argv(argc, argv, &a);
	addr_format(&a.addr, name, sizeof name);

	int sigfd = cli_signals(-1, (const int[]){ SIGINT, SIGTERM, 0 });
	source_addr = &a.source;
	atexit(source_cleanup);

	int fd = open_connection(&a, name, sigfd);
	log_verbose("connected to %s", name);
	if (a.keepalive && sock_keepalive(fd, a.keepalive > 0 ? a.keepalive : 0) < 0)
		die_sys(1, "--keepalive");
	if (a.probe) {
		close(fd);
		return 0;
	}

	if (a.interactive)
		return run_interactive(&a, fd, sigfd, name);
	if (a.addr.type != SOCK_STREAM)
		return run_messages(&a, fd, sigfd, name);

	stdio_prepare();

	struct stdio_relay s;
	struct relay *r = &s.r;
	cli_stdio_relay(&s, fd, sigfd, a.crlf);
	/* what we send is the request */
	cli_conn_dump(&r->c, a.dump, 1, name, 0);
	r->idle_ms = a.timeout_ms;
	if (a.linger_ms) {
		relay_up(r)->keep_out = 1;
		r->linger_ms = a.linger_ms;
	}

	struct pump *failed = NULL;
	int rc = relay_run(r, &failed);
	switch (rc) {
	case RELAY_OK:
		log_verbose("closed: %llu byte%s sent, %llu received",
			    (unsigned long long)relay_up(r)->bytes,
			    num_s(relay_up(r)->bytes),
			    (unsigned long long)relay_down(r)->bytes);
		return 0;
	case RELAY_TIMEOUT:
	{
		char d[32];
		die(EXIT_TIMEOUT, "%s: no traffic for %s; connection reset", name,
		    num_format_duration(a.timeout_ms, d, sizeof d));
	}
	case RELAY_SIGNAL:
		return 128 + r->signo;
	default:
		cli_relay_error(r, failed, name);
		exit(1);
	}
}
