/* fuzz_cidr.c — tcp2unix --allow: cidr_parse() and cidr_match() against
 * a reference written here (addresses still read by inet_pton(3)).
 * Input: byte 0 the client's family (bit 0: IPv6; bit 1: IPv4-mapped),
 * 16 bytes of client address, then up to 8 ranges separated by ','. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bridge/cidr.h"
#include "fuzz.h"

struct ref_cidr {
	int family;
	uint8_t addr[16];
	int bits;
};

/* ADDR or ADDR/BITS; ADDR in brackets or not; BITS digits only (leading
 * zeros allowed) up to the family's width.  0 or -1. */
static int ref_parse(struct ref_cidr *c, const char *s)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	if (hlen < 1 || hlen >= sizeof host)
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = 0;
	char *h = host;
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = 0;
		h++;
	}
	memset(c, 0, sizeof *c);
	if (inet_pton(AF_INET, h, c->addr) == 1)
		c->family = AF_INET, c->bits = 32;
	else if (inet_pton(AF_INET6, h, c->addr) == 1)
		c->family = AF_INET6, c->bits = 128;
	else
		return -1;
	if (slash) {
		const char *p = slash + 1;
		int v = 0;
		if (!*p)
			return -1;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (*p - '0');
			if (v > c->bits)
				return -1;
		}
		c->bits = v;
	}
	return 0;
}

static int bit(const uint8_t *a, int i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

/* A's first BITS bits are those of the range. */
static int ref_in(const uint8_t *a, const struct ref_cidr *c)
{
	for (int i = 0; i < c->bits; i++)
		if (bit(a, i) != bit(c->addr, i))
			return 0;
	return 1;
}

/* An IPv4 client (or IPv4-mapped IPv6) is matched by IPv4 ranges; an
 * IPv6 client (mapped ones too) by IPv6 ranges. */
static int ref_match(const struct ref_cidr *list, int n, int v6, const uint8_t *a)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *v4 = !v6 ? a : !memcmp(a, mapped, 12) ? a + 12 : NULL;
	for (int i = 0; i < n; i++) {
		if (list[i].family == AF_INET && v4 && ref_in(v4, &list[i]))
			return 1;
		if (list[i].family == AF_INET6 && v6 && ref_in(a, &list[i]))
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cidr list[8];
	struct ref_cidr ref[8];
	int n = 0;

	if (size < 17 || size > 1024)
		return 0;
	int v6 = data[0] & 1;
	uint8_t ca[16];
	memcpy(ca, data + 1, 16);
	if (v6 && (data[0] & 2)) {
		memset(ca, 0, 10);
		ca[10] = ca[11] = 0xff;
	}
	char *text = fuzz_strdup(data + 17, size - 17), *save = NULL;
	for (char *s = strtok_r(text, ",", &save); s && n < 8;
	     s = strtok_r(NULL, ",", &save)) {
		const char *why = NULL;
		int r = cidr_parse(&list[n], s, &why);
		int rr = ref_parse(&ref[n], s);
		FUZZ_CHECK((r == 0) == (rr == 0), "'%s': cidr_parse %d (%s), reference %d",
			   s, r, r ? why : "", rr);
		if (r)
			continue;
		struct cidr *c = &list[n];
		FUZZ_CHECK(c->family == ref[n].family && c->bits == ref[n].bits,
			   "'%s': family %d bits %d", s, c->family, c->bits);
		/* host bits are cleared; the prefix is the address's */
		int width = c->family == AF_INET ? 32 : 128;
		for (int i = 0; i < width; i++)
			FUZZ_CHECK(bit(c->addr, i) == (i < c->bits ? bit(ref[n].addr, i) : 0),
				   "'%s': bit %d", s, i);
		n++;
	}

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, ca, 16);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, ca, 4);
	}
	int m = cidr_match(list, n, (struct sockaddr *)&ss);
	FUZZ_CHECK(m == ref_match(ref, n, v6, ca), "match %d for %d ranges", m, n);
	free(text);
	return 0;
}
