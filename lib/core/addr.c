/* addr.c — the one address grammar of every tool (usock(7)), its
 * parser, its resolver and its canonical printer. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "num.h"
#include "sock.h"

static int has_prefix(const char *s, const char *p, const char **rest)
{
	size_t n = strlen(p);
	if (strncmp(s, p, n))
		return 0;
	*rest = s + n;
	return 1;
}

/* Decode the \xHH escapes of S into a->path, a->pathlen.  0, or -1 with
 * *why set. */
static int decode_name(struct addr *a, const char *s, const char *what,
		       const char **why)
{
	static char msg[160];
	ssize_t n = esc_decode(a->path, sizeof a->path, s, why);
	if (n < 0) {
		if (errno == ENAMETOOLONG) {
			snprintf(msg, sizeof msg, "%s too long", what);
			*why = msg;
		}
		return -1;
	}
	a->pathlen = (size_t)n;
	return 0;
}

static int parse_unix(struct addr *a, const char *text, int type,
		      const char **why)
{
	static char msg[256];

	a->kind = ADDR_UNIX;
	a->type = type;
	if (decode_name(a, text, "socket path", why) < 0)
		return -1;
	const char *path = a->path;
	size_t len = a->pathlen;
	if (!len) {
		*why = "empty socket path";
		return -1;
	}
	if (strlen(path) != len) {
		*why = "a socket path cannot hold a NUL byte (\\x00)";
		return -1;
	}
	if (len > (size_t)UNIX_PATH_LIMIT) {
		/* Long paths are reached through their opened directory; only
		 * the final component must fit in sun_path. */
		const char *base = strrchr(path, '/');
		base = base ? base + 1 : path;
		if (strlen(base) > (size_t)UNIX_NAME_LIMIT || !*base) {
			snprintf(msg, sizeof msg,
				 "path is %zu bytes, over the %d-byte sun_path limit, "
				 "and its last component (%zu bytes) is too long to "
				 "reach through its directory (at most %d)",
				 len, UNIX_PATH_LIMIT, strlen(base), UNIX_NAME_LIMIT);
			*why = msg;
			return -1;
		}
	}
	return 0;
}

/* An abstract NAME, escapes decoded: any bytes, NUL included; TYPE is
 * SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET. */
static int parse_abstract(struct addr *a, const char *text, int type,
			  const char **why)
{
	a->kind = ADDR_ABSTRACT;
	a->type = type;
	if (decode_name(a, text, "abstract name", why) < 0)
		return -1;
	if (!a->pathlen) {
		*why = "empty abstract socket name";
		return -1;
	}
	if (a->pathlen > (size_t)UNIX_PATH_LIMIT) {
		*why = "abstract name over the 107-byte sun_path limit";
		return -1;
	}
	return 0;
}

static int parse_port(struct addr *a, const char *s, int flags,
		      const char **why)
{
	unsigned long v;
	if (!*s) {
		*why = "missing port";
		return -1;
	}
	if (num_parse_ulong(s, 0, 65535, &v, why) < 0) {
		*why = strcmp(*why, "out of range") ?
			"port is not a number" : "port out of range 0..65535";
		return -1;
	}
	if (v == 0 && !(flags & ADDR_LISTEN)) {
		*why = "port 0 is only for listening";
		return -1;
	}
	snprintf(a->port, sizeof a->port, "%lu", v);
	return 0;
}

static int valid_hostname(const char *h)
{
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && !strchr(".-_", *h))
			return 0;
	return 1;
}

static int valid_zone(const char *z)
{
	for (; *z; z++)
		if ((unsigned char)*z <= ' ' || (unsigned char)*z >= 0x7f || *z == '/')
			return 0;
	return 1;
}

/* [V6]:PORT, S at its '[': the address (a zone after '%' allowed) and
 * the port into A.  0, or -1 with *WHY. */
