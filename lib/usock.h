/* usock.h — the shared library of the usock tools: addresses, sockets,
 * the relay engine, logging and option parsing. */
#ifndef USOCK_H
#define USOCK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#define USOCK_VERSION "0.1.0"

/* The longest path a sockaddr_un holds, without its terminating NUL. */
#define UNIX_PATH_LIMIT ((int)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* A final path component must fit after "/proc/self/fd/NNNNNNNNNN/". */
#define UNIX_NAME_LIMIT (UNIX_PATH_LIMIT - 25)

/* ---- addr.c: the address grammar ---- */

enum addr_kind { ADDR_UNIX = 1, ADDR_ABSTRACT, ADDR_TCP };

/* addr_parse() flags */
#define ADDR_LISTEN 1 /* a bare PORT means 127.0.0.1, not localhost */

struct addr {
	enum addr_kind kind;
	int type;          /* SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET */
	int family;        /* TCP: AF_UNSPEC, AF_INET or AF_INET6 */
	int wildcard;      /* TCP: every interface (*:PORT) */
	int passive;       /* parsed for listening (ADDR_LISTEN) */
	char host[256];    /* TCP: name or literal, without brackets */
	char port[8];      /* TCP: decimal 0..65535 */
	char path[4096];   /* UNIX path, or abstract name without '@' */
	/* filled by addr_resolve(): where to connect or bind */
	int nsa;
	struct sockaddr_storage sa[8];
	socklen_t salen[8];
};

/* Parse S into A.  Returns 0, or -1 with *why set to a static reason. */
int addr_parse(struct addr *a, const char *s, int flags, const char **why);
/* Resolve a TCP or abstract address into a->sa (UNIX paths need
 * nothing).  Returns 0, or -1 with *why set and *usage telling whether
 * it is the address's fault (unknown host) rather than the resolver's. */
int addr_resolve(struct addr *a, int flags, const char **why, int *usage);
/* Canonical form of A into BUF (truncated to N); returns BUF. */
char *addr_format(const struct addr *a, char *buf, size_t n);
/* Canonical form of a kernel socket address; type is the socket type. */
char *sa_format(const struct sockaddr *sa, socklen_t len, int type,
		char *buf, size_t n);
/* Room for any canonical address. */
#define ADDR_STRLEN 4200

/* ---- sock.c: opening sockets ---- */

struct listener {
	int fd;
	struct addr addr;  /* as asked; for TCP port 0 updated to the real port */
	int dirfd;         /* UNIX path: its directory, for removal at exit */
	char name[256];    /* UNIX path: final component */
	dev_t dev;         /* UNIX path: identity of the file we created */
	ino_t ino;
	pid_t holder_pid;  /* after EADDRINUSE: pid of the live listener, or 0 */
};

struct listen_opts {
	int backlog;
	int has_mode;
	mode_t mode;
	uid_t uid;         /* (uid_t)-1: leave */
	gid_t gid;         /* (gid_t)-1: leave */
};

/* Listen on A.  Returns 0 or -1 with errno set (EADDRINUSE: a live
 * listener holds the path, l->holder_pid says who; EEXIST: something
 * that is not a socket is there; ENAMETOOLONG: past sun_path). */
int sock_listen(struct listener *l, const struct addr *a,
		const struct listen_opts *o);
/* Close L and remove its socket file if the path still holds it. */
void sock_unlisten(struct listener *l);
/* Remove L's socket file (if still ours) but keep nothing else. */
void sock_unlink(struct listener *l);

/* Fill a->sa for a UNIX path so that connects need no lookup (a path
 * past sun_path keeps its directory open for the life of the process).
 * 0 or -1 with errno. */
int sock_prepare(struct addr *a);
/* Canonical form of the address L listens on (the real port). */
char *sock_local_format(const struct listener *l, char *buf, size_t n);
/* Connect to A, giving up at DEADLINE (ms on the monotonic clock, or
 * -1 for none).  Returns a non-blocking CLOEXEC fd, or -1 with errno
 * (ETIMEDOUT at the deadline). */
