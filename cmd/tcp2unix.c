/* tcp2unix — a long-running bridge: accept on one address and forward
 * each connection to another (TCP to UNIX is the main case). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "bridge/loop.h"
#include "cli/cli.h"
#include "core/num.h"
#include "core/sys.h"

enum {
	OPT_ALLOW = 0x100, OPT_IDLE, OPT_CONNECT, OPT_PROXY, OPT_PRINT_ADDRESS,
	OPT_DRAIN, OPT_READY_FD, OPT_EXIT_IDLE, OPT_SOURCE, OPT_KEEPALIVE,
	OPT_DUMP,
};

static const char usage_text[] =
	"Usage: tcp2unix [OPTIONS] LISTEN-ADDRESS TARGET-ADDRESS\n"
	"       tcp2unix [OPTIONS] TARGET-ADDRESS   (socket activation)\n"
	"Accept connections on LISTEN-ADDRESS and forward each to TARGET-ADDRESS.\n"
	"\n"
	"  -c, --max-conns N       at most N connections at once; others wait in\n"
	"                          the backlog (default: what the fd limit allows)\n"
	"      --allow CIDR        accept TCP clients only from CIDR (repeatable)\n"
	"      --idle-timeout SECONDS\n"
	"                          close connections idle that long\n"
	"      --connect-timeout SECONDS\n"
	"                          give up on the target after that long (10)\n"
	"      --proxy-protocol v1|v2\n"
	"                          send a PROXY protocol header to the target\n"
	"      --source ADDR       bind connections to the target to ADDR: an IP\n"
	"                          address [with :PORT], or a UNIX path or @NAME\n"
	"      --keepalive[=SECONDS]\n"
	"                          TCP keepalive on TCP connections (idle time\n"
	"                          SECONDS, else the kernel's)\n"
	"  -4, -6                  TCP addresses: IPv4 (IPv6) only, as tcp4: (tcp6:)\n"
	"  -m, --mode OCTAL        socket file permissions (UNIX LISTEN-ADDRESS)\n"
	"  -o, --owner USER[:GROUP] socket file owner and group\n"
	"  -b, --backlog N         listen backlog (default 4096)\n"
	"      --print-address     print the bound address on stderr\n"
	"      --ready-fd N        once listening, write the bound address to fd N\n"
	"                          and close it\n"
	"      --drain SECONDS     on SIGTERM, let connections finish this long (30)\n"
	"      --exit-idle-time SECONDS\n"
	"                          exit 0 after SECONDS without a connection\n"
	"  -j, --workers N         N event loops (threads) share the connections (1)\n"
	"  -x, --hexdump           dump what each connection relays to stderr\n"
	"                          (--dump=hex)\n"
	"      --dump=FORMAT       the same, FORMAT hex or text (socat -v's view)\n"
	OPT_COMMON_HELP
	"\n"
	"Addresses: see usock(7).  Signals: SIGTERM/SIGINT stop accepting and drain,\n"
	"SIGUSR1 prints counters.  Exit status: 0 after a clean stop, 1 failure, 2 usage.\n";

static const struct option longopts[] = {
	{ "max-conns", required_argument, NULL, 'c' },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT },
	{ "proxy-protocol", required_argument, NULL, OPT_PROXY },
	{ "mode", required_argument, NULL, 'm' },
	{ "owner", required_argument, NULL, 'o' },
	{ "backlog", required_argument, NULL, 'b' },
	{ "print-address", no_argument, NULL, OPT_PRINT_ADDRESS },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "exit-idle-time", required_argument, NULL, OPT_EXIT_IDLE },
	{ "workers", required_argument, NULL, 'j' },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "keepalive", optional_argument, NULL, OPT_KEEPALIVE },
	{ "hexdump", no_argument, NULL, 'x' },
	{ "dump", required_argument, NULL, OPT_DUMP },
	OPT_COMMON_LONG,
	{ NULL, 0, NULL, 0 }
};

#define MAX_ALLOW 256

struct args {
	struct addr listen;
	const char *listen_arg, *target_arg;
	struct listen_opts lo;
	int activated;              /* LISTEN_FDS sockets to serve */
	int print_address;
	int ready_fd;               /* --ready-fd, or -1 */
	int dynamic;                /* the target's host is a name */
	int family;                 /* -4/-6: AF_INET or AF_INET6, or 0 */
	const char *source_arg;     /* --source, or NULL */
	struct addr source;
	int dump;                   /* DUMP_HEX, DUMP_TEXT, or 0 */
	struct cidr allow[MAX_ALLOW];
	struct bridge b;
};

