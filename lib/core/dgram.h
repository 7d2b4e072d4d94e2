/* dgram.h — UNIX datagram and seqpacket sockets: whole messages
 * instead of a byte stream.  Lines (or reads) of an input become
 * messages, messages become lines of an output (usock(7), MESSAGES). */
#ifndef USOCK_DGRAM_H
#define USOCK_DGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The kernel refuses (EMSGSIZE) a UNIX datagram or record longer than
 * the sender's SO_SNDBUF less this overhead (net/unix/af_unix.c). */
#define DGRAM_OVERHEAD 32

/* The longest message FD may send, in bytes (SO_SNDBUF less
 * DGRAM_OVERHEAD); a conservative 65536 if the kernel does not say. */
size_t dgram_limit(int fd);

/* Give the unbound UNIX socket FD an address chosen by the kernel (a
 * unique abstract name: autobind), so that a datagram server can
 * answer.  0 or -1 with errno. */
int dgram_autobind(int fd);

/* Ask for the sender's credentials (SO_PASSCRED) on every message FD
 * receives.  0 or -1 with errno. */
int dgram_passcred(int fd);

/* A growing receive buffer (free p when done). */
struct dgram_buf {
	char *p;
	size_t cap;
};

/* One message received. */
struct dgram_msg {
	const char *data;          /* in the dgram_buf; not NUL-terminated */
	size_t len;
	struct sockaddr_un from;   /* the sender (unconnected datagram socket) */
	socklen_t fromlen;         /* <= offsetof(sun_path): the sender is unbound */
	int has_cred;              /* SCM_CREDENTIALS came with it */
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* Receive one whole message from FD (non-blocking), whatever its size:
 * the buffer grows to fit it, so nothing is truncated.  Returns 0 with
 * *M filled (m->len may be 0), or -1 with errno (EAGAIN: nothing
 * queued; ENOMEM).  On a seqpacket socket a zero-length read is the
 * peer's end of file: m->len is 0 and the return value is 1. */
int dgram_recv(int fd, struct dgram_buf *b, struct dgram_msg *m);

/* The sender of M has an address an answer can go to. */
int dgram_from_named(const struct dgram_msg *m);

/* One exchange between a message socket and a line-oriented input and
 * output (usock-connect and usock-listen without COMMAND). */
struct msg_relay {
	/* set by the caller */
	int fd;              /* the socket, non-blocking: a connected SOCK_DGRAM
	                        or SOCK_SEQPACKET socket, or (listening) a bound
	                        SOCK_DGRAM one */
	int type;            /* SOCK_DGRAM or SOCK_SEQPACKET */
	int listening;       /* FD is bound, not connected: what is read from IN
	                        goes to the last sender that has an address, and
	                        input EOF ends nothing */
	int in;              /* input, or -1 */
	int out;             /* output: one line per message received */
	int sigfd;           /* signalfd (SIGINT, SIGTERM), or -1 */
	int per_read;        /* one message per read(2) of IN, not per line */
	int escape;          /* write messages in the escaped form (a terminal) */
	int end_on_peer_eof; /* seqpacket: stop when the peer finishes */
	int64_t idle_ms;     /* RELAY_TIMEOUT after this long without traffic
	                        (and while the receiver's queue stays full);
	                        -1 none */
	int64_t linger_ms;   /* after input EOF, connected: keep receiving until
	                        this long passes without a message, then
	                        RELAY_OK (a seqpacket socket is then not
	                        half-closed).  -1: a datagram exchange ends at
	                        once, a seqpacket one half-closes and waits for
	                        the peer's end of file */
	/* called with each message sent (DIR '>') and received ('<') */
	void (*tap)(void *ctx, char dir, const char *p, size_t n);
	void *tap_ctx;
	/* results */
	int signo;           /* RELAY_SIGNAL: the signal */
	int queue_full;      /* RELAY_TIMEOUT while the receiver's queue was full */
	const char *failed;  /* RELAY_ERROR: "read" (IN), "write" (OUT),
	                        "send" or "receive" (the socket); errno set */
	size_t too_long;     /* EMSGSIZE: the message's size (at least) ... */
	size_t limit;        /* ... and the limit it passed */
	int too_long_more;   /* too_long is a lower bound (a line still growing) */
	uint64_t sent, received;   /* messages */
	uint64_t skipped;    /* empty lines not sent on a seqpacket socket */
	uint64_t undelivered; /* listening: lines dropped, their receiver gone */
};

/* Run R until it ends.  Returns a RELAY_* code (relay.h). */
int msg_relay_run(struct msg_relay *r);

/* What a COMMAND run for one datagram printed. */
struct dgram_answer {
	size_t len;          /* bytes kept in the buffer (the answer) */
	size_t more;         /* bytes past the limit, dropped */
	int any;             /* it printed something (even an empty line) */
	int out_eof;         /* it closed its output */
	int signo;           /* SIGINT or SIGTERM came first */
};

/* Run one datagram through a COMMAND: write P[0..N) and a newline to
 * TOCHILD (then close it; a COMMAND that does not read is no error),
 * and collect what FROMCHILD gives until its end of file into B, keeping
 * at most MAX bytes (the answer's limit; the rest is counted in
 * ans->more).  The answer is the output without its final newline.
 * SIGINT/SIGTERM read from SIGFD stop it early (ans->signo).  Returns 0,
 * or -1 with errno; FROMCHILD is left open. */
int dgram_command_exchange(int tochild, int fromchild, const char *p,
			   size_t n, struct dgram_buf *b, size_t max,
			   struct dgram_answer *ans, int sigfd);

#endif