static int parse_tcp6(struct addr *a, const char *s, int family, int flags,
		      const char **why)
{
	const char *end = strchr(s, ']');
	if (!end) {
		*why = "missing ']' after IPv6 address";
		return -1;
	}
	if (end[1] != ':') {
		*why = "missing ':PORT' after ']'";
		return -1;
	}
	size_t hlen = (size_t)(end - s - 1);
	if (!hlen || hlen >= sizeof a->host) {
		*why = "bad IPv6 address";
		return -1;
	}
	memcpy(a->host, s + 1, hlen);
	a->host[hlen] = 0;
	struct in6_addr in6;
	char tmp[256];
	memcpy(tmp, a->host, hlen + 1);
	char *pct = strchr(tmp, '%');
	if (pct) {
		/* a zone: an interface name or index, printable */
		*pct++ = 0;
		if (!*pct || !valid_zone(pct)) {
			*why = "bad IPv6 zone (use %INTERFACE)";
			return -1;
		}
	}
	if (inet_pton(AF_INET6, tmp, &in6) != 1) {
		*why = "bad IPv6 address";
		return -1;
	}
	if (family == AF_INET) {
		*why = "tcp4 with an IPv6 address";
		return -1;
	}
	a->family = AF_INET6;
	return parse_port(a, end + 2, flags, why);
}

/* HOST:PORT, [V6]:PORT, *:PORT, :PORT or PORT (after any tcp prefix). */
static int parse_tcp(struct addr *a, const char *s, int family, int flags,
		     const char **why)
{
	a->kind = ADDR_TCP;
	a->type = SOCK_STREAM;
	a->family = family;
	if (*s == '[')
		return parse_tcp6(a, s, family, flags, why);
	const char *colon = strrchr(s, ':');
	if (!colon) {
		/* PORT alone */
		if (!isdigit((unsigned char)*s)) {
			*why = "not an address (use HOST:PORT, PORT, "
			       "unix:PATH, ./PATH or @NAME)";
			return -1;
		}
		a->host[0] = 0;
		return parse_port(a, s, flags, why);
	}
	if (memchr(s, ':', (size_t)(colon - s))) {
		*why = "IPv6 addresses go in brackets: [ADDRESS]:PORT";
		return -1;
	}
	size_t hlen = (size_t)(colon - s);
	if (hlen >= sizeof a->host) {
		*why = "host name too long";
		return -1;
	}
	memcpy(a->host, s, hlen);
	a->host[hlen] = 0;
	if (!strcmp(a->host, "*")) {
		if (!(flags & ADDR_LISTEN)) {
			*why = "'*' (every interface) is only for listening";
			return -1;
		}
		a->host[0] = 0;
		a->wildcard = 1;
	} else if (hlen && !valid_hostname(a->host)) {
		*why = "bad host name";
		return -1;
	}
	return parse_port(a, colon + 1, flags, why);
}

/* Address types of other tools, and their forms here. */
static const struct {
	const char *word, *ours;
} foreign[] = {
	{ "unix-connect", "unix:" }, { "unix-client", "unix:" },
	{ "unix-listen", "unix:" }, { "unix-sendto", "unix-dgram:" },
	{ "unix-recvfrom", "unix-dgram:" }, { "unix-recv", "unix-dgram:" },
	{ "abstract-connect", "@" }, { "abstract-listen", "@" },
	{ "abstract-client", "@" }, { "tcp-connect", "tcp:" },
	{ "tcp-listen", "tcp:" }, { "tcp4-connect", "tcp4:" },
	{ "tcp4-listen", "tcp4:" }, { "tcp6-connect", "tcp6:" },
	{ "tcp6-listen", "tcp6:" }, { "local", "unix:" }, { "file", "unix:" },
};

static const char *const ours[] = {
	"unix", "unix-seqpacket", "unix-dgram", "abstract", "tcp", "tcp4", "tcp6",
};

/* Is the W-byte word at A within one edit (a changed, added, dropped or
 * swapped letter, any case) of the word B? */
