/* usock-listen — listen on one address; relay each connection to
 * stdin/stdout, or run a command per connection with it as stdio. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/dgram.h"
#include "core/relay.h"
#include "core/dump.h"
#include "core/sys.h"

enum { OPT_PRINT_ADDRESS = 0x100, OPT_READY_FD, OPT_CRLF, OPT_DUMP };

static const char usage_text[] =
	"Usage: usock-listen [OPTIONS] ADDRESS [-- COMMAND [ARG...]]\n"
	"Listen on ADDRESS; relay a connection to standard input and output,\n"
	"or run COMMAND for each connection with the connection as its stdio.\n"
	"\n"
	"  -k, --keep-open         keep accepting after a connection ends\n"
	"  -c, --max-conns N       at most N COMMANDs at once (default 256)\n"
	"  -m, --mode OCTAL        socket file permissions, e.g. 0600\n"
	"  -o, --owner USER[:GROUP] socket file owner and group\n"
	"  -b, --backlog N         listen backlog (default 128)\n"
	"      --print-address     print the bound address on stderr\n"
	"      --ready-fd N        once listening, write the bound address to fd N\n"
	"                          and close it\n"
	"      --crlf              without COMMAND: send each LF of stdin as CR LF\n"
	"  -x, --hexdump           without COMMAND: dump both directions to stderr\n"
	"                          (--dump=hex)\n"
	"      --dump=FORMAT       the same, FORMAT hex or text (socat -v's view)\n"
	OPT_COMMON_HELP
	"\n"
	"ADDRESS: unix:PATH, ./PATH, @NAME, HOST:PORT, [IPV6]:PORT, PORT (127.0.0.1),\n"
	"*:PORT (every interface); port 0 picks a free port (see usock(7)).\n"
	"COMMAND gets USOCK_PEER, USOCK_LOCAL and, for UNIX peers, USOCK_PEER_PID,\n"
	"USOCK_PEER_UID and USOCK_PEER_GID; for TCP, USOCK_PEER_ADDR, USOCK_PEER_PORT,\n"
	"USOCK_LOCAL_ADDR and USOCK_LOCAL_PORT.\n"
	"Exit status: 0 ok, 1 failed, 2 usage; with COMMAND and without -k,\n"
	"the status of COMMAND.\n";

static const struct option longopts[] = {
	{ "keep-open", no_argument, NULL, 'k' },
	{ "max-conns", required_argument, NULL, 'c' },
	{ "mode", required_argument, NULL, 'm' },
	{ "owner", required_argument, NULL, 'o' },
	{ "backlog", required_argument, NULL, 'b' },
	{ "print-address", no_argument, NULL, OPT_PRINT_ADDRESS },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "crlf", no_argument, NULL, OPT_CRLF },
	{ "hexdump", no_argument, NULL, 'x' },
	{ "dump", required_argument, NULL, OPT_DUMP },
	OPT_COMMON_LONG,
	{ NULL, 0, NULL, 0 }
};

struct args {
	struct addr addr;
	const char *addr_arg;
	struct listen_opts lo;
	int keep;
	unsigned long max_conns;
	int max_conns_set;
	int print_address;
	int ready_fd;        /* --ready-fd, or -1 */
	int crlf;
	int dump;            /* DUMP_HEX, DUMP_TEXT, or 0 */
	const char *dump_opt; /* the option that asked for it */
	char **cmd;
};