/* Sockets passed by systemd: how many (from fd 3), or 0. */
static int activation_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	unsigned long p, n;
	const char *why;
	if (!pid || !fds || num_parse_ulong(pid, 1, 1UL << 30, &p, &why) < 0 ||
	    (pid_t)p != getpid())
		return 0;
	if (num_parse_ulong(fds, 1, 16, &n, &why) < 0)
		die(EXIT_USAGE, "LISTEN_FDS: '%s' is %s (1..16)", log_esc(fds), why);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

/* opt_addr() of ARG into A, narrowed by -4/-6 (FAMILY) first. */
static void addr_with_family(struct addr *a, const char *arg, int flags,
			     int family)
{
	const char *why;
	int usage;
	if (addr_parse(a, arg, flags, &why) < 0)
		die(EXIT_USAGE, "address '%s': %s", log_esc(arg), why);
	opt_narrow(a, "", arg, family);
	if (addr_resolve(a, flags, &why, &usage) < 0)
		die(usage ? EXIT_USAGE : 1, "address '%s': %s", log_esc(arg), why);
}

/* The options of TCP connections (-4/-6, --keepalive) need a TCP
 * address (under socket activation the listening sockets may be), and
 * --source one of the target's kind. */
static void tcp_options(struct args *a)
{
	int tcp = a->activated || a->listen.kind == ADDR_TCP ||
		  a->b.target.kind == ADDR_TCP;
	if ((a->family || a->b.keepalive) && !tcp)
		die(EXIT_USAGE, "%s: only for TCP addresses, and neither '%s' "
		    "nor '%s' is one", a->family == AF_INET ? "-4" :
		    a->family ? "-6" : "--keepalive", log_esc(a->listen_arg),
		    log_esc(a->target_arg));
	if (!a->source_arg)
		return;
	opt_source(&a->source, a->source_arg,
		   a->b.target.kind == ADDR_TCP ? a->family : 0);
	opt_source_check(&a->source, a->source_arg, &a->b.target,
			 a->target_arg);
	a->b.source = &a->source;
}

/* The options, into A set to the defaults first; argv[optind..argc)
 * are the operands after it. */
static void parse_options(int argc, char **argv, struct args *a)
{
	const char *why;
	int c;

	memset(a, 0, sizeof *a);
	opterr = 0;
	struct opt_iter it = OPT_ITER(argc, argv, 0);
	a->lo = LISTEN_OPTS(4096);
	a->b.idle_ms = -1;
	a->b.connect_ms = 10000;
	a->b.drain_ms = 30000;
	a->b.allow = a->allow;
	a->ready_fd = -1;
	while ((c = opt_next(&it, "+:c:j:m:o:b:46xvqhV", longopts)) != -1) {
		switch (c) {
		case 'c': a->b.max_conns = opt_ulong("--max-conns", optarg, 1, 1000000); break;
		case 'j': a->b.workers = (int)opt_ulong("--workers", optarg, 1, BRIDGE_WORKERS_MAX); break;
		case OPT_ALLOW:
			if (a->b.nallow == MAX_ALLOW)
				die(EXIT_USAGE, "--allow: at most %d ranges", MAX_ALLOW);
			if (cidr_parse(&a->allow[a->b.nallow], optarg, &why) < 0)
				die(EXIT_USAGE, "--allow: '%s': %s", log_esc(optarg), why);
			a->b.nallow++;
			break;
		case OPT_IDLE: a->b.idle_ms = opt_duration("--idle-timeout", optarg); break;
		case OPT_CONNECT: a->b.connect_ms = opt_duration("--connect-timeout", optarg); break;
		case OPT_DRAIN:
			/* 0: close what is open at once */
			a->b.drain_ms = opt_duration0("--drain", optarg);
			break;
		case OPT_PROXY:
			if (!strcmp(optarg, "v1") || !strcmp(optarg, "1"))
				a->b.proxy = 1;
			else if (!strcmp(optarg, "v2") || !strcmp(optarg, "2"))
				a->b.proxy = 2;
			else
				die(EXIT_USAGE, "--proxy-protocol: '%s' is not v1 or v2",
				    log_esc(optarg));
			break;
		case OPT_PRINT_ADDRESS: a->print_address = 1; break;
		case 'x': opt_dump_set(&a->dump, DUMP_HEX); break;
		case OPT_DUMP: opt_dump_set(&a->dump, opt_dump("--dump", optarg)); break;
		case OPT_READY_FD: a->ready_fd = opt_ready_fd("--ready-fd", optarg); break;
		case OPT_EXIT_IDLE:
			a->b.exit_idle_ms = opt_duration("--exit-idle-time", optarg);
			break;
		case OPT_SOURCE: a->source_arg = optarg; break;
		case OPT_KEEPALIVE: a->b.keepalive = opt_keepalive(optarg); break;
		case '4': case '6': opt_family(&a->family, c); break;
		default:
			if (!opt_listen(c, optarg, &a->lo))
				opt_common(c, usage_text, argv);
		}
	}
}