static int near(const char *a, size_t w, const char *b)
{
	size_t m = strlen(b), i = 0;
	while (i < w && i < m && tolower((unsigned char)a[i]) == b[i])
		i++;
	if (i == w && i == m)
		return 1;
	/* the rest after one edit at i must match */
	const char *ra = a + i, *rb = b + i;
	size_t la = w - i, lb = m - i;
#define SAME(x, y, n) (strncasecmp((x), (y), (n)) == 0)
	if (la == lb && la >= 1 && SAME(ra + 1, rb + 1, la - 1))
		return 1;                               /* changed */
	if (la + 1 == lb && SAME(ra, rb + 1, la))
		return 1;                               /* dropped */
	if (la == lb + 1 && SAME(ra + 1, rb, lb))
		return 1;                               /* added */
	if (la == lb && la >= 2 && tolower((unsigned char)ra[0]) == rb[1] &&
	    tolower((unsigned char)ra[1]) == rb[0] && SAME(ra + 2, rb + 2, la - 2))
		return 1;                               /* swapped */
#undef SAME
	return 0;
}

/* S starts with WORD: (W bytes before the colon) that is none of ours:
 * a usage error, with a hint when WORD looks like one of ours or like
 * another tool's. */
static int unknown_prefix(const char *s, size_t w, const char **why)
{
	static char msg[2600];
	const char *rest = s + w + 1;
	char hint[24] = "";

	for (size_t i = 0; i < sizeof foreign / sizeof foreign[0] && !*hint; i++)
		if (strlen(foreign[i].word) == w &&
		    !strncasecmp(s, foreign[i].word, w))
			snprintf(hint, sizeof hint, "%s", foreign[i].ours);
	for (size_t i = 0; i < sizeof ours / sizeof ours[0] && !*hint; i++)
		if (near(s, w, ours[i]))
			snprintf(hint, sizeof hint, "%s%s", ours[i][0] == 'a' ?
				 "@" : ours[i], ours[i][0] == 'a' ? "" : ":");
	char r[1024], word[256];
	if (esc_bytes(r, sizeof r, rest, strlen(rest)) >= sizeof r)
		*hint = 0, rest = "";     /* too long to quote: no hint */
	size_t wl = esc_bytes(word, sizeof word - 3, s, w);
	if (wl >= sizeof word - 3)
		memcpy(word + strlen(word), "...", 4);
	if (*hint)
		snprintf(msg, sizeof msg, "unknown address type '%s:'; did you "
			 "mean %s%s?", word, hint, r);
	else if (strchr(rest, '/'))
		snprintf(msg, sizeof msg, "unknown address type '%s:'; a relative "
			 "path whose first component holds a colon is written "
			 "./%s:%s", word, word, r);
	else
		snprintf(msg, sizeof msg, "unknown address type '%s:' (known: "
			 "unix:, unix-seqpacket:, unix-dgram:, abstract: or @, tcp:, "
			 "tcp4:, tcp6:)", word);
	*why = msg;
	return -1;
}

/* The length of the WORD of a leading "WORD:" that is no host name: it
 * names another tool's address type, holds what no host name holds
 * (the rest has a '/', or is not a port), or comes before a second
 * colon.  0 when S does not start that way. */