static void parse_argv(int argc, char **argv, struct args *a)
{
	int c;

	*a = (struct args){ .max_conns = 256, .ready_fd = -1 };
	opterr = 0;
	struct opt_iter it = OPT_ITER(argc, argv, 1);
	a->lo = LISTEN_OPTS(128);
	while ((c = opt_next(&it, "+:kc:m:o:b:xvqhV", longopts)) != -1) {
		switch (c) {
		case 'k': a->keep = 1; break;
		case 'c':
			a->max_conns = opt_ulong("--max-conns", optarg, 1, 1000000);
			a->max_conns_set = 1;
			break;
		case OPT_PRINT_ADDRESS: a->print_address = 1; break;
		case OPT_CRLF: a->crlf = 1; break;
		case OPT_READY_FD: a->ready_fd = opt_ready_fd("--ready-fd", optarg); break;
		case 'x':
			opt_dump_set(&a->dump, DUMP_HEX);
			a->dump_opt = "--hexdump";
			break;
		case OPT_DUMP:
			opt_dump_set(&a->dump, opt_dump("--dump", optarg));
			a->dump_opt = "--dump";
			break;
		default:
			if (!opt_listen(c, optarg, &a->lo))
				opt_common(c, usage_text, argv);
		}
	}
	if (optind >= argc)
		die(EXIT_USAGE, "missing ADDRESS (try --help)");
	a->addr_arg = argv[optind++];
	if (optind < argc) {
		if (strcmp(argv[optind], "--"))
			die(EXIT_USAGE, "unexpected argument '%s' (COMMAND goes after "
			    "--)", log_esc(argv[optind]));
		if (++optind >= argc)
			die(EXIT_USAGE, "missing COMMAND after --");
		a->cmd = argv + optind;
	}
	if (a->max_conns_set && !a->cmd)
		die(EXIT_USAGE, "cannot use --max-conns without a COMMAND");
	if (a->max_conns_set && !a->keep)
		die(EXIT_USAGE, "cannot use --max-conns without --keep-open "
		    "(one connection, one COMMAND)");
	if (a->dump && a->cmd)
		die(EXIT_USAGE, "cannot use %s with a COMMAND (it has the "
		    "connection, not us: put the dump in COMMAND)", a->dump_opt);
	if (a->crlf && a->cmd)
		die(EXIT_USAGE, "cannot use --crlf with a COMMAND");
	if (a->ready_fd == 1 && !a->cmd)
		die(EXIT_USAGE, "--ready-fd: 1 is standard output, which carries "
		    "the connection without a COMMAND");
	opt_addr(&a->addr, a->addr_arg, ADDR_LISTEN);
	if (a->crlf && a->addr.type != SOCK_STREAM)
		die(EXIT_USAGE, "--crlf: only for stream addresses, not '%s'",
		    log_esc(a->addr_arg));
	if (a->addr.type == SOCK_DGRAM) {
		/* no connection to end: serve until a signal */
		if (a->max_conns_set)
			die(EXIT_USAGE, "cannot use --max-conns with a unix-dgram: "
			    "address (COMMAND runs once per datagram, in order)");
		a->keep = 1;
	}
	opt_check_file_opts(&a->lo, &a->addr, a->addr_arg);
}

/* Can NAME be run, as execvp() would find it: a path (with a '/'), or
 * the first executable regular file of that name in $PATH?  NULL when
 * it can, else why not ("not found", "is a directory", "not
 * executable"). */
static const char *command_problem(const char *name)
{
	struct stat st;
	if (strchr(name, '/')) {
		if (stat(name, &st) < 0)
			return errno == ENOENT || errno == ENOTDIR ? "not found" :
			       strerror(errno);
		if (S_ISDIR(st.st_mode))
			return "is a directory, not a program";
		if (!S_ISREG(st.st_mode) || access(name, X_OK) < 0)
			return "not executable";
		return NULL;
	}
	const char *path = getenv("PATH");
	const char *seen = NULL;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		char full[4096];
		snprintf(full, sizeof full, "%.*s/%s", (int)n, n ? path : ".", name);
		if (stat(full, &st) == 0) {
			if (S_ISREG(st.st_mode) && access(full, X_OK) == 0)
				return NULL;
			if (!seen)
				seen = S_ISDIR(st.st_mode) ? "found in PATH only as a directory" :
				       "found in PATH, but not executable";
		}
		path += n + (path[n] == ':');
	}
	return seen ? seen : "not found in PATH";
}

static struct listener lst;
static char local_name[ADDR_STRLEN];
static struct notify notify = { .fd = -1 };

/* Tell the supervisor (NOTIFY_SOCKET) how many connections we serve. */
static void notify_status(unsigned long active, unsigned long served)
{
	char msg[96];
	if (notify.fd < 0)
		return;
	snprintf(msg, sizeof msg, "STATUS=%lu active, %lu served", active,
		 served);
	cli_notify(&notify, msg, 0);
}

static void cleanup(void)
{
	sock_unlisten(&lst);
}

