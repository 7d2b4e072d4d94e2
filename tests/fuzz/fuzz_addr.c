/* fuzz_addr.c — the address grammar: addr_parse() on any string, then
 * the canonical form addr_format() prints, \xHH escapes and all, must
 * parse again to the same address and print the same way.  The first byte chooses the flags
 * (bit 0: ADDR_LISTEN) and the parser (bit 1: addr_parse_source(), the
 * --source grammar, whose TCP addresses are parsed for binding); the
 * rest is the address. */
#include <sys/socket.h>

#include "fuzz.h"
#include "cli/cli.h"
#include "core/addr.h"
#include "core/num.h"
#include "core/relay.h"
#include "core/sock.h"
#include "core/sys.h"

/* A parsed address keeps the promises of usock.h. */
static void check_parsed(const struct addr *a, int flags, const char *s)
{
	switch (a->kind) {
	case ADDR_UNIX:
		FUZZ_CHECK(a->type == SOCK_STREAM || a->type == SOCK_DGRAM ||
			   a->type == SOCK_SEQPACKET, "%s: type %d", s, a->type);
		FUZZ_CHECK(a->path[0] && strlen(a->path) == a->pathlen &&
			   a->pathlen < sizeof a->path, "%s: unix path", s);
		break;
	case ADDR_ABSTRACT:
		FUZZ_CHECK(a->pathlen && a->pathlen <= (size_t)UNIX_PATH_LIMIT,
			   "%s: abstract name of %zu bytes", s, a->pathlen);
		break;
	case ADDR_TCP: {
		char *end;
		unsigned long p = strtoul(a->port, &end, 10);
		FUZZ_CHECK(a->port[0] >= '0' && a->port[0] <= '9' && !*end &&
			   p <= 65535, "%s: port '%s'", s, a->port);
		FUZZ_CHECK(a->port[0] != '0' || !a->port[1],
			   "%s: port '%s' not canonical", s, a->port);
		FUZZ_CHECK(p || (flags & ADDR_LISTEN), "%s: port 0 to connect", s);
		FUZZ_CHECK(!a->wildcard || ((flags & ADDR_LISTEN) && !a->host[0]),
			   "%s: wildcard", s);
		FUZZ_CHECK(strlen(a->host) < sizeof a->host, "%s: host", s);
		break;
	}
	default:
		FUZZ_CHECK(0, "%s: parsed to kind %d", s, (int)a->kind);
	}
}

/* B, parsed from the printed form of A, is the same address. */
static void check_same(const struct addr *a, const struct addr *b,
		       const char *f)
{
	FUZZ_CHECK(a->kind == b->kind && a->type == b->type, "%s: kind/type", f);
	FUZZ_CHECK(a->pathlen == b->pathlen &&
		   !memcmp(a->path, b->path, a->pathlen), "%s: path", f);
	if (a->kind != ADDR_TCP)
		return;
	FUZZ_CHECK(!strcmp(a->port, b->port) && a->wildcard == b->wildcard,
		   "%s: port or wildcard", f);
	/* an empty host is printed as what it means: localhost to connect,
	 * loopback to listen */
	FUZZ_CHECK(!strcmp(a->host, b->host) ||
		   (!a->host[0] && (!strcmp(b->host, "localhost") ||
				    !strcmp(b->host, "127.0.0.1") || !strcmp(b->host, "::1"))),
		   "%s: host '%s' became '%s'", f, a->host, b->host);
}

/* Parse S with the parser the first byte chose. */
static int parse(struct addr *a, const char *s, int flags, int source,
		 const char **why)
{
	if (!source)
		return addr_parse(a, s, flags, why);
	int r = addr_parse_source(a, s, why);
	if (r == 0 && a->kind != ADDR_TCP) {
		FUZZ_CHECK(a->type == SOCK_STREAM, "%s: source of type %d", s,
			   a->type);
		FUZZ_CHECK(a->kind != ADDR_UNIX ||
			   a->pathlen <= (size_t)UNIX_PATH_LIMIT,
			   "%s: source path of %zu bytes", s, a->pathlen);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct addr a, b;
	static char f1[ADDR_STRLEN], f2[ADDR_STRLEN];
	const char *why = NULL;

	if (size < 1 || size > 8192)
		return 0;
	int source = data[0] & 2;
	int flags = data[0] & 1 || source ? ADDR_LISTEN : 0;
	char *s = fuzz_strdup(data + 1, size - 1);

	if (parse(&a, s, flags, source, &why) < 0) {
		FUZZ_CHECK(why && *why && fuzz_safe(why), "%s: reason", s);
		free(s);
		return 0;
	}
	check_parsed(&a, flags, s);
	addr_format(&a, f1, sizeof f1);
	FUZZ_CHECK(fuzz_escaped(f1), "%s: printed form not escaped", s);

	/* Truncated into a smaller buffer: a NUL-terminated prefix. */
	size_t len = strlen(f1);
	size_t n = 1 + (size_t)data[0] % (len + 1);
	char *small = malloc(n);
	addr_format(&a, small, n);
	FUZZ_CHECK(strlen(small) < n && !strncmp(small, f1, strlen(small)),
		   "%s: into %zu bytes: '%s'", f1, n, small);
	free(small);

	/* The printed form, escapes and all, parses back to the same
	 * address: the parser reads what the printer writes. */
	why = NULL;
	FUZZ_CHECK(parse(&b, f1, flags, source, &why) == 0,
		   "'%s' (from '%s') does not parse: %s", f1, s, why);
	check_parsed(&b, flags, f1);
	check_same(&a, &b, f1);
	addr_format(&b, f2, sizeof f2);
	FUZZ_CHECK(!strcmp(f1, f2), "'%s' printed again as '%s'", f1, f2);
	free(s);
	return 0;
}