static size_t prefix_word(const char *s)
{
	size_t w = strcspn(s, ":/");
	if (!w || s[w] != ':' || *s == '[' || !strcmp(s, "*") || s[0] == '*')
		return 0;
	for (size_t i = 0; i < w; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_", s[i]))
			return w;       /* not a host name: a word, or a typo */
	const char *rest = s + w + 1;
	for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
		if (strlen(foreign[i].word) == w && !strncasecmp(s, foreign[i].word, w))
			return w;
	if (strchr(rest, '/') || strchr(rest, ':'))
		return w;
	for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
		if (near(s, w, ours[i]) && !isdigit((unsigned char)*rest))
			return w;
	return 0;
}

int addr_parse(struct addr *a, const char *s, int flags, const char **why)
{
	const char *rest;

	memset(a, 0, sizeof *a);
	a->passive = !!(flags & ADDR_LISTEN);
	if (has_prefix(s, "unix:", &rest))
		return parse_unix(a, rest, SOCK_STREAM, why);
	/* unix-seqpacket:@NAME and unix-dgram:@NAME are abstract names of
	 * that type (a file named "@x" is written ./@x) */
	if (has_prefix(s, "unix-seqpacket:", &rest))
		return *rest == '@' ? parse_abstract(a, rest + 1, SOCK_SEQPACKET, why) :
		       parse_unix(a, rest, SOCK_SEQPACKET, why);
	if (has_prefix(s, "unix-dgram:", &rest))
		return *rest == '@' ? parse_abstract(a, rest + 1, SOCK_DGRAM, why) :
		       parse_unix(a, rest, SOCK_DGRAM, why);
	if (has_prefix(s, "abstract:", &rest) || has_prefix(s, "@", &rest))
		return parse_abstract(a, rest, SOCK_STREAM, why);
	int family = AF_UNSPEC;
	if (has_prefix(s, "tcp:", &rest))
		family = AF_UNSPEC;
	else if (has_prefix(s, "tcp4:", &rest))
		family = AF_INET;
	else if (has_prefix(s, "tcp6:", &rest))
		family = AF_INET6;
	else if (!*s) {
		*why = "empty address";
		return -1;
	} else {
		size_t w = prefix_word(s);
		if (w)
			return unknown_prefix(s, w, why);
		if (strchr(s, '/'))
			return parse_unix(a, s, SOCK_STREAM, why);
		rest = s;
	}
	/* TCP: escapes decoded first (a host never needs them, but the
	 * printer writes what it was given) */
	char text[512];
	ssize_t n = esc_decode(text, sizeof text, rest, why);
	if (n < 0) {
		*why = errno == ENAMETOOLONG ? "host name too long" : *why;
		return -1;
	}
	if (strlen(text) != (size_t)n) {
		*why = "a TCP address cannot hold a NUL byte (\\x00)";
		return -1;
	}
	return parse_tcp(a, text, family, flags, why);
}

int addr_parse_source(struct addr *a, const char *s, const char **why)
{
	const char *rest = s;
	char tcp[600];
	int n;

	if (has_prefix(s, "unix-dgram:", &rest) ||
	    has_prefix(s, "unix-seqpacket:", &rest)) {
		*why = "a source takes its socket type from the target: write "
		       "unix:PATH or @NAME";
		return -1;
	}
	if (has_prefix(s, "unix:", &rest) || has_prefix(s, "abstract:", &rest) ||
	    *s == '@' || strchr(s, '/')) {
		if (addr_parse(a, s, 0, why) < 0)
			return -1;
		if (a->kind == ADDR_UNIX && strlen(a->path) > (size_t)UNIX_PATH_LIMIT) {
			*why = "a source path must fit in sun_path (107 bytes): "
			       "that is the name the server sees";
			return -1;
		}
		return 0;
	}
	/* TCP: ADDRESS, ADDRESS:PORT, [IPV6], [IPV6]:PORT, *:PORT, :PORT,
	 * also after tcp:, tcp4:, tcp6: */
	/* written out with its tcp: prefix, so that nothing else (a host
	 * named like one of the UNIX prefixes) is read as another kind */
	char pfx[8] = "tcp:";
	if (has_prefix(s, "tcp:", &rest) || has_prefix(s, "tcp4:", &rest) ||
	    has_prefix(s, "tcp6:", &rest))
		snprintf(pfx, sizeof pfx, "%.*s", (int)(rest - s), s);
	else
		rest = s;
	const char *rb = strchr(rest, ']');
	const char *colon = strrchr(rest, ':');
	if (*rest == '[')                       /* [IPV6] or [IPV6]:PORT */
		n = snprintf(tcp, sizeof tcp, "%s%s%s", pfx, rest,
			     rb && rb[1] == 0 ? ":0" : "");
	else if (colon && memchr(rest, ':', (size_t)(colon - rest)))
		/* a bare IPv6 address: its port needs brackets */
		n = snprintf(tcp, sizeof tcp, "%s[%s]:0", pfx, rest);
	else if (colon == rest)                 /* :PORT */
		n = snprintf(tcp, sizeof tcp, "%s*%s", pfx, rest);
	else if (!colon && *rest && rest[strspn(rest, "0123456789")] == 0) {
		*why = "a source is an address, with :PORT if a port is wanted "
		       "(a port alone is written :PORT)";
		return -1;
	} else
		n = snprintf(tcp, sizeof tcp, "%s%s%s", pfx, rest,
			     colon ? "" : ":0");
	if (n < 0 || (size_t)n >= sizeof tcp) {
		*why = "host name too long";
		return -1;
	}
	return addr_parse(a, tcp, ADDR_LISTEN, why);
}

int addr_resolve(struct addr *a, int flags, const char **why, int *usage)
{
	*usage = 0;
	a->nsa = 0;
	if (a->kind == ADDR_UNIX)
		return 0;
	if (a->kind == ADDR_ABSTRACT) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa[0];
		size_t n = a->pathlen;
		memset(sun, 0, sizeof *sun);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path + 1, a->path, n);
		a->salen[0] = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
		a->nsa = 1;
		return 0;
	}

	const char *host = a->host;
	struct addrinfo hints = { 0 }, *res, *ai;
	hints.ai_family = a->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (flags & ADDR_LISTEN) {
		hints.ai_flags |= AI_PASSIVE;
		if (a->wildcard) {
			host = NULL;
			/* one dual-stack socket when IPv6 exists, else IPv4 */
		} else if (!*host) {
			host = a->family == AF_INET6 ? "::1" : "127.0.0.1";
		}
	} else if (!*host || !strcasecmp(host, "localhost")) {
		/* A bare port, or localhost, connects to the loopback
		 * addresses themselves, ::1 then 127.0.0.1 (RFC 6761: localhost
		 * is loopback), not to what /etc/hosts says: many hosts list
		 * only 127.0.0.1, and a server on ::1 would never be tried. */
		static const char *const loop[] = { "::1", "127.0.0.1" };
		hints.ai_flags |= AI_NUMERICHOST;
		for (int i = 0; i < 2 && a->nsa < 8; i++) {
			if (getaddrinfo(loop[i], a->port, &hints, &res))
				continue; /* the other family only (tcp4:, tcp6:) */
			memcpy(&a->sa[a->nsa], res->ai_addr, res->ai_addrlen);
			a->salen[a->nsa++] = res->ai_addrlen;
			freeaddrinfo(res);
		}
		if (a->nsa)
			return 0;
		*why = "host has no usable address";
		*usage = 1;
		return -1;
	}
	int r = getaddrinfo(host, a->port, &hints, &res);
	if (r) {
		*usage = r == EAI_NONAME || r == EAI_SERVICE || r == EAI_FAMILY ||
			 r == EAI_ADDRFAMILY || r == EAI_NODATA;
		*why = r == EAI_NONAME ? "unknown host" : gai_strerror(r);
		return -1;
	}
	/* Wildcard: prefer the IPv6 wildcard first (made dual stack when
	 * bound), then IPv4. */
	for (int pass = 0; pass < 2; pass++)
		for (ai = res; ai && a->nsa < 8; ai = ai->ai_next) {
			int want6 = a->wildcard ? pass == 0 : 1;
			if (a->wildcard && (ai->ai_family == AF_INET6) != want6)
				continue;
			if (!a->wildcard && pass)
				break;
			memcpy(&a->sa[a->nsa], ai->ai_addr, ai->ai_addrlen);
			a->salen[a->nsa++] = ai->ai_addrlen;
		}
	freeaddrinfo(res);
	if (!a->nsa) {
		*why = "host has no usable address";
		*usage = 1;
		return -1;
	}
	return 0;
}