int sock_connect(const struct addr *a, int64_t deadline);
/* Accept one connection: non-blocking CLOEXEC fd or -1 with errno. */
int sock_accept(int lfd, struct sockaddr_storage *ss, socklen_t *len);
/* SO_PEERCRED of a UNIX socket; 0 or -1. */
int sock_peercred(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/* errno is worth retrying while waiting for an endpoint to appear */
int sock_retryable(int e);

/* ---- sockstate.c ---- */

struct stat;
/* What is bound to the socket file ST describes, in this network
 * namespace: 2 a listener (or bound datagram socket), 1 bound but not
 * listening, 0 nothing (stale); -1 with errno if the kernel cannot say.
 * *sockino is the socket's inode. */
int sock_file_state(const struct stat *st, uint32_t *sockino);
/* A process holding socket inode SOCKINO open, or 0 (a partial scan
 * without privileges). */
pid_t sock_inode_owner(uint32_t sockino);

/* ---- pump.c: one direction of a relay ---- */

/* Kind of an fd for choosing a relay path. */
enum fd_kind { FD_OTHER, FD_PIPE, FD_SOCKET, FD_TTY, FD_FILE };

enum pump_mode { PUMP_COPY, PUMP_SPLICE, PUMP_SPLICE_PIPE };
#define PUMP_WANT_READ  1
#define PUMP_WANT_WRITE 2

/* Staging pipes shared by many pumps: taken when data flows, given back
 * when a direction goes idle, so idle connections hold no pipe. */
struct pipe_pool {
	int (*fds)[2];
	int n, max;
	int size;            /* F_SETPIPE_SZ for new pipes, or 0 */
};

struct pump {
	int in, out;
	int pipe[2];         /* PUMP_SPLICE_PIPE: staging pipe, or -1 */
	uint32_t inpipe;     /* bytes held in the staging pipe */
	uint32_t off, len;   /* PUMP_COPY: bytes held in buf */
	char *buf;           /* PUMP_COPY: what OUT has not taken yet */
	uint64_t bytes;      /* bytes delivered */
	struct pipe_pool *pool; /* where staging pipes come from, or NULL */
	void (*tap)(void *ctx, const char *p, size_t n);
	void *tap_ctx;
	uint8_t mode;        /* enum pump_mode */
	uint8_t adaptive;    /* copy small reads, splice bulk */
	uint8_t small;       /* adaptive: small splices in a row */
	uint8_t eof;         /* input reached end of file */
	uint8_t done;        /* EOF delivered: the direction has ended */
	uint8_t keep_out;    /* at the end, leave OUT open (no EOF sent) */
	uint8_t in_block, out_block; /* blocking fds: one call per step */
	uint8_t out_kind;    /* enum fd_kind of OUT, for delivering EOF */
	uint8_t failed_in;   /* after -1: the input side failed, else output */
	uint8_t broken;      /* OUT went away (EPIPE): the direction ended
	                        early and what it held was dropped */
};

/* Set up P to move IN to OUT, choosing splice where both ends allow. */
void pump_init(struct pump *p, int in, int out);
/* Between two sockets: copy small reads through a shared buffer and
 * splice through a pipe from POOL once reads come in bulk. */
void pump_init_adaptive(struct pump *p, int in, int out,
			struct pipe_pool *pool);
/* Move what can be moved without blocking.  Returns the interest
 * (PUMP_WANT_*) for the next turn, 0 once the direction has ended, or
 * -1 with errno on error.  An OUT that has gone away (EPIPE) ends the
 * direction with p->broken set rather than failing: the other direction
 * may still carry an answer. */
int pump_step(struct pump *p);
/* Copy through a buffer and show each chunk to TAP (hexdump). */
void pump_set_tap(struct pump *p, void (*tap)(void *, const char *, size_t),
		  void *ctx);
/* OUT can take no more (peer gone): end the direction if nothing is
 * held, else -1 with errno EPIPE. */
int pump_abandon(struct pump *p);
/* Free what P holds (buffer, staging pipe), not IN and OUT. */
void pump_free(struct pump *p);
/* Deliver EOF on FD of KIND: shutdown(SHUT_WR) for a socket, or for a
 * pipe replace it with /dev/null so the reader at the other end sees EOF. */
void fd_send_eof(int fd, enum fd_kind kind);
/* Close every pipe POOL holds. */
void pipe_pool_drain(struct pipe_pool *pool);

/* ---- relay.c: a two-way relay of one connection ---- */

struct relay {
	struct pump up;      /* local input -> socket */
	struct pump down;    /* socket -> local output */
	int sigfd;           /* signalfd to watch, or -1 */
	int64_t idle_ms;     /* end after this long without traffic, or -1 */
	int end_on_down_eof; /* stop when the peer finishes (terminal input) */
	int signo;           /* set when a signal ended the relay */
};

#define RELAY_OK       0
#define RELAY_ERROR   -1  /* errno set; relay.failed says which side */
#define RELAY_TIMEOUT -2
#define RELAY_SIGNAL  -3

/* Run R until both directions have ended.  Returns a RELAY_* code;
 * on RELAY_ERROR *failed points at the pump that failed. */
int relay_run(struct relay *r, struct pump **failed);

/* ---- hexdump.c ---- */

struct hexdump {
	int fd;
	char mark;           /* '>' sent, '<' received */
	uint64_t off;
};
/* pump tap callback: CTX is a struct hexdump */
void hexdump_tap(void *ctx, const char *p, size_t n);

/* ---- sig.c: signals as events ---- */

/* Ignore SIGPIPE; block the signals in SET and return a signalfd for
 * them (CLOEXEC, non-blocking), or -1. */
int sig_fd(const sigset_t *set);
/* Read one signal from FD: its number, or 0. */
int sig_read(int fd);
/* In a child before exec: default SIGPIPE, empty signal mask. */
void sig_reset_child(void);

/* ---- fd.c, time.c: small helpers ---- */

int fd_nonblock(int fd, int on);
int fd_cloexec(int fd);
/* Best effort: enlarge a pipe to 1 MiB so bulk transfers take fewer
 * wake-ups (the kernel may refuse past the user's pipe quota). */
void fd_grow_pipe(int fd);
int64_t now_ms(void);
/* Make pipes and sockets on stdin and stdout non-blocking (pipes grown
 * too) for a relay; their flags are put back at exit, since the open
 * file may be shared with other processes. */
void stdio_prepare(void);
enum fd_kind fd_kind(int fd);

/* ---- proc.c ---- */

/* The command name of PID (from /proc/PID/comm) in BUF, or NULL. */
char *proc_comm(pid_t pid, char *buf, size_t n);

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
/* Only unless -q */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_err, then exit(code) */
_Noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_syserr, then exit(code) */
_Noreturn void die_sys(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report a failed sock_listen() of NAME (who holds a live socket, what
 * is in the way) and exit 1. */
_Noreturn void die_listen(const struct listener *l, const char *name);
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
/* Octal file mode 0..07777; exits 2 naming OPT on error. */
mode_t opt_mode(const char *opt, const char *s);
/* USER[:GROUP] or :GROUP, names or numbers; exits 2 naming OPT. */
void opt_owner(const char *opt, const char *s, uid_t *uid, gid_t *gid);
/* After getopt_long() (run with opterr = 0 and an optstring starting
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
/* Parse an address; exits 2 with the reason on error. */
void opt_addr(struct addr *a, const char *s, int flags);

/* Parsers behind the opt_ functions, for tests: 0 or -1 with *why. */
int num_parse_ulong(const char *s, unsigned long min, unsigned long max,
		    unsigned long *out, const char **why);
int num_parse_duration(const char *s, int64_t *ms, const char **why);

/* Print --version output for PROG on stdout. */
void print_version(void);

#endif
