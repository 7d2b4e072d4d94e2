/* cli.h — the command-line layer: option values that report and
 * exit, messages on stderr, dying.  Only cmd/ and this layer print or
 * exit on their own. */
#ifndef USOCK_CLI_H
#define USOCK_CLI_H

#include <stdint.h>
#include <sys/types.h>
#include <getopt.h>
#include "core/addr.h"
#include "core/num.h"
#include "core/sock.h"
#include "core/ready.h"
#include "core/relay.h"

#define USOCK_VERSION "0.1.0"

/* ---- log.c: messages on stderr ---- */

extern const char *log_prog;
extern int log_level;   /* 0 quiet, 1 normal, 2+ verbose */

void log_init(const char *prog);
/* "PROG: MSG" */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "PROG: MSG: strerror(errno)" */
void log_syserr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only at -v (level 2) */
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The formatted text as it is (no "PROG: ", no newline added), always:
 * for tables and summaries written to stderr by a long-running tool. */
void log_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The LEN bytes of TEXT as they are, the same way. */
void log_write(const char *text, size_t len);
/* Only unless -q */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_err, then exit(code) */
_Noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_syserr, then exit(code) */
_Noreturn void die_sys(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* sig_fd_of(), or exit 1 with "PROG: signalfd: why". */
int cli_signals(int fd, const int *signos);
/* Report a failed sock_listen() of NAME (who holds a live socket, what
 * is in the way) and exit 1. */
_Noreturn void die_listen(const struct listener *l, const char *name);
/* S (a name from outside: path, process, user...) in the escaped form
 * of usock(7), for a message or a table: one of 8 static buffers, used
 * in turn, so a few may appear in one call.  NULL gives "-". */
const char *log_esc(const char *s);
/* The same for the LEN bytes at S (an abstract name may hold NUL). */
const char *log_esc_n(const char *s, size_t len);
/* strerror, but naming the sun_path limit for ENAMETOOLONG */
const char *usock_strerror(int e);

/* ---- opt.c: option values ---- */

#define EXIT_USAGE   2
#define EXIT_TIMEOUT 124

/* Strict decimal in MIN..MAX; exits 2 naming OPT on error. */
unsigned long opt_ulong(const char *opt, const char *s,
			unsigned long min, unsigned long max);
/* Duration "1.5", "200ms", "2m", "1h" in milliseconds (>= 1 ms);
 * exits 2 naming OPT on error. */
int64_t opt_duration(const char *opt, const char *s);
/* The same, where 0 (in any spelling: "0", "0s", "0ms", "0.0") means
 * none. */
int64_t opt_duration0(const char *opt, const char *s);
/* Octal file mode 0..0777 (a socket has no use for setuid, setgid or
 * sticky); exits 2 naming OPT on error. */
mode_t opt_mode(const char *opt, const char *s);
/* USER[:GROUP] or :GROUP, names or numbers; exits 2 naming OPT. */
void opt_owner(const char *opt, const char *s, uid_t *uid, gid_t *gid);
/* getopt_long() with GNU argument permutation, the same in every tool:
 * options may follow operands, and "--" ends the options.  Call it in
 * a loop as getopt_long() (opterr = 0, OPTSTRING starting with "+:");
 * once it returns -1, argv[optind..argc) holds the operands in the
 * order given.  A "--" that comes after KEEP_DASHDASH operands (0:
 * never) is kept among them, with everything after it unparsed: that
 * is how usock-listen's "ADDRESS -- COMMAND ARG..." reaches COMMAND
 * untouched.  Reorders argv[] (the pointers, not the strings). */
struct opt_iter {
	int argc;
	char **argv;
	int end;             /* argv[end..argc): operands seen so far */
	int keep_dashdash;
};
#define OPT_ITER(argc, argv, keep) { (argc), (argv), (argc), (keep) }
int opt_next(struct opt_iter *it, const char *optstring,
	     const struct option *longopts);
/* After opt_next() (run with opterr = 0 and an optstring starting
 * with "+:") returned C = '?' or ':': one line naming the bad option,
 * then exit 2. */
_Noreturn void opt_bad(int c, char **argv);
/* The options every tool shares, for its getopt_long table and --help. */
#define OPT_COMMON_LONG \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, 'V' }
#define OPT_COMMON_HELP \
	"  -v, --verbose           say more (repeatable)\n" \
	"  -q, --quiet             say only what fails\n" \
	"  -h, --help              show this help\n" \
	"  -V, --version           show the version\n"
/* The address forms, for the --help of tools that connect. */
#define OPT_ADDRESS_HELP \
	"ADDRESS: unix:PATH, ./PATH, @NAME, HOST:PORT, [IPV6]:PORT, PORT (see usock(7)).\n"
/* Handle C if it is one of -v -q -h -V (USAGE is the --help text), or
 * report a bad option and exit 2. */
void opt_common(int c, const char *usage, char **argv);
/* Handle C if it is -m/--mode, -o/--owner or -b/--backlog (the socket
 * file and listen options), storing ARG into LO.  Returns 1 if it was. */
int opt_listen(int c, const char *arg, struct listen_opts *lo);
/* --mode and --owner apply to UNIX socket paths only: exits 2 naming
 * ARG when LO asks for them on another kind of address A. */
void opt_check_file_opts(const struct listen_opts *lo, const struct addr *a,
			 const char *arg);
/* Tools that move byte streams only: exits 2 when A, parsed from ARG, is
 * a datagram or seqpacket address, with DOES ("tcp2unix bridges") saying
 * what the tool does with streams, and naming the tools that keep
 * message boundaries. */
void opt_stream_only(const struct addr *a, const char *arg, const char *does);
/* Parse an address; exits 2 with the reason on error. */
void opt_addr(struct addr *a, const char *s, int flags);
/* --keepalive[=SECONDS] with value ARG (NULL: none given): the idle
 * time before the first probe in whole seconds (rounded up, 1..32767,
 * the kernel's range of TCP_KEEPIDLE), or -1 for the kernel's; exits 2
 * otherwise. */
int opt_keepalive(const char *arg);
/* -4 or -6 (C is '4' or '6') into *FAMILY (AF_INET or AF_INET6); the
 * other one given as well exits 2. */
void opt_family(int *family, int c);
/* -4/-6 (FAMILY, or 0 for neither) narrow the TCP address A, given as
 * S, as its tcp4:/tcp6: form would.  A form or an address literal of the
 * other family exits 2 ("cannot use -6 with WHAT'S'", WHAT "" or
 * "--source "); what names no TCP
 * address is left as it is. */
void opt_narrow(struct addr *a, const char *what, const char *s,
		int family);
/* --source S (addr_parse_source()), narrowed to FAMILY (-4/-6: AF_INET
 * or AF_INET6; 0: any) and resolved; exits 2 naming S when it is
 * malformed, of another family, or an unknown host (1 when the
 * resolver itself failed). */
void opt_source(struct addr *src, const char *s, int family);
/* Exit 2 when SRC (given as S) cannot be the source of a connection to
 * target T (given as TARG): a UNIX source for a TCP target or the
 * reverse, or, once T is resolved, no address of a family of T's. */
void opt_source_check(const struct addr *src, const char *s,
		      const struct addr *t, const char *targ);


/* ---- ready.c: telling a supervisor we are ready ---- */

/* --ready-fd N: an open descriptor other than 0 and 2; exits 2 naming
 * OPT otherwise. */
int opt_ready_fd(const char *opt, const char *s);
/* notify_open(), warning when $NOTIFY_SOCKET is set but unusable. */
void cli_notify_open(struct notify *n);
/* notify_send(), warning on failure (not for a dropped STATUS). */
void cli_notify(struct notify *n, const char *state, int wait);
/* Once listening: write LINES (the bound addresses, one a line) to
 * *READY_FD and close it (*READY_FD becomes -1), and send READY=1 and
 * STATUS to N.  Failures are warnings: the tool serves anyway. */
void cli_ready(int *ready_fd, struct notify *n, const char *lines,
	       const char *status);

/* ---- stdio.c: a connection relayed to standard input and output ---- */

struct stdio_relay {
	struct relay r;
};
/* Set S up to relay stdin and stdout with socket SOCK (relay_run(&s->r)
 * closes it), watching SIGFD (-1: none); with CRLF each LF read from
 * stdin goes out as CR LF; on a terminal the relay ends with the peer's
 * EOF.  S must stay where it is while the relay runs.  A dump is
 * cli_conn_dump()'s. */
void cli_stdio_relay(struct stdio_relay *s, int sock, int sigfd, int crlf);
/* After relay_run(R) returned RELAY_ERROR with FAILED: "PROG: read
 * stdin: why", "write stdout", "read PEER", "write PEER" or "poll", from
 * errno, which is kept. */
void cli_relay_error(const struct relay *r, const struct pump *failed,
		     const char *peer);

/* ---- dump.c: traffic dumps (core/dump.h) on stderr ---- */

/* --dump=FORMAT: DUMP_HEX or DUMP_TEXT; exits 2 naming OPT otherwise. */
int opt_dump(const char *opt, const char *s);
/* Set *FMT to F (-x is --dump=hex); exits 2 when the other format was
 * asked for already. */
void opt_dump_set(int *fmt, int f);
/* The process's dump on stderr (dump_open(); FLAGS: DUMP_SYNC), which
 * is finished at exit; exits 1 when it cannot start. */
struct dump *cli_dump_open(int fmt, int flags);
/* Write what the dump holds (waiting at most a second: a stderr nobody
 * reads does not hold the exit up) and stop it.  die() calls it, so
 * that the last line comes after the last record.  errno is kept. */
void cli_dump_finish(void);
/* From now on, the log lines of this process (log_*(), die(),
 * log_print()) wait in the dump's queue (core/dump.h) for its writer
 * thread, with the traffic dump's records if there is one: a stderr
 * nobody reads costs lines ("PROG: [N log lines not shown]"), never
 * the event loop's time or a signal.  For the long-running tools; a
 * forked child writes its own lines.  Exits 1 when no thread starts. */
void cli_log_queue(void);
/* 1 when this process's lines go through the queue. */
int cli_log_queued(void);
/* Hand the LEN bytes of TEXT (whole lines) to the queue: 1 when it took
 * them (or dropped them), 0 when the caller writes them itself. */
int cli_log_write(const char *text, size_t len);
/* Number connection C ID and, with FMT (DUMP_*, 0: none), dump it as
 * PEER (canonical text) on the process's dump, REQ being its request
 * direction (conn_dump()); exits 1 when it cannot. */
void cli_conn_dump(struct conn *c, int fmt, unsigned long id,
		   const char *peer, int req);

/* Print --version output for PROG on stdout. */
void print_version(void);

#endif
