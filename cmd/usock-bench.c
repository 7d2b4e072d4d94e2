/* usock-bench — exercise a stream endpoint: throughput, round-trip
 * latency, connection rate, many held connections; optionally against
 * its own echo or sink server, or UNIX against loopback TCP. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/serve.h"
#include "cli/cli.h"
#include "core/sys.h"

enum { OPT_SERVE = 0x100, OPT_COMPARE, OPT_JSON, OPT_WARMUP, OPT_PRINT_ADDRESS,
       OPT_READY_FD, OPT_SOURCE };

#define REQUEST_MAX (64 << 20)

static const char usage_text[] =
	"Usage: usock-bench [OPTIONS] ADDRESS MODE\n"
	"       usock-bench --serve echo|sink [OPTIONS] ADDRESS [MODE]\n"
	"       usock-bench --compare [OPTIONS] [ADDRESS ADDRESS] MODE\n"
	"Exercise the stream endpoint at ADDRESS, which must echo (or, for\n"
	"throughput, at least read) what it is sent.\n"
	"\n"
	"MODE: throughput        send as fast as the peer takes it\n"
	"      latency           round trips of --size bytes, one at a time\n"
	"      connect-rate      connect, echo --size bytes, close; per second\n"
	"      hold N            open N connections, check each, hold, check\n"
	"\n"
	"  -P, --parallel N        connections (workers) at once (default 1)\n"
	"  -n, --count N           stop after N bytes, round trips or connections\n"
	"  -d, --duration SECONDS  count this long (default 3; hold: hold this long)\n"
	"  -s, --size BYTES        write or message size (128K, 64, 1, 8 by mode)\n"
	"      --warmup SECONDS    run uncounted this long first (default 0.2)\n"
	"  -t, --timeout SECONDS   longest wait for any one step (default 10)\n"
	"  -w, --wait SECONDS      retry the first connect this long\n"
	"  -r, --request FILE      connect-rate: send FILE, read the answer until\n"
	"                          the peer closes (e.g. an HTTP/1.0 request)\n"
	"      --serve KIND        serve echo or sink on ADDRESS in-process; with\n"
	"                          no MODE, serve until SIGINT/SIGTERM\n"
	"      --compare           run MODE over a UNIX socket and loopback TCP\n"
	"                          (or the two ADDRESSes) and give the ratio\n"
	"      --print-address     with --serve: print the bound address on stderr\n"
	"      --ready-fd N        with --serve: once listening, write the bound\n"
	"                          address to fd N and close it\n"
	"      --json              one JSON object per result, one per line\n"
	"      --source ADDR       bind each connection to ADDR first: an IP\n"
	"                          address [with :PORT], or a UNIX path or @NAME\n"
	OPT_COMMON_HELP
	"\n"
	OPT_ADDRESS_HELP
	"BYTES and N take K, M, G suffixes (powers of 1024).\n"
	"Exit status: 0 ok, 1 failed, 2 usage, 124 --timeout or --wait passed.\n";

static const struct option longopts[] = {
	{ "parallel", required_argument, NULL, 'P' },
	{ "count", required_argument, NULL, 'n' },
	{ "duration", required_argument, NULL, 'd' },
	{ "size", required_argument, NULL, 's' },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "timeout", required_argument, NULL, 't' },
	{ "wait", required_argument, NULL, 'w' },
	{ "request", required_argument, NULL, 'r' },
	{ "serve", required_argument, NULL, OPT_SERVE },
	{ "compare", no_argument, NULL, OPT_COMPARE },
	{ "print-address", no_argument, NULL, OPT_PRINT_ADDRESS },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "source", required_argument, NULL, OPT_SOURCE },
	OPT_COMMON_LONG,
	{ NULL, 0, NULL, 0 }
};

struct args {
	struct addr addr[2];
	int naddr;
	int has_mode;
	struct bench_opts bo;
	enum serve_kind serve;   /* 0: none */
	int compare, json, print_address;
	int ready_fd;            /* --ready-fd, or -1 */
	int timeout_set, wait_set, parallel_set, count_set, size_set;
	const char *addr_arg;    /* the first ADDRESS as given, or NULL */
	const char *source_arg;  /* --source, or NULL */
	struct addr source;
};

/* Process-wide state for cleanup, also from a signal handler. */
static struct listener lst[2];
static int nlst;
static pid_t server_pid;
static char tmpdir[64];

static void cleanup(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	for (int i = 0; i < nlst; i++)
		sock_unlisten(&lst[i]);
	nlst = 0;
	if (tmpdir[0])
		rmdir(tmpdir);
	tmpdir[0] = 0;
}

