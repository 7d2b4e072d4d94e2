/* proc.c — facts about processes read from /proc. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


char *proc_comm(pid_t pid, char *buf, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	buf[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r <= 0)
		return NULL;
	/* the kernel ends the name with a newline; the name itself (set by
	 * prctl(PR_SET_NAME)) may hold one too */
	if (buf[r - 1] == '\n')
		r--;
	buf[r] = 0;
	return buf;
}
