/* fuzz_proxy.c — proxy_header() from any pair of socket addresses,
 * decoded again by a PROXY protocol v1/v2 decoder written here from the
 * HAProxy specification; what it decodes must be what the addresses say.
 *
 * Input: byte 0 version (bit 0: 1 or 2) and buffer size (bits 1-7: a
 * short buffer when not 0), then for the source and the destination: a
 * family byte (0 AF_INET, 1 AF_INET6, 2 AF_UNIX, 3 anything), a length
 * byte (AF_UNIX only) and the address bytes. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "bridge/proxy.h"
#include "fuzz.h"

/* What an endpoint is, for the header: an IPv4 address (AF_INET or
 * IPv4-mapped IPv6), an IPv6 one, a UNIX one or something else. */
enum ep_kind { EP_V4, EP_V6, EP_UNIX, EP_OTHER };

struct ep {
	enum ep_kind kind;
	uint8_t ip[16];         /* EP_V4: 4 bytes; EP_V6: 16 */
	uint16_t port;          /* host order */
	uint8_t path[108];      /* EP_UNIX: sun_path bytes in the length */
	size_t pathlen;
};

static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Copy up to WANT input bytes to OUT (the rest zero); how many it took. */
static size_t take(uint8_t *out, size_t want, const uint8_t *d, size_t n)
{
	size_t k = n < want ? n : want;
	memset(out, 0, want);
	memcpy(out, d, k);
	return k;
}

/* Take one endpoint from the input; fill SS/LEN and what it means. */
static size_t take_ep(const uint8_t *d, size_t n, struct sockaddr_storage *ss,
		      socklen_t *len, struct ep *e)
{
	uint8_t b[18];
	size_t used = 0;
	uint8_t fam = used < n ? d[used++] & 3 : 0;
	memset(ss, 0, sizeof *ss);
	memset(e, 0, sizeof *e);
	if (fam == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		used += take(b, 6, d + used, n - used);
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, b, 4);
		memcpy(&in->sin_port, b + 4, 2);
		*len = sizeof *in;
		e->kind = EP_V4;
		memcpy(e->ip, b, 4);
		e->port = (uint16_t)(b[4] << 8 | b[5]);
	} else if (fam == 1) {
		/* often IPv4-mapped, as a dual-stack socket gives them */
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		int map = used < n && (d[used++] & 1);
		uint8_t *a = in6->sin6_addr.s6_addr;
		in6->sin6_family = AF_INET6;
		if (map) {
			used += take(b, 6, d + used, n - used);
			memcpy(a, mapped, 12);
			memcpy(a + 12, b, 4);
			memcpy(&in6->sin6_port, b + 4, 2);
		} else {
			used += take(b, 18, d + used, n - used);
			memcpy(a, b, 16);
			memcpy(&in6->sin6_port, b + 16, 2);
		}
		*len = sizeof *in6;
		e->port = ntohs(in6->sin6_port);
		e->kind = memcmp(a, mapped, 12) ? EP_V6 : EP_V4;
		if (e->kind == EP_V4)
			memcpy(e->ip, a + 12, 4);
		else
			memcpy(e->ip, a, 16);
	} else if (fam == 2) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t l = used < n ? d[used++] % (sizeof *sun + 1) : off;
		sun->sun_family = AF_UNIX;
		if (l > off)
			used += take((uint8_t *)sun->sun_path, l - off, d + used, n - used);
		*len = (socklen_t)l;
		e->kind = EP_UNIX;
		e->pathlen = l > off ? l - off : 0;
		memcpy(e->path, sun->sun_path, e->pathlen);
	} else {
		ss->ss_family = used < n ? d[used++] : 0;
		if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6 ||
		    ss->ss_family == AF_UNIX)
			ss->ss_family = AF_UNSPEC;
		*len = sizeof *ss;
		e->kind = EP_OTHER;
	}
	return used;
}

/* ---- an independent decoder ---- */