/* SIGINT or SIGTERM while measuring against our own server: clean up
 * and end as the other tools do, with 128 + the signal. */
static void on_signal(int sig)
{
	static const char msg[] = "usock-bench: interrupted\n";
	if (write(2, msg, sizeof msg - 1) < 0) {
		/* nothing to do */
	}
	cleanup(); /* kill, waitpid, fstatat, unlinkat, close, rmdir: safe */
	_exit(128 + sig);
}

static uint64_t opt_size(const char *opt, const char *s, uint64_t min,
			 uint64_t max)
{
	uint64_t v;
	const char *why;
	if (bench_parse_size(s, &v, &why) < 0)
		die(EXIT_USAGE, "%s: '%s': %s", opt, log_esc(s), why);
	if (v < min || v > max)
		die(EXIT_USAGE, "%s: %s is out of range %llu..%llu", opt, log_esc(s),
		    (unsigned long long)min, (unsigned long long)max);
	return v;
}

/* --request FILE: its bytes, read whole. */
static void read_request(struct args *a, const char *path)
{
	static char buf[REQUEST_MAX];
	size_t n = 0;
	int bad = 1;
	FILE *f = fopen(path, "rbe");
	if (f) {
		n = fread(buf, 1, sizeof buf, f);
		bad = ferror(f) || !feof(f);
		fclose(f);
	} else {
		die_sys(EXIT_USAGE, "--request %s", log_esc(path));
	}
	if (bad || n == 0)
		die(EXIT_USAGE, "--request %s: %s", log_esc(path), n ? "larger than 64 MiB "
		    "or unreadable" : "empty");
	a->bo.request = buf;
	a->bo.request_len = n;
}

/* The positional words: [ADDRESS [ADDRESS]] [MODE [N]]. */
static void parse_words(struct args *a, int n, char **w)
{
	int i = 0;
	const char *addr_arg[3];
	while (i < n && bench_mode_parse(w[i], &a->bo.mode) < 0) {
		/* past the ADDRESSes there can only be a MODE */
		if (i == (a->compare ? 2 : 1)) {
			for (int j = i + 1; j < n; j++)
				if (bench_mode_parse(w[j], &a->bo.mode) == 0)
					die(EXIT_USAGE, "unexpected argument '%s' (one "
					    "ADDRESS only, or two with --compare)",
					    log_esc(w[i]));
			die(EXIT_USAGE, "unknown MODE '%s': throughput, latency, "
			    "connect-rate or hold N (try --help)", log_esc(w[i]));
		}
		addr_arg[i] = w[i];
		i++;
	}
	a->naddr = i;
	a->addr_arg = i ? addr_arg[0] : NULL;
	if (i < n) {
		a->has_mode = 1;
		i++;
		if (a->bo.mode == BENCH_HOLD) {
			if (i >= n)
				die(EXIT_USAGE, "hold: missing N (how many connections)");
			a->bo.conns = opt_ulong("hold", w[i++], 1, 1000000);
		}
		if (i < n)
			die(EXIT_USAGE, "unexpected argument '%s' after the mode",
			    log_esc(w[i]));
	}
	if (a->compare ? a->naddr == 1 : a->naddr != 1)
		die(EXIT_USAGE, a->compare ? "--compare takes no ADDRESS or two" :
		    a->naddr ? "one ADDRESS only (or two with --compare)" :
		    "missing ADDRESS (try --help)");
	if (!a->has_mode && !a->serve)
		die(EXIT_USAGE, "missing MODE: throughput, latency, connect-rate "
		    "or hold N (try --help)");
	for (int k = 0; k < a->naddr; k++) {
		/* addr_arg[0..naddr) were set above */
		opt_addr(&a->addr[k], addr_arg[k], // NOLINT(clang-analyzer-core.CallAndMessage)
			 a->serve ? ADDR_LISTEN : 0);
		opt_stream_only(&a->addr[k], addr_arg[k], "usock-bench measures");
	}
}

static void check_args(struct args *a);

