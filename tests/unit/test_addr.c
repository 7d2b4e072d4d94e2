/* test_addr.c — unit tests of the address grammar, its printer and the
 * numeric option parsers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/num.h"
#include "core/sock.h"

/* S parses (with FLAGS) and prints back as WANT. */
static void ok(const char *s, int flags, const char *want)
{
	struct addr a;
	const char *why = NULL;
	char buf[ADDR_STRLEN];
	int r = addr_parse(&a, s, flags, &why);
	CHECK(r == 0, "'%s' refused: %s", s, why ? why : "?");
	if (r == 0) {
		addr_format(&a, buf, sizeof buf);
		CHECK(!strcmp(buf, want), "'%s' printed as '%s', want '%s'", s, buf, want);
	}
}

/* S is refused with a reason containing WANT. */
static void bad(const char *s, int flags, const char *want)
{
	struct addr a;
	const char *why = "";
	int r = addr_parse(&a, s, flags, &why);
	CHECK(r < 0, "'%s' accepted", s);
	if (r < 0)
		CHECK(strstr(why, want) != NULL, "'%s': reason '%s' lacks '%s'", s, why, want);
}

/* The LEN bytes at S escape to WANT, and WANT decodes back to them. */
static void esc(const char *s, size_t len, const char *want)
{
	char buf[256], back[64];
	const char *why = "";
	size_t need = esc_bytes(buf, sizeof buf, s, len);
	CHECK(need == strlen(want) && !strcmp(buf, want),
	      "escaped to '%s' (%zu), want '%s'", buf, need, want);
	ssize_t n = esc_decode(back, sizeof back, buf, &why);
	CHECK(n == (ssize_t)len && !memcmp(back, s, len), "'%s' decodes back: %s",
	      buf, n < 0 ? why : "to other bytes");
}

static void dur(const char *s, int64_t want)
{
	int64_t ms = -1;
	const char *why = "";
	int r = num_parse_duration(s, &ms, &why);
	if (want < 0)
		CHECK(r < 0, "duration '%s' accepted as %lld", s, (long long)ms);
	else
		CHECK(r == 0 && ms == want, "duration '%s' = %lld (%s), want %lld", s,
		      (long long)ms, r ? why : "ok", (long long)want);
}