/* LISTEN-ADDRESS (none under socket activation) and TARGET-ADDRESS, and
 * what the options ask of them. */
static void parse_argv(int argc, char **argv, struct args *a)
{
	const char *why;

	parse_options(argc, argv, a);
	a->activated = activation_fds();
	int want = a->activated ? 1 : 2;
	if (argc - optind < want)
		die(EXIT_USAGE, a->activated ? "missing TARGET-ADDRESS (try --help)" :
		    "missing %s (try --help)", optind < argc ? "TARGET-ADDRESS" :
		    "LISTEN-ADDRESS and TARGET-ADDRESS");
	if (argc - optind > want)
		die(EXIT_USAGE, a->activated ?
		    "socket activation: give only TARGET-ADDRESS, not '%s'" :
		    "unexpected argument '%s'", log_esc(argv[optind + 2 * (want == 2)]));
	if (!a->activated) {
		a->listen_arg = argv[optind++];
		addr_with_family(&a->listen, a->listen_arg, ADDR_LISTEN, a->family);
		if (a->listen.type != SOCK_STREAM)
			opt_stream_only(&a->listen, a->listen_arg, "tcp2unix bridges");
		opt_check_file_opts(&a->lo, &a->listen, a->listen_arg);
		if (a->b.nallow && a->listen.kind != ADDR_TCP)
			die(EXIT_USAGE, "--allow filters TCP clients by address; "
			    "'%s' is not a TCP address", log_esc(a->listen_arg));
	} else if (a->lo.has_mode || a->lo.uid != (uid_t)-1 || a->lo.gid != (gid_t)-1) {
		die(EXIT_USAGE, "socket activation: --mode and --owner belong "
		    "in the socket unit");
	}
	a->target_arg = argv[optind];
	if (addr_parse(&a->b.target, a->target_arg, 0, &why) < 0)
		die(EXIT_USAGE, "address '%s': %s", log_esc(a->target_arg), why);
	opt_narrow(&a->b.target, "", a->target_arg, a->family);
	/* a host name is looked up per connection, not once here */
	a->dynamic = resolve_is_name(&a->b.target);
	if (!a->dynamic)
		addr_with_family(&a->b.target, a->target_arg, 0, a->family);
	tcp_options(a);
	if (a->b.target.type != SOCK_STREAM)
		opt_stream_only(&a->b.target, a->target_arg, "tcp2unix bridges");
	/* UNIX targets are connected by a prepared address */
	if (a->b.target.kind == ADDR_UNIX && sock_prepare(&a->b.target) < 0)
		die_sys(1, "target %s", log_esc(a->target_arg));
}

static struct listener lst = { .fd = -1, .dirfd = -1 };

static void cleanup(void)
{
	sock_unlisten(&lst);
}

/* The addresses served, canonical, one a line, into BUF. */
static char *listeners(const struct args *a, char *buf, size_t n)
{
	char name[ADDR_STRLEN];
	size_t o = 0;
	buf[0] = 0;
	if (!a->activated) {
		snprintf(buf, n, "%s\n", sock_local_format(&lst, name, sizeof name));
		return buf;
	}
	for (int i = 0; i < a->b.nlfd && o < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		if (getsockname(a->b.lfd[i], (struct sockaddr *)&ss, &len) == 0) {
			int w = snprintf(buf + o, n - o, "%s\n",
					 sa_format((struct sockaddr *)&ss, len,
						   SOCK_STREAM, name, sizeof name));
			o += w > 0 ? (size_t)w : 0;
		}
	}
	return buf;
}

static struct notify notify = { .fd = -1 };

