/* cidr.h — address ranges for --allow: parsing and matching. */
#ifndef USOCK_CIDR_H
#define USOCK_CIDR_H

#include <sys/socket.h>

struct cidr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

/* Parse "ADDR" or "ADDR/BITS" (IPv4 or IPv6).  0, or -1 with *why. */
int cidr_parse(struct cidr *c, const char *s, const char **why);
/* Does SA (AF_INET, AF_INET6, v4-mapped IPv6 too) fall in one of the N
 * ranges of LIST? */
int cidr_match(const struct cidr *list, int n, const struct sockaddr *sa);

#endif
