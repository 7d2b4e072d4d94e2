/* sig.c — signals delivered as events through a signalfd. */
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>


int sig_fd_of(int fd, const int *signos)
{
	sigset_t set;
	sigemptyset(&set);
	for (; *signos; signos++)
		if (sigaddset(&set, *signos) < 0)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(fd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int sig_read(int fd)
{
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof si) != (ssize_t)sizeof si)
		return 0;
	return (int)si.ssi_signo;
}

void sig_reset_child(void)
{
	sigset_t none;
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