/* The engine's news for the supervisor ($NOTIFY_SOCKET). */
static void on_event(void *ctx, const struct bridge *b, enum bridge_event ev)
{
	char msg[256];
	struct bridge_stats st;
	(void)ctx;
	bridge_snapshot(b, &st);   /* other workers may be counting */
	switch (ev) {
	case BRIDGE_STATUS:
		snprintf(msg, sizeof msg, "STATUS=%llu active, %llu accepted, "
			 "%llu failed, %llu refused",
			 (unsigned long long)st.active,
			 (unsigned long long)st.accepted,
			 (unsigned long long)st.failed,
			 (unsigned long long)st.refused);
		cli_notify(&notify, msg, 0);
		break;
	case BRIDGE_STOPPING:
		snprintf(msg, sizeof msg, "STOPPING=1\nSTATUS=draining %llu "
			 "connections", (unsigned long long)st.active);
		cli_notify(&notify, msg, 1);
		break;
	case BRIDGE_IDLE_EXIT:
		break;
	}
}

/* A target that is one of our own listening sockets would turn each
 * client into a connection to ourselves, and that one into another, until
 * the descriptors run out: a usage error. */
static void refuse_loop(const struct args *a)
{
	char l[ADDR_STRLEN], t[ADDR_STRLEN];
	for (int i = 0; i < a->b.nlfd; i++) {
		int k = loop_target_is_listener(a->b.lfd[i], &a->b.target);
		if (k < 0)
			continue;
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		if (getsockname(a->b.lfd[i], (struct sockaddr *)&ss, &len) < 0)
			len = 0;
		if (a->b.target.kind == ADDR_TCP)
			sa_format((const struct sockaddr *)&a->b.target.sa[k],
				  a->b.target.salen[k], SOCK_STREAM, t, sizeof t);
		else
			addr_format(&a->b.target, t, sizeof t);
		if (!a->activated)
			sock_local_format(&lst, l, sizeof l);
		else if (len)
			sa_format((struct sockaddr *)&ss, len, SOCK_STREAM, l, sizeof l);
		else
			snprintf(l, sizeof l, "fd %d", a->b.lfd[i]);
		die(EXIT_USAGE, "target %s leads back to the listening address "
		    "%s: a connection loop", t, l);
	}
}

static char target_name[ADDR_STRLEN];

/* The client of BE as the log names it: "tcp:192.0.2.1:4711", or for
 * a UNIX client its address and SO_PEERCRED, "unix: (pid 42, uid 1000)"
 * (the wording of usock-listen's log). */
static const char *client_name(const struct bridge_end *be, char *buf,
			       size_t n)
{
	sa_format(be->peer, be->peerlen, SOCK_STREAM, buf, n);
	if (be->cred) {
		size_t l = strlen(buf);
		snprintf(buf + l, n - l, " (pid %d, uid %u)", (int)be->pid,
			 (unsigned)be->uid);
	}
	return buf;
}

/* Under -v, a line per client accepted: "#N connection from PEER". */
static void print_start(void *ctx, const struct bridge_end *be)
{
	char peer[ADDR_STRLEN + 48];
	(void)ctx;
	log_verbose("#%lu connection from %s", be->id,
		    client_name(be, peer, sizeof peer));
}

/* One line per connection: under -v each one, else the failures. */
static void print_end(void *ctx, const struct bridge_end *be)
{
	char peer[ADDR_STRLEN + 48], why[160] = "";
	(void)ctx;
	if (log_level < 2 && be->relayed)
		return;
	client_name(be, peer, sizeof peer);
	if (be->err)
		snprintf(why, sizeof why, " (%s)", usock_strerror(be->err));
	log_print("%s: #%lu %s -> %s: %s%s; %llu byte%s up, %llu down, "
		"%.3f s\n", log_prog, be->id, peer, target_name, be->how, why,
		(unsigned long long)be->up, num_s(be->up),
		(unsigned long long)be->down, (double)be->ms / 1000.0);
}

static void print_stats(void *ctx, const struct bridge_stats *st)
{
	(void)ctx;
	log_print("%s: accepted %llu, active %llu, refused %llu, "
		"failed %llu, completed %llu, bytes up %llu, down %llu\n",
		log_prog, (unsigned long long)st->accepted,
		(unsigned long long)st->active,
		(unsigned long long)st->refused,
		(unsigned long long)st->failed,
		(unsigned long long)st->completed,
		(unsigned long long)st->bytes_up,
		(unsigned long long)st->bytes_down);
}

static void print_notice(void *ctx, int verbose, int err, const char *msg)
{
	(void)ctx;
	if (verbose)
		log_verbose("%s", msg);
	else if (err)
		log_warn("%s: %s", msg, usock_strerror(err));
	else
		log_warn("%s", msg);
}