static void parse_argv(int argc, char **argv, struct args *a)
{
	int c;

	*a = (struct args){ .ready_fd = -1 };
	a->bo = (struct bench_opts){ .conns = 1, .duration_ms = 3000,
				     .warmup_ms = 200, .timeout_ms = 10000,
				     .wait_ms = -1 };
	opterr = 0;
	struct opt_iter it = OPT_ITER(argc, argv, 0);
	while ((c = opt_next(&it, "+:P:n:d:s:t:w:r:vqhV", longopts)) != -1) {
		switch (c) {
		case 'P':
			a->bo.conns = opt_ulong("--parallel", optarg, 1, 100000);
			a->parallel_set = 1;
			break;
		case 'n':
			a->bo.count = opt_size("--count", optarg, 1, UINT64_MAX);
			a->count_set = 1;
			break;
		case 'd': a->bo.duration_ms = opt_duration("--duration", optarg); break;
		case 's':
			a->bo.size = opt_size("--size", optarg, 1, 64 << 20);
			a->size_set = 1;
			break;
		case OPT_WARMUP:
			a->bo.warmup_ms = opt_duration0("--warmup", optarg);
			break;
		case 't':
			a->bo.timeout_ms = opt_duration("--timeout", optarg);
			a->timeout_set = 1;
			break;
		case 'w':
			a->bo.wait_ms = opt_duration("--wait", optarg);
			a->wait_set = 1;
			break;
		case 'r': read_request(a, optarg); break;
		case OPT_SERVE:
			if (serve_kind_parse(optarg, &a->serve) < 0)
				die(EXIT_USAGE, "--serve: '%s' is not echo or sink",
				    log_esc(optarg));
			break;
		case OPT_COMPARE: a->compare = 1; break;
		case OPT_PRINT_ADDRESS: a->print_address = 1; break;
		case OPT_READY_FD: a->ready_fd = opt_ready_fd("--ready-fd", optarg); break;
		case OPT_JSON: a->json = 1; break;
		case OPT_SOURCE: a->source_arg = optarg; break;
		default: opt_common(c, usage_text, argv);
		}
	}
	parse_words(a, argc - optind, argv + optind);
	check_args(a);
}

/* The options that do not go together, one message per pair, and the
 * defaults that depend on the MODE. */
static void check_args(struct args *a)
{
	struct bench_opts *o = &a->bo;
	if (a->serve && a->compare)
		die(EXIT_USAGE, "cannot use --serve with --compare (which serves "
		    "its own, or measures the two ADDRESSes)");
	if (a->print_address && !a->serve)
		die(EXIT_USAGE, "--print-address needs --serve");
	if (a->ready_fd >= 0 && !a->serve)
		die(EXIT_USAGE, "--ready-fd needs --serve");
	if (a->ready_fd == 1 && a->has_mode)
		die(EXIT_USAGE, "--ready-fd: 1 is standard output, where the "
		    "results go");
	if (o->mode == BENCH_HOLD && (a->parallel_set || a->count_set))
		die(EXIT_USAGE, "cannot use %s with hold (N is the number of "
		    "connections)", a->parallel_set ? "--parallel" : "--count");
	if (a->serve == SERVE_SINK && a->has_mode && o->mode != BENCH_THROUGHPUT)
		die(EXIT_USAGE, "%s needs a peer that echoes: use --serve echo",
		    bench_mode_name(o->mode));
	if (o->request && (o->mode != BENCH_CONNECT_RATE || a->serve || a->size_set))
		die(EXIT_USAGE, "--request goes with connect-rate against an "
		    "existing server, without --size or --serve");
	if (!a->has_mode && (a->count_set || a->size_set || a->parallel_set))
		die(EXIT_USAGE, "--count, --size and --parallel need a MODE");
	if (a->count_set && o->duration_ms == 3000 && o->mode != BENCH_HOLD)
		o->duration_ms = -1; /* by count alone, unless -d was given too */
	if (!a->size_set) {
		static const size_t def[] = { [BENCH_THROUGHPUT] = 128 << 10,
			[BENCH_LATENCY] = 64, [BENCH_CONNECT_RATE] = 1,
			[BENCH_HOLD] = 8 };
		o->size = a->has_mode ? def[o->mode] : 1;
	}
	if (o->request)
		o->size = o->request_len;
	if (a->source_arg && (a->compare || !a->has_mode))
		die(EXIT_USAGE, "--source binds the connections measured: not "
		    "with %s", a->compare ? "--compare (two kinds of address)" :
		    "--serve without a MODE");
	if (a->source_arg) {
		opt_source(&a->source, a->source_arg, 0);
		opt_source_check(&a->source, a->source_arg, &a->addr[0],
				 a->addr_arg);
		o->source = &a->source;
	}
}

/* Give this process as many descriptors as it may have when it has
 * fewer than NEED, and say so when the hard limit is below NEED. */
static void need_nofile(unsigned long need)
{
	rlim_t n = fd_raise_limit(need);
	if (n != RLIM_INFINITY && n < need)
		log_warn("%lu connections need about %lu descriptors; the hard "
			 "limit is %llu", need - 32, need, (unsigned long long)n);
}

