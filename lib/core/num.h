/* num.h — strict parsers for numbers and durations; they return
 * errors and never print. */
#ifndef USOCK_NUM_H
#define USOCK_NUM_H

#include <stdint.h>

/* Strict decimal in MIN..MAX, and a duration ("1.5", "200ms", "2m",
 * "1h") in milliseconds.  0, or -1 with *why set to a static reason. */
int num_parse_ulong(const char *s, unsigned long min, unsigned long max,
		    unsigned long *out, const char **why);
int num_parse_duration(const char *s, int64_t *ms, const char **why);

#endif