/* Room for the listening addresses, one a line (16 at most). */
#define LINES_MAX (16 * (ADDR_STRLEN + 1))

/* Socket activation: serve the a->activated listening stream sockets
 * from fd 3 on; anything else there is exit 1. */
static void take_activated(struct args *a)
{
	for (int i = 0; i < a->activated; i++) {
		int fd = 3 + i, type = 0;
		socklen_t sl = sizeof type;
		int listening = 0;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) < 0 ||
		    type != SOCK_STREAM)
			die(1, "socket activation: fd %d is not a stream socket", fd);
		sl = sizeof listening;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &sl) < 0 ||
		    !listening)
			die(1, "socket activation: fd %d is not listening "
			    "(use Accept=no in the socket unit)", fd);
		fd_nonblock(fd, 1);
		fd_cloexec(fd);
		a->b.lfd[a->b.nlfd++] = fd;
	}
}

/* Listen on LISTEN-ADDRESS (its socket file removed at exit), or exit 1
 * saying why not. */
static void listen_on(struct args *a)
{
	char name[ADDR_STRLEN];
	addr_format(&a->listen, name, sizeof name);
	if (sock_listen(&lst, &a->listen, &a->lo) < 0)
		die_listen(&lst, name);
	atexit(cleanup);
	a->b.lfd[a->b.nlfd++] = lst.fd;
	a->b.own = &lst;
}

/* -v: the listening addresses (LINES, one a line) as one list, the
 * target and the connection limit. */
static void say_listening(const struct args *a, const char *lines)
{
	static char on[2 * LINES_MAX];
	size_t o = 0;
	for (const char *p = lines; *p && o < sizeof on; ) {
		size_t k = strcspn(p, "\n");
		int w = snprintf(on + o, sizeof on - o, "%s%.*s",
				 o ? ", " : "", (int)k, p);
		o += w > 0 ? (size_t)w : 0;
		p += k + (p[k] != 0);
	}
	log_verbose("listening on %s, forwarding to %s, at most %lu "
		    "connection%s", on, target_name, a->b.max_conns,
		    num_s(a->b.max_conns));
}

int main(int argc, char **argv)
{
	static struct args a;

	log_init("tcp2unix");
	if (stdio_guard() < 0)
		die_sys(1, "open /dev/null");
	parse_argv(argc, argv, &a);
	/* a stderr nobody reads must not stop the bridge: lines are queued */
	cli_log_queue();
	cli_notify_open(&notify);
	rlim_t nofile = fd_raise_limit(RLIM_INFINITY);
	if (!a.b.max_conns)
		/* two descriptors a connection, and some to spare for pipes */
		a.b.max_conns = nofile > 256 ? (unsigned long)(nofile - 64) / 2 :
				nofile > 24 ? (unsigned long)(nofile - 16) / 3 : 1;

	a.b.sigfd = cli_signals(-1, (const int[]){ SIGINT, SIGTERM, SIGUSR1, 0 });

	if (a.activated)
		take_activated(&a);
	else
		listen_on(&a);
	refuse_loop(&a);
	static char lines[LINES_MAX], status[2 * ADDR_STRLEN + 32];
	listeners(&a, lines, sizeof lines);
	if (a.print_address)
		log_write(lines, strlen(lines));
	addr_format(&a.b.target, target_name, sizeof target_name);
	snprintf(status, sizeof status, "forwarding to %s", target_name);
	if (notify.fd >= 0)
		a.b.on_event = on_event;
	static struct resolver res;
	if (a.dynamic) {
		if (resolve_start(&res, &a.b.target) < 0)
			die_sys(1, "resolver thread");
		a.b.resolver = &res;
		const char *why;
		int seen = 0;
		/* look up now */
		resolve_update(&res, &seen, &a.b.target, now_ms(), &why);
	}
	if (log_level >= 2)
		a.b.on_start = print_start;
	a.b.on_end = print_end;
	a.b.on_stats = print_stats;
	a.b.on_notice = print_notice;
	cli_ready(&a.ready_fd, &notify, lines, status);
	if (log_level >= 2)
		say_listening(&a, lines);
	if (a.dump)
		a.b.dump = cli_dump_open(a.dump, 0);
	if (bridge_run(&a.b) < 0)
		die_sys(1, "event loop");
	resolve_stop(&res);
	log_verbose("stopped: %llu connection%s served",
		    (unsigned long long)a.b.st.accepted,
		    num_s(a.b.st.accepted));
	return 0;
}