int main(void)
{
	char longpath[300], name[400];

	ok("unix:/run/app.sock", 0, "unix:/run/app.sock");
	ok("/run/app.sock", 0, "unix:/run/app.sock");
	ok("./app.sock", 0, "unix:./app.sock");
	ok("unix:app.sock", 0, "unix:app.sock");
	ok("unix-seqpacket:/x", 0, "unix-seqpacket:/x");
	ok("unix-dgram:/x", 0, "unix-dgram:/x");
	ok("unix-dgram:@n", 0, "unix-dgram:@n");
	ok("unix-seqpacket:@n", 0, "unix-seqpacket:@n");
	ok("unix-dgram:./@n", 0, "unix-dgram:./@n");
	/* a path that starts with '@' keeps its escape after unix-dgram: */
	ok("unix-dgram:\\x40n", 0, "unix-dgram:\\x40n");
	ok("unix:\\x40n", 0, "unix:@n");
	bad("unix-dgram:@", 0, "empty abstract");
	ok("@name", 0, "@name");
	ok("abstract:name", 0, "@name");
	ok("tcp:localhost:80", 0, "tcp:localhost:80");
	ok("localhost:80", 0, "tcp:localhost:80");
	ok("127.0.0.1:8080", 0, "tcp:127.0.0.1:8080");
	ok("[::1]:8080", 0, "tcp:[::1]:8080");
	ok("tcp6:[::1]:1", 0, "tcp:[::1]:1");
	ok("tcp4:127.0.0.1:1", 0, "tcp:127.0.0.1:1");
	ok("8080", 0, "tcp:localhost:8080");
	ok(":8080", 0, "tcp:localhost:8080");
	ok("0", ADDR_LISTEN, "tcp:127.0.0.1:0");
	ok("tcp6::80", ADDR_LISTEN, "tcp:[::1]:80");
	ok("*:80", ADDR_LISTEN, "tcp:*:80");
	ok("65535", 0, "tcp:localhost:65535");

	bad("", 0, "empty");
	bad("unix:", 0, "empty");
	bad("@", 0, "empty");
	bad("abstract:", 0, "empty");
	bad("65536", 0, "out of range");
	bad("localhost:99999", 0, "out of range");
	bad("localhost:http", 0, "not a number");
	bad("localhost:", 0, "missing port");
	bad("0", 0, "only for listening");
	bad("*:80", 0, "only for listening");
	bad("[::1:80", 0, "]");
	bad("[::1]80", 0, "PORT");
	bad("[zz]:80", 0, "IPv6");
	bad("::1:80", 0, "brackets");
	bad("sctp:host:1", 0, "unknown address type");
	bad("app.sock", 0, "not an address");
	bad("bad host!:80", 0, "bad host");
	bad("tcp4:[::1]:80", 0, "tcp4");

	/* long paths: handled through the directory, unless the last
	 * component itself cannot fit */
	memset(longpath, 'd', sizeof longpath);
	longpath[0] = '/';
	longpath[150] = '/';
	strcpy(longpath + 151, "s.sock");
	ok(longpath, 0, (snprintf(name, sizeof name, "unix:%s", longpath), name));
	memset(longpath + 20, 'x', 200);
	longpath[10] = '/';
	longpath[220] = 0;
	bad(longpath, 0, "107");
	memset(name, 'n', 120);
	name[0] = '@';
	name[120] = 0;
	bad(name, 0, "107");

	/* the printer escapes what is not printable */
	struct addr a;
	const char *why;
	char buf[ADDR_STRLEN];
	addr_parse(&a, "@a\tb", 0, &why);
	CHECK(!strcmp(addr_format(&a, buf, sizeof buf), "@a\\x09b"), "escaped: %s", buf);

	/* the one escaping rule, and its decoder */
	esc("", 0, "");
	esc("plain name.sock", 15, "plain name.sock");
	esc("a\\b", 3, "a\\x5cb");
	esc("a\nb\0c", 5, "a\\x0ab\\x00c");
	esc("\x1b]0;PWNED\x07\x7f", 11, "\\x1b]0;PWNED\\x07\\x7f");
	esc("caf\xc3\xa9", 5, "caf\xc3\xa9");                     /* é passes */
	esc("\xe2\x88\x95", 3, "\xe2\x88\x95");                 /* U+2215 is printable */
	esc("\xc2\x85", 2, "\\xc2\\x85");                       /* NEL, a C1 control */
	esc("\xe2\x80\xae", 3, "\\xe2\\x80\\xae");           /* RLO, Cf */
	esc("\xe2\x80\x8b", 3, "\\xe2\\x80\\x8b");           /* zero-width space */
	esc("\xe2\x80\xa8", 3, "\\xe2\\x80\\xa8");           /* line separator */
	esc("\xef\xbb\xbf", 3, "\\xef\\xbb\\xbf");           /* BOM */
	esc("\xc2\xad", 2, "\\xc2\\xad");                       /* soft hyphen */
	esc("\xf3\xa0\x80\x81", 4, "\\xf3\\xa0\\x80\\x81"); /* tag U+E0001 */
	esc("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");       /* emoji passes */
	esc("\xff\xc3", 2, "\\xff\\xc3");                       /* not UTF-8 */
	esc("\xc0\xaf", 2, "\\xc0\\xaf");                       /* overlong */
	esc("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");           /* surrogate */
	esc("\xe2\x82", 2, "\\xe2\\x82");                       /* cut short */
	CHECK(esc_keep("\xe2\x82", 2) == -1, "a cut character waits for more");
	CHECK(esc_keep("\xe2\x82\xac", 3) == 3, "euro sign kept");
	/* cut only between characters and escapes */
	CHECK(esc_bytes(buf, 6, "ab\ncd", 5) == 8 && !strcmp(buf, "ab"), "cut: %s", buf);
	CHECK(esc_bytes(buf, 4, "a\xc3\xa9" "b", 4) == 4 && !strcmp(buf, "a\xc3\xa9"), "cut: %s", buf);
	CHECK(esc_bytes(buf, 3, "a\xc3\xa9" "b", 4) == 4 && !strcmp(buf, "a"), "cut: %s", buf);
	CHECK(esc_decode(name, sizeof name, "a\\x4", &why) < 0 && strstr(why, "x5c"),
	      "a lone backslash is refused");
	CHECK(esc_decode(name, sizeof name, "a\\q", &why) < 0, "\\q refused");
	CHECK(esc_decode(name, sizeof name, "\\x4A\\x4b", &why) == 2 && !strcmp(name, "JK"),
	      "either case of hex");
	CHECK(esc_decode(name, 3, "abc", &why) < 0 && errno == ENAMETOOLONG, "too long");

	/* the parser reads what the printer writes, in every form */
	ok("./caf\xc3\xa9/app.sock", 0, "unix:./caf\xc3\xa9/app.sock");
	ok("./caf\\xc3\\xa9/app.sock", 0, "unix:./caf\xc3\xa9/app.sock");
	ok("unix:./back\\x5cslash/a", 0, "unix:./back\\x5cslash/a");
	ok("unix:/a\\x0ab", 0, "unix:/a\\x0ab");
	ok("@demo\\x00x", 0, "@demo\\x00x");
	ok("abstract:\\x00\\x00", 0, "@\\x00\\x00");
	ok("@\\x1b[31m", 0, "@\\x1b[31m");
	ok("tcp:[fe80::1%a\\x5cb]:80", 0, "tcp:[fe80::1%a\\x5cb]:80");
	ok("tcp:local\\x68ost:80", 0, "tcp:localhost:80");
	addr_parse(&a, "@demo\\x00x", 0, &why);
	CHECK(a.pathlen == 6 && !memcmp(a.path, "demo\0x", 6), "NUL kept in an abstract name");
	bad("./back\\slash/a", 0, "x5c");
	bad("unix:/a\\x00b", 0, "NUL");
	bad("@a\\x4", 0, "\\xHH");
	bad("tcp:a\\x00b:80", 0, "NUL");
	/* another tool's address type, or a typo, is no relative path */
	bad("UNIX-CONNECT:/run/app.sock", 0, "did you mean unix:/run/app.sock?");
	bad("UNIX:/run/app.sock", 0, "did you mean unix:/run/app.sock?");
	bad("uinx:/run/app.sock", 0, "did you mean unix:/run/app.sock?");
	bad("unix-dgarm:/x", 0, "did you mean unix-dgram:/x?");
	bad("ABSTRACT-CONNECT:name", 0, "did you mean @name?");
	bad("TCP-LISTEN:8080", ADDR_LISTEN, "did you mean tcp:8080?");
	bad("tpc:1.2.3.4:80", 0, "did you mean tcp:1.2.3.4:80?");
	bad("a:b/c.sock", 0, "written ./a:b/c.sock");
	bad("udp:host:53", 0, "unknown address type 'udp:'");
	bad("http://x/", 0, "unknown address type 'http:'");
	ok("./a:b/c.sock", 0, "unix:./a:b/c.sock");
	ok("/run/a:b.sock", 0, "unix:/run/a:b.sock");
	ok("localhost:80", 0, "tcp:localhost:80");
	ok("unx:80", 0, "tcp:unx:80");

	/* resolution: a literal resolves without a resolver */
	int usage;
	addr_parse(&a, "127.0.0.1:9", 0, &why);
	CHECK(addr_resolve(&a, 0, &why, &usage) == 0 && a.nsa == 1, "resolve literal");
	addr_parse(&a, "0", ADDR_LISTEN, &why);
	CHECK(addr_resolve(&a, ADDR_LISTEN, &why, &usage) == 0 && a.nsa >= 1 &&
	      !strcmp(sa_format((struct sockaddr *)&a.sa[0], a.salen[0], SOCK_STREAM,
				buf, sizeof buf), "tcp:127.0.0.1:0"),
	      "bare port listens on loopback: %s", buf);
	addr_parse(&a, "no-such-host.invalid:80", 0, &why);
	CHECK(addr_resolve(&a, 0, &why, &usage) < 0 && usage, "unknown host is a usage error");

	/* numbers and durations */
	unsigned long v;
	CHECK(num_parse_ulong("5", 1, 10, &v, &why) == 0 && v == 5, "ulong 5");
	CHECK(num_parse_ulong("0", 1, 10, &v, &why) < 0, "ulong 0 below range");
	CHECK(num_parse_ulong("11", 1, 10, &v, &why) < 0, "ulong above range");
	CHECK(num_parse_ulong("-1", 0, 10, &v, &why) < 0, "ulong negative");
	CHECK(num_parse_ulong("5x", 0, 10, &v, &why) < 0, "ulong junk");
	CHECK(num_parse_ulong("", 0, 10, &v, &why) < 0, "ulong empty");
	CHECK(num_parse_ulong("99999999999999999999999", 0, 10, &v, &why) < 0, "ulong overflow");
	dur("5", 5000);
	dur("1.5", 1500);
	dur("200ms", 200);
	dur("2m", 120000);
	dur("1h", 3600000);
	dur(".25", 250);
	dur("0", -1);
	dur("", -1);
	dur("5x", -1);
	dur("-1", -1);
	dur("99999999999", -1);
	/* zero, where allowed, in any spelling; a tiny non-zero is not 0 */
	int64_t z = -1;
	const char *zs[] = { "0", "0s", "0ms", "0.0", "0.000m", "00h", ".0" };
	for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++)
		CHECK(num_parse_duration_z(zs[i], 1, &z, &why) == 0 && z == 0,
		      "'%s' is zero", zs[i]);
	CHECK(num_parse_duration_z("0.0001", 1, &z, &why) < 0 && strstr(why, "0 or"),
	      "0.0001 s is not zero");
	CHECK(num_parse_duration_z("1.5", 1, &z, &why) == 0 && z == 1500, "1.5 with zero");
	CHECK(num_parse_duration_z("0ms", 0, &z, &why) < 0, "0ms without zero");

	return check_report("test_addr");
}
