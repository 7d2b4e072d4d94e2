/* writeloop.c — the reference for usock-bench's self-check: a plain
 * blocking write() loop of 128 KiB blocks into a sink, timed until the
 * sink closes after our EOF (as usock-bench times it).
 * Usage: writeloop unix PATH BYTES | writeloop tcp HOST PORT BYTES
 * Prints one line: BYTES SECONDS BYTES_PER_SECOND. */
#define _GNU_SOURCE
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (128 << 10)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_conn(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "unix")) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s", argv[2]);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
			return fd;
	} else if (argc == 5 && !strcmp(argv[1], "tcp")) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
		if (getaddrinfo(argv[2], argv[3], &hints, &ai) == 0) {
			int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
				return fd;
		}
	} else {
		fprintf(stderr, "usage: writeloop unix PATH BYTES | tcp HOST PORT BYTES\n");
		exit(2);
	}
	perror("writeloop: connect");
	exit(1);
}

int main(int argc, char **argv)
{
	static char buf[BLOCK];
	int fd = open_conn(argc, argv);
	/* real pages, as a program's data would be (an untouched static
	 * buffer maps the shared zero page, which is always in cache) */
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 2654435761u >> 24);
	unsigned long long total = strtoull(argv[argc - 1], NULL, 10), sent = 0;
	double t0 = now();
	while (sent < total) {
		size_t n = total - sent < BLOCK ? (size_t)(total - sent) : BLOCK;
		ssize_t w = write(fd, buf, n);
		if (w <= 0) {
			perror("writeloop: write");
			return 1;
		}
		sent += (unsigned long long)w;
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof buf) > 0)
		;
	double secs = now() - t0;
	printf("%llu %.6f %.0f\n", sent, secs, (double)sent / secs);
	return 0;
}
