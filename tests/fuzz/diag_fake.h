/* diag_fake.h — lib/diag.c compiled with its kernel I/O replaced by the
 * fuzzer's input, so that its parsing (static in diag.c) can be fuzzed
 * without changing it: the netlink socket answers with input chunks, and
 * /proc/net/unix is the input.  The bytes past what a recv() returned
 * are poisoned, so reading beyond a message is caught too. */
#ifndef USOCK_DIAG_FAKE_H
#define USOCK_DIAG_FAKE_H

#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FAKE_FD 1000

static const uint8_t *fake_data;
static size_t fake_size, fake_off;

/* Start answering from DATA. */
static void fake_feed(const uint8_t *data, size_t size)
{
	fake_data = data;
	fake_size = size;
	fake_off = 0;
}

static int fake_socket(int domain, int type, int proto)
{
	(void)domain, (void)type, (void)proto;
	return FAKE_FD;
}

static ssize_t fake_sendto(int fd, const void *b, size_t n, int flags,
			   const struct sockaddr *sa, socklen_t len)
{
	(void)fd, (void)b, (void)flags, (void)sa, (void)len;
	return (ssize_t)n;
}

/* One answer per call: a little-endian u16 length (0xffff: EINTR,
 * 0xfffe: ENOBUFS) and that many bytes; 0 (end of file) when the input
 * is used up. */
static ssize_t fake_recv(int fd, void *buf, size_t cap, int flags)
{
	(void)fd, (void)flags;
	ASAN_UNPOISON_MEMORY_REGION(buf, cap);
	if (fake_size - fake_off < 2)
		return 0;
	size_t n = (size_t)fake_data[fake_off] | (size_t)fake_data[fake_off + 1] << 8;
	fake_off += 2;
	if (n == 0xffff || n == 0xfffe) {
		errno = n == 0xffff ? EINTR : ENOBUFS;
		return -1;
	}
	if (n > fake_size - fake_off)
		n = fake_size - fake_off;
	if (n > cap)
		n = cap;
	memcpy(buf, fake_data + fake_off, n);
	fake_off += n;
	ASAN_POISON_MEMORY_REGION((char *)buf + n, cap - n);
	return (ssize_t)n;
}

static int fake_close(int fd)
{
	return fd == FAKE_FD ? 0 : close(fd);
}

/* /proc/net/unix is the whole input. */
static FILE *fake_fopen(const char *path, const char *mode)
{
	(void)mode;
	if (strcmp(path, "/proc/net/unix"))
		return NULL;
	return fmemopen((void *)fake_data, fake_size, "r");
}

#define socket(d, t, p) fake_socket(d, t, p)
#define sendto(f, b, n, fl, sa, l) fake_sendto(f, b, n, fl, sa, l)
#define recv(f, b, n, fl) fake_recv(f, b, n, fl)
#define close(f) fake_close(f)
#define fopen(p, m) fake_fopen(p, m)
#include "diag.c"
#undef socket
#undef sendto
#undef recv
#undef close
#undef fopen

#endif
