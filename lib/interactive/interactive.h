/* interactive.h — a line-editing session on a terminal (usock-connect -i):
 * GNU readline's callback interface in one poll loop with the socket. */
#ifndef USOCK_INTERACTIVE_H
#define USOCK_INTERACTIVE_H

#include <stddef.h>
#include <stdint.h>

/* Lines kept in the history file and in memory. */
#define INTERACTIVE_HISTORY_MAX 1000

/* What the session tells its caller through the notice hook. */
enum interactive_notice {
	INTERACTIVE_EOF_SENT,    /* Ctrl-D: end of file sent to the peer */
	INTERACTIVE_INT_HINT,    /* Ctrl-C on an empty line */
};

struct interactive {
	/* set by the caller */
	int fd;              /* connected stream socket, non-blocking */
	int sigfd;           /* signalfd for SIGINT, SIGTERM, SIGWINCH, SIGTSTP */
	const char *prompt;  /* the prompt, used as given */
	int crlf;            /* send lines ending in CR LF */
	int raw;             /* write the peer's bytes to the terminal unchanged */
	int color;           /* show escaped bytes in reverse video */
	int64_t idle_ms;     /* end after this long without activity, or -1 */
	/* called with what is sent (DIR '>') and received ('<'), while the
	 * prompt is off the screen; may be NULL */
	void (*tap)(void *ctx, char dir, const char *p, size_t n);
	void *tap_ctx;
	/* called at the start of an empty screen line to print a message on
	 * standard error; may be NULL */
	void (*notice)(void *ctx, enum interactive_notice what);
	void *notice_ctx;

	/* results */
	int signo;           /* RELAY_SIGNAL: the signal that ended it */
	const char *failed;  /* RELAY_ERROR: "read" or "write" (the socket),
	                        or "stdout"; errno says why */
	int history_errno;   /* saving history failed, and stopped, with this */
	uint64_t sent, received;
};

/* 1 if this build has line editing (readline), else 0. */
int interactive_available(void);

/* The default history file of ENDPOINT (its canonical address), one
 * file per endpoint so that one protocol's lines do not come back when
 * talking another: $XDG_STATE_HOME/usock/history.d/NAME (or under
 * $HOME/.local/state), NAME being ENDPOINT with every byte outside
 * [A-Za-z0-9._,:@+=-] written %XX, cut to 200 bytes and followed by a
 * hash of the whole when longer.  Into BUF; the missing directories
 * above usock/ are created with mode 0700 (usock/ and history.d/ are
 * left to interactive_history_fd() with DIRS 2).  0, or -1 with errno
 * and in BUF the directory that could not be made ("" without a home
 * directory). */
int interactive_history_default(char *buf, size_t n, const char *endpoint);

/* Open the history file PATH for reading and appending, created with
 * mode 0600 if missing, without a race between check and use: the last
 * DIRS directories of PATH (0..number of its slashes - 1) are made with
 * mode 0700 if missing and opened one below the other without following
 * a symbolic link; the file too (O_NOFOLLOW).  Each of them, and the
 * file, must be owned by the effective user or root and not writable by
 * group or others, and the file must be a regular file; nothing is
 * truncated, chmodded or deleted before that is proven.  The descriptor
 * (O_CLOEXEC), or -1 with PATH cut to the directory or file that was
 * refused, and either *WHY set to a static reason (not ours, a link,
 * not a regular file) or *WHY NULL and errno set (ENOENT, EACCES, ...;
 * EINVAL for a bad DIRS). */
int interactive_history_fd(char *path, int dirs, const char **why);

/* Load the history from FD (from interactive_history_fd(), taken over
 * and closed here), cut the file to its last INTERACTIVE_HISTORY_MAX
 * lines in place, and append each new line to it during the session.
 * 0, or -1 with errno (no file is kept). */
int interactive_history_open(int fd);

/* Run the session until the peer closes (RELAY_OK), a signal ends it
 * (RELAY_SIGNAL), nothing happens for idle_ms (RELAY_TIMEOUT) or an
 * error (RELAY_ERROR, errno set).  Expects LC_CTYPE set from the
 * environment.  The terminal is restored on return. */
int interactive_run(struct interactive *s);

#endif
