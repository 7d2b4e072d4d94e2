/* test_addr.c — unit tests of the address grammar, its printer and the
 * numeric option parsers. */
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

	return check_report("test_addr");
}
