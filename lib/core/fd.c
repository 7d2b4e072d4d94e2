/* fd.c — small file descriptor and clock helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

int stdio_guard(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* the lowest free descriptor: FD itself, as those below it
		 * are open by now */
		int n = open("/dev/null", (fd ? O_WRONLY : O_RDONLY) | O_NOCTTY);
		if (n < 0)
			return -1;
		if (n != fd) {
			int r = dup2(n, fd);
			int e = errno;
			close(n);
			errno = e;
			if (r < 0)
				return -1;
		}
	}
	return 0;
}

const char *file_kind_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symbolic link";
	case S_IFIFO: return "named pipe (FIFO)";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFSOCK: return "socket";
	}
	return "file of unknown type";
}

int fd_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	int nfl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
		return -1;
	return 0;
}

int fd_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

void fd_grow_pipe(int fd)
{
	if (fcntl(fd, F_GETPIPE_SZ) < (1 << 20))
		fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

rlim_t fd_raise_limit(rlim_t need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur >= need || rl.rlim_cur == rl.rlim_max)
		return rl.rlim_cur;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : was;
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum fd_kind fd_kind(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return FD_OTHER;
	if (S_ISFIFO(st.st_mode))
		return FD_PIPE;
	if (S_ISSOCK(st.st_mode))
		return FD_SOCKET;
	if (S_ISREG(st.st_mode))
		return FD_FILE;
	if (isatty(fd))
		return FD_TTY;
	return FD_OTHER;
}

static int stdio_saved[2] = { -1, -1 };

static void stdio_restore(void)
{
	for (int i = 0; i < 2; i++)
		if (stdio_saved[i] >= 0)
			fcntl(i, F_SETFL, stdio_saved[i]);
}

void stdio_prepare(void)
{
	for (int i = 0; i < 2; i++) {
		enum fd_kind k = fd_kind(i);
		if (k != FD_PIPE && k != FD_SOCKET)
			continue;
		stdio_saved[i] = fcntl(i, F_GETFL);
		fd_nonblock(i, 1);
		if (k == FD_PIPE)
			fd_grow_pipe(i);
	}
	atexit(stdio_restore);
}
