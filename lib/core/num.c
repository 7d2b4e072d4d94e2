/* num.c — strict parsers for numbers and durations (options,
 * addresses).  They return -1 with a static reason and never print. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

int num_parse_ulong(const char *s, unsigned long min, unsigned long max,
		    unsigned long *out, const char **why)
{
	if (!*s || !isdigit((unsigned char)*s)) {
		*why = "not a number";
		return -1;
	}
	errno = 0;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end) {
		*why = "not a number";
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		*why = "out of range";
		return -1;
	}
	*out = v;
	return 0;
}

int num_parse_duration(const char *s, int64_t *ms, const char **why)
{
	return num_parse_duration_z(s, 0, ms, why);
}

int num_parse_duration_z(const char *s, int zero, int64_t *ms,
			 const char **why)
{
	/* digits [. digits] [ms|s|m|h]; parsed by hand to stay exact */
	const char *p = s;
	uint64_t whole = 0, frac = 0, fdiv = 1;
	int digits = 0, nonzero = 0;
	for (const char *q = s; isdigit((unsigned char)*q) || *q == '.'; q++)
		nonzero |= *q >= '1' && *q <= '9';
	while (isdigit((unsigned char)*p)) {
		whole = whole * 10 + (uint64_t)(*p++ - '0');
		if (whole > 31ull * 24 * 3600 * 1000) /* over 31 days even in ms */
			goto range;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (fdiv < 1000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				fdiv *= 10;
			}
			p++;
			digits++;
		}
	}
	if (!digits) {
		*why = "not a duration (use e.g. 5, 1.5, 200ms, 2m)";
		return -1;
	}
	uint64_t unit;
	if (!*p || !strcmp(p, "s"))
		unit = 1000;
	else if (!strcmp(p, "ms"))
		unit = 1;
	else if (!strcmp(p, "m"))
		unit = 60000;
	else if (!strcmp(p, "h"))
		unit = 3600000;
	else {
		*why = "not a duration (use e.g. 5, 1.5, 200ms, 2m)";
		return -1;
	}
	uint64_t v = whole * unit + frac * unit / fdiv;
	if (v > 31ull * 24 * 3600 * 1000)
		goto range;
	if (v == 0 && !(zero && !nonzero)) {
		*why = zero ? "must be 0 or at least 1ms" : "must be at least 1ms";
		return -1;
	}
	*ms = (int64_t)v;
	return 0;
range:
	*why = "out of range (at most 31 days)";
	return -1;
}

char *num_format_duration(int64_t ms, char *buf, size_t n)
{
	if (ms < 1000)
		snprintf(buf, n, "%lld ms", (long long)ms);
	else if (ms < 60000 || ms % 60000)
		snprintf(buf, n, "%g s", (double)ms / 1e3);
	else if (ms < 3600000 || ms % 3600000)
		snprintf(buf, n, "%g min", (double)ms / 6e4);
	else
		snprintf(buf, n, "%g h", (double)ms / 3.6e6);
	return buf;
}
