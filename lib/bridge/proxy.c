/* proxy.c — HAProxy PROXY protocol headers (versions 1 and 2), sent to
 * the target so that it learns the real client address. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"

static const char v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* An IPv4 view of SA: plain AF_INET or a v4-mapped IPv6 address. */
static int as_v4(const struct sockaddr *sa, struct in_addr *a, uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		*a = in->sin_addr;
		*port = in->sin_port;
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(a, &in6->sin6_addr.s6_addr[12], 4);
			*port = in6->sin6_port;
			return 1;
		}
	}
	return 0;
}

/* An IPv6 view of SA: AF_INET6 as is, AF_INET mapped. */
static int as_v6(const struct sockaddr *sa, struct in6_addr *a, uint16_t *port)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		*a = in6->sin6_addr;
		*port = in6->sin6_port;
		return 1;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memset(a, 0, sizeof *a);
		a->s6_addr[10] = a->s6_addr[11] = 0xff;
		memcpy(&a->s6_addr[12], &in->sin_addr, 4);
		*port = in->sin_port;
		return 1;
	}
	return 0;
}

static int header_v1(const struct sockaddr *src, const struct sockaddr *dst,
		     char *buf, size_t n)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	struct in_addr s4, d4;
	struct in6_addr s6, d6;
	uint16_t sp, dp;
	int r;

	if (as_v4(src, &s4, &sp) && as_v4(dst, &d4, &dp)) {
		inet_ntop(AF_INET, &s4, s, sizeof s);
		inet_ntop(AF_INET, &d4, d, sizeof d);
		r = snprintf(buf, n, "PROXY TCP4 %s %s %u %u\r\n", s, d, ntohs(sp), ntohs(dp));
	} else if (as_v6(src, &s6, &sp) && as_v6(dst, &d6, &dp)) {
		inet_ntop(AF_INET6, &s6, s, sizeof s);
		inet_ntop(AF_INET6, &d6, d, sizeof d);
		r = snprintf(buf, n, "PROXY TCP6 %s %s %u %u\r\n", s, d, ntohs(sp), ntohs(dp));
	} else {
		r = snprintf(buf, n, "PROXY UNKNOWN\r\n");
	}
	return r < 0 || (size_t)r >= n ? -1 : r;
}

static int header_v2(const struct sockaddr *src, socklen_t srclen,
		     const struct sockaddr *dst, socklen_t dstlen,
		     char *buf, size_t n)
{
	unsigned char *p = (unsigned char *)buf;
	struct in_addr s4, d4;
	struct in6_addr s6, d6;
	uint16_t sp, dp;
	size_t alen;

	if (n < 16 + 216)
		return -1;
	memcpy(p, v2_sig, 12);
	p[12] = 0x21; /* version 2, PROXY */
	if (as_v4(src, &s4, &sp) && as_v4(dst, &d4, &dp)) {
		p[13] = 0x11; /* TCP over IPv4 */
		memcpy(p + 16, &s4, 4);
		memcpy(p + 20, &d4, 4);
		memcpy(p + 24, &sp, 2);
		memcpy(p + 26, &dp, 2);
		alen = 12;
	} else if (as_v6(src, &s6, &sp) && as_v6(dst, &d6, &dp)) {
		p[13] = 0x21; /* TCP over IPv6 */
		memcpy(p + 16, &s6, 16);
		memcpy(p + 32, &d6, 16);
		memcpy(p + 48, &sp, 2);
		memcpy(p + 50, &dp, 2);
		alen = 36;
	} else if (src->sa_family == AF_UNIX) {
		/* stream over UNIX: two 108-byte sun_path blocks */
		size_t off = offsetof(struct sockaddr_un, sun_path);
		p[13] = 0x31;
		memset(p + 16, 0, 216);
		if (srclen > off)
			memcpy(p + 16, ((const struct sockaddr_un *)src)->sun_path,
			       srclen - off > 108 ? 108 : srclen - off);
		if (dst->sa_family == AF_UNIX && dstlen > off)
			memcpy(p + 124, ((const struct sockaddr_un *)dst)->sun_path,
			       dstlen - off > 108 ? 108 : dstlen - off);
		alen = 216;
	} else {
		p[13] = 0x00; /* UNSPEC: the target keeps the real addresses */
		alen = 0;
	}
	p[14] = (unsigned char)(alen >> 8);
	p[15] = (unsigned char)alen;
	return (int)(16 + alen);
}

int proxy_header(int version, const struct sockaddr *src, socklen_t srclen,
		 const struct sockaddr *dst, socklen_t dstlen,
		 char *buf, size_t n)
{
	if (version == 1)
		return header_v1(src, dst, buf, n);
	return header_v2(src, srclen, dst, dstlen, buf, n);
}
