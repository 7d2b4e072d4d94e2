/* sys.h — small system helpers: signals as events, fd flags, the
 * monotonic clock, /proc/PID/comm. */
#ifndef USOCK_SYS_H
#define USOCK_SYS_H

#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Kind of an fd for choosing a relay path. */
enum fd_kind { FD_OTHER, FD_PIPE, FD_SOCKET, FD_TTY, FD_FILE };

/* ---- sig.c: signals as events ---- */

/* Ignore SIGPIPE; block the signals in SIGNOS (a list ended by 0) and
 * return a signalfd for them (CLOEXEC, non-blocking).  With FD >= 0 that
 * signalfd is changed to deliver the new set instead and FD is returned.
 * Returns -1 with errno set: EINVAL (a bad signal number, or FD is not a
 * signalfd), EMFILE, ENFILE, ENOMEM (signalfd(2)). */
int sig_fd_of(int fd, const int *signos);
/* Read one signal from FD: its number, or 0. */
int sig_read(int fd);
/* In a child before exec: default SIGPIPE, empty signal mask. */
void sig_reset_child(void);

/* ---- fd.c, time.c: small helpers ---- */

/* Make sure descriptors 0, 1 and 2 are open, opening /dev/null (read
 * only on 0, write only on 1 and 2) on each that is closed, so that no
 * socket or file opened later lands on one of them and gets what is
 * meant for standard input or output.  Every tool calls it first.
 * Returns 0, or -1 with errno (the open of /dev/null failed). */
int stdio_guard(void);
/* A name for the file type in MODE: "regular file", "directory",
 * "named pipe (FIFO)", "socket", ... */
const char *file_kind_name(mode_t mode);

int fd_nonblock(int fd, int on);
int fd_cloexec(int fd);
/* Best effort: enlarge a pipe to 1 MiB so bulk transfers take fewer
 * wake-ups (the kernel may refuse past the user's pipe quota). */
void fd_grow_pipe(int fd);
int64_t now_ms(void);
/* Raise the soft RLIMIT_NOFILE to the hard limit when it is below NEED
 * (descriptors; RLIM_INFINITY: always).  Returns the soft limit now in
 * force, which may stay below NEED (the hard limit, or setrlimit(2)
 * refused); 1024 when getrlimit(2) fails. */
rlim_t fd_raise_limit(rlim_t need);
/* Make pipes and sockets on stdin and stdout non-blocking (pipes grown
 * too) for a relay; their flags are put back at exit, since the open
 * file may be shared with other processes. */
void stdio_prepare(void);
enum fd_kind fd_kind(int fd);

/* ---- proc.c ---- */

/* The command name of PID (from /proc/PID/comm) in BUF, or NULL: the
 * bytes the process chose (prctl(PR_SET_NAME)), to be printed escaped. */
char *proc_comm(pid_t pid, char *buf, size_t n);

#endif
