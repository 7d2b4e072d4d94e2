/* cidr.c — address ranges for tcp2unix --allow. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "core/num.h"

int cidr_parse(struct cidr *c, const char *s, const char **why)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);

	memset(c, 0, sizeof *c);
	if (hlen == 0 || hlen >= sizeof host) {
		*why = "not an address";
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = 0;
	if (host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = 0;
	}
	if (inet_pton(AF_INET, host, c->addr) == 1) {
		c->family = AF_INET;
		c->bits = 32;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->family = AF_INET6;
		c->bits = 128;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	if (slash) {
		unsigned long bits;
		if (num_parse_ulong(slash + 1, 0, (unsigned long)c->bits, &bits, why) < 0) {
			*why = c->family == AF_INET ? "prefix length must be 0..32" :
				"prefix length must be 0..128";
			return -1;
		}
		c->bits = (int)bits;
	}
	/* clear host bits so that matching compares prefixes only */
	int bytes = c->family == AF_INET ? 4 : 16;
	for (int i = 0; i < bytes; i++) {
		int keep = c->bits - i * 8;
		if (keep <= 0)
			c->addr[i] = 0;
		else if (keep < 8)
			c->addr[i] &= (unsigned char)(0xff << (8 - keep));
	}
	return 0;
}

static int prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)whole))
		return 0;
	if (!rest)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int cidr_match(const struct cidr *list, int n, const struct sockaddr *sa)
{
	unsigned char v4[4], v6[16];
	int has4 = 0, has6 = 0;

	if (sa->sa_family == AF_INET) {
		memcpy(v4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		has4 = 1;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		memcpy(v6, a6, 16);
		has6 = 1;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(v4, v6 + 12, 4);
			has4 = 1;
		}
	}
	for (int i = 0; i < n; i++) {
		if (list[i].family == AF_INET && has4 &&
		    prefix_eq(v4, list[i].addr, list[i].bits))
			return 1;
		if (list[i].family == AF_INET6 && has6 &&
		    prefix_eq(v6, list[i].addr, list[i].bits))
			return 1;
	}
	return 0;
}
