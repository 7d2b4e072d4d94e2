/* procscan.h — which processes hold which sockets: the socket:[INODE]
 * links of /proc/PID/fd, as ss -p and lsof find them. */
#ifndef USOCK_PROCSCAN_H
#define USOCK_PROCSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct procscan_hit {
	uint32_t ino;        /* socket inode */
	pid_t pid;
};

struct procscan {
	struct procscan_hit *v; /* sorted by inode, then pid; no duplicates */
	size_t n, cap;
	unsigned procs;      /* processes looked at */
	unsigned denied;     /* processes whose fds could not be read */
};

/* Find the processes holding any of the N socket inodes in WANT (in any
 * order; the array is sorted in place).  Processes we may not look into
 * are counted in ps->denied: without root the answer is partial.
 * Returns 0, or -1 with errno when /proc cannot be read at all. */
int procscan_run(struct procscan *ps, uint32_t *want, size_t n);
/* The hits for INO: their count, the first at *first. */
size_t procscan_find(const struct procscan *ps, uint32_t ino, size_t *first);
void procscan_free(struct procscan *ps);

/* A process: its command name (/proc/PID/comm) and effective uid. */
struct procscan_info {
	pid_t pid;
	uid_t uid;
	char comm[64];
};
/* 0, or -1 with errno (ESRCH: gone). */
int procscan_info(pid_t pid, struct procscan_info *pi);

#endif
