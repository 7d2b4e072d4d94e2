/* LD_PRELOAD shim for the tests: after each bind() of a UNIX socket to a
 * path, sleep USOCK_TEST_BIND_DELAY_MS milliseconds. It widens the window
 * between bind() and what follows (chmod, chown, listen) so that a test can
 * see it deterministically. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real_bind)(int, const struct sockaddr *, socklen_t);
	const char *ms = getenv("USOCK_TEST_BIND_DELAY_MS");
	int r;

	if (!real_bind)
		real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
	r = real_bind(fd, sa, len);
	if (r == 0 && ms && sa->sa_family == AF_UNIX &&
	    len > sizeof(sa_family_t) && ((const struct sockaddr_un *)sa)->sun_path[0]) {
		long n = atol(ms);
		struct timespec ts = { n / 1000, (n % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) < 0)
			;
	}
	return r;
}