/* Accept one connection; -1 when there is none to take now. */
static int take(char *peer, size_t n, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = sock_accept(lst.fd, &ss, &len);
	if (fd < 0) {
		if (sock_accept_starved(errno)) {
			log_syserr("accept");
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		return -1;
	}
	/* a seqpacket peer prints as one (unix-seqpacket:...) */
	sa_format((struct sockaddr *)&ss, len,
		  ss.ss_family == AF_UNIX ? lst.addr.type : SOCK_STREAM, peer, n);
	*pid = 0;
	if (ss.ss_family == AF_UNIX && sock_peercred(fd, pid, uid, gid) == 0)
		log_verbose("connection from %s (pid %d, uid %u)", peer, (int)*pid,
			    (unsigned)*uid);
	else
		log_verbose("connection from %s", peer);
	return fd;
}

/* Wait for a connection or a signal.  Returns the fd, or -1 after
 * SIGINT/SIGTERM. */
static int wait_accept(int sigfd, char *peer, size_t n, pid_t *pid,
		       uid_t *uid, gid_t *gid)
{
	for (;;) {
		struct pollfd pfd[2] = { { lst.fd, POLLIN, 0 }, { sigfd, POLLIN, 0 } };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die_sys(1, "poll");
		}
		if (pfd[1].revents) {
			int s = sig_read(sigfd);
			if (s == SIGINT || s == SIGTERM)
				return -1;
		}
		if (pfd[0].revents) {
			int fd = take(peer, n, pid, uid, gid);
			if (fd >= 0)
				return fd;
		}
	}
}

static int serve_stdio(const struct args *a, int sigfd)
{
	int stdin_eof = 0;
	unsigned long served = 0;
	char peer[ADDR_STRLEN];
	pid_t pid;
	uid_t uid;
	gid_t gid;

	stdio_prepare();
	for (;;) {
		int fd = wait_accept(sigfd, peer, sizeof peer, &pid, &uid, &gid);
		if (fd < 0) {
			cli_notify(&notify, "STOPPING=1", 1);
			return 0;
		}
		notify_status(1, ++served);
		if (!a->keep)
			sock_unlisten(&lst);

		struct stdio_relay s;
		struct relay *r = &s.r;
		cli_stdio_relay(&s, fd, sigfd, a->crlf);
		/* the client's bytes (side 1's input) are the request */
		cli_conn_dump(&r->c, a->dump, served, peer, 1);
		relay_up(r)->eof = (uint8_t)stdin_eof;
		relay_down(r)->keep_out = (uint8_t)a->keep;
		struct pump *failed = NULL;
		int rc = relay_run(r, &failed); /* closes fd */
		stdin_eof = relay_up(r)->eof;
		if (rc == RELAY_SIGNAL) {
			cli_notify(&notify, "STOPPING=1", 1);
			return 0;
		}
		notify_status(0, served);
		if (rc == RELAY_ERROR) {
			cli_relay_error(r, failed, peer);
			if (!a->keep)
				return 1;
		} else {
			log_verbose("%s closed: %llu byte%s sent, %llu received", peer,
				    (unsigned long long)relay_up(r)->bytes,
				    num_s(relay_up(r)->bytes),
				    (unsigned long long)relay_down(r)->bytes);
		}
		if (!a->keep)
			return 0;
	}
}

/* For a TCP connection on FD, its peer's (or with LOCAL its own) numeric
 * address and port in the variables ADDR and PORT, as tcpserver's
 * TCPREMOTEIP and ncat's NCAT_REMOTE_ADDR; else neither is set. */
static void tcp_env_of(int fd, int local, const char *addr, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[64], num[16];
	unsigned p;
	int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &len) :
			 getpeername(fd, (struct sockaddr *)&ss, &len);
	if (rc == 0 && sa_host_port((struct sockaddr *)&ss, host, sizeof host, &p) == 0) {
		snprintf(num, sizeof num, "%u", p);
		setenv(addr, host, 1);
		setenv(port, num, 1);
	} else {
		unsetenv(addr);
		unsetenv(port);
	}
}

