/* test_bench.c — unit tests of usock-bench's size parser and figure
 * formatting. */
#include <string.h>

#include "bench/bench.h"
#include "check.h"

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = 0;
	const char *why = NULL;
	int r = bench_parse_size(s, &v, &why);
	CHECK(r == 0 && v == want, "'%s' gave %d/%llu (%s), want %llu", s, r,
	      (unsigned long long)v, why ? why : "-", (unsigned long long)want);
}

static void size_bad(const char *s)
{
	uint64_t v;
	const char *why = NULL;
	CHECK(bench_parse_size(s, &v, &why) < 0 && why, "'%s' accepted", s);
}

int main(void)
{
	char buf[64];
	enum bench_mode m;

	size_ok("0", 0);
	size_ok("64", 64);
	size_ok("128K", 131072);
	size_ok("128k", 131072);
	size_ok("1.5M", 1572864);
	size_ok("4G", 4294967296ull);
	size_ok("4GiB", 4294967296ull);
	size_ok("2GB", 2147483648ull);
	size_ok("1T", 1099511627776ull);
	size_ok("18446744073709551615", 18446744073709551615ull);
	const char *bad[] = { "", "x", "-1", " 1", "1.5", "0x10", "1e3", "12Q",
			      "4Gx", "4 G", "1.2.3", "99999999999999999999",
			      "20000000T" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		size_bad(bad[i]);

	CHECK(!strcmp(bench_format_bytes(64, buf, sizeof buf), "64 B"), "%s", buf);
	CHECK(!strcmp(bench_format_bytes(131072, buf, sizeof buf), "128 KiB"), "%s", buf);
	CHECK(!strcmp(bench_format_bytes(4294967296.0, buf, sizeof buf), "4.00 GiB"), "%s", buf);
	CHECK(!strcmp(bench_format_rate(5.5 * 1073741824, 1, buf, sizeof buf), "5.50 GiB/s"), "%s", buf);
	CHECK(!strcmp(bench_format_rate(121900, 0, buf, sizeof buf), "121.9k/s"), "%s", buf);
	CHECK(!strcmp(bench_format_rate(950, 0, buf, sizeof buf), "950/s"), "%s", buf);
	CHECK(!strcmp(bench_format_us(3.4, buf, sizeof buf), "3.40us"), "%s", buf);
	CHECK(!strcmp(bench_format_us(1200, buf, sizeof buf), "1.20ms"), "%s", buf);

	CHECK(bench_mode_parse("connect-rate", &m) == 0 && m == BENCH_CONNECT_RATE, "mode");
	CHECK(bench_mode_parse("hold", &m) == 0 && m == BENCH_HOLD, "mode");
	CHECK(bench_mode_parse("Latency", &m) < 0, "mode is case-sensitive");
	CHECK(!strcmp(bench_mode_name(BENCH_THROUGHPUT), "throughput"), "name");

	return check_report("test_bench");
}