static void listen_all(struct args *a)
{
	struct listen_opts lo = LISTEN_OPTS(4096);
	static char lines[2 * (ADDR_STRLEN + 1)];
	for (int i = 0; i < a->naddr; i++) {
		char name[ADDR_STRLEN];
		addr_format(&a->addr[i], name, sizeof name);
		if (sock_listen(&lst[i], &a->addr[i], &lo) < 0)
			die_listen(&lst[i], name);
		nlst++;
		a->addr[i] = lst[i].addr; /* TCP port 0: the port we got */
		sock_local_format(&lst[i], name, sizeof name);
		if (a->print_address)
			log_print("%s\n", name);
		size_t o = strlen(lines);
		snprintf(lines + o, sizeof lines - o, "%s\n", name);
	}
	struct notify none = { .fd = -1 };
	cli_ready(&a->ready_fd, &none, lines, "");
}

/* Serve in this process until SIGINT or SIGTERM. */
static int serve_here(const struct args *a, int n)
{
	int fds[2];
	int sigfd = cli_signals(-1, (const int[]){ SIGINT, SIGTERM, 0 });
	for (int i = 0; i < n; i++)
		fds[i] = lst[i].fd;
	log_verbose("serving %s", serve_kind_name(a->serve));
	if (serve_run(fds, n, a->serve, sigfd) < 0)
		die_sys(1, "serve");
	close(sigfd);
	return 0;
}

/* With --compare: put this process on one allowed CPU and the server on
 * another, so that both runs see the same placement (on one CPU a round
 * trip is a context switch, across two it is a wake-up).  Returns the
 * server's CPU, or -1 when there are not two. */
static int pin_apart(void)
{
	cpu_set_t set, one;
	int cpu[2], n = 0;
	if (sched_getaffinity(0, sizeof set, &set) < 0)
		return -1;
	for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpu[n++] = i;
	if (n < 2)
		return -1;
	CPU_ZERO(&one);
	CPU_SET(cpu[1], &one);
	if (sched_setaffinity(0, sizeof one, &one) < 0)
		return -1;
	return cpu[0];
}

/* Serve in a child process (so the server has a CPU of its own) and
 * close the listening sockets here; the files stay ours to remove. */
static void serve_child(const struct args *a)
{
	int cpu = a->compare ? pin_apart() : -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die_sys(1, "fork");
	if (pid == 0) {
		if (cpu >= 0) {
			cpu_set_t one;
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			sched_setaffinity(0, sizeof one, &one);
		}
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(0);
		int n = nlst;
		nlst = 0; /* the parent removes the files */
		tmpdir[0] = 0;
		serve_here(a, n);
		_exit(0);
	}
	server_pid = pid;
	for (int i = 0; i < nlst; i++) {
		close(lst[i].fd);
		lst[i].fd = -1;
	}
}

/* ---- output ---- */

/* The figure --compare compares, and whether less of it is better. */
static double basis(const struct bench_result *r, const char **name, int *less)
{
	static const char *const names[] = {
		[BENCH_THROUGHPUT] = "bytes per second",
		[BENCH_LATENCY] = "median round trip",
		[BENCH_CONNECT_RATE] = "connections per second",
		[BENCH_HOLD] = "connections opened per second",
	};
	*name = names[r->mode];
	*less = r->mode == BENCH_LATENCY;
	return *less ? r->p50 : r->rate;
}

static void print_compare(const struct args *a, char addr[2][ADDR_STRLEN],
			  const struct bench_result r[2])
{
	const char *name;
	int less;
	double x = basis(&r[0], &name, &less), y = basis(&r[1], &name, &less);
	double ratio = less ? y / x : x / y;  /* > 1: the first is faster */
	if (a->json) {
		bench_json_compare(stdout, r[0].mode, addr[0], addr[1], a->bo.size,
				   a->bo.conns, less ? "p50" : "rate", ratio);
		return;
	}
	int first = ratio >= 1;
	printf("%s is %.2fx faster than %s (%s)\n", addr[first ? 0 : 1],
	       first ? ratio : 1 / ratio, addr[first ? 1 : 0], name);
}

static int progress_shown;

/* A progress line on a terminal, from the first second on. */
static void progress(void *ctx, const struct bench_result *r, double secs)
{
	char v[32];
	if (secs < 1)
		return;
	if (r->mode == BENCH_THROUGHPUT)
		bench_format_rate(r->rate, 1, v, sizeof v);
	else if (r->mode == BENCH_HOLD)
		snprintf(v, sizeof v, "%llu check%s", (unsigned long long)r->count,
			 num_s(r->count));
	else
		bench_format_rate(r->rate, 0, v, sizeof v);
	fprintf(stderr, "\r\033[K%s %s: %s, %.0f s", bench_mode_name(r->mode),
		(const char *)ctx, v, secs);
	progress_shown = 1;
}