/* In a child: COMMAND's environment for PEER (PID 0: no credentials). */
static void peer_env(const char *peer, pid_t pid, uid_t uid, gid_t gid)
{
	char num[32];

	setenv("USOCK_PEER", peer, 1);
	/* the connection's own local address: for a wildcard listener
	 * (*:PORT, [::]:PORT) the address the client reached */
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof ss;
	char local[ADDR_STRLEN];
	if (getsockname(0, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
		setenv("USOCK_LOCAL", sa_format((struct sockaddr *)&ss, len,
						SOCK_STREAM, local, sizeof local), 1);
	else
		setenv("USOCK_LOCAL", local_name, 1);
	tcp_env_of(0, 0, "USOCK_PEER_ADDR", "USOCK_PEER_PORT");
	tcp_env_of(0, 1, "USOCK_LOCAL_ADDR", "USOCK_LOCAL_PORT");
	if (pid > 0) {
		snprintf(num, sizeof num, "%d", (int)pid);
		setenv("USOCK_PEER_PID", num, 1);
		snprintf(num, sizeof num, "%u", (unsigned)uid);
		setenv("USOCK_PEER_UID", num, 1);
		snprintf(num, sizeof num, "%u", (unsigned)gid);
		setenv("USOCK_PEER_GID", num, 1);
	} else {
		unsetenv("USOCK_PEER_PID");
		unsetenv("USOCK_PEER_UID");
		unsetenv("USOCK_PEER_GID");
	}
}

/* dgram.c's taps mark what we send '>': here that is the answer. */
static void dump_answer_tap(void *dc, char dir, const char *p, size_t n)
{
	dump_tap_mark(dc, dir == '>' ? '<' : '>', p, n);
}

static void run_child(const struct args *a, int fd, const char *peer,
		      pid_t pid, uid_t uid, gid_t gid)
{
	sig_reset_child();
	fd_nonblock(fd, 0);
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
		_exit(126);
	if (fd > 1)
		close(fd);
	peer_env(peer, pid, uid, gid);
	execvp(a->cmd[0], a->cmd);
	log_syserr("exec %s", log_esc(a->cmd[0]));
	_exit(127);
}

static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

/* A connection handed to a COMMAND.  The parent keeps its own handle
 * on the socket: when COMMAND exits it sends EOF and closes with a
 * lingering close (conn.h), so input COMMAND left unread never makes the
 * kernel reset the connection and destroy the answer. */
struct child {
	pid_t pid;           /* 0 once COMMAND has exited */
	int fd;
	struct conn_linger lg;
};

static struct child *kids;
static size_t nkids, kids_cap;

static int add_child(pid_t pid, int fd)
{
	if (nkids == kids_cap) {
		size_t cap = kids_cap ? kids_cap * 2 : 16;
		struct child *k = realloc(kids, cap * sizeof *k);
		if (!k)
			return -1;
		kids = k;
		kids_cap = cap;
	}
	kids[nkids++] = (struct child){ .pid = pid, .fd = fd };
	return 0;
}

static void drop_child(size_t i)
{
	close(kids[i].fd);
	kids[i] = kids[--nkids];
}

/* COMMAND of kids[I] exited: end the connection.  A COMMAND that asked
 * for a reset (SO_LINGER 0, as usock-connect does to pass one on) gets
 * it; otherwise EOF, then the lingering close.  1 if kids[I] is gone. */
static int child_exited(size_t i, int64_t now)
{
	struct child *k = &kids[i];
	struct linger lg = { 0, 0 };
	socklen_t sl = sizeof lg;

	k->pid = 0;
	if (getsockopt(k->fd, SOL_SOCKET, SO_LINGER, &lg, &sl) == 0 &&
	    lg.l_onoff && lg.l_linger == 0) {
		drop_child(i);
		return 1;
	}
	shutdown(k->fd, SHUT_WR);
	if (conn_linger_begin(&k->lg, k->fd, now)) {
		drop_child(i);
		return 1;
	}
	return 0;
}

static void reap(unsigned long *active, int *last)
{
	int st;
	pid_t p;
	int64_t now = now_ms();
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		(*active)--;
		*last = status_code(st);
		log_verbose("command %d ended with status %d", (int)p, *last);
		for (size_t i = 0; i < nkids; i++)
			if (kids[i].pid == p) {
				child_exited(i, now);
				break;
			}
	}
}

/* Accept one client and start COMMAND for it. */
static void spawn(const struct args *a, unsigned long *active,
		  unsigned long *served)
{
	char peer[ADDR_STRLEN];
	pid_t pid = 0;
	uid_t uid = 0;
	gid_t gid = 0;
	int fd = take(peer, sizeof peer, &pid, &uid, &gid);
	if (fd < 0)
		return;
	pid_t child = fork();
	if (child == 0)
		run_child(a, fd, peer, pid, uid, gid);
	if (child < 0 || add_child(child, fd) < 0) {
		if (child < 0)
			log_syserr("fork");
		close(fd);
	}
	if (child > 0) {
		(*active)++;
		(*served)++;
		notify_status(*active, *served);
	}
	if (!a->keep && *served)
		sock_unlisten(&lst);
}

/* Poll set: the signalfd, the listener when accepting, and every
 * connection in its lingering close; returns how many, *TIMEOUT the
 * nearest linger deadline. */
static int poll_set(struct pollfd *pfd, size_t max, int sigfd, int accepting,
		    int *timeout)
{
	int n = 0;
	int64_t now = now_ms(), next = -1;
	pfd[n++] = (struct pollfd){ sigfd, POLLIN, 0 };
	pfd[n++] = (struct pollfd){ accepting ? lst.fd : -1, POLLIN, 0 };
	for (size_t i = 0; i < nkids && (size_t)n < max; i++) {
		if (kids[i].pid)
			continue;
		pfd[n++] = (struct pollfd){ kids[i].fd, POLLIN, 0 };
		int64_t d = conn_linger_deadline(&kids[i].lg);
		if (next < 0 || d < next)
			next = d;
	}
	*timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
	return n;
}

/* Go on with every lingering close that is due or has input. */
static void linger_all(void)
{
	int64_t now = now_ms();
	for (size_t i = 0; i < nkids;) {
		if (!kids[i].pid && conn_linger_step(&kids[i].lg, now))
			drop_child(i);
		else
			i++;
	}
}

static int lingering(void)
{
	for (size_t i = 0; i < nkids; i++)
		if (!kids[i].pid)
			return 1;
	return 0;
}

static int serve_commands(const struct args *a, int sigfd)
{
	unsigned long active = 0, served = 0;
	int last = 0;
	struct pollfd pfd[256];

	for (;;) {
		if (!a->keep && served && !active && !lingering())
			return last;
		int accepting = lst.fd >= 0 && active < a->max_conns;
		int timeout;
		int n = poll_set(pfd, sizeof pfd / sizeof *pfd, sigfd, accepting,
				 &timeout);
		if (poll(pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			die_sys(1, "poll");
		}
		if (pfd[0].revents) {
			int s = sig_read(sigfd);
			if (s == SIGINT || s == SIGTERM) {
				log_verbose("stopping on signal %d", s);
				cli_notify(&notify, "STOPPING=1", 1);
				return a->keep || !served ? 0 : last;
			}
			reap(&active, &last);
			notify_status(active, served);
		}
		linger_all();
		if (accepting && pfd[1].revents)
			spawn(a, &active, &served);
	}
}

/* ---- datagram and seqpacket sockets ---- */

/* Start COMMAND for the datagram M from PEER ("" for an unbound
 * sender): its stdin the write end *TOCHILD, its stdout the read end
 * *FROMCHILD.  The child's pid, or -1 (reported). */
static pid_t start_datagram_command(const struct args *a, const char *peer,
				    const struct dgram_msg *m, int *tochild,
				    int *fromchild)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0) {
		log_syserr("pipe");
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		log_syserr("pipe");
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid_t child = fork();
	if (child == 0) {
		sig_reset_child();
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(126);
		peer_env(peer, m->has_cred ? m->pid : 0, m->uid, m->gid);
		execvp(a->cmd[0], a->cmd);
		log_syserr("exec %s", log_esc(a->cmd[0]));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (child < 0) {
		log_syserr("fork");
		close(in[1]);
		close(out[0]);
		return -1;
	}
	*tochild = in[1];
	*fromchild = out[0];
	return child;
}

/* Reap CHILD into *ST, watching SIGFD (SIGCHLD comes through it).  0, or
 * 1 when SIGINT or SIGTERM came first. */
static int reap_watching(pid_t child, int sigfd, int *st)
{
	while (waitpid(child, st, WNOHANG) == 0) {
		struct pollfd pfd = { sigfd, POLLIN, 0 };
		if (poll(&pfd, 1, -1) > 0) {
			int s = sig_read(sigfd);
			if (s == SIGINT || s == SIGTERM)
				return 1;
		}
	}
	return 0;
}

/* Send the answer ANS (in OB) back to the sender of M, PEER, when it has
 * an address and the answer fits in one datagram (LIMIT bytes); what
 * happens instead is said. */
static void send_answer(const char *peer, const struct dgram_msg *m,
			const struct dgram_buf *ob,
			const struct dgram_answer *ans, size_t limit)
{
	if (!*peer) {
		log_verbose("answer not sent: the sender has no address");
		return;
	}
	if (ans->more) {
		log_err("answer to %s: %zu bytes are over the %zu-byte limit of "
			"one datagram; not sent", peer, ans->len + ans->more, limit);
		return;
	}
	if (sendto(lst.fd, ob->p, ans->len, MSG_DONTWAIT | MSG_NOSIGNAL,
		   (const struct sockaddr *)&m->from, m->fromlen) == 0)
		return;
	if (errno == ECONNREFUSED || errno == ENOENT)
		log_verbose("answer to %s not sent: the sender is gone", peer);
	else
		log_syserr("answer to %s%s", peer, errno == EAGAIN ?
			   " (its receive queue is full; dropped)" : "");
}

/* Run COMMAND for the datagram M: its stdin the datagram and a newline,
 * its output (less the final newline) sent back to a named sender. */
static void answer_datagram(const struct args *a, const struct dgram_msg *m,
			    struct dgram_buf *ob, int sigfd, int *stop)
{
	char peer[ADDR_STRLEN] = "";
	int tochild, fromchild;

	if (dgram_from_named(m))
		sa_format((const struct sockaddr *)&m->from, m->fromlen,
			  SOCK_DGRAM, peer, sizeof peer);
	log_verbose("datagram of %zu bytes from %s (pid %d, uid %u)", m->len,
		    *peer ? peer : "an unbound socket", m->has_cred ? (int)m->pid : 0,
		    m->has_cred ? (unsigned)m->uid : 0);
	pid_t child = start_datagram_command(a, peer, m, &tochild, &fromchild);
	if (child < 0)
		return;
	size_t limit = dgram_limit(lst.fd);
	struct dgram_answer ans;
	int r = dgram_command_exchange(tochild, fromchild, m->data, m->len, ob,
				       limit, &ans, sigfd);
	close(fromchild);
	if (r < 0)
		log_syserr("command %s", log_esc(a->cmd[0]));
	int st;
	if (ans.signo || reap_watching(child, sigfd, &st)) {
		*stop = 1;
		return;
	}
	log_verbose("command %d ended with status %d", (int)child, status_code(st));
	if (r == 0 && ans.any)
		send_answer(peer, m, ob, &ans, limit);
}

/* A datagram socket with COMMAND: one datagram at a time, in order. */
static int serve_datagram_commands(const struct args *a, int sigfd)
{
	struct dgram_buf in = { 0 }, ob = { 0 };
	int stop = 0;
	while (!stop) {
		struct pollfd pfd[2] = { { sigfd, POLLIN, 0 }, { lst.fd, POLLIN, 0 } };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die_sys(1, "poll");
		}
		if (pfd[0].revents) {
			int s = sig_read(sigfd);
			if (s == SIGINT || s == SIGTERM)
				break;
		}
		if (!pfd[1].revents)
			continue;
		struct dgram_msg m;
		if (dgram_recv(lst.fd, &in, &m) < 0) {
			if (errno != EAGAIN)
				log_syserr("receive on %s", local_name);
			continue;
		}
		answer_datagram(a, &m, &ob, sigfd, &stop);
	}
	free(in.p);
	free(ob.p);
	return 0;
}

/* Exchange lines and messages with FD (a datagram socket we listen on,
 * or an accepted seqpacket connection).  Returns a RELAY_* code. */
static int exchange_messages(const struct args *a, int fd, int listening,
			     int in, int *in_eof, int sigfd, unsigned long id,
			     const char *peer)
{
	struct dump_conn *dc = NULL;
	if (a->dump && !(dc = dump_conn_new(cli_dump_open(a->dump, 0), id, peer)))
		die_sys(1, "--dump");
	struct msg_relay r = {
		.fd = fd, .type = a->addr.type, .listening = listening,
		.in = *in_eof ? -1 : in, .out = 1, .sigfd = sigfd,
		.escape = isatty(1), .end_on_peer_eof = isatty(0),
		.idle_ms = -1, .linger_ms = -1,
		.tap = dc ? dump_answer_tap : NULL, .tap_ctx = dc,
	};
	int rc = msg_relay_run(&r);
	dump_conn_free(dc);
	if (r.skipped)
		log_warn("%llu empty line(s) not sent: an empty record reads "
			 "as end of file", (unsigned long long)r.skipped);
	if (r.undelivered)
		log_warn("%llu line(s) dropped: their receiver went away",
			 (unsigned long long)r.undelivered);
	if (rc == RELAY_ERROR) {
		if (!r.failed)
			log_syserr("poll");
		else if (!strcmp(r.failed, "read"))
			log_syserr("read stdin");
		else if (!strcmp(r.failed, "write"))
			log_syserr("write stdout");
		else if (errno == EMSGSIZE)
			log_err("send: a line of %s%zu bytes is over the %zu-byte "
				"limit of one message (SO_SNDBUF less 32 bytes)",
				r.too_long_more ? "more than " : "", r.too_long_more ?
				r.limit : r.too_long, r.limit);
		else
			log_syserr("%s", r.failed);
	}
	*in_eof = 1;
	return rc;
}

static int serve_messages(const struct args *a, int sigfd)
{
	int in_eof = 0;
	if (a->addr.type == SOCK_DGRAM && dgram_passcred(lst.fd) < 0)
		log_syserr("SO_PASSCRED on %s", local_name);
	if (a->addr.type == SOCK_DGRAM && a->cmd)
		return serve_datagram_commands(a, sigfd);
	if (a->addr.type == SOCK_SEQPACKET && a->cmd)
		return serve_commands(a, sigfd);
	if (fcntl(0, F_GETFL) < 0)
		in_eof = 1;
	stdio_prepare();
	if (a->addr.type == SOCK_DGRAM) {
		/* datagrams come from anyone: their records name our address */
		int rc = exchange_messages(a, lst.fd, 1, 0, &in_eof, sigfd, 1,
					   local_name);
		return rc == RELAY_ERROR ? 1 : 0;
	}
	for (unsigned long served = 1;; served++) {
		char peer[ADDR_STRLEN];
		pid_t pid;
		uid_t uid;
		gid_t gid;
		int fd = wait_accept(sigfd, peer, sizeof peer, &pid, &uid, &gid);
		if (fd < 0)
			return 0;
		if (!a->keep)
			sock_unlisten(&lst);
		int rc = exchange_messages(a, fd, 0, 0, &in_eof, sigfd, served,
					   peer);
		close(fd);
		if (rc == RELAY_SIGNAL)
			return 0;
		if (!a->keep)
			return rc == RELAY_ERROR ? 1 : 0;
	}
}

int main(int argc, char **argv)
{
	struct args a;
	char name[ADDR_STRLEN];

	log_init("usock-listen");
	if (stdio_guard() < 0)
		die_sys(1, "open /dev/null");
	parse_argv(argc, argv, &a);
	/* a stderr nobody reads must not stop the listener (or a signal):
	 * lines are queued, in every mode */
	cli_log_queue();
	addr_format(&a.addr, name, sizeof name);
	const char *why = a.cmd ? command_problem(a.cmd[0]) : NULL;
	if (why)
		die(1, "COMMAND %s: %s", log_esc(a.cmd[0]), why);
	cli_notify_open(&notify);

	int sigfd = cli_signals(-1, (const int[]){ SIGINT, SIGTERM, SIGCHLD, 0 });

	if (sock_listen(&lst, &a.addr, &a.lo) < 0)
		die_listen(&lst, name);
	atexit(cleanup);
	sock_local_format(&lst, local_name, sizeof local_name);
	if (a.print_address)
		log_print("%s\n", local_name);
	static char line[ADDR_STRLEN + 16], status[ADDR_STRLEN + 16];
	snprintf(line, sizeof line, "%s\n", local_name);
	snprintf(status, sizeof status, "listening on %s", local_name);
	cli_ready(&a.ready_fd, &notify, line, status);
	log_verbose("listening on %s", local_name);
	int rc;
	if (a.addr.type != SOCK_STREAM)
		rc = serve_messages(&a, sigfd);
	else
		rc = a.cmd ? serve_commands(&a, sigfd) : serve_stdio(&a, sigfd);
	exit(rc);
}