/* ---- the one escaping rule: usock(7), "Canonical form" ---- */

/* Code points that are well-formed but never written as they are: the C1
 * controls, the line and paragraph separators (Zl, Zp), the Unicode
 * format characters (general category Cf, Unicode 15.1: bidi overrides,
 * zero-width joiners, soft hyphen, tags...) and the specials block's
 * non-printing code points.  Sorted, inclusive ranges. */
static const uint32_t esc_hidden[][2] = {
	{ 0x0080, 0x009f }, { 0x00ad, 0x00ad }, { 0x0600, 0x0605 },
	{ 0x061c, 0x061c }, { 0x06dd, 0x06dd }, { 0x070f, 0x070f },
	{ 0x0890, 0x0891 }, { 0x08e2, 0x08e2 }, { 0x180e, 0x180e },
	{ 0x200b, 0x200f }, { 0x2028, 0x202e }, { 0x2060, 0x206f },
	{ 0xfeff, 0xfeff }, { 0xfff0, 0xfffb }, { 0xfffe, 0xffff },
	{ 0x110bd, 0x110bd }, { 0x110cd, 0x110cd }, { 0x13430, 0x1343f },
	{ 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a }, { 0xe0000, 0xe007f },
};

static int esc_is_hidden(uint32_t cp)
{
	size_t lo = 0, hi = sizeof esc_hidden / sizeof esc_hidden[0];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < esc_hidden[mid][0])
			hi = mid;
		else if (cp > esc_hidden[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

int esc_keep(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t cp;
	int n;

	if (!len)
		return 0;
	if (p[0] < 0x80)
		return p[0] >= 0x20 && p[0] < 0x7f && p[0] != '\\';
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;              /* overlong */
	else if (p[0] == 0xed)
		hi = 0x9f;              /* UTF-16 surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90;              /* overlong */
	else if (p[0] == 0xf4)
		hi = 0x8f;              /* past U+10FFFF */
	cp = p[0] & (0x7fu >> n);
	for (int i = 1; i < n; i++) {
		if ((size_t)i >= len)
			return -1;
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	return esc_is_hidden(cp) ? 0 : n;
}

size_t esc_bytes(char *buf, size_t n, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, need = 0;

	for (size_t i = 0; i < len;) {
		int k = esc_keep(s + i, len - i);
		if (k > 0) {
			if (o == need && o + (size_t)k < n) {
				memcpy(buf + o, s + i, (size_t)k);
				o += (size_t)k;
			}
			need += (size_t)k;
			i += (size_t)k;
			continue;
		}
		unsigned char c = (unsigned char)s[i++];
		if (o == need && o + 4 < n) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
		need += 4;
	}
	if (n)
		buf[o] = 0;
	return need;
}

const char *esc_str(char *buf, size_t n, const char *s)
{
	esc_bytes(buf, n, s ? s : "", s ? strlen(s) : 0);
	return buf;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

ssize_t esc_decode(char *out, size_t n, const char *s, const char **why)
{
	size_t o = 0;

	for (; *s; o++) {
		char c = *s++;
		if (c == '\\') {
			int h = s[0] == 'x' ? hexval(s[1]) : -1;
			int l = h >= 0 ? hexval(s[2]) : -1;
			if (l < 0) {
				*why = "a backslash starts an escape \\xHH "
				       "(write a backslash itself as \\x5c)";
				errno = EINVAL;
				return -1;
			}
			c = (char)(h << 4 | l);
			s += 3;
		}
		if (o + 1 >= n) {
			*why = "too long";
			errno = ENAMETOOLONG;
			return -1;
		}
		out[o] = c;
	}
	if (n)
		out[o] = 0;
	return (ssize_t)o;
}

/* Append the escaped form of S[0..LEN) to the text in BUF. */
static void put_esc(char *buf, size_t n, const char *s, size_t len)
{
	size_t o = strlen(buf);
	esc_bytes(buf + o, n - o, s, len);
}

static const char *unix_prefix(int type)
{
	return type == SOCK_SEQPACKET ? "unix-seqpacket:" :
	       type == SOCK_DGRAM ? "unix-dgram:" : "unix:";
}

/* PREFIX and PATH, a UNIX path of socket type TYPE.  After
 * unix-dgram: or unix-seqpacket: a leading '@' would read as an
 * abstract name, so a path that starts with one has it escaped. */
static void put_unix_path(char *buf, size_t n, int type, const char *path,
			  size_t len)
{
	snprintf(buf, n, "%s", unix_prefix(type));
	if ((type == SOCK_DGRAM || type == SOCK_SEQPACKET) && len &&
	    path[0] == '@') {
		size_t o = strlen(buf);
		if (o + 4 >= n)
			return;         /* cut before the escape, not inside it */
		memcpy(buf + o, "\\x40", 5);
		path++;
		len--;
	}
	put_esc(buf, n, path, len);
}

/* "@" for a stream abstract name, "unix-dgram:@" or
 * "unix-seqpacket:@" for the other types, so the form parses back. */
static const char *abstract_prefix(int type)
{
	return type == SOCK_SEQPACKET ? "unix-seqpacket:@" :
	       type == SOCK_DGRAM ? "unix-dgram:@" : "@";
}

char *addr_format(const struct addr *a, char *buf, size_t n)
{
	switch (a->kind) {
	case ADDR_UNIX:
		put_unix_path(buf, n, a->type, a->path, strlen(a->path));
		break;
	case ADDR_ABSTRACT:
		snprintf(buf, n, "%s", abstract_prefix(a->type));
		put_esc(buf, n, a->path, a->pathlen);
		break;
	case ADDR_TCP: {
		/* a bare port listens on loopback, connects to localhost */
		const char *h = a->wildcard ? "*" : *a->host ? a->host :
				!a->passive ? "localhost" :
				a->family == AF_INET6 ? "::1" : "127.0.0.1";
		int v6 = strchr(h, ':') != NULL;
		snprintf(buf, n, "tcp:%s", v6 ? "[" : "");
		put_esc(buf, n, h, strlen(h));  /* an IPv6 zone may hold '\' */
		snprintf(buf + strlen(buf), n - strlen(buf), "%s:%s",
			 v6 ? "]" : "", a->port);
		break;
	}
	default:
		snprintf(buf, n, "?");
	}
	return buf;
}

char *sa_format(const struct sockaddr *sa, socklen_t len, int type,
		char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN];
	buf[0] = 0;
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t plen = len > off ? len - off : 0;
		if (plen && sun->sun_path[0] == 0) {
			snprintf(buf, n, "%s", abstract_prefix(type));
			put_esc(buf, n, sun->sun_path + 1, plen - 1);
		} else {
			put_unix_path(buf, n, type, sun->sun_path,
				      strnlen(sun->sun_path, plen));
		}
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		snprintf(buf, n, "tcp:%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof host);
			snprintf(buf, n, "tcp:%s:%u", host, ntohs(in6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
			snprintf(buf, n, "tcp:[%s]:%u", host, ntohs(in6->sin6_port));
		}
	} else {
		snprintf(buf, n, "family-%d", sa->sa_family);
	}
	return buf;
}

int sa_host_port(const struct sockaddr *sa, char *host, size_t n,
		 unsigned *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		*port = ntohs(in->sin_port);
		return inet_ntop(AF_INET, &in->sin_addr, host, (socklen_t)n) ? 0 : -1;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		*port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host,
					 (socklen_t)n) ? 0 : -1;
		return inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t)n) ? 0 : -1;
	}
	return -1;
}
