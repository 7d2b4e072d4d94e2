/* num.h — strict parsers for numbers and durations; they return
 * errors and never print. */
#ifndef USOCK_NUM_H
#define USOCK_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Strict decimal in MIN..MAX, and a duration ("1.5", "200ms", "2m",
 * "1h") in milliseconds.  0, or -1 with *why set to a static reason. */
int num_parse_ulong(const char *s, unsigned long min, unsigned long max,
		    unsigned long *out, const char **why);
int num_parse_duration(const char *s, int64_t *ms, const char **why);
/* The same, but with ZERO set a duration of exactly zero, in any
 * spelling ("0", "0s", "0ms", "0.0"), is 0; a non-zero duration is still
 * at least 1 ms. */
int num_parse_duration_z(const char *s, int zero, int64_t *ms,
			 const char **why);

/* "s" unless N is 1: "%llu connection%s", n, num_s(n). */
static inline const char *num_s(unsigned long long n)
{
	return n == 1 ? "" : "s";
}

/* A duration of MS milliseconds as a person would write it: "3 s",
 * "1.5 s", "250 ms", "2 min", "1.5 h"; into BUF (N bytes); returns BUF. */
char *num_format_duration(int64_t ms, char *buf, size_t n);

#endif
