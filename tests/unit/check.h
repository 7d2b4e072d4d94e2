/* check.h — the CHECK macro and counters of the unit tests: include it
 * once per test program, end main() with check_report(NAME). */
#ifndef USOCK_CHECK_H
#define USOCK_CHECK_H

#include <stdio.h>

static int failures, checks;

#define CHECK(cond, ...) do { \
	checks++; \
	if (!(cond)) { \
		failures++; \
		printf("FAIL %s:%d: ", __FILE__, __LINE__); \
		printf(__VA_ARGS__); \
		printf("\n"); \
	} \
} while (0)

/* Print "NAME: N passed, N failed"; the exit status for main(). */
static inline int check_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, checks - failures, failures);
	return failures != 0;
}

#endif
