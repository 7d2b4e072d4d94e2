/* fuzz.h — what every libFuzzer harness of tests/fuzz/ shares: a check
 * that names the broken property and aborts (libFuzzer then saves the
 * input), and a NUL-terminated copy of the input. */
#ifndef USOCK_FUZZ_H
#define USOCK_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"

#define FUZZ_CHECK(cond, ...)                                              \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s: ",       \
				__FILE__, __LINE__, #cond);                \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			abort();                                           \
		}                                                          \
	} while (0)

/* DATA as a C string (it ends at the first NUL byte, as argv would). */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

/* Every byte of S is printable ASCII. */
static inline int fuzz_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* S is in the canonical escaped form of usock(7): every backslash starts
 * \xHH, and every other character is one that esc_keep() writes as it
 * is (so no control byte, C1 control or format character).  Needs
 * core/addr.h. */
static inline int fuzz_escaped(const char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		if (s[i] == '\\') {
			if (s[i + 1] != 'x' || !s[i + 2] || !s[i + 3] ||
			    !strchr("0123456789abcdef", s[i + 2]) ||
			    !strchr("0123456789abcdef", s[i + 3]))
				return 0;
			i += 4;
			continue;
		}
		int k = esc_keep(s + i, len - i);
		if (k <= 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

/* S holds no byte the escaping rule would escape, but backslashes (a
 * message that quotes escaped text). */
static inline int fuzz_safe(const char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		int k = s[i] == '\\' ? 1 : esc_keep(s + i, len - i);
		if (k <= 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