/* A v1 port: decimal 0..65535 without a leading zero. */
static int dec_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;
	if (!n || n > 5 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Decode a v1 header of LEN bytes into SRC and DST (kind EP_OTHER for
 * UNKNOWN).  0, or -1 when it is not a valid header. */
static int decode_v1(const char *h, size_t len, struct ep *src, struct ep *dst)
{
	char line[108], *f[6];
	int nf = 0;
	if (len < 8 || len > 107 || h[len - 2] != '\r' || h[len - 1] != '\n' ||
	    memchr(h, '\r', len - 2) || memchr(h, '\n', len - 2) ||
	    memchr(h, 0, len))
		return -1;
	memcpy(line, h, len - 2);
	line[len - 2] = 0;
	for (char *p = line; nf < 6;) {
		f[nf++] = p;
		p = strchr(p, ' ');
		if (!p)
			break;
		*p++ = 0;
	}
	if (strcmp(f[0], "PROXY"))
		return -1;
	memset(src, 0, sizeof *src);
	memset(dst, 0, sizeof *dst);
	if (nf == 2 && !strcmp(f[1], "UNKNOWN")) {
		src->kind = dst->kind = EP_OTHER;
		return 0;
	}
	if (nf != 6)
		return -1;
	int af = !strcmp(f[1], "TCP4") ? AF_INET : !strcmp(f[1], "TCP6") ? AF_INET6 : 0;
	if (!af || inet_pton(af, f[2], src->ip) != 1 || inet_pton(af, f[3], dst->ip) != 1 ||
	    dec_port(f[4], strlen(f[4]), &src->port) < 0 ||
	    dec_port(f[5], strlen(f[5]), &dst->port) < 0)
		return -1;
	src->kind = dst->kind = af == AF_INET ? EP_V4 : EP_V6;
	return 0;
}

/* A v2 address block of ALEN bytes: two addresses of N bytes, then the
 * two ports.  0, or -1 when it is too short. */
static int decode_ips(const uint8_t *a, size_t alen, size_t n, enum ep_kind kind,
		      struct ep *src, struct ep *dst)
{
	if (alen < 2 * n + 4)
		return -1;
	src->kind = dst->kind = kind;
	memcpy(src->ip, a, n);
	memcpy(dst->ip, a + n, n);
	src->port = (uint16_t)(a[2 * n] << 8 | a[2 * n + 1]);
	dst->port = (uint16_t)(a[2 * n + 2] << 8 | a[2 * n + 3]);
	return 0;
}

/* Decode a v2 header of LEN bytes.  UNSPEC gives EP_OTHER.  0 or -1. */
static int decode_v2(const uint8_t *h, size_t len, struct ep *src, struct ep *dst)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	if (len < 16 || memcmp(h, sig, 12) || h[12] != 0x21)
		return -1;
	size_t alen = (size_t)h[14] << 8 | h[15];
	if (16 + alen != len)
		return -1;
	const uint8_t *a = h + 16;
	memset(src, 0, sizeof *src);
	memset(dst, 0, sizeof *dst);
	switch (h[13]) {
	case 0x00:
		src->kind = dst->kind = EP_OTHER;
		return 0;
	case 0x11:
		return decode_ips(a, alen, 4, EP_V4, src, dst);
	case 0x21:
		return decode_ips(a, alen, 16, EP_V6, src, dst);
	case 0x31:
		if (alen < 216)
			return -1;
		src->kind = dst->kind = EP_UNIX;
		memcpy(src->path, a, 108);
		memcpy(dst->path, a + 108, 108);
		return 0;
	}
	return -1;
}

/* ---- what the header must say ---- */

/* The IPv6 form of an EP_V4 or EP_V6 endpoint. */
static void as_v6(const struct ep *e, uint8_t out[16])
{
	if (e->kind == EP_V6) {
		memcpy(out, e->ip, 16);
	} else {
		memcpy(out, mapped, 12);
		memcpy(out + 12, e->ip, 4);
	}
}

/* Expected decoding for VERSION of the connection S -> D. */
static void expect(int version, const struct ep *s, const struct ep *d,
		   struct ep *es, struct ep *ed)
{
	memset(es, 0, sizeof *es);
	memset(ed, 0, sizeof *ed);
	int ip_s = s->kind == EP_V4 || s->kind == EP_V6;
	int ip_d = d->kind == EP_V4 || d->kind == EP_V6;
	if (s->kind == EP_V4 && d->kind == EP_V4) {
		es->kind = ed->kind = EP_V4;
		memcpy(es->ip, s->ip, 4);
		memcpy(ed->ip, d->ip, 4);
	} else if (ip_s && ip_d) {
		es->kind = ed->kind = EP_V6;
		as_v6(s, es->ip);
		as_v6(d, ed->ip);
	} else if (version == 2 && s->kind == EP_UNIX) {
		/* the paths as the kernel gave them, cut to 108 bytes */
		es->kind = ed->kind = EP_UNIX;
		memcpy(es->path, s->path, s->pathlen);
		if (d->kind == EP_UNIX)
			memcpy(ed->path, d->path, d->pathlen);
		return;
	} else {
		es->kind = ed->kind = EP_OTHER;
		return;
	}
	es->port = s->port;
	ed->port = d->port;
}

static int ep_eq(const struct ep *a, const struct ep *b)
{
	return a->kind == b->kind && a->port == b->port &&
	       !memcmp(a->ip, b->ip, sizeof a->ip) &&
	       !memcmp(a->path, b->path, sizeof a->path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage *src = malloc(sizeof *src), *dst = malloc(sizeof *dst);
	socklen_t srclen, dstlen;
	struct ep s, d, es, ed, gs, gd;

	if (size < 1)
		goto out;
	int version = data[0] & 1 ? 2 : 1;
	size_t n = data[0] >> 1 ? (size_t)(data[0] >> 1) * 2 : PROXY_MAX;
	size_t used = 1;
	used += take_ep(data + used, size - used, src, &srclen, &s);
	take_ep(data + used, size - used, dst, &dstlen, &d);

	char *buf = malloc(n);
	int r = proxy_header(version, (struct sockaddr *)src, srclen,
			     (struct sockaddr *)dst, dstlen, buf, n);
	if (n < PROXY_MAX && r < 0) {
		free(buf);
		goto out;
	}
	FUZZ_CHECK(r > 0 && (size_t)r <= n && r <= PROXY_MAX,
		   "v%d: %d bytes into %zu", version, r, n);
	int ok = version == 1 ? decode_v1(buf, (size_t)r, &gs, &gd) :
		 decode_v2((const uint8_t *)buf, (size_t)r, &gs, &gd);
	FUZZ_CHECK(ok == 0, "v%d: the header (%d bytes) does not decode", version, r);
	expect(version, &s, &d, &es, &ed);
	FUZZ_CHECK(ep_eq(&gs, &es) && ep_eq(&gd, &ed),
		   "v%d: header says kinds %d/%d ports %u/%u, expected %d/%d %u/%u",
		   version, gs.kind, gd.kind, gs.port, gd.port, es.kind, ed.kind,
		   es.port, ed.port);
	free(buf);
out:
	free(src);
	free(dst);
	return 0;
}
