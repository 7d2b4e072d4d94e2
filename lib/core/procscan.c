/* procscan.c — map socket inodes to the processes that hold them by
 * reading every /proc/PID/fd link once. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procscan.h"
#include "sys.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_hit(const void *a, const void *b)
{
	const struct procscan_hit *x = a, *y = b;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int add_hit(struct procscan *ps, uint32_t ino, pid_t pid)
{
	if (ps->n == ps->cap) {
		size_t c = ps->cap ? ps->cap * 2 : 64;
		struct procscan_hit *v = realloc(ps->v, c * sizeof *v);
		if (!v)
			return -1;
		ps->v = v;
		ps->cap = c;
	}
	ps->v[ps->n].ino = ino;
	ps->v[ps->n].pid = pid;
	ps->n++;
	return 0;
}

/* "socket:[12345]" -> 12345, or 0. */
static uint32_t socket_ino(const char *l, ssize_t n)
{
	if (n < 10 || memcmp(l, "socket:[", 8) || l[n - 1] != ']')
		return 0;
	uint32_t v = 0;
	for (ssize_t i = 8; i < n - 1; i++) {
		if (!isdigit((unsigned char)l[i]))
			return 0;
		v = v * 10 + (uint32_t)(l[i] - '0');
	}
	return v;
}

/* Record PID's sockets that are in WANT. */
static int scan_pid(struct procscan *ps, int procfd, const char *pid,
		    const uint32_t *want, size_t n)
{
	char path[64], link[64];
	snprintf(path, sizeof path, "%.20s/fd", pid);
	int fd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ps->procs++;
	if (fd < 0) {
		if (errno == EACCES || errno == EPERM)
			ps->denied++;
		return 0; /* gone, or not ours to see */
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	pid_t p = (pid_t)atoi(pid);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		ssize_t len = readlinkat(fd, de->d_name, link, sizeof link);
		uint32_t ino = len > 0 ? socket_ino(link, len) : 0;
		if (ino && bsearch(&ino, want, n, sizeof *want, cmp_u32) &&
		    add_hit(ps, ino, p) < 0) {
			closedir(d);
			errno = ENOMEM;
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int procscan_run(struct procscan *ps, uint32_t *want, size_t n)
{
	memset(ps, 0, sizeof *ps);
	if (!n)
		return 0;
	qsort(want, n, sizeof *want, cmp_u32);
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return -1;
	DIR *d = fdopendir(procfd);
	if (!d) {
		int e = errno;
		close(procfd);
		errno = e;
		return -1;
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]) &&
		    (r = scan_pid(ps, procfd, de->d_name, want, n)) < 0)
			break;
	int e = errno;
	closedir(d);
	if (r < 0) {
		procscan_free(ps);
		errno = e;
		return -1;
	}
	if (ps->n)
		qsort(ps->v, ps->n, sizeof *ps->v, cmp_hit);
	size_t k = 0;
	for (size_t i = 0; i < ps->n; i++)
		if (!k || cmp_hit(&ps->v[k - 1], &ps->v[i]))
			ps->v[k++] = ps->v[i];
	ps->n = k;
	return 0;
}

size_t procscan_find(const struct procscan *ps, uint32_t ino, size_t *first)
{
	size_t lo = 0, hi = ps->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ps->v[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	size_t k = lo;
	while (k < ps->n && ps->v[k].ino == ino)
		k++;
	return k - lo;
}

void procscan_free(struct procscan *ps)
{
	free(ps->v);
	ps->v = NULL;
	ps->n = ps->cap = 0;
}

int procscan_info(pid_t pid, struct procscan_info *pi)
{
	char path[64], buf[1024];
	memset(pi, 0, sizeof *pi);
	pi->pid = pid;
	pi->uid = (uid_t)-1;
	if (!proc_comm(pid, pi->comm, sizeof pi->comm)) {
		errno = ESRCH;
		return -1;
	}
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *u = strstr(buf, "\nUid:");
	unsigned long real, eff;
	if (u && sscanf(u + 5, "%lu %lu", &real, &eff) == 2)
		pi->uid = (uid_t)eff;
	return 0;
}
