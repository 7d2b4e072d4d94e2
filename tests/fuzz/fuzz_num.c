/* fuzz_num.c — num_parse_ulong() and num_parse_duration() against
 * reference parsers written here from usock(7): a strict decimal in
 * MIN..MAX, and a duration "DIGITS[.DIGITS][ms|s|m|h]" of 1 ms to 31
 * days (or, where allowed, exactly zero).  Input: byte 0 picks the range for the number, the rest is the
 * text given to both parsers. */
#include <limits.h>

#include "fuzz.h"
#include "cli/cli.h"
#include "core/addr.h"
#include "core/num.h"
#include "core/relay.h"
#include "core/sock.h"
#include "core/sys.h"

#define MAX_MS (31ull * 24 * 3600 * 1000)

enum { REF_OK, REF_NAN, REF_RANGE };

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal of digits only; REF_RANGE past ULONG_MAX or outside the
 * range. */
static int ref_ulong(const char *s, unsigned long min, unsigned long max,
		     unsigned long *out)
{
	unsigned long v = 0;
	int over = 0;
	if (!*s)
		return REF_NAN;
	for (const char *p = s; *p; p++) {
		if (!is_digit(*p))
			return REF_NAN;
		unsigned d = (unsigned)(*p - '0');
		if (v > (ULONG_MAX - d) / 10)
			over = 1;
		else
			v = v * 10 + d;
	}
	if (over || v < min || v > max)
		return REF_RANGE;
	*out = v;
	return REF_OK;
}

/* floor(0.F * UNIT) for the fraction digits F[0..n), exactly: multiply
 * the decimal string by UNIT from its last digit; what carries out of
 * the first digit is the integer part. */
static uint64_t frac_times(const char *f, size_t n, uint64_t unit)
{
	uint64_t carry = 0;
	while (n--)
		carry = ((uint64_t)(f[n] - '0') * unit + carry) / 10;
	return carry;
}

/* The duration S in ms: REF_OK, REF_NAN (bad form, or under 1 ms) or
 * REF_RANGE (over 31 days; so is a whole part over 31 days counted in
 * ms, whatever follows it).  *sub9 is set when the fraction has digits
 * past the ninth (the parser may drop them, losing under 1 ms). */
static int ref_duration(const char *s, uint64_t *ms, int *sub9)
{
	const char *f = NULL, *p = s;
	size_t nf = 0;
	uint64_t whole = 0;
	*sub9 = 0;
	for (; is_digit(*p); p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > MAX_MS)
			return REF_RANGE;
	}
	int nw = p != s;
	if (*p == '.') {
		f = ++p;
		while (is_digit(*p))
			p++, nf++;
	}
	*sub9 = nf > 9;
	if (!nw && !nf)
		return REF_NAN;
	static const struct { const char *name; uint64_t ms; } units[] = {
		{ "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60000 }, { "h", 3600000 },
	};
	uint64_t unit = 0;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(p, units[i].name))
			unit = units[i].ms;
	if (!unit)
		return REF_NAN;
	uint64_t v = whole * unit + (f ? frac_times(f, nf, unit) : 0);
	if (v > MAX_MS)
		return REF_RANGE;
	if (!v)
		return REF_NAN;
	*ms = v;
	return REF_OK;
}

static void check_ulong(const char *s, unsigned long min, unsigned long max)
{
	unsigned long got = 0, want = 0;
	const char *why = NULL;
	int r = num_parse_ulong(s, min, max, &got, &why);
	int ref = ref_ulong(s, min, max, &want);
	if (ref == REF_OK) {
		FUZZ_CHECK(r == 0 && got == want, "'%s' in %lu..%lu: %d %lu, want %lu",
			   s, min, max, r, got, want);
		return;
	}
	FUZZ_CHECK(r < 0 && why, "'%s' in %lu..%lu accepted as %lu", s, min, max, got);
	/* addr.c tells a bad port from an out-of-range one by this reason */
	FUZZ_CHECK(!strcmp(why, "out of range") == (ref == REF_RANGE),
		   "'%s' in %lu..%lu: reason '%s'", s, min, max, why);
}

static void check_duration(const char *s)
{
	int64_t got = 0;
	uint64_t want = 0;
	int sub9;
	const char *why = NULL;
	int r = num_parse_duration(s, &got, &why);
	int ref = ref_duration(s, &want, &sub9);
	if (sub9) {
		/* digits past the ninth may be dropped: at most 1 ms less than
		 * the exact value (so 1 ms may be refused, 31 days + 1 ms
		 * accepted as 31 days) */
		if (r == 0)
			FUZZ_CHECK(ref == REF_OK ? (uint64_t)got <= want &&
				   (uint64_t)got + 1 >= want :
				   ref == REF_RANGE && (uint64_t)got == MAX_MS,
				   "'%s': %lld ms, want %llu",
				   s, (long long)got, (unsigned long long)want);
		else
			FUZZ_CHECK(ref != REF_OK || want == 1,
				   "'%s' refused (%s), want %llu ms", s, why,
				   (unsigned long long)want);
		return;
	}
	if (ref == REF_OK) {
		FUZZ_CHECK(r == 0 && (uint64_t)got == want, "'%s': %d %lld, want %llu",
			   s, r, (long long)got, (unsigned long long)want);
		return;
	}
	FUZZ_CHECK(r < 0 && why && *why, "'%s' accepted as %lld ms", s, (long long)got);
	FUZZ_CHECK(!!strstr(why, "range") == (ref == REF_RANGE),
		   "'%s': reason '%s'", s, why);
}

/* Where zero is allowed: the same as check_duration's parser, but a
 * text whose digits are all 0 (in a well-formed duration) is 0 ms. */
static void check_duration_z(const char *s)
{
	int64_t got = -1, plain = -1;
	const char *why = NULL, *why2 = NULL;
	int r = num_parse_duration_z(s, 1, &got, &why);
	int r2 = num_parse_duration(s, &plain, &why2);
	int zero = 1, ok_form = 0;
	uint64_t want;
	int sub9;
	for (const char *p = s; is_digit(*p) || *p == '.'; p++)
		zero &= *p == '0' || *p == '.';
	ok_form = ref_duration(s, &want, &sub9) != REF_NAN || strstr(why2, "1ms");
	if (r2 == 0)
		FUZZ_CHECK(r == 0 && got == plain, "'%s': %lld with zero, %lld without",
			   s, (long long)got, (long long)plain);
	else if (zero && ok_form && !strstr(why2, "range"))
		FUZZ_CHECK(r == 0 && got == 0, "'%s' is zero, refused: %s", s, why);
	else
		FUZZ_CHECK(r < 0, "'%s' accepted as %lld with zero", s, (long long)got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned long ranges[8][2] = {
		{ 0, ULONG_MAX }, { 0, 65535 }, { 1, 1000000 }, { 0, 0 },
		{ 1, 4096 }, { 0, UINT_MAX - 1 }, { 5, 5 }, { 1, ULONG_MAX },
	};
	if (size < 1 || size > 4096)
		return 0;
	char *s = fuzz_strdup(data + 1, size - 1);
	check_ulong(s, ranges[data[0] & 7][0], ranges[data[0] & 7][1]);
	check_duration(s);
	check_duration_z(s);
	free(s);
	return 0;
}