static void progress_clear(void)
{
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = 0;
}

static void on_held(void *ctx, unsigned long n)
{
	progress_clear();
	log_verbose("%s: holding %lu connection%s", (const char *)ctx, n, num_s(n));
}

static char *fmt_ms(int64_t ms, char *buf, size_t n)
{
	snprintf(buf, n, "%g s", (double)ms / 1e3);
	return buf;
}

/* Report a failed run once; returns the exit status. */
static int report(const struct args *a, const char *addr,
		  const struct bench_result *r)
{
	int e = errno;
	char who[48] = "", d[32];
	const char *mode = bench_mode_name(a->bo.mode);
	if (a->bo.conns > 1)
		snprintf(who, sizeof who, "connection %lu: ", r->conn + 1);
	if (r->why) {
		log_err("%s %s: %s%s: %s", mode, addr, who, r->what, r->why);
		return 1;
	}
	if (e == ETIMEDOUT) {
		if (!strcmp(r->what, "connect") && a->wait_set && r->conn == 0) {
			log_err("%s %s: connect: not reachable within %s (--wait)",
				mode, addr, fmt_ms(a->bo.wait_ms, d, sizeof d));
			return EXIT_TIMEOUT;
		}
		log_err("%s %s: %s%s: nothing happened for %s (--timeout)", mode,
			addr, who, r->what, fmt_ms(a->bo.timeout_ms, d, sizeof d));
		return a->timeout_set ? EXIT_TIMEOUT : 1;
	}
	errno = e;
	log_syserr("%s %s: %s%s", mode, addr, who, r->what);
	return 1;
}

/* --compare without addresses: a UNIX socket in a new directory and an
 * ephemeral loopback TCP port, served here. */
static void compare_addresses(struct args *a)
{
	const char *base = getenv("TMPDIR");
	char path[4096];
	snprintf(tmpdir, sizeof tmpdir, "%s/usock-bench.XXXXXX",
		 base && *base && strlen(base) < 32 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = 0;
		die_sys(1, "mkdtemp");
	}
	snprintf(path, sizeof path, "unix:%s/bench.sock", tmpdir);
	opt_addr(&a->addr[0], path, ADDR_LISTEN);
	opt_addr(&a->addr[1], "tcp:127.0.0.1:0", ADDR_LISTEN);
	a->naddr = 2;
	if (!a->serve)
		a->serve = a->bo.mode == BENCH_THROUGHPUT ? SERVE_SINK : SERVE_ECHO;
}

int main(int argc, char **argv)
{
	struct args a;
	struct bench_result r[2];
	char addr[2][ADDR_STRLEN];
	struct bench_table t = { 0 };

	log_init("usock-bench");
	if (stdio_guard() < 0)
		die_sys(1, "open /dev/null");
	parse_argv(argc, argv, &a);
	signal(SIGPIPE, SIG_IGN);
	if (a.compare && !a.naddr)
		compare_addresses(&a);
	atexit(cleanup);
	if (a.serve && !a.has_mode)
		/* serving until a signal: a stderr nobody reads must not
		 * stop it, so its lines are queued (the measuring modes end
		 * on their own and write theirs) */
		cli_log_queue();
	if (a.serve) {
		/* a server cannot know how many will come: all it may have */
		fd_raise_limit(RLIM_INFINITY);
		listen_all(&a);
		if (!a.has_mode)
			return serve_here(&a, nlst);
		struct sigaction sa = { .sa_handler = on_signal };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		serve_child(&a);
	}
	need_nofile(a.bo.conns + 32);
	if (isatty(2) && !a.json && log_level > 0)
		a.bo.progress = progress;
	a.bo.held = on_held;
	for (int i = 0; i < a.naddr; i++) {
		if (i < nlst)
			sock_local_format(&lst[i], addr[i], sizeof addr[i]);
		else
			addr_format(&a.addr[i], addr[i], sizeof addr[i]);
		a.bo.addr = &a.addr[i];
		a.bo.ctx = addr[i];
		int rc = bench_run(&a.bo, &r[i]);
		progress_clear();
		if (rc < 0)
			exit(report(&a, addr[i], &r[i]));
		if (a.json) {
			bench_json_result(stdout, addr[i], a.bo.size, a.bo.conns, &r[i]);
			fflush(stdout);
		} else {
			bench_table_add(&t, addr[i], a.bo.size, a.bo.conns, &r[i]);
		}
	}
	if (!a.json)
		bench_table_print(stdout, &t);
	if (a.naddr == 2)
		print_compare(&a, addr, r);
	return 0;
}
